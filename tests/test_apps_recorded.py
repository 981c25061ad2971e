"""Fixture apps that use real frameworks (fixtures/apps/*), against what mix recorded.

Each app was compiled by real mix with its dependencies' sources under deps/, in a session
that had them; ``tests/data/apps/<app>/<elixir>/<env>.dot`` and ``<env>.trace.txt`` are what
``mix xref graph --format dot`` and ``mix xref trace FILE`` printed (SOURCES.md there says
which versions). The apps are committed without deps/, so exfix must give mix's graph from
its framework models alone (refactor/frameworks/).

Apps in EXACT must give the recorded graph byte for byte, those in EXACT_TRACE the recorded
traces too. The others are measured: no label's F1 may fall below the floor recorded here,
so that what is reached is kept.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from refactor.analysis import analyze
from refactor.project import load_project
from refactor.trace import format_entry, trace_entries
from refactor.xref_format import parse_dot

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "fixtures" / "apps"
DATA = ROOT / "tests" / "data" / "apps"
EXACT = {"plug_builder", "modern_app"}
# traces equal too (mix also traces a module's calls of its own generated functions, which
# exfix leaves out: they are no edge)
EXACT_TRACE = {"plug_builder"}
# app -> the least per-label F1 kept in every recorded version and environment
FLOOR: dict[str, float] = {}


def recordings() -> list[tuple[str, str, str]]:
    out = []
    for app in sorted(p.name for p in DATA.iterdir() if (APPS / p.name / "mix.exs").is_file()):
        for dot in sorted((DATA / app).glob("*/*.dot")):
            out.append((app, dot.parent.name, dot.stem))
    return out


RECORDED = recordings()


def edge_set(graph) -> set[tuple[str, str, str]]:
    return {(a, b, label) for a, sinks in graph.edges.items() for b, label in sinks.items()}


def analysed(app: str, version: str, env: str):
    return analyze(load_project(APPS / app, env), version, cache=False)


def exfix_dot(analysis, version: str) -> str:
    from refactor.xref_format import FileGraph, GraphOptions, render_graph

    fg = FileGraph(files=analysis.tracked_files, edges=analysis.edges())
    return render_graph(fg, GraphOptions(format="dot"), version).text


def test_there_are_recordings():
    assert {app for app, _, _ in RECORDED} >= EXACT
    assert len(RECORDED) >= 3


@pytest.mark.parametrize("app, version, env", RECORDED, ids=["-".join(r) for r in RECORDED])
def test_graph_matches_the_recording(app, version, env):
    expected_text = (DATA / app / version / f"{env}.dot").read_text()
    analysis = analysed(app, version, env)
    expected = edge_set(parse_dot(expected_text, unescape=version >= "1.19"))
    actual = edge_set(parse_dot(exfix_dot(analysis, version)))
    assert expected, "a recording with no edges proves nothing"
    if app in EXACT:
        assert exfix_dot(analysis, version) == expected_text
        return
    floor = FLOOR[app]
    for label in ("compile", "export", "runtime"):
        want = {e for e in expected if e[2] == label}
        got = {e for e in actual if e[2] == label}
        both = len(want & got)
        f1 = 2 * both / (len(want) + len(got)) if want or got else 1.0
        assert f1 >= floor, f"{label}: F1 {f1:.3f} below {floor} (missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]})"


@pytest.mark.parametrize("app, version, env", [r for r in RECORDED if r[0] in EXACT_TRACE],
                         ids=["-".join(r) for r in RECORDED if r[0] in EXACT_TRACE])
def test_trace_matches_the_recording(app, version, env):
    expected: dict[str, list[str]] = {}
    current = None
    for line in (DATA / app / version / f"{env}.trace.txt").read_text().splitlines():
        if line.startswith("== "):
            current = expected.setdefault(line[3:], [])
        elif current is not None and (not current or current[-1] != line):
            current.append(line)  # mix prints a line twice when the compiler traced it twice
    analysis = analysed(app, version, env)
    diff = []
    for f, want in expected.items():
        got = []
        for ref in trace_entries(analysis, f):
            line = format_entry(f, ref, version)
            if not got or got[-1] != line:
                got.append(line)
        diff.extend(difflib.unified_diff(want, got, f"mix {f}", f"exfix {f}", lineterm="", n=0))
    assert sum(map(len, expected.values())) > 0
    assert not diff, "\n".join(diff)
