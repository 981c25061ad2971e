"""From a project's sources to its dependency graphs: parse, index, expand, connect.

``analyze`` is the one entry point: rules, verification and the CLI all call it, with the
files on disk or with patched sources held in memory.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import marshal
import os
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .cache import Store, content_hash
from .env import DEFINITIONS, MACROS
from .expand import Expander
from .facts import STRENGTH, FileFacts, ModuleDef, ParseIssue, Reference
from .files import read_regular
from .index import Indexer, ModuleInfo, merge_file, summarize
from .parse import first_error, parse
from .project import Project, load_project, source_files
from .recompile import Fanout, FileDeps, Layer, fanout
from .semantics import Semantics, default_version, semantics
from .snapshot import (
    RACY_NS,
    Snapshot,
    drop_snapshot,
    file_stat,
    load_snapshot,
    pack,
    save_snapshot,
    segments_stat,
)

if TYPE_CHECKING:
    import networkx as nx  # imported when a graph is first asked for: most runs need none


@dataclass
class Analysis:
    project: Project
    semantics: Semantics
    files: Mapping[str, FileFacts]
    modules: Mapping[str, ModuleInfo]  # project and dependency modules
    module_file: Mapping[str, str]  # project modules only: module -> file
    # project file -> [(sink file, the strongest label)], edges in the order first seen
    out_edges: Mapping[str, list[tuple[str, str]]]
    notes: list[str] = field(default_factory=list)
    # what this run computed rather than took from the cache: {"indexed": [paths parsed
    # and indexed], "expanded": [project files expanded]}
    work: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[ParseIssue]] = field(default_factory=dict)  # files with errors only
    run: "_Run | None" = field(default=None, repr=False, compare=False)  # what derive() starts from
    # a derived analysis': the analysis it came from, and the files it expanded again (the
    # others' facts, edges and manifest entries are the base's)
    derived: "tuple[Analysis, list[str]] | None" = field(default=None, repr=False, compare=False)

    def derive(self, changes: dict[str, bytes]) -> "Analysis | None":
        """The analysis of the project with ``changes`` (path -> new contents of existing
        project files), as ``analyze`` with those sources would find it, computed from this
        one: only the changed files and those whose expansion consulted one of their modules
        are expanded again. None when that cannot be done (a module added, removed or moved,
        a new file): then analyse from scratch. With or without the cache: a run records
        what each file's expansion consulted either way (``--no-cache`` costs no more)."""
        if self.run is None:
            return None
        return self.run.derive(self, changes)

    @property
    def version(self) -> str:
        return self.semantics.version

    @cached_property
    def coverage(self) -> tuple[int, int]:
        """(uses expanded from framework models, macro expansions not followed), from the
        notes (a file counts each once)."""
        models = sum(1 for n in self.notes if "expanded from the model" in n)
        missed = sum(1 for n in self.notes if "cannot see" in n or "not followed" in n or "dynamic name" in n)
        return models, missed

    @cached_property
    def module_names(self) -> frozenset[str]:
        return frozenset(self.modules)

    @cached_property
    def short_names(self) -> frozenset[str]:
        """The last segment of every dotted module name."""
        return frozenset(n.rsplit(".", 1)[-1] for n in self.module_names if "." in n)

    @cached_property
    def project_tails(self) -> frozenset[str]:
        """Every project module's name and each of its dotted tails (``B.C`` and ``C`` of
        ``A.B.C``): what an alias of it may be written as."""
        out = set()
        for module in self.module_file:
            parts = module.split(".")
            out.update(".".join(parts[i:]) for i in range(len(parts)))
        return frozenset(out)

    @cached_property
    def tracked_files(self) -> list[str]:
        """The files mix's graph lists: those that define a module (a file whose modules
        are all behind `if Mix.env() == :dev` defines none in prod, and is not listed)."""
        defining = set(self.module_file.values())
        # a file whose modules another file defined first is listed too (mix lists both)
        return [f for f in self.files if f in defining or self.files[f].modules]

    @cached_property
    def file_edges(self) -> dict[tuple[str, str], str]:
        """(source file, sink file) -> the strongest label, in file order."""
        return {(path, sink): label for path in self.files for sink, label in self.out_edges[path]}

    @cached_property
    def file_graph(self) -> nx.DiGraph:
        """nodes: project files; edge attribute "label" (built on first use)."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.files)
        graph.add_edges_from((a, b, {"label": label}) for (a, b), label in self.file_edges.items())
        return graph

    def edges(self) -> dict[str, dict[str, str]]:
        """``{source file: {sink file: label}}`` with every tracked file present, as mix's JSON."""
        return {f: dict(self.out_edges[f]) for f in self.tracked_files}

    def direct_labels(self) -> dict[str, dict[str, frozenset[str]]]:
        """Every label under which a file lists another, as mix's manifest keeps them
        (what ``--only-direct --label L`` filters on): a file may use a module's struct
        (export) and call it at compile time (compile)."""
        out: dict[str, dict[str, set[str]]] = {}
        for path, deps in self.file_deps().items():
            table = out.setdefault(path, {})
            for label, modules in (("compile", deps.compile), ("export", deps.export), ("runtime", deps.runtime)):
                for module in modules:
                    sink = self.module_file.get(module)
                    if sink is not None and sink != path:
                        table.setdefault(sink, set()).add(label)
        return {p: {k: frozenset(v) for k, v in t.items()} for p, t in out.items()}

    def fanout(self, exports_changed: bool = False) -> dict[str, int]:
        """For every file, how many other files mix recompiles when it changes."""
        if exports_changed:
            return fanout(self.file_deps(), self.version, True, export_implies_runtime=False)
        if self.derived is not None and "fanout_model" not in self.__dict__:
            base, fresh = self.derived  # only the changed files' entries differ from the base's
            return base.fanout_model.changed({p: self._deps_of(p) for p in fresh})
        return self.fanout_model.values

    @cached_property
    def fanout_model(self) -> Fanout:
        """The fan-out of every file, and of the project with a few files' references
        changed (``Fanout.changed``)."""
        return Fanout(self.file_deps(), self.version, export_implies_runtime=False)

    def file_deps(self):
        """Per file: modules defined and modules referenced per label, as mix's manifest has
        (computed once per file: an analysis derived from this one shares the unchanged)."""
        known = self._deps
        if self.derived is not None and not known:
            base, fresh = self.derived
            known.update(base.file_deps())
            for path in fresh:
                known[path] = self._deps_of(path)
        out = {}
        for path in self.files:
            deps = known.get(path)
            if deps is None:
                deps = known[path] = self._deps_of(path)
            out[path] = deps
        return out

    @cached_property
    def _deps(self) -> dict:
        return {}

    def _deps_of(self, path: str) -> FileDeps:
        facts = self.files[path]
        own = {m.name for m in facts.modules}
        seen: dict[str, set[str]] = {"compile": set(), "export": set(), "runtime": set()}
        for target, mode in _links(facts):
            if target in own or target not in self.module_file:
                continue
            seen[mode].add(target)
        # like the lexical tracker: compile wins over runtime; exports are kept apart, so
        # `%S{}` in a function is both an export and a runtime reference, and `use M` both
        # an export (its require) and a compile reference
        return FileDeps(
            modules=own,
            compile=seen["compile"],
            export=seen["export"],
            runtime=seen["runtime"] - seen["compile"],
        )


# Set by the command line (--no-cache, --jobs); analyze()'s own arguments win over them.
# "progress": called as progress(phase, done, total) while files are parsed and expanded
# (refactor/progress.py draws it), total None while worker processes hold the files.
DEFAULTS: dict = {"cache": True, "jobs": None, "progress": None}


def _tick(phase: str, done: int, total: int | None) -> None:
    report = DEFAULTS.get("progress")
    if report is not None:
        report(phase, done, total)
# below this many files to parse or expand, worker processes cost more than they save
PARALLEL_MIN_FILES = 500


def analyze(
    project: Project | str,
    version: str | None = None,
    sources: dict[str, bytes] | None = None,
    *,
    cache: bool | None = None,
    jobs: int | None = None,
) -> Analysis:
    """Build the graphs of ``project``. ``sources`` overrides file contents (path -> bytes).

    ``cache``: read and write the per-file cache in ``_build/exfix/cache`` (default: on,
    unless ``EXFIX_NO_CACHE`` is set or the command line said --no-cache). With ``sources``
    the cache is read but nothing is written when they differ from the files on disk.
    ``jobs``: worker processes for parsing and expanding (default: every core, on projects
    large enough to gain from it).
    """
    if not isinstance(project, Project):
        project = load_project(project)
    sem = semantics(version or default_version())
    run = _Run(project, sem, sources, _cache_wanted(cache), _jobs_wanted(jobs))
    with _no_collection():
        return run.analysis()


@contextmanager
def _no_collection():
    """The analysis makes millions of short-lived objects and few cycles: automatic garbage
    collection, which would scan the long-lived ones again and again, waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cache_wanted(cache: bool | None) -> bool:
    if cache is not None:
        return cache
    if os.environ.get("EXFIX_NO_CACHE", "") not in ("", "0"):
        return False
    return bool(DEFAULTS.get("cache", True))


def _jobs_wanted(jobs: int | None) -> int:
    jobs = jobs or DEFAULTS.get("jobs")
    if jobs:
        return max(1, int(jobs))
    mp = sys.modules.get("multiprocessing")  # a worker has it; a plain run need not load it
    if mp is not None and mp.parent_process() is not None:
        return 1  # already a worker (batch mode runs projects in parallel)
    if threading.active_count() > 1:
        return 1  # workers are forked: not while another thread (a progress bar) runs
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SourceFiles:
    """Reads, parses and indexes source files on demand, each once: what the expander and the
    index's lazily loaded definitions (``ModuleInfo.definitions``) read."""

    def __init__(self, root: Path, sources: dict[str, bytes] | None, parent: "SourceFiles | None" = None):
        self.root = root
        self.base = str(root)
        self.sources = sources or {}
        self.data: dict[str, bytes] = {}  # read this run (released once expanded)
        self.stats: dict[str, tuple] = {}  # file_stat() of each file read from disk
        self.trees: dict[str, object] = {}
        # path -> (segments, indexing stopped too deep)
        self.indexed: dict[str, tuple] = {}
        self.parent = parent  # an overlay's: what it reads, parses and indexes of other files

    def overlay(self, changes: dict[str, bytes]) -> "SourceFiles":
        """These files with new contents, the others as this one has them (shared)."""
        return SourceFiles(self.root, changes, self)

    def read(self, path: str) -> bytes:
        if self.parent is not None and path not in self.sources:
            return self.parent.read(path)
        data = self.data.get(path)
        if data is not None:
            return data
        if path in self.sources:
            return self.sources[path]
        # a dependency's path is absolute; only a regular file, up to the size limit
        data, st = read_regular(os.path.join(self.base, path))
        self.stats[path] = file_stat(st)
        return data

    def tree(self, path: str):
        if self.parent is not None and path not in self.sources:
            return self.parent.tree(path)
        tree = self.trees.get(path)
        if tree is None:
            tree = self.trees[path] = parse(self.read(path))
        return tree

    def index(self, path: str) -> tuple:
        if self.parent is not None and path not in self.sources:
            return self.parent.index(path)
        got = self.indexed.get(path)
        if got is None:
            got = self.indexed[path] = index_tree(path, self.tree(path))
        return got

    def segment(self, path: str, index: int):
        try:
            segments = self.index(path)[0]
        except OSError:
            return None
        return segments[index] if index < len(segments) else None


def index_tree(path: str, tree) -> tuple:
    """(segments, stopped too deep) of one parsed file."""
    indexer = Indexer(path)
    too_deep = False
    try:
        indexer.run(tree.root_node)
    except RecursionError:  # what was indexed stays
        too_deep = True
    return indexer.segments, too_deep


class _Connected(NamedTuple):
    """What an analysis found, per project file, before it is assembled."""

    facts: Mapping[str, FileFacts]
    module_file: dict[str, str]
    edges: dict[str, list]  # file -> [(sink file, strongest label)], first seen first
    notes: dict[str, list[str]]  # files with notes only
    errors: dict[str, list[ParseIssue]]  # files with errors only


class _Run:
    """One analysis: index every file (dependencies first), merge, expand project files.

    With the cache on and the files on disk, the snapshot of the project's last analysis is
    tried first (``from_snapshot``): only what changed since is read and expanded again."""

    def __init__(self, project: Project, sem: Semantics, sources, use_cache: bool, jobs: int):
        self.begun = time.time_ns()  # before any file is read (see snapshot.RACY_NS)
        self.project = project
        self.sem = sem
        self.sources = sources or {}
        self.jobs = jobs
        self.files = list(project.source_files)
        if sources:
            self.files = sorted(set(self.files) | {p for p in sources if p.endswith(".ex")})
        self.store = Store(project.root) if use_cache else None
        self.snapshots = use_cache and not sources
        self.loader = SourceFiles(project.root, sources)
        self.items: list[tuple[str, bool]] = []  # (path, in project), dependencies first
        self.modules: Mapping[str, ModuleInfo] = {}
        self.shas: Mapping[str, str] = {}
        self.fingerprints: dict[tuple[str, int], bytes] = {}
        self.notes = list(project.notes)
        self.dep_notes: list[str] = []
        self.work: dict[str, list[str]] = {"indexed": [], "expanded": []}
        self.too_deep: set[str] = set()  # project files whose indexing stopped too deep
        self.where: dict[str, list[int]] = {}  # module -> indexes in items of summaries naming it
        self.consulted: dict[str, tuple] = {}  # project file -> modules its expansion consulted
        # without the cache: project file -> (module, level, fingerprint) it consulted, what
        # its cache entry would hold
        self.consulted_fps: dict[str, tuple] = {}
        self.workers: _Workers | None = None
        self._recovered: Analysis | None = None
        self.summary_of: dict[str, tuple] = {}  # path -> (too deep, summary), those at hand
        self.snap: Snapshot | None = None  # the snapshot this run started from
        self.connected: _Connected | None = None
        # a derived run's: its base's fingerprints, valid for modules not in ``affected``
        self.base_fingerprints: dict[tuple[str, int], bytes] | None = None
        self.affected: set[str] = set()
        self._consulted_by: dict[str, list[str]] | None = None
        self._file_set: frozenset[str] | None = None
        self._file_index: dict[str, int] | None = None

    @property
    def snapshot_key(self) -> str:
        """One snapshot per Elixir version, environment and configuration."""
        return f"{self.sem.version}-{self.project.build.key}"

    # ------------------------------------------------------------------ phases

    def analysis(self) -> Analysis:
        dep_files = [f for d in self.project.dependency_source_dirs() for f in _dependency_files(d)]
        self.items = [(p, False) for p in dep_files] + [(p, True) for p in self.files]
        snap = load_snapshot(self.project.root, self.snapshot_key) if self.snapshots else None
        fast = None
        try:
            if snap is not None:
                fast = self.from_snapshot(snap)
                if fast is None:  # a full run after all, keeping what was read, parsed and
                    # computed (the work lists go on: the cache now holds what was computed)
                    self.modules, self.where, self.consulted, self.fingerprints = {}, {}, {}, {}
            if fast is None:
                facts = self._facts()
        finally:
            if self.workers is not None:
                self.workers.close()
                self.workers = None
        self.loader.data.clear()
        if fast is None:
            connected = self._connect(facts)
            new_snap = None
            if self.snapshots and all(p in self.loader.stats for p, _ in self.items):
                stats = {p: self.loader.stats[p] + (self.shas[p],) for p, _ in self.items}
                new_snap = self._snapshot(stats, connected, pack({
                    "where": self.where,
                    "module_file": connected.module_file,
                    "consulted": self.consulted,
                    "modules": {p: tuple(m.name for m in facts[p].modules) for p in self.files},
                }))
        else:
            connected, new_snap = fast
            self.snap = snap
            self.notes.extend(snap.dep_notes)
        if self.store is not None:
            if self.sources and self.store.new and self._patched():
                self.store.write_enabled = False
            self.store.flush()
            if self.store.note:
                self.notes.append(self.store.note)
        if new_snap is not None and self.store.live is not None:
            new_snap.segments = segments_stat(self.store.dir, self.store.live)
            try:
                if new_snap.segments is not None:
                    save_snapshot(self.project.root, new_snap)
            except OSError:
                pass  # the next run reads the files again; the store's note tells why
        return self._assemble(connected)

    def recovered(self) -> Analysis:
        """The project analysed again without the cache: what an entry loaded on first use
        falls back on when the cache lost it after the snapshot was taken (a segment
        compacted away by a concurrent run, or damaged)."""
        if self._recovered is None:
            drop_snapshot(self.project.root, self.snapshot_key)  # the next run reads the cache again
            self._recovered = _Run(self.project, self.sem, None, False, self.jobs).analysis()
        return self._recovered

    def _facts(self) -> dict[str, FileFacts]:
        facts: dict[str, FileFacts] = {path: FileFacts(path) for path in self.files}
        summaries = self.summary_of = self.index(self.items, facts)
        merged = []
        for k, (path, in_project) in enumerate(self.items):
            got = summaries.get(path)
            if got is None:
                continue
            too_deep, summary = got
            if too_deep and not in_project:
                self.dep_notes.append(f"{path}: nested too deeply for exfix to follow")
            merge_file(self.modules, path, in_project, summary, self.loader)
            merged.append((path, in_project, summary))
            for segment in summary:
                places = self.where.setdefault(segment[0], [])
                if not places or places[-1] != k:
                    places.append(k)
        self.notes.extend(self.dep_notes)
        self.too_deep = {p for p in self.files if summaries.get(p, (False,))[0]}
        if self.workers is not None:
            self.workers.merge(merged, self.too_deep)
        self.expand(facts)
        return facts

    def _parallel(self, count: int) -> bool:
        return count >= PARALLEL_MIN_FILES and self.jobs > 1 and _can_fork()

    def index(self, items: list[tuple[str, bool]], facts: dict[str, FileFacts]) -> dict[str, tuple]:
        """path -> (stopped too deep, summary) of every readable file, from the cache or parsed."""
        out: dict[str, tuple] = {}
        todo: list[str] = []
        for path, in_project in items:
            try:
                data = self.loader.read(path)
            except OSError as exc:
                if in_project:
                    facts[path].errors.append(ParseIssue(0, f"cannot read: {exc.strerror}"))
                continue
            self.loader.data[path] = data
            sha = self.shas[path] = content_hash(data)
            got = self.store.get("s" + sha) if self.store is not None else None
            if got is not None and _valid_summary(got):
                out[path] = got
            else:
                todo.append(path)
        self.work["indexed"] += todo
        if self._parallel(len(todo)):
            self.workers = _Workers(self, self.jobs)
            _tick("parsing", 0, None)
            results = self.workers.index(todo)
        else:
            results = []
            for path in todo:
                _tick("parsing", len(results), len(todo))
                results.append(self.summary(path))
        for path, got in zip(todo, results):
            out[path] = got
            if self.store is not None:
                self.store.put("s" + self.shas[path], got)
        return out

    def summary(self, path: str) -> tuple:
        segments, too_deep = self.loader.index(path)
        return too_deep, summarize(segments)

    def expand(self, facts: dict[str, FileFacts]) -> None:
        """Facts of every project file: from the cache when what they consulted is unchanged."""
        todo: list[str] = []
        for path in self.files:
            if path not in self.shas:
                continue  # unreadable
            entry = self.store.get(self._facts_key(path)) if self.store is not None else None
            if entry is not None and self._still_valid(entry):
                facts[path] = decode_facts(path, entry)
                self.consulted[path] = _consulted_names(entry)
            else:
                todo.append(path)
        self.work["expanded"] += todo
        if self._parallel(len(todo)):
            if self.workers is None:  # forked now, they hold the merged index already
                self.workers = _Workers(self, self.jobs)
            _tick("expanding", 0, None)
            for path, raw in zip(todo, self.workers.expand(todo)):
                entry = marshal.loads(raw)
                facts[path] = decode_facts(path, entry)
                self.consulted[path] = _consulted_names(entry)  # what derive() expands again
                if self.store is None:
                    self.consulted_fps[path] = entry[4]
                if self.store is not None:
                    self.store.put_raw(self._facts_key(path), raw)
            return
        with _deep_recursion():
            for k, path in enumerate(todo):
                _tick("expanding", k, len(todo))
                facts[path], raw = self.expand_one(path, encode=self.store is not None, record=True)
                if raw is not None:
                    self.store.put_raw(self._facts_key(path), raw)

    def expand_one(self, path: str, encode: bool = True, record: bool = False) -> tuple[FileFacts, bytes | None]:
        """Parse (if not yet) and expand one project file: its facts, and its cache entry
        encoded (with the fingerprints of what the expansion consulted) when asked. With
        ``encode`` or ``record``, the modules it consulted go to ``self.consulted`` (what
        ``derive`` reads to know which files to expand again)."""
        ff = FileFacts(path)
        tree = self.loader.tree(path)
        err = first_error(tree)
        if err is not None:
            ff.errors.append(ParseIssue(err.start_point[0] + 1, "syntax error"))
        if path in self.too_deep:
            _too_deep(ff, tree)
        consulted: dict[str, int] | None = {} if encode or record else None
        try:
            Expander(path, self.modules, self.sem, ff, consulted, self.project.build,
                     self.project.read, self.project.glob).run(tree.root_node)
        except RecursionError:
            _too_deep(ff, tree)
        if consulted is None:
            return ff, None
        self.consulted[path] = tuple(consulted)
        fps = tuple(sorted((name, level, self.fingerprint(name, level)) for name, level in consulted.items()))
        if not encode:
            self.consulted_fps[path] = fps  # no cache entry: derive() checks these instead
            return ff, None
        return ff, marshal.dumps(encode_facts(ff, fps))

    # ------------------------------------------------------------------ from the last run

    def from_snapshot(self, snap: Snapshot) -> tuple[_Connected, Snapshot | None] | None:
        """The analysis from the snapshot of the last run and what changed since: None when
        a full run is needed (files or dependencies added, removed or changed, a module
        defined in another file, many files to expand again, cache entries missing)."""
        if snap.files != self.files or snap.deps != [p for p, in_project in self.items if not in_project]:
            return None
        store = self.store
        stats = dict(snap.stats)
        changed: list[str] = []
        looked = False  # a file was read: stats to write again
        limit = snap.begun - RACY_NS
        base = self.loader.base
        for path, in_project in self.items:
            old = stats.get(path)
            try:
                st = os.stat(os.path.join(base, path))
            except OSError:
                return None
            if old is not None and st.st_mtime_ns < limit and file_stat(st) == old[:3]:
                continue
            try:
                data = self.loader.read(path)
            except OSError:
                return None
            looked = True
            sha = content_hash(data)
            stats[path] = self.loader.stats[path] + (sha,)
            if old is None or old[3] != sha:
                self.loader.data[path] = data  # read once, whichever way the run goes
                if not in_project:
                    return None
                changed.append(path)
        self.shas = {p: s[3] for p, s in stats.items()}
        # a changed file must name the same modules in the same kinds of segments
        summaries: dict[str, tuple] = {}
        for path in changed:
            got = store.get("s" + self.shas[path])
            if got is None or not _valid_summary(got):
                got = self.summary(path)
                store.put("s" + self.shas[path], got)
                self.work["indexed"].append(path)
            old = store.get("s" + snap.stats[path][3])
            if old is None or not _valid_summary(old) or _shape(old) != _shape(got):
                return None
            summaries[path] = got[1]
            self.summary_of[path] = got
        # the entries it refers to are there while the segments it was written with are
        intact = segments_stat(store.dir, [s[0] for s in snap.segments]) == snap.segments
        if not intact and not all(store.has("s" + self.shas[p]) for p, _ in self.items):
            return None
        self.where = snap.section("where")
        self.too_deep = set(snap.too_deep)
        self.modules = _LazyModules(self)
        # expanded again: changed files, and files that consulted a module they define when
        # what was consulted changed (the fingerprints of no other module can have changed)
        affected = {segment[0] for path in changed for segment in summaries[path]}
        edited = set(changed)
        again = set(edited)
        if affected:
            consulted = snap.section("consulted")
            again.update(p for p, names in consulted.items() if not affected.isdisjoint(names))
        # files that read templates: their cache entries say whether the templates changed
        consulted = snap.section("consulted")
        again.update(p for p, names in consulted.items() if any(n.startswith(("file:", "glob:")) for n in names))
        if not intact:
            again.update(p for p in self.files if not store.has(self._facts_key(p)))
        fresh: dict[str, FileFacts] = {}
        todo: list[str] = []
        # the facts of a changed file are seldom cached (its content is new, unless an edit was
        # undone): when only a few changed, expanding them costs less than reading the facts
        # segments (about one file's expansion in a hundred per project file)
        look = len(again) > len(changed) or 100 * len(changed) > len(self.files)
        for path in self.files:
            if path not in again:
                continue
            entry = store.get(self._facts_key(path)) if look or path not in edited else None
            if entry is not None and self._still_valid(entry):
                fresh[path] = decode_facts(path, entry)
                self.consulted[path] = _consulted_names(entry)
            else:
                todo.append(path)
        if self._parallel(len(todo)):
            return None
        self.work["expanded"] += todo
        with _deep_recursion():
            for path in todo:
                fresh[path], raw = self.expand_one(path)
                store.put_raw(self._facts_key(path), raw)
        if fresh:
            modules = snap.section("modules")
            for path, ff in fresh.items():
                if tuple(m.name for m in ff.modules) != tuple(modules.get(path, ())):
                    return None  # where modules live has changed: every edge may have
        if store.loaded:  # a compaction at the end of the run keeps what the snapshot needs
            store.keep("s" + self.shas[p] for p, _ in self.items)
            store.keep(self._facts_key(p) for p in self.files)
        edges, notes = snap.edges, snap.notes
        errors = {p: [ParseIssue(*e) for e in v] for p, v in snap.errors.items()}
        module_file = _Section(snap, "module_file")
        for path, ff in fresh.items():
            _record(path, ff, module_file, edges, notes, errors)
        connected = _Connected(_LazyFacts(self.files, fresh, self.cached_facts), module_file, edges,
                               notes, errors)
        if not looked and not fresh:
            return connected, None
        self.dep_notes = snap.dep_notes
        sections = dict(snap.sections)
        if fresh:
            consulted = snap.section("consulted")
            if any(consulted.get(p) != self.consulted[p] for p in fresh):
                sections["consulted"] = marshal.dumps({**consulted, **self.consulted})
        return connected, self._snapshot(stats, connected, sections)

    def cached_facts(self, path: str) -> FileFacts:
        entry = self.store.get(self._facts_key(path))
        return decode_facts(path, entry) if entry is not None else self.recovered().files[path]

    def _snapshot(self, stats: dict[str, tuple], c: _Connected, sections: dict[str, bytes]) -> Snapshot:
        """``stats``: path -> (size, mtime_ns, inode, hash) of every file."""
        return Snapshot(
            version=self.snapshot_key,
            begun=self.begun,
            files=self.files,
            deps=[p for p, in_project in self.items if not in_project],
            stats=stats,
            too_deep=sorted(self.too_deep),
            dep_notes=self.dep_notes,
            edges=c.edges,
            notes=c.notes,
            errors={p: [(e.line, e.message) for e in v] for p, v in c.errors.items()},
            segments=[],  # known once the cache is written
            sections=sections,
        )

    # ------------------------------------------------------------------ cache validity

    def _facts_key(self, path: str) -> str:
        return f"f{self.sem.version}:{self.project.build.key}:{self.shas[path]}:{path}"

    def _unchanged(self, path: str) -> bool:
        """Whether what ``path``'s expansion consulted is as it was (a derived run's: then its
        facts are its base's), by its cache entry or, without the cache, by the fingerprints
        the base run kept."""
        fps = self.consulted_fps.get(path)
        if fps is not None:
            return self._same_fingerprints(fps)
        if self.store is None:
            return False
        entry = self.store.get(self._facts_key(path))
        return entry is not None and self._still_valid(entry)

    def _still_valid(self, entry) -> bool:
        if type(entry) is not tuple or len(entry) != 6:
            return False
        return self._same_fingerprints(entry[4])

    def _same_fingerprints(self, consulted) -> bool:
        """Whether every (module, level, fingerprint) in ``consulted`` still holds."""
        try:
            for name, level, fp in consulted:
                if self.fingerprint(name, level) != fp:
                    return False
        except (IndexError, TypeError, ValueError):
            return False
        return True

    def fingerprint(self, name: str, level: int) -> bytes:
        """What the expander could have read of a module at that level, hashed: b"" when
        absent (at MACROS, also when it has no macros: the expander cannot tell them apart)."""
        key = (name, level)
        fp = self.fingerprints.get(key)
        if fp is not None:
            return fp
        if self.base_fingerprints is not None and name not in self.affected:
            fp = self.base_fingerprints.get(key)  # a derived run: unchanged since its base
            if fp is not None:
                return fp
        if name.startswith(("file:", "glob:")):  # a template the expansion read, or listed
            try:
                data = (self.project.read(name[5:]) if name.startswith("file:")
                        else "\n".join(self.project.glob(name[5:])).encode())
            except (OSError, ValueError):
                data = b""
            fp = hashlib.blake2b(data, digest_size=8).digest()
            self.fingerprints[key] = fp
            return fp
        info = self.modules.get(name)
        if info is None or (level == MACROS and not info.macros):
            fp = b""
        else:
            if level == MACROS:
                parts: tuple = ("m", sorted(info.macros))
            else:
                parts = ("s", sorted(info.functions), sorted(info.macros), sorted(info.defined))
                if level >= DEFINITIONS:
                    parts += (tuple((f, i, self.shas.get(f, "")) for f, i in info.parts),)
            fp = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
        self.fingerprints[key] = fp
        return fp

    def _patched(self) -> bool:
        """Whether an in-memory source differs from its file (then nothing is written)."""
        for path, data in self.sources.items():
            try:
                if self.project.read(path) != data:
                    return True
            except OSError:
                return True
        return False

    # ------------------------------------------------------------------ graphs

    def _connect(self, facts: dict[str, FileFacts]) -> _Connected:
        module_file: dict[str, str] = {}
        for path in self.files:
            for mod in facts[path].modules:
                module_file.setdefault(mod.name, path)
        edges: dict[str, list] = {}
        notes: dict[str, list[str]] = {}
        errors: dict[str, list[ParseIssue]] = {}
        for path in self.files:
            _record(path, facts[path], module_file, edges, notes, errors)
        return _Connected(facts, module_file, edges, notes, errors)

    def _assemble(self, c: _Connected) -> Analysis:
        self.connected = c
        notes = self.notes + [n for path in self.files for n in c.notes.get(path, ())]
        return Analysis(self.project, self.sem, c.facts, self.modules, c.module_file, c.edges,
                        notes, self.work, c.errors, run=self)

    # ------------------------------------------------------------------ derived analyses

    def derive(self, base: Analysis, changes: dict[str, bytes]) -> Analysis | None:
        """See ``Analysis.derive``: the same bookkeeping as a run from a snapshot, with the
        changed files' contents given."""
        consulted_by = self._consulters()
        if consulted_by is None or not changes or self.connected is None:
            return None
        if self._file_set is None:
            self._file_set = frozenset(self.files)
        if any(p not in self.shas or p not in self._file_set for p in changes):
            return None  # a new file, or a dependency's
        run = copy.copy(self)
        run.loader = self.loader.overlay(changes)
        run.shas = Layer(self.shas, {p: content_hash(data) for p, data in changes.items()})
        run.work = {"indexed": sorted(changes), "expanded": []}
        run.workers = None
        summaries: dict[str, tuple] = {}
        for path in changes:
            got, old = run.summary(path), self._base_summary(path)
            if old is None or _shape(old) != _shape(got):
                return None
            summaries[path] = got[1]
        affected = {segment[0] for path in changes for segment in summaries[path]}
        rebuilt: dict[str, ModuleInfo] = {}
        for name in affected:
            for k in self.where.get(name, ()):
                path, in_project = self.items[k]
                summary = summaries.get(path)
                if summary is None:
                    got = self._base_summary(path)
                    if got is None:
                        return None
                    summary = got[1]
                merge_file(rebuilt, path, in_project, summary, run.loader, only=name)
        run.modules = Layer(self.modules, rebuilt)
        run.fingerprints = {}
        run.base_fingerprints = self.fingerprints
        run.affected = affected
        again = set(changes)
        for name in affected:
            again.update(consulted_by.get(name, ()))
        fresh: dict[str, FileFacts] = {}
        if self._file_index is None:
            self._file_index = {path: i for i, path in enumerate(self.files)}
        with _deep_recursion():
            for path in sorted(again, key=self._file_index.__getitem__):
                if path not in changes and run._unchanged(path):
                    continue
                fresh[path] = run.expand_one(path, encode=False)[0]
                run.work["expanded"].append(path)
        for path, ff in fresh.items():
            if [m.name for m in ff.modules] != [m.name for m in base.files[path].modules]:
                return None
        c = self.connected
        edges = Layer(c.edges, {})
        notes, errors = dict(c.notes), dict(c.errors)
        for path, ff in fresh.items():
            _record(path, ff, c.module_file, edges.over, notes, errors)
        facts = _LazyFacts(self.files, fresh, base.files.__getitem__, self._file_set)
        if all(notes.get(p) == c.notes.get(p) for p in fresh):
            all_notes = list(base.notes)
        else:
            all_notes = self.notes + [n for path in self.files for n in notes.get(path, ())]
        return Analysis(self.project, self.sem, facts, run.modules, c.module_file, edges, all_notes,
                        run.work, errors, derived=(base, sorted(fresh)))

    def _consulters(self) -> dict[str, list[str]] | None:
        """module -> the project files whose expansion consulted it (recorded with or
        without the cache); None when a file's was not."""
        if self._consulted_by is None:
            if any(p not in self.consulted for p in self.files if p in self.shas) and self.snap is None:
                return None
            consulted = self.consulted
            if self.snap is not None:
                consulted = {**self.snap.section("consulted"), **consulted}
            by: dict[str, list[str]] = {}
            for path, names in consulted.items():
                for name in names:
                    by.setdefault(name, []).append(path)
            self._consulted_by = by
        return self._consulted_by

    def _base_summary(self, path: str) -> tuple | None:
        """(too deep, summary) of a file as this run has it: at hand, or from the cache."""
        got = self.summary_of.get(path)
        if got is None and self.store is not None:
            got = self.store.get("s" + self.shas[path])
            if got is None or not _valid_summary(got):
                return None
            self.summary_of[path] = got
        return got


def _file_links(path: str, ff: FileFacts, module_file: dict[str, str]) -> dict[str, str]:
    """The other files ``path`` refers to: sink -> the strongest label, first seen first."""
    own = {m.name for m in ff.modules}
    out: dict[str, str] = {}
    for target, mode in _links(ff):
        sink = module_file.get(target)
        if sink is None or sink == path or target in own:
            continue
        current = out.get(sink)
        if current is None or STRENGTH[mode] > STRENGTH[current]:
            out[sink] = mode
    return out


def _record(path: str, ff: FileFacts, module_file: Mapping[str, str], edges: dict, notes: dict,
            errors: dict) -> None:
    """Put one file's edge list, notes and errors in the per-file tables (a file without
    notes or errors has no entry there)."""
    edges[path] = list(_file_links(path, ff, module_file).items())
    for table, values in ((notes, ff.notes), (errors, ff.errors)):
        if values:
            table[path] = list(values)
        else:
            table.pop(path, None)


def _shape(got: tuple) -> tuple:
    """What of a file's summary decides which modules exist and which file defines each."""
    too_deep, summary = got
    return too_deep, tuple((segment[0], segment[2]) for segment in summary)


def _consulted_names(entry: tuple) -> tuple:
    return tuple(dict.fromkeys(name for name, _level, _fp in entry[4]))


class _LazyModules(Mapping):
    """The index of a run that started from a snapshot: a module's entry is merged, on first
    use, from the summaries of the files that name it (``run.where``), as the full merge
    would have made it."""

    def __init__(self, run: _Run):
        self.run = run
        self.got: dict[str, ModuleInfo] = {}

    def get(self, name: str, default=None):
        info = self.got.get(name)
        if info is None:
            places = self.run.where.get(name)
            if places is None:
                return default
            merged: dict[str, ModuleInfo] = {}
            for k in places:
                path, in_project = self.run.items[k]
                got = self.run._base_summary(path)
                if got is None:
                    merged = self.run.recovered().modules
                    break
                merge_file(merged, path, in_project, got[1], self.run.loader, only=name)
            info = self.got[name] = merged[name]
        return info

    def __getitem__(self, name: str) -> ModuleInfo:
        info = self.get(name)
        if info is None:
            raise KeyError(name)
        return info

    def __contains__(self, name) -> bool:
        return name in self.run.where

    def __iter__(self):
        return iter(self.run.where)

    def __len__(self) -> int:
        return len(self.run.where)


class _Section(Mapping):
    """A section of a snapshot as a mapping, decoded on first use."""

    def __init__(self, snap: Snapshot, name: str):
        self.snap = snap
        self.name = name

    def get(self, key, default=None):
        return self.snap.section(self.name).get(key, default)

    def __getitem__(self, key):
        return self.snap.section(self.name)[key]

    def __contains__(self, key) -> bool:
        return key in self.snap.section(self.name)

    def __iter__(self):
        return iter(self.snap.section(self.name))

    def __len__(self) -> int:
        return len(self.snap.section(self.name))


class _LazyFacts(Mapping):
    """Every project file's facts, those not computed this run decoded from the cache on
    first use (the graphs need none of them: the snapshot holds the edges)."""

    def __init__(self, files: list[str], got: dict[str, FileFacts], load, known=None):
        self.files = files
        self.known = known if known is not None else set(files)
        self.got = got
        self.load = load

    def __getitem__(self, path: str) -> FileFacts:
        ff = self.got.get(path)
        if ff is None:
            if path not in self.known:
                raise KeyError(path)
            ff = self.got[path] = self.load(path)
        return ff

    def __contains__(self, path) -> bool:
        return path in self.known

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def _valid_summary(got) -> bool:
    return type(got) is tuple and len(got) == 2 and type(got[1]) is tuple


# --------------------------------------------------------------------------- cache entries

_REF_FIELDS = ("line", "target", "kind", "mode", "function", "module", "context", "via", "origin")


def links_of(references) -> tuple:
    """The distinct (target, mode) of a file's references, first seen first: all the graphs
    need of them."""
    return tuple(dict.fromkeys((r.target, r.mode) for r in references))


def _links(ff: FileFacts) -> tuple:
    """``links_of`` a file's references, kept by facts read from the cache (whose
    references are then never built)."""
    return ff.links if type(ff) is CachedFileFacts else links_of(ff.references)


def encode_facts(ff: FileFacts, consulted: tuple) -> tuple:
    return (
        tuple((m.name, m.line, m.start_byte, m.end_byte) for m in ff.modules),
        tuple((r.line, r.target, r.kind, r.mode, r.function, r.module, r.context, r.via, r.origin)
              for r in ff.references),
        tuple((e.line, e.message) for e in ff.errors),
        tuple(ff.notes),
        consulted,
        links_of(ff.references),
    )


class CachedFileFacts(FileFacts):
    """Facts read from the cache: the references are built on first use (the graphs only
    need ``links``)."""

    def __init__(self, path: str, modules: list, refs: tuple, errors: list, notes: list, links: tuple):
        self.path = path
        self.modules = modules
        self._refs = refs
        self._references: list[Reference] | None = None
        self.errors = errors
        self.notes = notes
        self.links = links

    @property
    def references(self) -> list[Reference]:
        if self._references is None:
            new = object.__new__
            references = []
            append = references.append
            for t in self._refs:
                r = new(Reference)
                r.__dict__.update(zip(_REF_FIELDS, t))
                append(r)
            self._references = references
            self._refs = ()
        return self._references

    @references.setter
    def references(self, value: list[Reference]) -> None:
        self._references = value

    def __eq__(self, other) -> bool:  # equal to a FileFacts with the same facts
        if not isinstance(other, FileFacts):
            return NotImplemented
        return (self.path, self.modules, self.references, self.errors, self.notes) == (
            other.path, other.modules, other.references, other.errors, other.notes)

    __hash__ = None


def decode_facts(path: str, entry: tuple) -> FileFacts:
    modules, refs, errors, notes, _consulted, links = entry
    return CachedFileFacts(
        path,
        [ModuleDef(*m) for m in modules],
        refs,
        [ParseIssue(*e) for e in errors],
        list(notes),
        links,
    )


# --------------------------------------------------------------------------- worker processes

_FORKED: dict = {}


def _can_fork() -> bool:
    import multiprocessing

    # a daemonic process (a multiprocessing.Pool worker) may not have children
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


class _Workers:
    """Forked processes that parse and index a share of the files, then expand them with the
    syntax trees they kept: each gets the merged index as the summaries (plain data) to
    merge itself. A worker forked after the merge inherits the index as it is."""

    def __init__(self, run: "_Run", jobs: int):
        import multiprocessing

        self.run = run
        self.owner: dict[str, int] = {}  # file -> worker that parsed it
        ctx = multiprocessing.get_context("fork")
        self.conns = []
        self.procs = []
        _FORKED["run"] = run
        try:
            for _ in range(jobs):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_loop, args=(child,), daemon=True)
                proc.start()
                child.close()
                self.conns.append(parent)
                self.procs.append(proc)
        except BaseException:
            self.close()
            raise
        finally:
            _FORKED.clear()

    def _ask(self, requests: list) -> list:
        for conn, request in zip(self.conns, requests):
            conn.send(request)
        out = []
        for conn, request in zip(self.conns, requests):
            try:
                status, value = conn.recv()
            except EOFError:
                raise RuntimeError("an exfix worker process ended unexpectedly") from None
            if status != "ok":
                raise RuntimeError(f"an exfix worker process failed:\n{value}")
            out.append(value)
        return out

    def index(self, paths: list[str]) -> list:
        n = len(self.conns)
        shares = [paths[k::n] for k in range(n)]
        results = self._ask([("index", share) for share in shares])
        got = {}
        for k, (share, values) in enumerate(zip(shares, results)):
            for path, value in zip(share, values):
                got[path] = value
                self.owner[path] = k
        return [got[p] for p in paths]

    def merge(self, merged: list, too_deep: set[str]) -> None:
        self._ask([("merge", (merged, too_deep))] * len(self.conns))

    def expand(self, paths: list[str]) -> list[bytes]:
        n = len(self.conns)
        shares: list[list[str]] = [[] for _ in range(n)]
        spread = 0
        for path in paths:
            k = self.owner.get(path)
            if k is None:  # not parsed by a worker yet: the next one in turn
                k = spread % n
                spread += 1
            shares[k].append(path)
        results = self._ask([("expand", share) for share in shares])
        got = {}
        for share, values in zip(shares, results):
            got.update(zip(share, values))
        return [got[p] for p in paths]

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("stop", None))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns:
            conn.close()


def _worker_loop(conn) -> None:
    run = _FORKED["run"]
    while True:
        try:
            op, arg = conn.recv()
        except EOFError:
            return
        if op == "stop":
            return
        try:
            if op == "index":
                out = []
                for path in arg:
                    segments, too_deep = run.loader.index(path)
                    out.append((too_deep, summarize(segments)))
            elif op == "merge":
                merged, too_deep = arg
                run.modules.clear()
                run.fingerprints.clear()
                for path, in_project, summary in merged:
                    merge_file(run.modules, path, in_project, summary, run.loader)
                run.too_deep = too_deep
                out = None
            else:
                with _deep_recursion():
                    out = [run.expand_one(path)[1] for path in arg]
            conn.send(("ok", out))
        except BaseException:
            import traceback

            conn.send(("error", traceback.format_exc()))
            return


# The expander recurses once per nesting level of the code; generated files nest far
# deeper than Python's default limit of 1000 allows. Python-to-Python calls do not grow the
# C stack (3.11+), so a higher limit is safe for the walk.
EXPANSION_DEPTH = 100_000


@contextmanager
def _deep_recursion():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, EXPANSION_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _too_deep(ff: FileFacts, tree) -> None:
    """A file nested deeper than Python's recursion limit lets exfix follow: the facts found
    so far are kept, and the file is marked like one that does not parse (never rewritten)."""
    if any(e.message.startswith("nested too deeply") for e in ff.errors):
        return
    ff.errors.append(ParseIssue(
        _deepest_line(tree.root_node),
        "nested too deeply for exfix to follow; its references may be incomplete",
    ))


def _deepest_line(root) -> int:
    """The line of the first most deeply nested node (iteratively: the tree is too deep)."""
    best, line = -1, 1
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > best:
            best, line = depth, node.start_point[0] + 1
        stack.extend((c, depth + 1) for c in reversed(node.children))
    return line


def _dependency_files(dep_dir) -> list[str]:
    """The source files of one dependency (absolute paths), as mix compiles them."""
    try:
        dep = load_project(dep_dir)
        paths = dep.source_files
        root = dep.root
    except Exception:  # a dependency without a readable mix.exs: take its lib/
        root = dep_dir
        paths = source_files(dep_dir, ["lib"])
    return [str(root / rel) for rel in paths]


def umbrella_graph(children: list[Analysis]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The merged graph mix prints at an umbrella root since 1.18: every app's files (paths
    relative to each app, as mix prints them) and the edges between apps."""
    module_file: dict[str, str] = {}
    for child in children:
        for module, path in child.module_file.items():
            module_file.setdefault(module, path)
    edges: dict[str, dict[str, str]] = {}
    for child in children:
        for path, facts in child.files.items():
            out = edges.setdefault(path, {})
            for sink, mode in _file_links(path, facts, module_file).items():
                current = out.get(sink)
                if current is None or STRENGTH[mode] > STRENGTH[current]:
                    out[sink] = mode
    return sorted(edges), edges
