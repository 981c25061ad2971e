"""Analysis.derive: an analysis with a few files changed, computed from the one before it,
equals an analysis of the changed sources from scratch (the engine verifies every fix so)."""

from __future__ import annotations

import re
import shutil

import pytest

from refactor.analysis import analyze
from refactor.project import load_project

from test_cache import FIXTURES, PROJECTS, definitions_of, facts_of

ADDED_FUNCTION = b"  def exfix_added(x), do: x\n"


def edits(data: bytes, modules: list[str]) -> dict[str, bytes]:
    """A few edits of one file, as rules and people make them."""
    out = {"comment": data + b"\n# edited\n"}
    last_end = data.rstrip().rfind(b"end")
    if last_end > 0:
        out["new function"] = data[:last_end] + ADDED_FUNCTION + data[last_end:]
        for other in modules[:2]:
            call = f"  def exfix_call, do: {other}.exfix_missing()\n".encode()
            out[f"call {other}"] = data[:last_end] + call + data[last_end:]
    directive = re.search(rb"(?m)^[ \t]*(alias|import|require) [^\n]*\n", data)
    if directive:
        out["directive removed"] = data[: directive.start()] + data[directive.end():]
    return out


def same(a, b) -> None:
    assert facts_of(a) == facts_of(b)
    assert a.errors == b.errors
    assert a.file_edges == b.file_edges
    assert a.notes == b.notes
    assert definitions_of(a) == definitions_of(b)


@pytest.mark.parametrize("name", [*PROJECTS, "example"])
@pytest.mark.parametrize("version", ["1.14", "1.20"])
@pytest.mark.parametrize("start", ["sources", "snapshot", "no cache"])
def test_a_derived_analysis_equals_one_from_scratch(tmp_path, name, version, start):
    src = FIXTURES / "example" if name == "example" else FIXTURES / "projects" / name
    root = tmp_path / name
    shutil.copytree(src, root, symlinks=True, ignore=shutil.ignore_patterns("_build"))
    top = load_project(root)
    derived = 0
    for project in top.children() if top.is_umbrella else [top]:
        disk = {}
        for rel in project.source_files:
            try:
                disk[rel] = (project.root / rel).read_bytes()
            except OSError:
                pass
        if start == "sources":  # as the engine analyses: every file's contents given
            base = analyze(project, version, disk, cache=True)
        elif start == "no cache":  # --no-cache: nothing read from or written to disk
            base = analyze(project, version, disk, cache=False)
        else:  # a run from the snapshot of the one before
            analyze(project, version, cache=True)
            base = analyze(project, version, cache=True)
            assert base.work == {"indexed": [], "expanded": []}
        names = sorted(base.module_file)
        for rel, data in disk.items():
            for what, new in edits(data, [n for n in names if base.module_file[n] != rel]).items():
                got = base.derive({rel: new})
                if got is None:
                    continue
                derived += 1
                expected = analyze(project, version, {**disk, rel: new}, cache=False)
                same(got, expected)
                assert rel in got.work["expanded"], what
    assert derived  # the derivation was used, not only refused


@pytest.mark.parametrize("cache", [True, False])
def test_a_derived_analysis_expands_the_files_that_consulted_the_change(tmp_path, cache):
    from test_cache import make

    root = make(tmp_path / "p")
    project = load_project(root)
    base = analyze(project, "1.18", cache=cache)
    helpers = (root / "lib/helpers.ex").read_bytes()
    new = helpers.replace(b"  def helper(x), do: x\n", b"  def helper(x), do: x\n" + ADDED_FUNCTION)
    got = base.derive({"lib/helpers.ex": new})
    assert sorted(got.work["expanded"]) == ["lib/helpers.ex", "lib/user_a.ex", "lib/user_b.ex"]
    same(got, analyze(project, "1.18", {"lib/helpers.ex": new}, cache=False))
    # the base is left as it was
    same(base, analyze(project, "1.18", cache=False))
    # a comment: user_a, which only calls its functions, keeps its facts; user_b, which
    # expands its macro (read from the file), is expanded again
    comment = helpers + b"\n# a comment\n"
    got = base.derive({"lib/helpers.ex": comment})
    assert got.work["expanded"] == ["lib/helpers.ex", "lib/user_b.ex"]
    same(got, analyze(project, "1.18", {"lib/helpers.ex": comment}, cache=False))


def test_what_cannot_be_derived_is_refused(tmp_path):
    from test_cache import make

    root = make(tmp_path / "p")
    project = load_project(root)
    base = analyze(project, "1.18", cache=True)
    leaf = (root / "lib/leaf.ex").read_bytes()
    assert base.derive({"lib/leaf.ex": leaf + b"defmodule P.Leaf2 do\nend\n"}) is None  # a new module
    assert base.derive({"lib/new.ex": b"defmodule P.New do\nend\n"}) is None  # a new file
    assert base.derive({"lib/leaf.ex": leaf + b"\n"}) is not None
    bare = analyze(project, "1.18", cache=False)
    assert bare.derive({"lib/leaf.ex": leaf + b"defmodule P.Leaf2 do\nend\n"}) is None
    assert bare.derive({"lib/leaf.ex": leaf + b"\n"}) is not None  # --no-cache derives too
