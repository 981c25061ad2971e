"""Real repositories hold odd files: exfix must not crash, lose facts, or write anything wrong.

Each test builds a small project in a temporary folder and checks the graph, the message and
that nothing on disk changed. Write-safety itself (atomic writes, changed files, read-only
files, symlinked sources, kill -9, BOM/CRLF/non-UTF-8 kept by ``apply``, loops reported once)
is tested in test_writer.py and test_batch.py; these tests are about reading.

What mix does with links was checked by hand on the host's Elixir 1.14 (``mix compile
--verbose`` then ``mix xref graph``): a ``.ex`` link to a file anywhere (in the project outside
``elixirc_paths``, or outside the project) is compiled under the link's path; a link to a
folder under ``lib`` is followed (``Path.wildcard``); a folder named ``x.ex``, a dangling link
and a link loop are listed and fail the compile (``:eisdir``, ``:enoent``, ``:eloop``); a folder
link back to a folder above it is followed until ``:eloop``. The oracle tests at the end check
the link and ``elixirc_paths`` layout against mix on 1.14, 1.18 and 1.20.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine_rules as R
import refactor.commands.suggest as cmd
from refactor.analysis import analyze
from refactor.cli import main
from refactor.parse import first_error, parse
from refactor.project import ProjectError, load_project

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "robustness"

MIX = b"""defmodule P.MixProject do
  use Mix.Project

  def project do
    [app: :p, version: "0.1.0", deps: []]
  end
end
"""
A = b"defmodule P.A do\n  defmacro m(x), do: x\n  def f, do: 1\nend\n"
B = b"defmodule P.B do\n  defstruct [:b]\n  def h, do: 2\nend\n"


def make(root: Path, files: dict[str, bytes | str], mix: bytes = MIX) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mix.exs").write_bytes(mix)
    (root / "lib").mkdir(exist_ok=True)
    for rel, data in {"lib/a.ex": A, "lib/b.ex": B, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def edges(root: Path, version: str = "1.18") -> dict[str, dict[str, str]]:
    return analyze(load_project(root), version=version).edges()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, but exfix's cache (_build/exfix): not a change to the project."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_file() and not p.is_symlink() and not rel.replace(os.sep, "/").startswith("_build/exfix/"):
                out[rel] = p.read_bytes()
    return out


def exfix(*args: str, cwd: Path | None = None):
    """In-process. ``suggest`` and ``apply`` with ``--all`` (unless the test sets
    ``--min-gain``): the fixes these tests make (unused requires and imports) save no
    recompile, and are hidden by default (test_gain.py)."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    every = ["--all"] if args[0] in ("suggest", "apply") and "--min-gain" not in args else []
    try:
        return CliRunner().invoke(main, [*args, *every], catch_exceptions=False)
    finally:
        os.chdir(old)


# --------------------------------------------------------------------------- syntax errors

# the error is local to one function; the attribute on line 2 still makes a compile edge
LOCAL_ERROR = b"""defmodule P.User do
  @x P.A.f()
  def g, do: (1 + )
  def h, do: %P.B{}
  def x, do: @x
end
"""


def test_missing_token_inside_a_leaf_is_a_syntax_error():
    # tree-sitter puts the MISSING token of `(1 + )` inside an `identifier` leaf: no ERROR
    # or MISSING node to be found by type, only has_error on the leaf
    err = first_error(parse(b"x = 1\ny = (1 + )\n"))
    assert err is not None, "`(1 + )` must count as a syntax error"
    assert err.start_point[0] + 1 == 2


@pytest.mark.parametrize(
    "source, line",
    [
        (LOCAL_ERROR, 3),
        (b"defmodule P.User do\n  @x P.A.f()\n  def g do\n    [1, 2\n  end\nend\n", 5),
        (b"defmodule P.User do\n  @x P.A.f()\n  def g, do: %P.B{}\n  def broken(, do: 1\nend\n", 4),
    ],
    ids=["missing-operand", "unclosed-list", "bad-params"],
)
def test_file_with_a_syntax_error_keeps_its_local_facts(tmp_path, source, line):
    root = make(tmp_path / "p", {"lib/user.ex": source})
    an = analyze(load_project(root), version="1.18")
    [issue] = an.files["lib/user.ex"].errors
    assert issue.line == line, f"first error reported on line {issue.line}, expected {line}"
    assert an.edges()["lib/user.ex"].get("lib/a.ex") == "compile", "facts before the error are lost"
    assert [m.name for m in an.files["lib/user.ex"].modules] == ["P.User"]


def test_graph_warns_with_file_and_line_of_the_first_error(tmp_path):
    root = make(tmp_path / "p", {"lib/user.ex": LOCAL_ERROR})
    res = exfix("graph", str(root), "--elixir", "1.18")
    assert res.exit_code == 0
    assert "lib/user.ex:3: syntax error" in res.stderr
    assert "lib/user.ex\n├── lib/a.ex (compile)\n└── lib/b.ex (export)\n" in res.stdout


def test_apply_never_touches_a_file_with_a_hidden_syntax_error(tmp_path, monkeypatch):
    """The error hides in a leaf (see above): before it was found, apply rewrote the file."""
    src = b"defmodule P.User do\n  require P.B\n  def g, do: (1 + )\nend\n"
    root = make(tmp_path / "p", {"lib/user.ex": src, "lib/ok.ex": b"defmodule P.Ok do\n  require P.B\nend\n"})
    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: [R.DropUnusedRequire])
    res = exfix("apply", str(root), "--elixir", "1.18", "-j", "1", cwd=tmp_path)
    assert res.exit_code == 2
    assert "p/lib/user.ex:3: error: syntax error; exfix rewrites nothing in this file" in res.stderr
    assert (root / "lib/user.ex").read_bytes() == src
    assert (root / "lib/ok.ex").read_bytes() == b"defmodule P.Ok do\nend\n"


def test_a_fix_that_leaves_a_hidden_syntax_error_is_refused(tmp_path):
    from refactor.engine import Options, run_project
    from refactor.rules.base import Diagnostic, Edit, Fix, Rule

    class Breaks(Rule):
        id = "breaks"

        def check(self, ctx):
            data = ctx.sources["lib/a.ex"]
            i = data.index(b"def f, do: 1")
            return [Diagnostic(self.id, "lib/a.ex", 3, "warning", "x",
                               Fix([Edit(i, i + len(b"def f, do: 1"), b"def f, do: (1 + )")]))]

    root = make(tmp_path / "p", {})
    r = run_project(root, Options(rules=[Breaks], version="1.18", cwd=str(root)))
    [sug] = r.suggestions
    assert not sug.offered and r.patches == []
    assert sug.reasons == ["the patched lib/a.ex does not parse (line 3)"]


# --------------------------------------------------------------------------- bytes and layout


def test_non_utf8_bytes_in_comments_strings_and_names(tmp_path):
    src = (b"defmodule P.User do\n  # caf\xe9 \xff\n  @s \"\xfe\xfe\"\n  @x P.A.f()\n"
           b"  def caf\xe9, do: %P.B{}\n  def x, do: {@x, @s}\nend\n")
    root = make(tmp_path / "p", {"lib/user.ex": src})
    an = analyze(load_project(root), version="1.18")
    assert an.edges()["lib/user.ex"] == {"lib/a.ex": "compile", "lib/b.ex": "export"}
    [issue] = an.files["lib/user.ex"].errors  # a Latin-1 byte in a name is a syntax error
    assert issue.line == 5
    assert (root / "lib/user.ex").read_bytes() == src


USER = "defmodule P.User do\n\t@x P.A.f()\n  def h, do: %P.B{}\n  def x, do: @x\nend\n"
USER_EDGES = {"lib/user.ex": {"lib/a.ex": "compile", "lib/b.ex": "export"}, "lib/a.ex": {}, "lib/b.ex": {}}


@pytest.mark.parametrize(
    "data",
    [
        USER.encode(),
        b"\xef\xbb\xbf" + USER.encode(),
        USER.replace("\n", "\r\n").encode(),
        USER.replace("\n", "\r").encode(),  # old Mac line ends: one line for Elixir too
        USER.replace("  ", "\t").encode(),
        USER.encode().rstrip(b"\n"),  # no final newline
    ],
    ids=["lf", "bom", "crlf", "cr", "tabs", "no-final-newline"],
)
def test_encodings_and_line_ends_give_the_same_graph(tmp_path, data):
    root = make(tmp_path / "p", {"lib/user.ex": data})
    an = analyze(load_project(root), version="1.18")
    if data.count(b"\r") and not data.count(b"\n"):
        return  # a bare CR is not a newline for Elixir either: only "no crash" is asked
    assert an.edges() == USER_EDGES
    assert an.files["lib/user.ex"].errors == []
    assert (root / "lib/user.ex").read_bytes() == data


def test_very_long_lines(tmp_path):
    calls = ", ".join(["P.A.f()"] * 40_000)  # ~360 KB on one line
    blob = "x" * 1_000_000
    src = f'defmodule P.User do\n  def f, do: [{calls}]\n  @s "{blob}"\n  def s, do: {{@s, %P.B{{}}}}\nend\n'
    root = make(tmp_path / "p", {"lib/user.ex": src})
    assert edges(root)["lib/user.ex"] == {"lib/a.ex": "runtime", "lib/b.ex": "export"}


def chain(n: int) -> str:
    """A module whose function body is `P.A.f() + P.A.f() + ...`, n terms, on line 3."""
    return ("defmodule P.User do\n  @x P.B.h()\n  def f, do: " + " + ".join(["P.A.f()"] * n)
            + "\n  def x, do: @x\nend\n")


NESTED = {
    "operators": chain(2000),
    "fns": "defmodule P.User do\n  @x P.B.h()\n  def f, do: " + "fn -> " * 1000 + "P.A.f()"
           + " end" * 1000 + "\n  def x, do: @x\nend\n",
    "modules": "defmodule P.User do\n  @x P.B.h()\n  def x, do: @x\n" + "defmodule M do\n" * 500
               + "def f, do: P.A.f()\n" + "end\n" * 500 + "end\n",
}


@pytest.mark.parametrize("kind", NESTED)
def test_deep_nesting_is_reported_and_never_rewritten(tmp_path, monkeypatch, kind):
    """The expander recurses once per level: past its depth limit (lowered here to Python's
    default, so these inputs exceed it) the file keeps the facts found so far, is named with
    the line of its deepest node, and no rewrite touches it."""
    import refactor.analysis

    monkeypatch.setattr(refactor.analysis, "EXPANSION_DEPTH", 1000)
    src = NESTED[kind].replace("@x P.B.h()", "require P.B\n  @x P.B.h()").encode()
    root = make(tmp_path / "p", {"lib/user.ex": src})
    an = analyze(load_project(root), version="1.18")
    [issue] = an.files["lib/user.ex"].errors
    assert issue.message == "nested too deeply for exfix to follow; its references may be incomplete"
    assert issue.line == {"operators": 4, "fns": 4, "modules": 505}[kind]
    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: [R.DropUnusedRequire])
    res = exfix("apply", str(root), "--elixir", "1.18", "-j", "1", cwd=tmp_path)
    assert res.exit_code == 2
    assert f"p/lib/user.ex:{issue.line}: error: nested too deeply" in res.stderr
    assert (root / "lib/user.ex").read_bytes() == src


@pytest.mark.parametrize("kind", NESTED)
def test_deep_nesting_gives_the_right_graph(tmp_path, kind):
    root = make(tmp_path / "p", {"lib/user.ex": NESTED[kind]})
    an = analyze(load_project(root), version="1.18")
    assert an.files["lib/user.ex"].errors == []
    assert an.edges()["lib/user.ex"] == {"lib/a.ex": "runtime", "lib/b.ex": "compile"}


@pytest.mark.parametrize("data", [b"", b"\n\n\n", b"  \t \r\n", b"# only a comment\n", b"\xef\xbb\xbf"],
                         ids=["empty", "newlines", "blanks", "comment", "bom-only"])
def test_empty_files_are_no_nodes(tmp_path, data):
    # mix's graph lists only the files that define a module (checked with mix 1.14 and 1.18:
    # an empty file, a comment alone and `if false do defmodule ... end end` are not listed)
    root = make(tmp_path / "p", {"lib/empty.ex": data, "lib/user.ex": USER})
    an = analyze(load_project(root), version="1.18")
    assert an.edges() == USER_EDGES
    assert "lib/empty.ex" in an.files and "lib/empty.ex" not in an.tracked_files
    assert an.files["lib/empty.ex"].errors == [] and an.files["lib/empty.ex"].modules == []


def test_a_5_mb_generated_file(tmp_path):
    doc = "  Generated text mentioning P.B.h() and %P.B{} that is no reference.\n" * 60
    parts = []
    i = 0
    size = 0
    while size < 5_000_000:
        part = (f'defmodule Gen.M{i} do\n  @moduledoc """\n{doc}  """\n'
                f"  def f(x) when is_integer(x), do: P.A.f() + x\nend\n\n")
        parts.append(part)
        size += len(part)
        i += 1
    parts.append("defmodule Gen.Last do\n  require P.A\n  @x P.A.m(1)\n  def x, do: @x\nend\n")
    big = "".join(parts).encode()
    assert len(big) >= 5_000_000
    root = make(tmp_path / "p", {
        "lib/gen.ex": big,
        "lib/user.ex": "defmodule P.User do\n  def u, do: Gen.Last.x() + Gen.M0.f(1)\nend\n",
    })
    an = analyze(load_project(root), version="1.18")
    assert an.edges() == {
        "lib/a.ex": {}, "lib/b.ex": {},
        "lib/gen.ex": {"lib/a.ex": "compile"},
        "lib/user.ex": {"lib/gen.ex": "runtime"},
    }
    assert len(an.files["lib/gen.ex"].modules) == i + 1
    assert an.files["lib/gen.ex"].errors == []


# --------------------------------------------------------------------------- links and unreadable files

LINKED = b"defmodule P.Linked do\n  @x P.A.f()\n  def x, do: @x\nend\n"


def test_ex_links_inside_and_outside_the_project_are_compiled_as_mix_does(tmp_path):
    root = make(tmp_path / "p", {"shared/linked.ex": LINKED})
    outside = tmp_path / "elsewhere" / "far.ex"
    outside.parent.mkdir()
    outside.write_bytes(b"defmodule P.Far do\n  def f, do: %P.B{}\nend\n")
    (root / "lib/linked.ex").symlink_to("../shared/linked.ex")
    (root / "lib/far.ex").symlink_to(outside)
    (root / "lib/sub").symlink_to("../shared")  # a folder link: followed, as Path.wildcard does
    an = analyze(load_project(root), version="1.18")
    assert an.edges() == {
        "lib/a.ex": {}, "lib/b.ex": {},
        "lib/far.ex": {"lib/b.ex": "export"},
        "lib/linked.ex": {"lib/a.ex": "compile"},
        "lib/sub/linked.ex": {"lib/a.ex": "compile"},
    }
    assert an.module_file["P.Linked"] == "lib/linked.ex"  # mix: the first path defines it


def test_link_loops_do_not_hang_and_are_reported(tmp_path):
    root = make(tmp_path / "p", {"lib/user.ex": USER})
    (root / "lib/loop_a.ex").symlink_to("loop_b.ex")
    (root / "lib/loop_b.ex").symlink_to("loop_a.ex")
    (root / "lib/again").symlink_to(".")  # a folder link to itself
    (root / "lib/deep").mkdir()
    (root / "lib/deep/up").symlink_to("../..")  # to the project root, holding lib/ again
    project = load_project(root)
    assert set(project.source_files) >= {"lib/loop_a.ex", "lib/loop_b.ex", "lib/user.ex"}
    assert "lib/again: a link to a folder it is in; not followed (mix fails on it with :eloop)" in project.notes
    assert any(n.startswith("lib/deep/up/lib: a link to a folder it is in") for n in project.notes)
    an = analyze(project, version="1.18")
    assert an.edges()["lib/user.ex"] == USER_EDGES["lib/user.ex"]
    for loop in ("lib/loop_a.ex", "lib/loop_b.ex"):
        [issue] = an.files[loop].errors
        assert issue.message.startswith("cannot read") and "symbolic links" in issue.message


@pytest.mark.parametrize("kind", ["folder", "dangling-link"])
def test_unreadable_sources_are_reported_by_name_and_nothing_is_written(tmp_path, monkeypatch, kind):
    # root can read any file, so "unreadable" is a name mix lists but cannot read
    root = make(tmp_path / "p", {"lib/user.ex": b"defmodule P.User do\n  require P.B\nend\n"})
    bad = root / "lib" / "bad.ex"
    if kind == "folder":
        bad.mkdir()
        (bad / "inner.ex").write_bytes(b"defmodule P.Inner do\n  def i, do: P.A.f()\nend\n")
    else:
        bad.symlink_to("nowhere.ex")
    before = snapshot(root)
    an = analyze(load_project(root), version="1.18")
    [issue] = an.files["lib/bad.ex"].errors
    assert issue.message == ("cannot read: Is a directory" if kind == "folder"
                             else "cannot read: No such file or directory")
    if kind == "folder":  # mix's lib/**/*.ex also finds the files inside it
        assert an.edges()["lib/bad.ex/inner.ex"] == {"lib/a.ex": "runtime"}
    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: [R.DropUnusedRequire])
    res = exfix("apply", str(root), "--elixir", "1.18", "-j", "1", cwd=tmp_path)
    assert res.exit_code == 2
    assert "p/lib/bad.ex: error: cannot read" in res.stderr
    after = snapshot(root)
    assert after.pop("lib/user.ex") == b"defmodule P.User do\nend\n"  # the rest is still fixed
    before.pop("lib/user.ex")
    assert after == before


# --------------------------------------------------------------------------- mix.exs


def mix_exs(body: str, extra: str = "") -> bytes:
    return (f"defmodule P.MixProject do\n  use Mix.Project\n\n  def project do\n{body}\n  end\n"
            f"{extra}end\n").encode()


SRC = b"defmodule P.Src do\n  @x P.A.f()\n  def x, do: @x\nend\n"
SUPPORT = b"defmodule P.Support do\n  def s, do: %P.B{}\nend\n"


@pytest.mark.parametrize(
    "body, extra, paths",
    [
        ('    [app: :p, elixirc_paths: elixirc_paths(Mix.env())]',
         '  defp elixirc_paths(:test), do: ["lib", "test/support"]\n'
         '  defp elixirc_paths(_), do: ["lib", "src"]\n',
         ["lib", "src"]),
        ('    [app: :p, elixirc_paths: paths(Mix.env())]',
         '  defp paths(:dev), do: ["src", "lib"]\n  defp paths(env), do: ["lib"]\n',
         ["src", "lib"]),
        ('    [app: :p, elixirc_paths: (["lib", "src"])]', "", ["lib", "src"]),
    ],
    ids=["function-of-env", "dev-clause-first", "parenthesised"],
)
def test_elixirc_paths_computed_by_a_function(tmp_path, body, extra, paths):
    root = make(tmp_path / "p", {"src/src.ex": SRC, "test/support/support.ex": SUPPORT},
                mix=mix_exs(body, extra))
    project = load_project(root)
    assert project.elixirc_paths == paths and project.notes == []
    assert "test/support/support.ex" not in project.source_files
    assert edges(root)["src/src.ex"] == {"lib/a.ex": "compile"}


@pytest.mark.parametrize(
    "body, extra, note",
    [
        ("    Keyword.merge(base(), elixirc_paths: [\"src\"])",
         "  defp base, do: [app: :p]\n",
         "mix.exs: project/0 is not a plain keyword list; using defaults"),
        ("    base() ++ [deps: []]", "  defp base, do: [app: :p]\n",
         "mix.exs: project/0 is not a plain keyword list; using defaults"),
        ("    paths = [\"lib\", \"src\"]\n    [app: :p, elixirc_paths: paths]", "",
         'mix.exs:6: elixirc_paths is computed in a way exfix cannot read; using ["lib"]'),
        ("    [app: :p, elixirc_paths: [\"lib\" | extra()]]", "  defp extra, do: [\"src\"]\n",
         'mix.exs:5: elixirc_paths is computed in a way exfix cannot read; using ["lib"]'),
        ("    [app: :p, elixirc_paths: elixirc_paths(Mix.env())]",
         '  defp elixirc_paths(:test), do: ["lib", "test/support"]\n',
         'mix.exs:5: elixirc_paths is computed in a way exfix cannot read; using ["lib"]'),
        ("    [app: :p, elixirc_paths: [\"l#{1}b\"]]", "",
         'mix.exs:5: elixirc_paths is computed in a way exfix cannot read; using ["lib"]'),
    ],
    ids=["keyword-merge", "concatenation", "variable", "cons", "no-dev-clause", "interpolation"],
)
def test_mix_exs_exfix_cannot_read_falls_back_to_lib_with_a_note(tmp_path, body, extra, note):
    root = make(tmp_path / "p", {"src/src.ex": SRC, "lib/user.ex": USER}, mix=mix_exs(body, extra))
    project = load_project(root)
    assert project.notes == [note]
    assert project.elixirc_paths == ["lib"]
    assert edges(root)["lib/user.ex"] == USER_EDGES["lib/user.ex"]
    res = exfix("graph", str(root), "--elixir", "1.18", "-v")
    assert res.exit_code == 0 and f"note: {note}" in res.stderr


@pytest.mark.parametrize(
    "mix",
    [
        b"",  # empty
        b"# nothing but a comment\n",
        b"defmodule P.MixProject do\nend\n",  # no project/0
        b"\xef\xbb\xbf" + MIX,
        MIX.replace(b"\n", b"\r\n"),
        b"Code.require_file(\"other.exs\")\n" + MIX,
    ],
    ids=["empty", "comment", "no-project", "bom", "crlf", "code-before"],
)
def test_odd_mix_exs_is_read_without_crashing(tmp_path, mix):
    root = make(tmp_path / "p", {"lib/user.ex": USER}, mix=mix)
    project = load_project(root)
    assert project.elixirc_paths == ["lib"]
    assert edges(root) == USER_EDGES


def test_mix_exs_that_is_not_a_file(tmp_path):
    root = tmp_path / "p"
    (root / "mix.exs").mkdir(parents=True)
    with pytest.raises(ProjectError, match="no mix.exs here"):
        load_project(root)


@pytest.mark.parametrize("command", ["suggest", "apply"])
def test_folder_without_mix_exs_exits_2_with_a_clear_error(tmp_path, command):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.ex").write_bytes(A)
    res = exfix(command, ".", "--elixir", "1.18", "-j", "1", cwd=tmp_path)
    assert res.exit_code == 2
    assert ".: error: no mix.exs found here or below" in res.stderr
    assert (tmp_path / "lib" / "a.ex").read_bytes() == A


@pytest.mark.parametrize("args", [["graph"], ["trace", "lib/a.ex"], ["recompiles", "lib/a.ex"]],
                         ids=["graph", "trace", "recompiles"])
def test_graph_commands_without_mix_exs_exit_2(tmp_path, args):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.ex").write_bytes(A)
    res = exfix(*args, "--elixir", "1.18", cwd=tmp_path)
    assert "no mix.exs" in res.stderr
    assert res.exit_code == 2


def test_graph_commands_without_mix_exs_say_so(tmp_path):
    res = exfix("graph", str(tmp_path), "--elixir", "1.18")
    assert res.exit_code != 0 and f"{tmp_path}: no mix.exs here: not a mix project" in res.stderr


# --------------------------------------------------------------------------- dynamic code

TEXTS = b'''defmodule P.Texts do
  @moduledoc """
  P.A.f() and %P.B{} in a heredoc, #{1 + 1}
  """
  @w ~w(P.A P.B)a
  @r ~r/P\\.A\\.f\\(\\)/
  @s ~S"P.A.f()"
  @c ~c"P.B.h()"
  @l 'P.A.f()'
  # P.A.f() in a comment
  def all, do: {@w, @r, @s, @c, @l, "P.B.h() #{"P.A"}", :"Elixir.P.Nope"}
  def doc do
    """
    %P.B{b: 1} and P.A.f()
    """
  end
end
'''


def test_module_names_in_texts_make_no_edges(tmp_path):
    root = make(tmp_path / "p", {"lib/texts.ex": TEXTS})
    an = analyze(load_project(root), version="1.18")
    assert an.edges()["lib/texts.ex"] == {}
    assert an.files["lib/texts.ex"].errors == []


def dot_edges(dot: str) -> dict[tuple[str, str], str]:
    out = {}
    for a, b, label in re.findall(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[label="\((\w+)\)"\])?', dot, re.M):
        out[(a, b)] = label or "runtime"
    return out


def exfix_dot(project: Path, version: str) -> str:
    res = exfix("graph", str(project), "--format", "dot", "--output", "-", "--elixir", version)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.oracle
def test_dynamic_code_gives_no_edge_mix_does_not_have(elixir_version, compile_project):
    """defmodule unquote(name), modules made by macros, __MODULE__ tricks, quote/unquote,
    Module.concat and module names in texts: exfix may miss what only running the code shows
    (it says so in notes), but each edge it gives is one mix has, with the same label."""
    project = FIXTURES / "dynamic"
    mix = dot_edges(compile_project(project).xref_graph("--format", "dot"))
    ours = dot_edges(exfix_dot(project, elixir_version))
    invented = {e: l for e, l in ours.items() if mix.get(e) != l}
    assert not invented, f"edges mix does not have (or labels it otherwise): {invented}; mix: {mix}"
    # what exfix does follow: the macro call at the top of a module, and what it unquotes
    assert ours[("lib/dyn/things.ex", "lib/dyn/factory.ex")] == "compile"
    assert ours[("lib/dyn/things.ex", "lib/dyn/base.ex")] == "runtime"


@pytest.mark.oracle
def test_links_and_computed_elixirc_paths_match_mix(elixir_version, compile_project):
    """elixirc_paths from a function of Mix.env(), a folder link and a file link under lib."""
    project = FIXTURES / "layout"
    assert (project / "lib" / "linked").is_symlink() and (project / "lib/lay/shared.ex").is_symlink()
    expected = compile_project(project).xref_graph("--format", "dot")
    assert exfix_dot(project, elixir_version) == expected


@pytest.mark.parametrize("fixture", ["dynamic", "layout"])
def test_every_rule_runs_on_dynamic_code_and_links(tmp_path, fixture):
    """suggest over the dynamic-code and link fixtures: no rule fails, each patch parses."""
    from refactor.engine import Options, run_project
    from refactor.rules import ALL_RULES

    root = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    before = snapshot(root)
    r = run_project(root, Options(rules=list(ALL_RULES), version="1.18", cwd=str(tmp_path)))
    assert r.stats is not None and r.errors == [], [str(e) for e in r.errors]
    for patch in r.patches:
        assert first_error(parse(patch.after)) is None, patch.file
    assert snapshot(root) == before  # suggest writes nothing


def test_graph_writes_its_dot_file(tmp_path):
    root = make(tmp_path / "p", {"lib/user.ex": USER})
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "dot", "--elixir", "1.18",
                                    "--output", str(tmp_path / "g.dot")])
    if res.exception is not None:
        raise res.exception
    assert res.exit_code == 0 and (tmp_path / "g.dot").read_text().startswith('digraph "xref graph"')


# --------------------------------------------------------------------------- fuzz harness, briefly


@pytest.fixture(scope="module")
def fuzz_harness():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_graph", ROOT / "tests" / "fuzz" / "fuzz_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    harness = mod.Harness()
    yield mod, harness
    harness.close()


def test_fuzz_harness_on_its_seeds(fuzz_harness):
    """What tests/fuzz/fuzz_graph.py checks, on the inputs that once broke the path."""
    mod, harness = fuzz_harness
    for data in mod.EXTRA_SEEDS:
        harness.one(data)


def test_fuzz_harness_on_random_bytes(fuzz_harness):
    """A short Hypothesis run of the harness (the long one: python tests/fuzz/fuzz_graph.py)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    _mod, harness = fuzz_harness
    elixirish = st.lists(st.sampled_from([
        b"defmodule ", b"Fz.Alpha", b"Fz.Beta", b" do\n", b"end\n", b"use ", b"require ", b"import ",
        b"alias ", b"@x ", b".f(1)", b"%", b"{}", b"(", b")", b"[", b"]", b"fn -> ", b"\"", b'"""\n',
        b"#{", b"}", b"~s(", b"quote do\n", b"unquote(", b"__MODULE__", b"\r\n", b"\t", b"\xff", b"\x00",
        b", ", b"do: ", b"def f", b" + ", b"|> ", b":", b"'", b"?", b"\\", b"when ",
    ]), max_size=60).map(b"".join)

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.one_of(st.binary(max_size=300), elixirish))
    def run(data):
        harness.one(data)

    run()
