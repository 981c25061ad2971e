"""Each fix's gain (recompiles saved over the project), the order it gives, and the fixes
worth making: `--min-gain`, `--all`, the same selection in `suggest` and `apply`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import refactor.commands.suggest as cmd
from refactor.analysis import analyze
from refactor.engine import Options, run_project
from refactor.project import load_project
from refactor.rules import get_rules

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


@pytest.fixture
def example(tmp_path, monkeypatch):
    dst = tmp_path / "example"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("_build"))
    monkeypatch.chdir(dst)
    return dst


def invoke(command, *args):
    return CliRunner().invoke(command, [*args, "--elixir", "1.18", "--jobs", "1"], catch_exceptions=False)


def suggestions(*args) -> list[dict]:
    result = invoke(cmd.suggest, "--format", "json", *args)
    return json.loads(result.stdout)["suggestions"]


def recompiles(root: Path, sources: dict[str, bytes]) -> int:
    """Sum over the files of their recompile-set sizes, analysed from scratch."""
    a = analyze(load_project(root), "1.18", sources, cache=False)
    return sum(a.fanout().values())


def test_the_gain_is_the_recompiles_saved_over_the_project(example):
    project = load_project(example)
    disk = {rel: (example / rel).read_bytes() for rel in project.source_files}
    before = recompiles(example, disk)
    fixed = [s for s in suggestions("--all") if s["in_patch"]]
    assert len(fixed) >= 2
    for s in fixed:
        patched = dict(disk)
        # each fix's own diff, applied alone: the patched file as the fix leaves it
        res = run_project(example, Options(rules=get_rules([s["rule"]], []), version="1.18", cwd=str(example)))
        mine = next(x for x in res.suggestions if x.file == s["file"] and x.line == s["line"])
        patched[s["file"]] = mine.after
        patched.update(mine.new_files)
        assert s["gain"] == before - recompiles(example, patched), s["rule"]
        assert s["gain_measured_with"] == 1


def test_fixes_come_highest_gain_first_and_zero_gain_ones_are_hidden(example):
    everything = [s for s in suggestions("--all") if s["in_patch"]]
    gains = [s["gain"] for s in everything]
    assert gains == sorted(gains, reverse=True)
    assert 0 in gains and max(gains) > 0  # the fixture has both kinds
    shown = [s for s in suggestions() if s["in_patch"]]
    assert [s["gain"] for s in shown] == [g for g in gains if g >= 1]
    result = invoke(cmd.suggest)
    assert "gain " in result.stdout
    zero = [s for s in everything if s["gain"] == 0]
    assert f"exfix: {len(zero)} verified fix" in result.stderr and "--all shows" in result.stderr
    for s in zero:
        assert f"{s['file']}:{s['line']} " not in result.stdout


def test_min_gain_sets_the_bar(example):
    best = max(s["gain"] for s in suggestions("--all") if s["in_patch"])
    assert [s["gain"] for s in suggestions("--min-gain", str(best)) if s["in_patch"]] == [best]
    assert not [s for s in suggestions("--min-gain", str(best + 1)) if s["in_patch"]]
    assert [s for s in suggestions("--min-gain", "0") if s["in_patch"] and s["gain"] == 0]


def test_apply_writes_what_suggest_shows(example):
    shown = {s["file"] for s in suggestions() if s["in_patch"]}
    hidden = {s["file"] for s in suggestions("--all") if s["in_patch"]} - shown
    assert shown and hidden
    before = {rel: (example / rel).read_bytes() for rel in shown | hidden}
    result = invoke(cmd.apply)
    assert result.exit_code == 0, result.output
    assert "not written" in result.stderr
    assert {rel for rel in before if (example / rel).read_bytes() != before[rel]} == shown
    invoke(cmd.apply, "--all")
    assert {rel for rel in before if (example / rel).read_bytes() != before[rel]} == shown | hidden


def test_the_engine_keeps_every_fix_unless_told(example):
    rules = get_rules([], [])
    everything = run_project(example, Options(rules=rules, version="1.18", cwd=str(example)))
    worth = run_project(example, Options(rules=rules, version="1.18", cwd=str(example), min_gain=1))
    assert not everything.hidden
    assert worth.hidden and all(s.gain == 0 and s.offered and not s.in_patch for s in worth.hidden)
    assert {id(s) for s in worth.suggestions}.isdisjoint(id(s) for s in worth.hidden)
    kept = {(s.file, s.line) for s in worth.suggestions if s.in_patch}
    assert kept == {(s.file, s.line) for s in everything.suggestions if s.in_patch and s.gain >= 1}
    assert {p.file for p in worth.patches} < {p.file for p in everything.patches}


def test_fixes_verified_together_share_their_measured_gain(tmp_path):
    from refactor.report import header_lines

    root = tmp_path / "p"
    (root / "lib").mkdir(parents=True)
    (root / "mix.exs").write_text('defmodule P.MixProject do\n  use Mix.Project\n'
                                  '  def project, do: [app: :p, version: "0.1.0"]\nend\n')
    (root / "lib/b.ex").write_text("defmodule P.B do\n  defmacro m(x), do: x\n  def h, do: 2\nend\n")
    (root / "lib/many.ex").write_text("".join(
        f"defmodule P.M{i} do\n  require P.B\n  def f(x), do: x + {i}\nend\n\n" for i in range(10)))
    opts = Options(rules=get_rules(["drop-unused-require"], []), version="1.18", cwd=str(tmp_path))
    result = run_project(root, opts)
    fixed = [s for s in result.suggestions if s.in_patch]
    assert len(fixed) == 10
    project = load_project(root)
    disk = {rel: (root / rel).read_bytes() for rel in project.source_files}
    together = recompiles(root, disk) - recompiles(root, {**disk, "lib/many.ex": result.patches[0].after})
    assert {(s.gain, s.gain_with) for s in fixed} == {(together, 10)}
    assert "with the 10 fixes of this file together" in header_lines(result, fixed[0], str(tmp_path))[1]
