"""Which files ``mix compile`` recompiles after one file is edited.

The rule is the one in ``Mix.Compilers.Elixir`` (lib/mix/lib/mix/compilers/elixir.ex). For
an edit to one project file it is the same in Elixir 1.14, 1.18 and 1.20, except for the
cascade of export changes past the second cycle (see below):

1. ``update_stale_entries``/``remove_stale_entry`` run a fixpoint over the manifest's
   modules. A module whose source file changed on disk, or whose file has a *compile*
   reference to a stale module, is recompiled (all of its file's modules with it) and
   becomes stale. A module whose file has a *runtime* reference to a stale module becomes
   stale but is not recompiled. Export references only count against ``stale_exports``,
   which is empty for an ordinary edit (it holds modules of deleted files and of changed
   path dependencies), so export references do not carry staleness in this pass.
2. While compiling, ``each_module`` compares each recompiled module's ``exports_md5``
   (public functions, macros, struct fields with their defaults, enforced keys) with the one in the
   manifest; a module whose exports are unchanged is dropped from the pending exports.
   ``each_cycle`` then runs the same fixpoint over the modules not yet recompiled, starting
   with no stale module and with the modules whose exports did change as
   ``stale_exports``: files with an *export* reference to them are recompiled, and the
   compile/runtime propagation starts again from those.

Put together: with S the edited file plus, when its exports changed, every other file
(defining at least one module) that has an export reference to one of its modules, a file
is *stale* when it is in S or reaches a file of S through a chain of compile or runtime
references, and a file is *recompiled* when it is in S or has a compile reference to a
module of a stale file. Files that define no module are never recompiled by propagation
(mix's fixpoint walks modules, not files). The first pass and the export pass can be
merged into that single closure because staleness only grows; ``fanout`` relies on it.

Later cycles: modules recompiled in the export pass whose exports change in turn (possible
only when their definitions are computed at compile time without a compile reference)
send their export dependents to a third cycle in 1.14-1.18. From 1.19 on (commit
aec930cd "Use a map to track Mix compiler state") ``each_cycle`` drops them and keeps only
the first cycle's stale exports, so the cascade stops after the export pass. Export changes
of other files recompiled in the first cycle (say the users of an edited ``__using__``)
count in every version. ``recompiles`` models all this when ``exports_changed`` names
modules.

The manifest keeps export and runtime references in independent lists (``%S{}`` inside a
function is a struct reference (export) and an alias reference (runtime); ``import M`` plus
a call to an imported function is a require (export) and a call (runtime)), while ``mix xref
graph`` shows only the strongest label per module. ``FileDeps.runtime`` may therefore also
list modules that are in ``FileDeps.export``, and it should, for exact answers: the runtime
half of such a reference passes staleness on, the export half does not.
``export_implies_runtime`` says how to read export references: False, as the manifest
(export only, unless also in ``runtime``); True, as xref's one-label view (export plus
runtime), which is exact except for export references with no runtime use (a bare
``require``, an unused ``import``); None (the default) picks True when no file lists a
module in both ``export`` and ``runtime``, i.e. when the input looks like xref's view.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterable

@dataclass
class FileDeps:
    modules: set[str] = field(default_factory=set)  # modules defined in this file
    compile: set[str] = field(default_factory=set)  # manifest compile_references
    export: set[str] = field(default_factory=set)  # manifest export_references
    runtime: set[str] = field(default_factory=set)  # manifest runtime_references


def _looks_one_label(files: dict[str, FileDeps]) -> bool:
    """True when no file lists a module as both export and runtime: the input then follows
    ``mix xref graph``'s one label per module, not the manifest."""
    return not any(d.export & d.runtime for d in files.values())


class _Graph:
    """Project files as integers, with dependency edges between files that define modules."""

    def __init__(self, files: dict[str, FileDeps], export_implies_runtime: bool | None = None):
        if export_implies_runtime is None:
            export_implies_runtime = _looks_one_label(files)
        self.names = sorted(files)
        self.index = {name: i for i, name in enumerate(self.names)}
        owners: dict[str, list[int]] = {}
        for name in self.names:
            for mod in files[name].modules:
                owners.setdefault(mod, []).append(self.index[name])
        self.owners = owners
        self.has_modules = [bool(files[name].modules) for name in self.names]
        # dependents[g]: files with a compile or runtime reference to a module of g
        # compile_dependents[g]: files with a compile reference to a module of g
        # export_dependents[g]: files with an export reference to a module of g
        # (lists may repeat a file; every user tolerates that)
        dependents: dict[int, list[int]] = {}
        compile_dependents: dict[int, list[int]] = {}
        export_dependents: dict[int, list[int]] = {}
        for f, name in enumerate(self.names):
            deps = files[name]
            own = deps.modules
            if not own:
                continue
            for mods, targets in (
                (deps.compile, (dependents, compile_dependents)),
                (deps.runtime, (dependents,)),
                (deps.export, (export_dependents, dependents) if export_implies_runtime
                 else (export_dependents,)),
            ):
                for mod in mods:
                    if mod in own:
                        continue
                    for g in owners.get(mod, ()):
                        if g != f:
                            for table in targets:
                                table.setdefault(g, []).append(f)
        self.dependents = dependents
        self.compile_dependents = compile_dependents
        self.export_dependents = export_dependents


def dependents(files: dict[str, FileDeps]) -> tuple[list[str], list[bool], list[list[int]], list[list[int]]]:
    """The files (sorted), whether each defines a module, and per file the files with a
    compile or run-time reference to its modules and those with a compile reference: what
    the first pass of ``recompiles`` walks with unchanged exports, as manifest references."""
    graph = _Graph(files, export_implies_runtime=False)
    n = len(graph.names)
    return (graph.names, list(graph.has_modules),
            [sorted(set(graph.dependents.get(i, ()))) for i in range(n)],
            [sorted(set(graph.compile_dependents.get(i, ()))) for i in range(n)])


def _version_key(version: str | None) -> tuple[int, int]:
    if version is None:
        return (1, 20)
    if not isinstance(version, str):
        raise TypeError(f"version must be a string like '1.18', got {version!r}")
    m = re.match(r"^v?(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"not an Elixir version: {version!r}")
    return (int(m.group(1)), int(m.group(2)))


def _pass(graph: _Graph, seeds: set[int], pending: set[int]) -> set[int]:
    """One ``update_stale_entries`` run over the pending files: the seeds are recompiled
    and stale; a pending file with a compile reference to a stale module is recompiled and
    stale; one with only a runtime reference to it is stale. Returns the recompiled files."""
    stale = set(seeds)
    queue = deque(seeds)
    while queue:
        g = queue.popleft()
        for f in graph.dependents.get(g, ()):
            if f not in stale and f in pending:
                stale.add(f)
                queue.append(f)
    out = set(seeds)
    for g in stale:
        for f in graph.compile_dependents.get(g, ()):
            if f in pending:
                out.add(f)
    return out


def recompiles(
    files: dict[str, FileDeps],
    changed: str,
    exports_changed: bool | Iterable[str],
    version: str | None,
    *,
    export_implies_runtime: bool | None = None,
) -> list[str]:
    """Files mix recompiles when ``changed`` is edited, sorted, ``changed`` excluded.

    ``exports_changed`` is True when the edit changes the public functions, macros or
    struct of the file's modules (all of them are then taken as changed). It may instead
    name the modules whose exports come out different once recompiled: some modules of
    the edited file, and also modules of other files whose definitions are generated at
    compile time from it (``use``, ``__info__`` probes); a named module counts only if
    its file is recompiled, and then sends the files with an export reference to it to
    the next compilation cycle. Elixir 1.14-1.18 keep doing so in every cycle; from 1.19
    on only the exports changed in the first cycle count.
    """
    key = _version_key(version)
    if changed not in files:
        raise KeyError(changed)
    graph = _Graph(files, export_implies_runtime)
    start = graph.index[changed]
    if exports_changed is True:
        wanted = set(files[changed].modules)
    elif not exports_changed:
        wanted = set()
    else:
        wanted = set(exports_changed)

    pending = {f for f in range(len(graph.names)) if graph.has_modules[f]} | {start}
    done = _pass(graph, {start}, pending)
    pending -= done
    changed_exports = {m for f in done for m in files[graph.names[f]].modules} & wanted
    while changed_exports:
        candidates = {
            f
            for m in changed_exports
            for g in graph.owners.get(m, ())
            for f in graph.export_dependents.get(g, ())
        }
        seeds = {
            f for f in candidates if f in pending and files[graph.names[f]].export & changed_exports
        }
        if not seeds:
            break
        cycle = _pass(graph, seeds, pending)
        done |= cycle
        pending -= cycle
        if key >= (1, 19):
            # each_cycle no longer adds the modules it recompiles to stale_exports
            break
        changed_exports = {m for f in cycle for m in files[graph.names[f]].modules} & wanted
    done.discard(start)
    return sorted(graph.names[f] for f in done)


def _sccs(n: int, succ: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Tarjan's algorithm, iterative. Components come out in reverse topological order
    of ``succ`` (a component is emitted after every component it reaches)."""
    index = [0] * n
    low = [0] * n
    seen = [False] * n
    on_stack = [False] * n
    stack: list[int] = []
    comp_of = [-1] * n
    comps: list[list[int]] = []
    counter = 1
    succ_lists = succ
    for root in range(n):
        if seen[root]:
            continue
        work = [(root, 0)]
        seen[root] = True
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            nbrs = succ_lists[v]
            if i < len(nbrs):
                work[-1] = (v, i + 1)
                w = nbrs[i]
                if not seen[w]:
                    seen[w] = True
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp_of[w] = len(comps)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(comp)
    return comp_of, comps


def fanout(
    files: dict[str, FileDeps],
    version: str | None,
    exports_changed: bool = False,
    *,
    export_implies_runtime: bool | None = None,
) -> dict[str, int]:
    """For every file, ``len(recompiles(files, file, exports_changed, version))``."""
    return Fanout(files, version, exports_changed, export_implies_runtime=export_implies_runtime).values


class Fanout:
    """The fan-out of every file, kept so that the fan-out after a few files' references
    change (``changed``) costs only the files whose recompile sets can change.

    Files that reach an edited file through compile/runtime references form the stale set,
    so strongly connected components of the "depends on" graph share it. Components are
    visited dependents-first, and each carries a bitset of the files that would be
    recompiled (files with a compile reference into the component or into anything that
    reaches it), built from its dependents' bitsets.
    """

    def __init__(self, files: dict[str, FileDeps], version: str | None, exports_changed: bool = False,
                 *, export_implies_runtime: bool | None = None):
        _version_key(version)
        if export_implies_runtime is None:
            export_implies_runtime = _looks_one_label(files)
        self.files = files
        self.version = version
        self.exports_changed = exports_changed
        self.export_implies_runtime = export_implies_runtime
        graph = self.graph = _Graph(files, export_implies_runtime)
        n = len(graph.names)
        # depends-on edges f -> g, for the SCC pass
        depends: list[list[int]] = [[] for _ in range(n)]
        for g, fs in graph.dependents.items():
            for f in fs:
                depends[f].append(g)
        self.depends = depends
        self.comp_of, self.comps = _sccs(n, depends)
        # comps are in reverse topological order of "depends on": a component appears after
        # every component it depends on. Dependents must be done first, so walk backwards.
        # per component: the bitset of the files with a compile reference into it, and the
        # components of the files that depend on it
        links = [self._links(c, self.comps, self.comp_of, graph.dependents, graph.compile_dependents)
                 for c in range(len(self.comps))]
        self.own = [own for own, _ in links]
        self.parents = [parents for _, parents in links]
        self.rc = [0] * len(self.comps)  # bitset: files recompiled when one of it is edited
        for c in range(len(self.comps) - 1, -1, -1):
            self.rc[c] = self._bits(c, self.own, self.parents, self.rc)
        self.values = {name: self._count(graph.index[name], self.comp_of, self.rc) for name in graph.names}

    @staticmethod
    def _links(c: int, comps, comp_of, dependents, compile_dependents) -> tuple[int, tuple]:
        own = 0
        parents: set[int] = set()
        for g in comps[c]:
            for f in compile_dependents.get(g, ()):
                own |= 1 << f
            for f in dependents.get(g, ()):
                parents.add(comp_of[f])
        parents.discard(c)
        return own, tuple(parents)

    @staticmethod
    def _bits(c: int, own, parents, rc) -> int:
        bits = own[c]
        for p in parents[c]:
            bits |= rc[p]
        return bits

    def _count(self, f: int, comp_of, rc) -> int:
        graph = self.graph
        bits = rc[comp_of[f]]
        if self.exports_changed and graph.has_modules[f]:
            for x in graph.export_dependents.get(f, ()):
                bits |= rc[comp_of[x]] | (1 << x)
        return (bits & ~(1 << f)).bit_count()

    def _targets(self, f: int, deps: FileDeps) -> tuple[set[int], set[int]]:
        """The files file ``f`` with these references depends on, and those it has a compile
        reference to (as ``_Graph`` links them)."""
        owners = self.graph.owners
        depends: set[int] = set()
        compiles: set[int] = set()
        if not deps.modules:
            return depends, compiles
        kinds = [(deps.compile, True), (deps.runtime, False)]
        if self.export_implies_runtime:
            kinds.append((deps.export, False))
        for mods, compile_ref in kinds:
            for mod in mods:
                if mod in deps.modules:
                    continue
                for g in owners.get(mod, ()):
                    if g != f:
                        depends.add(g)
                        if compile_ref:
                            compiles.add(g)
        return depends, compiles

    def changed(self, updates: dict[str, FileDeps]) -> dict[str, int]:
        """The fan-out of every file once ``updates`` replace those files' entries, computed
        for the files whose recompile sets can change: those of the components the update
        touches and of every component they depend on. A component that loses an internal
        dependency is split again. From scratch when a file gains a dependency (components
        could merge), defines other modules, or with export propagation."""
        graph = self.graph
        index = graph.index
        if self.exports_changed or any(
            path not in index or deps.modules != self.files[path].modules for path, deps in updates.items()
        ):
            return self._scratch(updates)
        dependents: dict[int, list[int]] = {}  # the tables' entries that change
        compile_dependents: dict[int, list[int]] = {}
        depends: dict[int, list[int]] = {}
        touched: set[int] = set()  # files whose dependents or compile dependents change
        to_split: set[int] = set()  # components that lost an internal dependency
        for path, deps in updates.items():
            f = index[path]
            old_dep, old_comp = self._targets(f, self.files[path])
            new_dep, new_comp = self._targets(f, deps)
            if not new_dep <= old_dep:
                return self._scratch(updates)
            home = self.comp_of[f]
            if any(self.comp_of[g] == home for g in old_dep - new_dep):
                to_split.add(home)  # an edge inside a cycle is gone
            for table, base, old, new in ((dependents, graph.dependents, old_dep, new_dep),
                                          (compile_dependents, graph.compile_dependents, old_comp, new_comp)):
                for g in old ^ new:
                    lst = table.get(g)
                    if lst is None:
                        lst = table[g] = [x for x in base.get(g, ()) if x != f]
                    else:
                        lst[:] = [x for x in lst if x != f]
                    if g in new:
                        lst.append(f)
                    touched.add(g)
            depends[f] = [g for g in self.depends[f] if g in new_dep]
        if not touched:
            return self.values
        comps, comp_of, rc = self.comps, self.comp_of, list(self.rc)
        own, parents = self.own, self.parents
        place: dict[int, tuple[int, int]] = {}  # a split component's parts: its old place
        relink = {comp_of[g] for g in touched}  # components whose own links change
        reparent: set[int] = set()  # components only whose parents' numbers change
        if to_split:
            comps, comp_of = list(comps), list(comp_of)
            own, parents = list(own), list(parents)
            for c in sorted(to_split):
                members = self.comps[c]
                local = {x: i for i, x in enumerate(members)}
                succ = [[local[g] for g in depends.get(x, self.depends[x]) if g in local] for x in members]
                _, parts = _sccs(len(members), succ)  # dependencies first, as self.comps
                for k, part in enumerate(parts):
                    place[len(comps)] = (c, k)
                    comps.append([members[i] for i in part])
                    rc.append(-1)  # computed below
                    own.append(0)
                    parents.append(())
                    for i in part:
                        comp_of[members[i]] = len(comps) - 1
                # the components it depends on name it among their parents
                reparent.update(comp_of[g] for x in members for g in depends.get(x, self.depends[x]))
            relink.update(place)
            relink.difference_update(to_split)
            reparent.difference_update(relink)
        dep_table = Layer(graph.dependents, dependents)
        comp_table = Layer(graph.compile_dependents, compile_dependents)
        if relink or reparent:
            if own is self.own:
                own, parents = list(own), list(parents)
            for c in relink:
                own[c], parents[c] = self._links(c, comps, comp_of, dep_table, comp_table)
            for c in reparent:
                parents[c] = tuple({comp_of[f] for g in comps[c] for f in dep_table.get(g, ())} - {c})
        # dependents first (a bitset holds those of the components depending on it); a
        # component is computed again when its own references changed or when the bitset
        # of a component depending on it did
        heap = []
        queued: set[int] = set()

        def push(c: int) -> None:
            if c not in queued:
                queued.add(c)
                c0, k = place.get(c, (c, 0))
                heapq.heappush(heap, (-c0, -k, c))

        for c in place:
            push(c)
        for g in touched:
            push(comp_of[g])
        redone: list[int] = []
        while heap:
            c = heapq.heappop(heap)[2]
            bits = self._bits(c, own, parents, rc)
            if bits == rc[c]:
                continue
            rc[c] = bits
            redone.append(c)
            for f in comps[c]:
                for g in depends.get(f, self.depends[f]):
                    if comp_of[g] != c:
                        push(comp_of[g])
        values = dict(self.values)
        for c in redone:
            for f in comps[c]:
                values[graph.names[f]] = self._count(f, comp_of, rc)
        return values

    def _scratch(self, updates: dict[str, FileDeps]) -> dict[str, int]:
        return Fanout({**self.files, **updates}, self.version, self.exports_changed,
                      export_implies_runtime=self.export_implies_runtime).values


class Layer(Mapping):
    """``base`` with the entries of ``over`` put over it (keys of ``base``): a few entries
    changed without copying the others."""

    def __init__(self, base: Mapping, over: dict):
        self.base = base
        self.over = over

    def get(self, key, default=None):
        got = self.over.get(key)
        return got if got is not None else self.base.get(key, default)

    def __getitem__(self, key):
        got = self.over.get(key)
        return got if got is not None else self.base[key]

    def __contains__(self, key) -> bool:
        return key in self.over or key in self.base

    def __iter__(self):
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)
