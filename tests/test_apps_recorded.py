"""Fixture apps that use real frameworks (fixtures/apps/*), against what mix recorded.

Each app was compiled by real mix with its dependencies' sources under deps/, in a session
that had them; ``tests/data/apps/<app>/<elixir>/<env>.dot`` and ``<env>.trace.txt`` are what
``mix xref graph --format dot`` and ``mix xref trace FILE`` printed (SOURCES.md there says
which versions). The apps are committed without deps/, so exfix must give mix's graph from
its framework models alone (refactor/frameworks/).

Every app must give the recorded graph byte for byte, but for the files KNOWN lists, whose
difference is understood (each says why); EXACT_TRACE apps must give the recorded traces too.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from refactor.analysis import analyze
from refactor.project import load_project
from refactor.trace import format_entry, trace_entries

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "fixtures" / "apps"
DATA = ROOT / "tests" / "data" / "apps"
# app -> files whose edges exfix cannot get right as the app is committed, and why
KNOWN = {
    # lib/my_app/search_index.ex is wrapped in `if Code.ensure_loaded?(Meilisearch)`; with
    # neither deps/ nor mix.lock (as committed) exfix cannot know that no dependency provides
    # Meilisearch, so it keeps the module and its edges (with deps/ or mix.lock it drops them)
    "my_app": {"lib/my_app/search_index.ex"},
}
# traces equal too (mix also traces a module's calls of its own generated functions, which
# exfix leaves out: they are no edge)
EXACT_TRACE = {"plug_builder"}


def recordings() -> list[tuple[str, str, str]]:
    out = []
    for app in sorted(p.name for p in DATA.iterdir() if (APPS / p.name / "mix.exs").is_file()):
        for dot in sorted((DATA / app).glob("*/*.dot")):
            out.append((app, dot.parent.name, dot.stem))
    return out


RECORDED = recordings()


def analysed(app: str, version: str, env: str):
    return analyze(load_project(APPS / app, env), version, cache=False)


def exfix_dot(analysis, version: str) -> str:
    from refactor.xref_format import FileGraph, GraphOptions, render_graph

    fg = FileGraph(files=analysis.tracked_files, edges=analysis.edges())
    return render_graph(fg, GraphOptions(format="dot"), version).text


def test_there_are_recordings():
    assert {app for app, _, _ in RECORDED} >= {"plug_builder", "modern_app", "my_app"}
    assert len(RECORDED) >= 3


@pytest.mark.parametrize("app, version, env", RECORDED, ids=["-".join(r) for r in RECORDED])
def test_graph_matches_the_recording(app, version, env):
    expected = (DATA / app / version / f"{env}.dot").read_text()
    actual = exfix_dot(analysed(app, version, env), version)
    assert "->" in expected, "a recording with no edges proves nothing"
    known = KNOWN.get(app, set())
    if known:
        assert any(f in actual for f in known), f"{known} now agree with mix: take them out of KNOWN"
        drop = [f'"{f}"' for f in known]
        expected, actual = ("".join(line for line in text.splitlines(True) if not any(d in line for d in drop))
                            for text in (expected, actual))
    assert actual == expected


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


def test_a_lock_without_the_optional_dependency_drops_the_guarded_module(tmp_path):
    # KNOWN's my_app case, once the project has the mix.lock a real checkout has
    import shutil

    root = tmp_path / "my_app"
    shutil.copytree(APPS / "my_app", root)
    (root / "mix.lock").write_text(
        '%{\n  "phoenix": {:hex, :phoenix, "1.7.21", "0", [:mix], [], "hexpm", "0"},\n'
        '  "ecto": {:hex, :ecto, "3.12.6", "0", [:mix], [], "hexpm", "0"},\n}\n')
    analysis = analyze(load_project(root, "test"), "1.18", cache=False)
    assert "lib/my_app/search_index.ex" not in analysis.tracked_files
    (root / "mix.lock").write_text(
        '%{\n  "meilisearch": {:hex, :meilisearch, "0.20.0", "0", [:mix], [], "hexpm", "0"},\n}\n')
    analysis = analyze(load_project(root, "test"), "1.18", cache=False)
    assert "lib/my_app/search_index.ex" in analysis.tracked_files
