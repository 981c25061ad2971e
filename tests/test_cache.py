"""The per-file cache (refactor/cache.py) and parallel analysis: same answers, less work.

Every test compares with an analysis that reads no cache (``cache=False``) and asserts on
``Analysis.work`` (the files a run parsed and indexed, or expanded), never on time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import refactor.analysis as analysis_mod
from refactor.analysis import analyze
from refactor.cache import cache_dir
from refactor.cli import main
from refactor.project import load_project

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROJECTS = sorted(p.name for p in (FIXTURES / "projects").iterdir() if (p / "mix.exs").is_file())

MIX = b"""defmodule P.MixProject do
  use Mix.Project

  def project do
    [app: :p, version: "0.1.0", deps: []]
  end
end
"""

BASE = """defmodule P.Base do
  defmacro __using__(_opts) do
    quote do
      alias P.Repo
      import P.Helpers
    end
  end
end
"""
HELPERS = """defmodule P.Helpers do
  def helper(x), do: x
  defmacro twice(x), do: quote(do: unquote(x) + unquote(x))
end
"""
REPO = "defmodule P.Repo do\n  def all, do: []\nend\n"
OTHER = "defmodule P.Other do\n  def o, do: 1\nend\n"
USER_A = """defmodule P.UserA do
  use P.Base
  def all, do: Repo.all()
  def h, do: helper(1)
end
"""
USER_B = """defmodule P.UserB do
  use P.Base
  def b, do: twice(2)
end
"""
CALLER = """defmodule P.Caller do
  def c, do: P.Repo.all()
end
"""
LEAF = """defmodule P.Leaf do
  def leaf, do: 1
end
"""


def make(root: Path, files: dict[str, str] | None = None) -> Path:
    files = files if files is not None else {
        "lib/base.ex": BASE, "lib/helpers.ex": HELPERS, "lib/repo.ex": REPO, "lib/other.ex": OTHER,
        "lib/user_a.ex": USER_A, "lib/user_b.ex": USER_B, "lib/caller.ex": CALLER, "lib/leaf.ex": LEAF,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "mix.exs").write_bytes(MIX)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def facts_of(a) -> dict:
    """Everything an analysis says, in comparable form."""
    return {
        "edges": a.edges(),
        "files": {p: (sorted(f.modules, key=repr), f.references, [(e.line, e.message) for e in f.errors], f.notes)
                  for p, f in a.files.items()},
        "modules": {n: (i.file, i.line, i.in_project, sorted(i.functions), sorted(i.macros))
                    for n, i in a.modules.items()},
        "notes": sorted(a.notes),
    }


def definitions_of(a) -> dict:
    return {n: {k: [(d.kind, d.arities, d.file, len(d.params), len(d.body)) for d in v]
                for k, v in i.definitions.items()}
            for n, i in a.modules.items()}


def fresh(root: Path, version: str = "1.18"):
    return analyze(load_project(root), version, cache=False)


def cached(root: Path, version: str = "1.18", **kw):
    return analyze(load_project(root), version, cache=True, **kw)


def segments(root: Path) -> list[Path]:
    d = cache_dir(root)
    return sorted(d.glob("*.seg")) if d.is_dir() else []


def analyses(root: Path):
    project = load_project(root)
    return project.children() if project.is_umbrella else [project]


# --------------------------------------------------------------------------- same answers


@pytest.mark.parametrize("name", [*PROJECTS, "example"])
@pytest.mark.parametrize("version", ["1.14", "1.18", "1.20"])
def test_cold_and_warm_runs_equal_an_uncached_one(tmp_path, name, version):
    src = FIXTURES / "example" if name == "example" else FIXTURES / "projects" / name
    root = tmp_path / name
    shutil.copytree(src, root, symlinks=True, ignore=shutil.ignore_patterns("_build"))
    for project in analyses(root):
        expected = analyze(project, version, cache=False)
        cold = analyze(project, version, cache=True)
        warm = analyze(project, version, cache=True)
        assert facts_of(cold) == facts_of(expected)
        assert facts_of(warm) == facts_of(expected)
        assert definitions_of(warm) == definitions_of(expected)  # loaded on demand
        assert warm.work == {"indexed": [], "expanded": []}
        assert segments(project.root)


def test_a_warm_run_parses_nothing_and_loads_definitions_on_demand(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    info = warm.modules["P.Base"]
    assert info._definitions is None  # nobody asked for them
    assert [d.kind for d in info.definitions["__using__"]] == ["defmacro"]
    assert info.definitions["__using__"][0].body  # nodes of a file parsed just now


# --------------------------------------------------------------------------- what a change re-does


def test_editing_a_function_body_re_expands_only_that_file(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    (root / "lib/leaf.ex").write_text(LEAF.replace("do: 1", "do: P.Other.o() + 1"))
    warm = cached(root)
    assert warm.work == {"indexed": ["lib/leaf.ex"], "expanded": ["lib/leaf.ex"]}
    assert facts_of(warm) == facts_of(fresh(root))
    assert warm.edges()["lib/leaf.ex"] == {"lib/other.ex": "runtime"}


def test_a_body_change_in_a_called_module_re_expands_nothing_else(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    (root / "lib/repo.ex").write_text(REPO.replace("do: []", "do: [1]"))
    warm = cached(root)
    assert warm.work == {"indexed": ["lib/repo.ex"], "expanded": ["lib/repo.ex"]}
    assert facts_of(warm) == facts_of(fresh(root))


def test_a_new_function_re_expands_the_files_that_import_its_module(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    # P.Helpers gains a function: importers (through use P.Base) look at its functions;
    # files that only call it remotely look at its macros, which did not change
    (root / "lib/helpers.ex").write_text(HELPERS.replace("  def helper", "  def extra, do: 0\n  def helper"))
    warm = cached(root)
    assert sorted(warm.work["expanded"]) == ["lib/helpers.ex", "lib/user_a.ex", "lib/user_b.ex"]
    assert facts_of(warm) == facts_of(fresh(root))


def test_a_new_macro_re_expands_the_files_that_call_its_module(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    (root / "lib/repo.ex").write_text(REPO.replace("  def all", "  defmacro m, do: 1\n  def all"))
    warm = cached(root)
    # P.Caller calls P.Repo remotely (its macros matter); the users of P.Base get
    # `alias P.Repo` and call Repo.all() too
    assert sorted(warm.work["expanded"]) == ["lib/caller.ex", "lib/repo.ex", "lib/user_a.ex"]
    assert facts_of(warm) == facts_of(fresh(root))


def test_changing_what_using_quotes_re_expands_its_users(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    # the quote now also calls P.Other at compile time in every user's body
    (root / "lib/base.ex").write_text(BASE.replace("import P.Helpers", "import P.Helpers\n      P.Other.o()"))
    warm = cached(root)
    assert sorted(warm.work["expanded"]) == ["lib/base.ex", "lib/user_a.ex", "lib/user_b.ex"]
    assert warm.work["indexed"] == ["lib/base.ex"]
    expected = fresh(root)
    assert facts_of(warm) == facts_of(expected)
    assert warm.edges()["lib/user_a.ex"]["lib/other.ex"] == "compile"
    assert warm.edges()["lib/user_b.ex"]["lib/other.ex"] == "compile"


def test_changing_a_macro_body_re_expands_its_callers(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    (root / "lib/helpers.ex").write_text(HELPERS.replace("unquote(x) + unquote(x)", "P.Other.o() + unquote(x)"))
    warm = cached(root)
    assert "lib/user_b.ex" in warm.work["expanded"]
    assert "lib/caller.ex" not in warm.work["expanded"]
    assert facts_of(warm) == facts_of(fresh(root))
    # expanded inside a function: the call it now injects runs at run time
    assert warm.edges()["lib/user_b.ex"]["lib/other.ex"] == "runtime"


def test_a_module_that_appears_or_goes_away(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    (root / "lib/other.ex").unlink()
    warm = cached(root)
    assert facts_of(warm) == facts_of(fresh(root))
    (root / "lib/other.ex").write_text(OTHER)
    (root / "lib/new.ex").write_text("defmodule P.New do\n  def n, do: P.Leaf.leaf()\nend\n")
    warm = cached(root)
    assert facts_of(warm) == facts_of(fresh(root))
    assert sorted(warm.work["indexed"]) == ["lib/new.ex"]  # other.ex's summary was kept


def test_each_elixir_version_has_its_own_facts(tmp_path):
    root = make(tmp_path / "p")
    for version in ("1.14", "1.18", "1.20", "1.14"):
        a = cached(root, version)
        assert facts_of(a) == facts_of(fresh(root, version))
    assert a.work == {"indexed": [], "expanded": []}


def test_a_dependency_is_indexed_from_the_cache(tmp_path):
    root = make(tmp_path / "p", {"lib/a.ex": "defmodule P.A do\n  use Dep.Using\nend\n"})
    dep = root / "deps" / "dep"
    make(dep, {"lib/dep.ex": "defmodule Dep.Using do\n  defmacro __using__(_) do\n"
                             "    quote do: alias P.B\n  end\nend\n"})
    (root / "lib/b.ex").write_text("defmodule P.B do\nend\n")
    cold = cached(root)
    assert str(dep.resolve() / "lib/dep.ex") in cold.work["indexed"]
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    assert facts_of(warm) == facts_of(fresh(root))
    # the dependency's macro changes: its user is expanded again
    (dep / "lib/dep.ex").write_text("defmodule Dep.Using do\n  defmacro __using__(_) do\n"
                                    "    quote do: :ok\n  end\nend\n")
    warm = cached(root)
    assert warm.work["expanded"] == ["lib/a.ex"]
    assert facts_of(warm) == facts_of(fresh(root))


# --------------------------------------------------------------------------- damage and rights


@pytest.mark.parametrize("kind", ["s", "f"])
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip"])
def test_a_damaged_segment_is_ignored_and_replaced(tmp_path, damage, kind):
    root = make(tmp_path / "p")
    expected = facts_of(cached(root))
    [seg] = [p for p in segments(root) if p.name.endswith(f"-{kind}.seg")]
    assert len(segments(root)) == 2  # one of summaries, one of facts
    data = seg.read_bytes()
    if damage == "truncate":
        seg.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        seg.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        seg.write_bytes(b"")
    else:  # one byte of the payload changed: the checksum no longer matches
        seg.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    again = cached(root)
    assert facts_of(again) == expected
    if kind == "f":
        assert len(again.work["expanded"]) == 8  # nothing usable was read
    else:  # the summaries are made again; the facts, checked against them, still hold
        assert len(again.work["indexed"]) == 8 and again.work["expanded"] == []
    assert seg not in segments(root)  # the damaged segment is gone, a good one replaces it
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    assert facts_of(warm) == expected


def test_stray_files_in_the_cache_folder_are_left_alone(tmp_path):
    root = make(tmp_path / "p")
    d = cache_dir(root)
    d.mkdir(parents=True)
    (d / "README").write_text("not a segment")
    (d / "0000000000000000-1-1-aa.seg").write_bytes(b"another version's segment")
    (d / ".tmp-killed.seg").write_bytes(b"half a segme")  # a run killed while writing
    os.utime(d / ".tmp-killed.seg", (1, 1))
    (d / ".tmp-writing.seg").write_bytes(b"half a segme")  # a run writing now
    cached(root)
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    assert (d / "README").read_text() == "not a segment"
    assert not (d / "0000000000000000-1-1-aa.seg").exists()  # another version's cache is dropped
    assert not (d / ".tmp-killed.seg").exists() and (d / ".tmp-writing.seg").exists()


def without_cache_note(facts: dict) -> dict:
    return {**facts, "notes": [n for n in facts["notes"] if "cache not written" not in n]}


def test_an_unwritable_cache_folder_only_costs_the_cache(tmp_path):
    root = make(tmp_path / "p")
    (root / "_build").mkdir()
    (root / "_build" / "exfix").write_text("a file where the cache folder would go")
    a = cached(root)
    assert without_cache_note(facts_of(a)) == facts_of(fresh(root))
    assert len([n for n in a.notes if "cache not written" in n]) == 1
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "plain", "--elixir", "1.18"])
    assert res.exit_code == 0 and "cache" not in res.stderr  # only --verbose says so
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "plain", "--elixir", "1.18", "-v"])
    assert res.exit_code == 0 and "cache not written" in res.stderr


def test_a_cache_that_cannot_be_written_is_still_read(tmp_path, monkeypatch):
    from refactor.cache import Store

    root = make(tmp_path / "p")
    cached(root)
    before = segments(root)

    def refuse(self, kind, entries):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Store, "_write", refuse)
    (root / "lib/leaf.ex").write_text(LEAF.replace("do: 1", "do: 2"))
    a = cached(root)
    assert a.work == {"indexed": ["lib/leaf.ex"], "expanded": ["lib/leaf.ex"]}
    assert without_cache_note(facts_of(a)) == facts_of(fresh(root))
    assert segments(root) == before


def test_no_cache_reads_and_writes_nothing(tmp_path, monkeypatch):
    root = make(tmp_path / "p")
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "plain", "--elixir", "1.18", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert not (root / "_build").exists()
    for cmd in (["trace", "lib/user_a.ex", "--project", str(root)],
                ["recompiles", "lib/repo.ex", "--project", str(root)],
                ["fanout", str(root)]):
        res = CliRunner().invoke(main, [*cmd, "--elixir", "1.18", "--no-cache"])
        assert res.exit_code == 0, res.output
        assert not (root / "_build").exists()
    monkeypatch.setenv("EXFIX_NO_CACHE", "1")
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "plain", "--elixir", "1.18"])
    assert not (root / "_build").exists()
    monkeypatch.delenv("EXFIX_NO_CACHE")
    # the switch is per command: the next one without it caches again
    res = CliRunner().invoke(main, ["graph", str(root), "--format", "plain", "--elixir", "1.18"])
    assert res.exit_code == 0 and segments(root)
    # and a cache there is not read with --no-cache
    assert analyze(load_project(root), "1.18", cache=False).work["expanded"]


def test_in_memory_sources_read_the_cache_but_write_nothing(tmp_path):
    root = make(tmp_path / "p")
    cached(root)
    before = segments(root)
    project = load_project(root)
    disk = {p: project.read(p) for p in project.source_files}
    same = analyze(project, "1.18", sources=disk, cache=True)
    assert same.work == {"indexed": [], "expanded": []}
    patched = dict(disk)
    patched["lib/leaf.ex"] = LEAF.replace("do: 1", "do: P.Other.o()").encode()
    patched["lib/extra.ex"] = b"defmodule P.Extra do\n  def e, do: P.Leaf.leaf()\nend\n"
    a = analyze(project, "1.18", sources=patched, cache=True)
    assert sorted(a.work["expanded"]) == ["lib/extra.ex", "lib/leaf.ex"]
    assert facts_of(a) == facts_of(analyze(project, "1.18", sources=patched, cache=False))
    assert segments(root) == before  # nothing written for content that is not on disk
    # lazily loaded definitions come from the patched source too
    patched["lib/base.ex"] = BASE.replace("alias P.Repo", "alias P.Other").encode()
    a = analyze(project, "1.18", sources=patched, cache=True)
    assert facts_of(a) == facts_of(analyze(project, "1.18", sources=patched, cache=False))
    assert segments(root) == before


def test_segments_are_compacted(tmp_path):
    from refactor.cache import MAX_SEGMENTS

    root = make(tmp_path / "p")
    cached(root)
    for i in range(MAX_SEGMENTS + 2):
        (root / "lib/leaf.ex").write_text(LEAF.replace("do: 1", f"do: {i + 10}"))
        a = cached(root)
        assert a.work["expanded"] == ["lib/leaf.ex"]
        for kind in "sf":  # each kind compacted on its own
            assert 1 <= sum(p.name.endswith(f"-{kind}.seg") for p in segments(root)) <= MAX_SEGMENTS
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    assert facts_of(warm) == facts_of(fresh(root))


def test_concurrent_runs_of_one_project(tmp_path):
    root = make(tmp_path / "p")
    for i in range(40):  # enough files that both runs are writing at once
        (root / f"lib/gen_{i}.ex").write_text(
            f"defmodule P.Gen{i} do\n  use P.Base\n  def g, do: Repo.all() + twice({i})\nend\n")
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1])\n"
        "from refactor.analysis import analyze\n"
        "a = analyze(sys.argv[2], '1.18', cache=True)\n"
        "print(json.dumps(a.edges(), sort_keys=True))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("EXFIX_NO_CACHE", None)
    expected = json.dumps(fresh(root).edges(), sort_keys=True)
    for _round in range(2):  # cold, then warm with both runs' segments
        procs = [subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(root)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            assert out.strip() == expected
    warm = cached(root)
    assert warm.work == {"indexed": [], "expanded": []}
    assert json.dumps(warm.edges(), sort_keys=True) == expected


# --------------------------------------------------------------------------- worker processes


@pytest.fixture
def always_parallel(monkeypatch):
    monkeypatch.setattr(analysis_mod, "PARALLEL_MIN_FILES", 0)


@pytest.mark.parametrize("name", ["06_using", "07_imports_macros", "14_phoenix_shaped", "example"])
def test_workers_find_what_one_process_finds(tmp_path, always_parallel, name):
    src = FIXTURES / "example" if name == "example" else FIXTURES / "projects" / name
    root = tmp_path / name
    shutil.copytree(src, root, symlinks=True, ignore=shutil.ignore_patterns("_build"))
    for version in ("1.14", "1.18", "1.20"):
        one = analyze(load_project(root), version, cache=False, jobs=1)
        many = analyze(load_project(root), version, cache=False, jobs=3)
        assert facts_of(many) == facts_of(one)
        assert definitions_of(many) == definitions_of(one)
        cold = analyze(load_project(root), version, cache=True, jobs=2)
        assert facts_of(cold) == facts_of(one)
    warm = analyze(load_project(root), "1.18", cache=True, jobs=2)
    assert warm.work == {"indexed": [], "expanded": []}


def test_workers_on_a_generated_project(tmp_path, always_parallel):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    root = tmp_path / "gen"
    generate(120, root, 3)
    one = analyze(load_project(root), "1.18", cache=False, jobs=1)
    many = analyze(load_project(root), "1.18", cache=True, jobs=2)
    assert facts_of(many) == facts_of(one)
    # one file changes: the warm run agrees
    some = sorted(one.files)[len(one.files) // 2]
    (root / some).write_bytes((root / some).read_bytes() + b"\n# edited\n")
    warm = analyze(load_project(root), "1.18", cache=True, jobs=2)
    assert warm.work["indexed"] == [some] and warm.work["expanded"] == [some]
    assert facts_of(warm) == facts_of(analyze(load_project(root), "1.18", cache=False, jobs=1))


def test_workers_only_when_no_other_thread_runs(monkeypatch):
    import threading

    monkeypatch.setitem(analysis_mod.DEFAULTS, "jobs", None)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert analysis_mod._jobs_wanted(None) == 1  # forking now could copy a held lock
        assert analysis_mod._jobs_wanted(3) == 3  # unless asked for
    finally:
        stop.set()
        t.join()
