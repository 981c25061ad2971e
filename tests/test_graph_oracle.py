"""exfix against the real compiler: graphs, traces and recompile sets on every fixture project.

For each project under fixtures/ and each Elixir version (1.14, 1.18, 1.20), the project is
compiled with mix, and:

* ``exfix graph --format dot`` must equal ``mix xref graph --format dot`` byte for byte
  (at an umbrella root, the default pretty output is compared, as mix prints it there);
* ``exfix trace FILE`` must equal ``mix xref trace FILE`` for every file, except that mix
  prints a line twice when the compiler traced it twice (Kernel macros such as is_struct/2
  expand their arguments twice); those repeated lines are folded before comparing;
* ``exfix recompiles`` must equal what ``mix compile --verbose`` recompiles after an edit,
  for a body-only edit and for an edit that adds a public function, on the files most
  depended upon.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from oracle import BODY_EDIT, fixture_projects, with_new_export
from refactor.analysis import analyze
from refactor.cli import main
from refactor.recompile import recompiles
from refactor.trace import format_entry, trace_entries

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = [*fixture_projects(), ROOT / "fixtures" / "example"]
IDS = [p.name for p in PROJECTS]


def is_umbrella(project: Path) -> bool:
    return (project / "apps").is_dir()


def exfix(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_there_are_enough_fixture_projects():
    assert len(PROJECTS) >= 15


@pytest.mark.oracle
@pytest.mark.parametrize("project", PROJECTS, ids=IDS)
def test_graph_matches_mix(project, elixir_version, compile_project):
    compiled = compile_project(project)
    if is_umbrella(project):
        expected = compiled.xref_graph()
        actual = exfix("graph", str(project), "--elixir", elixir_version)
    else:
        expected = compiled.xref_graph("--format", "dot")
        actual = exfix("graph", str(project), "--format", "dot", "--output", "-", "--elixir", elixir_version)
    assert expected.count("->") + expected.count("──") > 0 or "lone" in project.name
    assert actual == expected


def fold_repeats(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not out or out[-1] != line:
            out.append(line)
    return out


@pytest.mark.oracle
@pytest.mark.parametrize("project", [p for p in PROJECTS if not is_umbrella(p)],
                         ids=[p.name for p in PROJECTS if not is_umbrella(p)])
def test_trace_matches_mix(project, elixir_version, compile_project):
    analysis = analyze(project, elixir_version)
    files = sorted(analysis.files)
    expected = {f: fold_repeats(text.splitlines())
                for f, text in compile_project(project).xref_traces(files).items()}
    actual = {
        f: fold_repeats([format_entry(f, ref, elixir_version) for ref in trace_entries(analysis, f)])
        for f in files
    }
    diff = [
        line
        for f in files
        if expected[f] != actual[f]
        for line in difflib.unified_diff(expected[f], actual[f], f"mix {f}", f"exfix {f}", lineterm="", n=0)
    ]
    assert not diff, "\n".join(diff)
    assert sum(len(v) for v in expected.values()) > 0


def test_trace_command_prints_like_mix(tmp_path):
    project = ROOT / "fixtures" / "projects" / "01_labels_refs"
    out = exfix("trace", "lib/s10_require_macro.ex", "--project", str(project), "--elixir", "1.18")
    assert out.splitlines() == [
        "lib/s10_require_macro.ex:2: require T.Mac (export)",
        "lib/s10_require_macro.ex:4: alias T.Mac (runtime)",
        "lib/s10_require_macro.ex:4: call T.Mac.m/1 (compile)",
    ]


def most_depended_upon(analysis, count: int) -> list[str]:
    indegree = {f: analysis.file_graph.in_degree(f) for f in analysis.file_graph.nodes}
    ranked = sorted(indegree, key=lambda f: (-indegree[f], f))
    return [f for f in ranked if indegree[f] > 0][:count]


@pytest.mark.oracle
@pytest.mark.parametrize("project", [p for p in PROJECTS if not is_umbrella(p)],
                         ids=[p.name for p in PROJECTS if not is_umbrella(p)])
def test_recompiles_match_mix(project, elixir_version, compile_project):
    compiled = compile_project(project)
    analysis = analyze(project, elixir_version)
    deps = analysis.file_deps()
    many = project.name in ("example", "14_phoenix_shaped", "10_cycles_chains", "11_sccs")
    targets = most_depended_upon(analysis, 3 if many else 1)
    assert targets, "a fixture project with no dependencies between its files"
    checked = 0
    for target in targets:
        text = (project / target).read_text()
        body_edit = text + BODY_EDIT
        expected = compiled.recompile_after({target: body_edit})
        predicted = recompiles(deps, target, False, elixir_version, export_implies_runtime=False)
        assert sorted([target, *predicted]) == expected, f"body edit of {target}"
        checked += 1
    export = with_new_export((project / targets[0]).read_text())
    if export is not None:
        new_text, module = export
        expected = compiled.recompile_after({targets[0]: new_text})
        predicted = recompiles(deps, targets[0], {module}, elixir_version, export_implies_runtime=False)
        assert sorted([targets[0], *predicted]) == expected, f"export change of {targets[0]}"
        checked += 1
    assert checked >= 1


@pytest.mark.oracle
@pytest.mark.parametrize("project", [p for p in PROJECTS if not is_umbrella(p)],
                         ids=[p.name for p in PROJECTS if not is_umbrella(p)])
def test_only_direct_matches_mix(project, elixir_version, compile_project):
    """--only-direct filters on every label a file lists another under, not the strongest."""
    labels = ("compile", "export", "runtime")
    script = "".join(
        f'IO.puts("==LABEL {label}"); Mix.Task.rerun("xref", ["graph", "--label", "{label}", "--only-direct"]); '
        for label in labels
    )
    out = compile_project(project).mix("run", "--no-start", "-e", script).stdout
    expected = dict(re.findall(r"^==LABEL (\w+)\n(.*?)(?=^==LABEL |\Z)", out, re.M | re.S))
    for label in labels:
        actual = exfix("graph", str(project), "--label", label, "--only-direct", "--elixir", elixir_version)
        assert actual == expected[label], f"--label {label} --only-direct"
