"""exfix against mix's recorded output on every fixture project, for each recorded Elixir version.

Elixir 1.15, 1.16, 1.17 and 1.19 have no Debian package, so the oracle tests cannot run them
where the suite is set up (scripts/setup-tests); they were built from source, and
``scripts/record-versions`` recorded what their mix prints on each fixture project under
tests/data/projects/<project>/<version>/ (VERSIONS.md there names the exact releases). These
tests compare exfix with those recordings as test_graph_oracle compares it with live mix:

* ``graph.dot`` (``graph.txt`` at an umbrella root) byte for byte;
* ``only-direct.txt``: ``--label L --only-direct`` for each label;
* ``formats.txt``: ``--format stats`` and ``--format cycles``, alone and with ``--label compile``;
* ``trace.txt``: ``mix xref trace FILE`` for each compiled file (lines the compiler traced
  twice folded, as in test_graph_oracle), and exfix traces the same files;
* ``recompiles.json``: the files ``mix compile --verbose`` recompiled after each edit.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from refactor import semantics
from refactor.analysis import analyze
from refactor.cli import main
from refactor.recompile import recompiles
from refactor.trace import format_entry, trace_entries

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "projects"
# the versions without a Debian package must be recorded (1.14, 1.18, 1.20 run live)
MUST = ("1.15", "1.16", "1.17", "1.19")


def project_dir(name: str) -> Path:
    return ROOT / "fixtures" / ("example" if name == "example" else f"projects/{name}")


def recordings() -> list[tuple[str, str]]:
    out = []
    for d in sorted(DATA.glob("*/*/")):
        if (d / "graph.dot").is_file() or (d / "graph.txt").is_file():
            out.append((d.parent.name, d.name))
    return sorted(out, key=lambda r: (tuple(map(int, r[1].split("."))), r[0]))


RECORDED = recordings()
IDS = [f"{v}-{p}" for p, v in RECORDED]
NON_UMBRELLA = [r for r in RECORDED if (DATA / r[0] / r[1] / "graph.dot").is_file()]
NON_UMBRELLA_IDS = [f"{v}-{p}" for p, v in NON_UMBRELLA]


def exfix(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def sections(text: str) -> dict[str, str]:
    """'== NAME' headed sections of a recording."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines(True):
        if line.startswith("== "):
            current = out.setdefault(line[3:].rstrip("\n"), [])
        elif current is not None:
            current.append(line)
    return {k: "".join(v) for k, v in out.items()}


def fold_repeats(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not out or out[-1] != line:
            out.append(line)
    return out


def test_every_fixture_project_is_recorded_on_each_unpackaged_version():
    projects = {p.name for p in (ROOT / "fixtures" / "projects").iterdir() if (p / "mix.exs").is_file()}
    projects.add("example")
    for version in MUST:
        have = {p for p, v in RECORDED if v == version}
        assert have == projects, f"{version}: missing {sorted(projects - have)}, extra {sorted(have - projects)}"


@pytest.mark.parametrize("name, version", RECORDED, ids=IDS)
def test_graph_matches_the_recording(name, version):
    project = project_dir(name)
    rec = DATA / name / version
    if (rec / "graph.txt").is_file():
        expected = (rec / "graph.txt").read_text()
        actual = exfix("graph", str(project), "--elixir", version, "--no-cache")
    else:
        expected = (rec / "graph.dot").read_text()
        actual = exfix("graph", str(project), "--format", "dot", "--output", "-", "--elixir", version, "--no-cache")
    assert expected.count("->") + expected.count("──") > 0
    assert actual == expected


@pytest.mark.parametrize("name, version", NON_UMBRELLA, ids=NON_UMBRELLA_IDS)
def test_only_direct_matches_the_recording(name, version):
    expected = sections((DATA / name / version / "only-direct.txt").read_text())
    assert sorted(expected) == ["compile", "export", "runtime"]
    for label, text in expected.items():
        actual = exfix("graph", str(project_dir(name)), "--label", label, "--only-direct",
                       "--elixir", version, "--no-cache")
        assert actual == text, f"--label {label} --only-direct"


FORMATS = [r for r in NON_UMBRELLA if (DATA / r[0] / r[1] / "formats.txt").is_file()]


def test_formats_are_recorded_on_each_unpackaged_version():
    for version in MUST:
        assert {p for p, v in FORMATS if v == version} == {p for p, v in NON_UMBRELLA if v == version}, version


def cycle_files(text: str) -> list[tuple[str, list[str]]]:
    """Each printed cycle's header and its files as a set (sorted): up to 1.16 mix starts a
    cycle at the component's first vertex in ETS order, which exfix does not reproduce (a
    documented limit, refactor/xref_format.py), so only which files are on it is compared."""
    out = []
    for block in text.split("Cycle of length ")[1:]:
        header, _, body = block.partition("\n")
        out.append((header, sorted({ln.strip() for ln in body.splitlines() if ln.strip()})))
    return sorted(out)


@pytest.mark.parametrize("name, version", FORMATS, ids=[f"{v}-{p}" for p, v in FORMATS])
def test_stats_and_cycles_match_the_recording(name, version):
    expected = sections((DATA / name / version / "formats.txt").read_text())
    assert len(expected) == 4
    for args, text in expected.items():
        actual = exfix("graph", str(project_dir(name)), *args.split(), "--elixir", version, "--no-cache")
        if "cycles" in args and tuple(map(int, version.split("."))) < (1, 17):
            assert actual.partition("\n")[0] == text.partition("\n")[0], args
            assert cycle_files(actual) == cycle_files(text), args
        else:
            assert actual == text, args


@pytest.mark.parametrize("name, version", NON_UMBRELLA, ids=NON_UMBRELLA_IDS)
def test_trace_matches_the_recording(name, version):
    expected = {f: fold_repeats(t.splitlines())
                for f, t in sections((DATA / name / version / "trace.txt").read_text()).items()}
    analysis = analyze(project_dir(name), version, cache=False)
    assert sorted(analysis.files) == sorted(expected)
    diff = []
    for f in sorted(expected):
        actual = fold_repeats([format_entry(f, ref, version) for ref in trace_entries(analysis, f)])
        diff.extend(difflib.unified_diff(expected[f], actual, f"mix {f}", f"exfix {f}", lineterm="", n=0))
    assert sum(len(v) for v in expected.values()) > 0
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize("name, version", NON_UMBRELLA, ids=NON_UMBRELLA_IDS)
def test_recompiles_match_the_recording(name, version):
    recorded = json.loads((DATA / name / version / "recompiles.json").read_text())
    assert recorded["elixir"].startswith(version + ".")
    assert recorded["edits"], "no edit recorded"
    deps = analyze(project_dir(name), version, cache=False).file_deps()
    for edit in recorded["edits"]:
        changed = {edit["module"]} if edit["edit"] == "export" else False
        predicted = recompiles(deps, edit["file"], changed, version, export_implies_runtime=False)
        assert sorted([edit["file"], *predicted]) == edit["recompiled"], f"{edit['edit']} edit of {edit['file']}"


def agrees_on(version: str) -> bool:
    """Whether exfix gives every non-umbrella recording of ``version`` (graph, traces,
    recompile sets); stops at the first disagreement."""
    from refactor.xref_format import FileGraph, GraphOptions, render_graph

    for name, v in NON_UMBRELLA:
        if v != version:
            continue
        rec = DATA / name / v
        analysis = analyze(project_dir(name), v, cache=False)
        dot = render_graph(FileGraph(files=analysis.tracked_files, edges=analysis.edges()),
                           GraphOptions(format="dot"), v).text
        if dot != (rec / "graph.dot").read_text():
            return False
        for f, text in sections((rec / "trace.txt").read_text()).items():
            got = [format_entry(f, ref, v) for ref in trace_entries(analysis, f)]
            if fold_repeats(text.splitlines()) != fold_repeats(got):
                return False
        deps = analysis.file_deps()
        for edit in json.loads((rec / "recompiles.json").read_text())["edits"]:
            changed = {edit["module"]} if edit["edit"] == "export" else False
            if sorted([edit["file"], *recompiles(deps, edit["file"], changed, v,
                                                 export_implies_runtime=False)]) != edit["recompiled"]:
                return False
    return True


@pytest.mark.parametrize("change", sorted(semantics.SINCE))
def test_each_change_is_pinned_to_its_release_by_the_recordings(change, monkeypatch):
    """Modelled one release later (so its release keeps the old rule) or one earlier (so the
    release before already has it), the change makes some recording disagree."""
    major, minor = semantics.SINCE[change]
    for moved, checked in (((major, minor + 1), f"{major}.{minor}"), ((major, minor - 1), f"{major}.{minor - 1}")):
        assert checked in {v for _, v in NON_UMBRELLA}, f"no recording of {checked}"
        monkeypatch.setitem(semantics.SINCE, change, moved)
        semantics.semantics.cache_clear()
        try:
            assert not agrees_on(checked), f"{change} modelled from {moved}: {checked}'s recordings still agree"
        finally:
            monkeypatch.setitem(semantics.SINCE, change, (major, minor))
            semantics.semantics.cache_clear()
