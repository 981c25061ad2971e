"""Templates: the masked code (refactor/templates.py) and what an edit of a template does to
the cached analysis of the module that embeds it."""

from __future__ import annotations

import shutil
from pathlib import Path

from refactor.analysis import analyze
from refactor.parse import first_error, parse
from refactor.templates import eex_code, heex_code

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "25_eex_templates"


def test_eex_keeps_lines_and_joins_blocks():
    source = b"<h1><%= title(@x) %></h1>\n<%= for i <- @items do %>\n  <li><%= i %></li>\n<% end %>\n<%# note %><%% raw %>\n"
    code = eex_code(source)
    assert code.count(b"\n") == source.count(b"\n") and len(code) == len(source)
    assert code.split(b"\n")[0].split() == [b"title(@x)"]
    # two expressions on one line are separated; a clause's head is left open
    assert eex_code(b"<%= a %><%= b %>").split() == [b"a", b";", b"b"]
    clauses = eex_code(b"<%= case x do %>\n<% 1 -> %>\n one\n<% _ -> %>two\n<% end %>\n")
    assert first_error(parse(clauses)) is None
    assert first_error(parse(code)) is None
    assert b"note" not in code and b"raw" not in code


def test_heex_expressions_and_components():
    source = (b'<.link navigate={~p"/items/#{@item}"}>{@item.name}</.link>\n'
              b'<MyAppWeb.Components.card title={"a}b"} :for={x <- @xs}><:slot>x</:slot></MyAppWeb.Components.card>\n'
              b"<!-- <.hidden> -->\n"
              b'<div x-data="{open: false}" class={"a #{if @b, do: "c"}"}>\n'
              b"<style> body { color: red } </style>\n")
    code = heex_code(source)
    lines = code.decode().split("\n")
    assert lines[0].split()[0] == "&link/1;" and '~p"/items/#{@item}"' in lines[0] and "@item.name" in lines[0]
    assert "&MyAppWeb.Components.card/1;" in lines[1] and '"a}b"' in lines[1] and "x <- @xs" in lines[1]
    assert "hidden" not in lines[2]
    assert "open" not in lines[3] and '"a #{if @b, do: "c"}"' in lines[3]
    assert "color" not in lines[4]
    assert first_error(parse(code)) is None


def test_a_template_edit_reaches_the_cached_analysis(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    first = analyze(root, "1.18", cache=True)
    assert ("lib/view.ex", "lib/item.ex") in first.file_edges
    template = root / "lib" / "view" / "show.html.eex"
    template.write_text(template.read_text().replace("%App.Item{name: i}.name", "i"))
    second = analyze(root, "1.18", cache=True)
    assert ("lib/view.ex", "lib/item.ex") not in second.file_edges
    assert second.file_edges == analyze(root, "1.18", cache=False).file_edges
    assert "lib/view.ex" in second.work["expanded"]


def test_template_globs_stay_in_the_project_and_do_not_follow_folder_links(tmp_path):
    from refactor.project import load_project

    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    (root / "lib" / "view" / "nested").mkdir()
    (root / "lib" / "view" / "nested" / "deep.html.eex").write_text("x")
    (root / "lib" / "view" / "loop").symlink_to(root / "lib" / "view")
    project = load_project(root)
    assert project.glob("lib/view/*") == ["lib/view/show.html.eex"]
    assert project.glob("lib/view/**/*.eex") == ["lib/view/nested/deep.html.eex", "lib/view/show.html.eex"]
    assert project.glob("../p/lib/view/*") == [] and project.glob("/etc/*") == []


def test_a_template_that_is_not_a_regular_file_is_a_note_not_a_hang(tmp_path):
    import os

    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    view = root / "lib" / "view.ex"
    view.write_text(view.read_text().replace("lib/view/show.html.eex", "lib/view/fifo.html.eex"))
    os.mkfifo(root / "lib" / "view" / "fifo.html.eex")
    analysis = analyze(root, "1.18", cache=False)
    assert any("fifo.html.eex cannot be read (not a regular file (a FIFO)" in n for n in analysis.notes)
    assert ("lib/view.ex", "lib/item.ex") not in analysis.file_edges
