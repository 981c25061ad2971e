"""Output for people and machines: concise and GitHub lines, wrapped headers on a terminal,
--color and NO_COLOR/FORCE_COLOR, the progress bar of one large project, one meaning for -j,
-v everywhere, and the JSON output against its published schema."""

from __future__ import annotations

import json
import re
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from refactor.cli import COMMANDS, main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "fixtures" / "example"
SCHEMA = REPO / "refactor" / "suggest.schema.json"


@pytest.fixture
def example(tmp_path, monkeypatch):
    dst = tmp_path / "example"
    shutil.copytree(EXAMPLE, dst)
    monkeypatch.chdir(tmp_path)
    return dst


def run(*args, env=None):
    return CliRunner(env=env).invoke(main, [*args, "--elixir", "1.18"], catch_exceptions=False)


def suggestions(example) -> list[dict]:
    return json.loads(run("suggest", "example", "--format", "json", "-j", "1").stdout)["suggestions"]


def test_concise_is_one_line_per_finding(example):
    res = run("suggest", "example", "--format", "concise", "-j", "1")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    found = suggestions(example)
    assert len(lines) == len(found) == 4  # the 5th, a fix that saves no recompile, is hidden
    for line, s in zip(lines, found):
        assert line.startswith(f"example/{s['file']}:{s['line']}: {s['severity']}: ")
        assert f"[{s['rule']}, " in line
    assert lines[0].endswith("[attribute-to-function, verified fix]")
    assert any(line.endswith("[import-to-alias, no automatic fix]") for line in lines)
    # --check counts the same findings whatever the format
    assert run("suggest", "example", "--format", "concise", "--check", "-j", "1").exit_code == 1


def test_github_annotations(example):
    res = run("suggest", "example", "--format", "github", "-j", "1")
    lines = res.stdout.splitlines()
    found = suggestions(example)
    assert len(lines) == len(found)
    level = {"error": "error", "warning": "warning", "info": "notice"}
    for line, s in zip(lines, found):
        head, _, message = line[2:].partition("::")
        kind, _, props = head.partition(" ")
        assert kind == level[s["severity"]]
        fields = dict(p.split("=", 1) for p in props.split(","))
        assert fields["file"] == f"example/{s['file']}" and fields["line"] == str(s["line"])
        assert fields["title"].startswith(f"exfix {s['rule']} (")
        # what the runner reads back is the message
        assert message.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") == s["message"]


def test_github_annotations_for_errors(example):
    (example / "lib" / "broken.ex").write_text("defmodule Broken do\n  def f(, do: 1\nend\n")
    res = run("suggest", "example", "--format", "github", "-j", "1")
    assert res.exit_code == 2
    errors = [line for line in res.stdout.splitlines() if line.startswith("::error ")]
    assert errors == ["::error file=example/lib/broken.ex,line=2,title=exfix::syntax error; "
                      "exfix rewrites nothing in this file"]
    assert "example/lib/broken.ex:2: error: syntax error" in res.stderr  # and on stderr as ever


def test_github_escaping():
    from refactor.line_formats import _data, _property

    assert _data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert _property("a:b,c") == "a%3Ab%2Cc"


def test_long_headers_wrap_on_a_terminal_only():
    from refactor.line_formats import wrap_comment

    long = "#   warning: " + " ".join(f"lib/app/file_{i}.ex" for i in range(400))
    assert len(long) > 6000
    parts = wrap_comment(long, 100)
    assert all(len(p) <= 100 and p.startswith("#") for p in parts)
    assert parts[0].startswith("#   warning: ") and parts[1].startswith("#     ")
    assert " ".join(p[1:].strip() for p in parts) == long[1:].strip()  # no word lost or cut
    assert wrap_comment("# short", 100) == ["# short"]


def pty_run(args: list[str], cwd: Path, env_extra: dict, prelude: str = "") -> str:
    """Run exfix under a pseudo-terminal (stdout and stderr a terminal); what it printed."""
    script = (f"import sys; sys.path.insert(0, {str(REPO)!r})\n{prelude}\n"
              f"from refactor.cli import main\nmain({args!r})\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="50", **env_extra)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, "-c", script], env)
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


def test_color_choice_and_environment(example):
    header = "\x1b[1;33m# "  # a suggestion's header, bold yellow (a progress bar may draw too)
    args = ["suggest", "example", "--elixir", "1.18", "-j", "1"]
    assert header in pty_run(args, example.parent, {})
    assert "\x1b[3" not in pty_run(args, example.parent, {"NO_COLOR": "1"}).split("exfix: ")[0]
    assert header not in pty_run(args + ["--color", "never"], example.parent, {})
    # piped: plain, unless asked
    assert "\x1b[" not in run("suggest", "example", "-j", "1").stdout
    assert header in run("suggest", "example", "-j", "1", "--color", "always").stdout
    assert header in run("suggest", "example", "-j", "1", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run("suggest", "example", "-j", "1", env={"FORCE_COLOR": "0"}).stdout
    assert "\x1b[" not in run("suggest", "example", "-j", "1", "--color", "never",
                              env={"FORCE_COLOR": "1"}).stdout


def test_headers_wrap_to_the_terminal(example):
    out = pty_run(["suggest", "example", "--elixir", "1.18", "-j", "1", "--color", "never"],
                  example.parent, {})
    lines = out.replace("\r\n", "\n").splitlines()
    headers = [line for line in lines if line.startswith("#")]
    assert headers and all(len(line) <= 100 for line in headers)
    piped = run("suggest", "example", "-j", "1").stdout.splitlines()
    assert max(len(line) for line in piped if line.startswith("#")) > 100  # piped: one line each


def test_progress_bar_for_one_large_project(tmp_path):
    """One project of 400 files, the bar's delay set to 0: it shows the files as they go,
    and goes away; the graph printed is the one printed without a terminal."""
    project = tmp_path / "p400"
    subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "400", str(project)],
                   check=True, capture_output=True)
    args = ["graph", str(project), "--label", "compile-connected", "--elixir", "1.18", "-j", "1", "--no-cache"]
    out = pty_run(args, tmp_path, {}, "import refactor.progress as p; p.AFTER = 0")
    assert "bench_app: parsing" in out and "bench_app: expanding" in out  # the app, per mix.exs
    assert re.search(r"\b\d+/4\d\d\b", out)  # files done of the 4xx
    piped = run(*args[:4], "-j", "1", "--no-cache")
    assert piped.stdout.splitlines()[-1] in out
    # suggest on one project shows it too (the example, small: the delay is 0 here)
    out = pty_run(["suggest", str(EXAMPLE), "--elixir", "1.18", "-j", "1", "--no-cache", "--format", "concise"],
                  tmp_path, {}, "import refactor.progress as p; p.AFTER = 0")
    assert "example: expanding" in out
    # with the default delay a short run shows no bar
    out = pty_run(["graph", str(EXAMPLE), "--elixir", "1.18", "-j", "1", "--no-cache"], tmp_path, {})
    assert "expanding" not in out


def test_jobs_and_verbose_mean_the_same_in_every_command():
    from refactor.cli import LazyGroup

    group = LazyGroup(name="x")
    analysing = 0
    for name in COMMANDS:
        command = group.get_command(None, name)
        opts = {o: p for p in command.params for o in p.opts}
        if "--elixir" not in opts:
            continue  # analyses nothing (exfix rules: documentation)
        analysing += 1
        assert "-j" in opts and "--jobs" in opts, name
        assert opts["-j"].help.startswith("Use at most N processes"), name
        assert "-v" in opts and "--verbose" in opts, name
    assert analysing >= 7  # suggest, apply, baseline, graph, trace, recompiles, fanout


def test_verbose_suggest_prints_the_notes(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project)
    (project / "mix.exs").write_text((EXAMPLE / "mix.exs").read_text().replace(
        "deps: []", 'deps: [], elixirc_paths: Enum.map(["lib"], & &1)'))
    quiet = run("suggest", str(project), "-j", "1", "--no-cache")
    loud = run("suggest", str(project), "-j", "1", "--no-cache", "-v")
    notes = [line for line in loud.stderr.splitlines() if line.startswith("note: ")]
    assert any("elixirc_paths is computed in a way exfix cannot read" in n for n in notes)
    assert not any(line.startswith("note: ") for line in quiet.stderr.splitlines())


def test_json_output_follows_the_published_schema(example):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    doc = json.loads(run("suggest", "example", "--format", "json", "-j", "1").stdout)
    validator.validate(doc)
    assert doc["suggestions"] and doc["projects"]
    written = json.loads(run("apply", "example", "--format", "json", "-j", "1").stdout)
    validator.validate(written)
    assert written["written"]
    # a broken file: errors are in the document too
    (example / "lib" / "broken.ex").write_text("defmodule Broken do\n  def f(, do: 1\nend\n")
    broken = json.loads(run("suggest", "example", "--format", "json", "-j", "1").stdout)
    validator.validate(broken)
    assert broken["errors"]
    # and the schema does reject what it does not describe
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**doc, "suggestions": [{**doc["suggestions"][0], "line": "5"}]})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({k: v for k, v in doc.items() if k != "projects"})
