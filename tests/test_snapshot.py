"""The snapshot of the last analysis (refactor/snapshot.py): a run reads only what changed.

Files are given modification times a minute old, as an edited project's files are, so the
snapshot trusts their stat; a test that edits a file gives it a time of its own. Every test
compares with an analysis that reads no cache, and counts the files a run read.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import refactor.analysis as analysis_mod
from refactor.analysis import analyze
from refactor.cache import cache_dir
from refactor.project import load_project
from refactor.snapshot import RACY_NS, load_snapshot, snapshot_path
from refactor.project import load_project

from test_cache import FIXTURES, PROJECTS, cached, definitions_of, facts_of, fresh, make


def key(root) -> str:
    """The snapshot's name for the 1.18 analysis of the project (version, env, config)."""
    return f"1.18-{load_project(root).build.key}"


def age(root: Path, seconds: int = 60) -> None:
    """Every source file (and mix.exs) modified ``seconds`` ago."""
    then = time.time() - seconds
    for p in root.rglob("*"):
        if p.is_file() and "_build" not in p.parts:
            os.utime(p, (then, then))


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    then = time.time() - 30  # an edit made after the last run began, as seen by the next one
    os.utime(path, (then, then))


@pytest.fixture
def reads(monkeypatch):
    """The files each analysis read from disk, in order."""
    seen: list[str] = []
    real = analysis_mod.SourceFiles.read

    def read(self, path):
        if path not in self.data and path not in self.sources:
            seen.append(path)
        return real(self, path)

    monkeypatch.setattr(analysis_mod.SourceFiles, "read", read)
    return seen


def project(tmp_path: Path) -> Path:
    root = make(tmp_path / "p")
    age(root)
    return root


def test_a_run_with_nothing_changed_reads_no_file(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    assert sorted(reads) == sorted(load_project(root).source_files)
    reads.clear()
    warm = cached(root)
    assert reads == []
    assert warm.work == {"indexed": [], "expanded": []}
    assert facts_of(warm) == facts_of(fresh(root))
    assert definitions_of(warm) == definitions_of(fresh(root))


@pytest.mark.parametrize("name", [*PROJECTS, "example"])
def test_snapshot_runs_equal_an_uncached_one(tmp_path, name, reads):
    src = FIXTURES / "example" if name == "example" else FIXTURES / "projects" / name
    root = tmp_path / name
    shutil.copytree(src, root, symlinks=True, ignore=shutil.ignore_patterns("_build"))
    age(root)
    top = load_project(root)
    for p in top.children() if top.is_umbrella else [top]:
        for version in ("1.14", "1.20"):
            analyze(p, version, cache=True)
            reads.clear()
            warm = analyze(p, version, cache=True)
            assert reads == []
            expected = analyze(p, version, cache=False)
            assert facts_of(warm) == facts_of(expected)
            assert warm.errors == expected.errors
            assert warm.file_edges == expected.file_edges  # the same order too
            assert warm.notes == expected.notes


def test_an_edited_body_is_the_one_file_read_and_expanded(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    reads.clear()
    edit(root / "lib/repo.ex", "defmodule P.Repo do\n  def all, do: [P.Leaf.leaf()]\nend\n")
    warm = cached(root)
    assert reads == ["lib/repo.ex"]
    assert warm.work == {"indexed": ["lib/repo.ex"], "expanded": ["lib/repo.ex"]}
    assert facts_of(warm) == facts_of(fresh(root))
    assert ("lib/repo.ex", "lib/leaf.ex") in warm.file_edges
    # and the next run starts from the new snapshot
    reads.clear()
    assert cached(root).work == {"indexed": [], "expanded": []} and reads == []


def test_a_new_function_re_expands_the_files_that_consulted_its_module(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    reads.clear()
    edit(root / "lib/helpers.ex", HELPERS_PLUS)
    warm = cached(root)
    # the files expanded again, and base.ex, whose __using__ they expand
    assert sorted(reads) == ["lib/base.ex", "lib/helpers.ex", "lib/user_a.ex", "lib/user_b.ex"]
    assert sorted(warm.work["expanded"]) == ["lib/helpers.ex", "lib/user_a.ex", "lib/user_b.ex"]
    assert facts_of(warm) == facts_of(fresh(root))
    assert definitions_of(warm) == definitions_of(fresh(root))


HELPERS_PLUS = """defmodule P.Helpers do
  def helper(x), do: x
  def other(x), do: x
  defmacro twice(x), do: quote(do: unquote(x) + unquote(x))
end
"""


@pytest.mark.parametrize("change", ["new module", "module moved", "file added", "file removed", "mix.exs"])
def test_what_moves_modules_or_files_is_a_full_run(tmp_path, reads, change):
    root = project(tmp_path)
    cached(root)
    if change == "new module":
        edit(root / "lib/leaf.ex", "defmodule P.Leaf do\n  def leaf, do: 1\nend\n"
                                   "defmodule P.Leaf2 do\n  def l, do: P.Other.o()\nend\n")
    elif change == "module moved":
        (root / "lib/leaf.ex").unlink()
        edit(root / "lib/other.ex", OTHER_AND_LEAF)
    elif change == "file added":
        edit(root / "lib/new.ex", "defmodule P.New do\n  def n, do: P.Repo.all()\nend\n")
    elif change == "file removed":
        (root / "lib/caller.ex").unlink()
    else:
        edit(root / "mix.exs", (root / "mix.exs").read_text().replace('"0.1.0"', '"0.2.0"'))
    reads.clear()
    warm = cached(root)
    if change != "mix.exs":  # a version bump changes no source: nothing is read
        assert len(reads) >= len(load_project(root).source_files) - 1
    else:
        assert reads == []
    assert facts_of(warm) == facts_of(fresh(root))


OTHER_AND_LEAF = """defmodule P.Other do
  def o, do: 1
end

defmodule P.Leaf do
  def leaf, do: 1
end
"""


def test_a_file_changed_within_the_timestamp_granularity_is_hashed_again(tmp_path, reads):
    root = project(tmp_path)
    leaf = root / "lib/leaf.ex"
    leaf.write_text(leaf.read_text())  # modified just before the run began
    cached(root)
    recorded = load_snapshot(root, key(root)).stats["lib/leaf.ex"]
    assert recorded[1] >= load_snapshot(root, key(root)).begun - RACY_NS
    # edited again with the same size, and given the same time: its stat cannot tell
    leaf.write_text(leaf.read_text().replace("leaf, do: 1", "leaf, do: 2"))
    os.utime(leaf, ns=(recorded[1], recorded[1]))
    st = leaf.stat()
    assert (st.st_size, st.st_mtime_ns, st.st_ino) == recorded[:3]
    reads.clear()
    warm = cached(root)
    assert reads == ["lib/leaf.ex"]
    assert warm.work["expanded"] == ["lib/leaf.ex"]
    assert facts_of(warm) == facts_of(fresh(root))


def test_a_dependency_change_is_a_full_run(tmp_path, reads):
    dep = make(tmp_path / "dep", {"lib/dep.ex": "defmodule Dep do\n  defmacro m, do: 1\nend\n"})
    root = make(tmp_path / "p", {"lib/a.ex": "defmodule P.A do\n  require Dep\n  def a, do: Dep.m()\nend\n"})
    (root / "mix.exs").write_text((root / "mix.exs").read_text().replace(
        "deps: []", f'deps: [{{:dep, path: "{dep}"}}]'))
    age(dep)
    age(root)
    cached(root)
    reads.clear()
    assert cached(root).work == {"indexed": [], "expanded": []} and reads == []
    edit(dep / "lib/dep.ex", "defmodule Dep do\n  def m, do: 1\nend\n")
    warm = cached(root)
    assert len(reads) == 2  # a full run: every file read
    assert warm.work["expanded"] == ["lib/a.ex"]
    assert facts_of(warm) == facts_of(fresh(root))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other version"])
def test_a_damaged_snapshot_is_ignored_and_replaced(tmp_path, reads, damage):
    root = project(tmp_path)
    cached(root)
    path = snapshot_path(root, key(root))
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(data[:30] + bytes(b ^ 0x5A for b in data[30:]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.rename(path.with_name("0123456789abcdef-1.18.snap"))
    reads.clear()
    warm = cached(root)
    assert len(reads) == 8  # read again
    assert facts_of(warm) == facts_of(fresh(root))
    assert load_snapshot(root, key(root)) is not None
    assert not (cache_dir(root) / "0123456789abcdef-1.18.snap").exists()


def test_a_snapshot_whose_cache_segments_are_gone_is_not_trusted(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    for seg in cache_dir(root).glob("*.seg"):
        seg.unlink()
    reads.clear()
    warm = cached(root)
    assert facts_of(warm) == facts_of(fresh(root))
    assert len(warm.work["expanded"]) == 8


def test_each_elixir_version_has_its_own_snapshot(tmp_path, reads):
    root = project(tmp_path)
    cached(root, "1.14")
    cached(root, "1.18")
    reads.clear()
    assert cached(root, "1.14").work == {"indexed": [], "expanded": []}
    assert cached(root, "1.18").work == {"indexed": [], "expanded": []}
    assert reads == []
    build = load_project(root).build.key
    assert sorted(p.name.split("-", 1)[1] for p in cache_dir(root).glob("*.snap")) == [
        f"1.14-{build}.snap", f"1.18-{build}.snap"]


def test_each_environment_has_its_own_snapshot(tmp_path, reads):
    root = project(tmp_path)
    for env in ("dev", "test"):
        analyze(load_project(root, env), "1.18", cache=True)
    reads.clear()
    for env in ("dev", "test"):
        assert analyze(load_project(root, env), "1.18", cache=True).work == {"indexed": [], "expanded": []}
    assert reads == []
    assert len(list(cache_dir(root).glob("*.snap"))) == 2


def test_in_memory_sources_neither_use_nor_write_the_snapshot(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    before = snapshot_path(root, key(root)).read_bytes()
    patched = {"lib/leaf.ex": b"defmodule P.Leaf do\n  def leaf, do: P.Repo.all()\nend\n"}
    a = analyze(load_project(root), "1.18", patched, cache=True)
    assert ("lib/leaf.ex", "lib/repo.ex") in a.file_edges
    assert snapshot_path(root, key(root)).read_bytes() == before
    reads.clear()
    warm = cached(root)
    assert ("lib/leaf.ex", "lib/repo.ex") not in warm.file_edges and reads == []


@pytest.fixture
def segment_reads(monkeypatch):
    import refactor.cache as cache_mod

    seen: list[str] = []
    real = cache_mod._read_segment

    def read(path):
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(cache_mod, "_read_segment", read)
    monkeypatch.setattr(cache_mod, "_SEGMENTS", {})
    return seen


def test_the_graph_of_an_unchanged_project_reads_no_cache_segment(tmp_path, reads, segment_reads):
    root = project(tmp_path)
    cached(root)
    expected = fresh(root)
    segment_reads.clear()
    reads.clear()
    warm = cached(root)
    assert warm.edges() == expected.edges() and warm.notes == expected.notes
    assert segment_reads == [] and reads == []
    # facts are read from the cache when something asks for them
    assert warm.files["lib/user_a.ex"].references == expected.files["lib/user_a.ex"].references
    assert len(segment_reads) == 1 and reads == []


def test_an_edit_nobody_consulted_reads_the_summaries_not_the_facts(tmp_path, segment_reads):
    root = project(tmp_path)
    for i in range(120):  # a project where one file is under 1 % of them
        (root / f"lib/gen_{i}.ex").write_text(f"defmodule P.Gen{i} do\n  def g, do: P.Leaf.leaf()\nend\n")
    age(root)
    cached(root)
    segment_reads.clear()
    edit(root / "lib/other.ex", "defmodule P.Other do\n  def o, do: P.Leaf.leaf()\nend\n")
    warm = cached(root)
    assert warm.work["expanded"] == ["lib/other.ex"]
    assert [name[-6:] for name in segment_reads] == ["-s.seg"]  # the facts segment is not read
    assert warm.edges() == fresh(root).edges()
    # the files that consulted an edited module are checked against their cached facts
    segment_reads.clear()
    edit(root / "lib/leaf.ex", "defmodule P.Leaf do\n  def leaf, do: 2\n  def more, do: 3\nend\n")
    warm = cached(root)
    assert {name[-6:] for name in segment_reads} == {"-f.seg", "-s.seg"}
    assert warm.work["expanded"] == ["lib/leaf.ex"]  # the others' facts still hold
    assert warm.edges() == fresh(root).edges()


@pytest.mark.parametrize("kind", ["s", "f"])
def test_a_segment_damaged_behind_an_unchanged_stat_costs_one_full_analysis(tmp_path, segment_reads, kind):
    root = project(tmp_path)
    cached(root)
    [seg] = cache_dir(root).glob(f"*-{kind}.seg")
    st = seg.stat()
    data = seg.read_bytes()
    seg.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (seg.stat().st_size, seg.stat().st_mtime_ns, seg.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    warm = cached(root)
    assert facts_of(warm) == facts_of(fresh(root))  # the facts came from an analysis without cache
    assert definitions_of(warm) == definitions_of(fresh(root))
    assert load_snapshot(root, key(root)) is None  # so the next run reads the cache again
    again = cached(root)
    assert not seg.exists()  # and replaces the segment
    if kind == "f":
        assert len(again.work["expanded"]) == 8
    else:  # summaries made again; the facts, checked against them, still hold
        assert len(again.work["indexed"]) == 8 and again.work["expanded"] == []
    assert facts_of(again) == facts_of(fresh(root))
    assert cached(root).work == {"indexed": [], "expanded": []}


def test_a_segment_compacted_away_by_another_run_is_noticed(tmp_path, reads):
    root = project(tmp_path)
    cached(root)
    for seg in cache_dir(root).glob("*.seg"):
        head, kind = seg.name.rsplit("-", 1)
        seg.rename(seg.with_name(f"{head}0-{kind}"))  # another name, same entries
    reads.clear()
    warm = cached(root)
    assert reads == [] and warm.work == {"indexed": [], "expanded": []}
    assert facts_of(warm) == facts_of(fresh(root))
