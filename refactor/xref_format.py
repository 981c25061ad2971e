"""Render a file dependency graph exactly as ``mix xref graph`` prints it.

The graph itself (which file depends on which, and how) is computed elsewhere;
this module only reproduces what ``mix xref graph`` does with it: grouping,
exclusion, ``--source``/``--sink`` trees, label filters, and the ``pretty``,
``plain``, ``dot``, ``json``, ``stats`` and ``cycles`` formats, for Elixir
1.14 to 1.20 (``version`` is ``"1.N"``; the rules switch at 1.15, 1.17 and 1.19, checked
against live mix on 1.14, 1.18 and 1.20 and recordings of 1.15, 1.16, 1.17 and 1.19).

API::

    render_graph(graph: FileGraph, opts: GraphOptions, version: str) -> RenderResult
    parse_dot(text: str) -> FileGraph

``RenderResult.text`` is what mix prints on stdout (``pretty``, ``plain``,
``stats``, ``cycles``) or the content of the written file (``dot``, ``json``);
``RenderResult.stdout`` is always mix's whole stdout (for dot and json, the
"Generated ..." notice about the default output file).
When mix would fail, ``text`` holds what it printed before failing,
``exit_code`` is 1, ``error`` is the exception message and ``error_kind`` the
exception name, so ``RenderResult.stderr`` is the line mix prints, e.g.
``** (Mix) Sources could not be found: lib/x.ex``.

Version behaviour (as in mix's own sources):

* Up to 1.16, ``--label`` filters the graph before stats and cycles (on 1.14 before
  every format); since 1.17 stats and cycles see the whole graph and apply the label
  themselves (compile-connected counts as compile there).
* ``cycles`` prints one cycle found by a depth-first search per part of each
  strongly connected component up to 1.18 (up to 1.16 it prints the start vertex twice,
  counts it in the length and shows no labels), and whole strongly connected components with each
  file's strongest label inside the component since 1.19. ``--min-cycle-size``
  keeps cycles *longer* than N before 1.19 and *at least* N since.
* ``--min-cycle-label`` does not exist before 1.19: for 1.14 and 1.18 the result
  is mix's error for an unknown switch (``Could not invoke task "xref": 1 error
  found!`` ...), exit code 1, nothing printed.
* ``--format json`` only exists since 1.19; for 1.14 and 1.18 this module still
  renders the 1.20 JSON (intentional deviation: mix would raise
  ``Unknown --format json in mix xref graph``).
* ``dot``: names are escaped (``"`` and a trailing ``\\``) since 1.19 only.
* ``--source`` with pretty/plain also prints warnings about compile cycles
  containing a source since 1.19.
* ``--fail-above N`` raises ``Too many references|cycles|stats (found: C,
  permitted: N)`` when C > N, after the output was printed; references are the
  edges left after the label filter (also with ``--only-nodes``), cycles the
  number of printed cycles, and stats always count 0.

Known limits (intentional, documented deviations):

* Erlang maps with more than 32 keys iterate in hash order. Mix sorts almost
  everything it prints, except the keys of JSON objects and the order in which
  the pre-1.19 cycle search visits neighbours; this module always uses sorted
  order there. So ``json`` output with more than 32 files (or a file with more
  than 32 dependencies) has the same content but possibly another key order,
  and for 1.14/1.18 ``cycles`` the files listed for a strongly connected
  component that is not a simple ring may differ in such big graphs.
* Up to 1.16 each cycle search starts at the first vertex of the component as
  returned by ``digraph_utils``, whose order comes from ETS hashing; this module
  starts at the component's smallest file name. Simple rings print the same
  files, possibly rotated.
* ``FileGraph.files`` should hold the files mix tracks, i.e. those defining a
  module: mix does not list a source file without modules at all.
* Umbrella roots on 1.14 (mix prints one graph per child app under
  ``==> app`` headers) and ``--output``/``--include-siblings`` are not modelled;
  dot and json content is returned as text whatever the output file would be.
* ``FileGraph.edges`` has one label per edge, the strongest one. ``--only-direct
  --label export|runtime`` can show edges whose strongest label is another one
  (a file can use a module at compile time and also its struct, or one module
  of a file at compile time and another one at runtime); pass
  ``FileGraph.direct`` to get those exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = [
    "FileGraph",
    "GraphOptions",
    "RenderResult",
    "render_graph",
    "parse_dot",
    "MixError",
]

COMPILE = "compile"
EXPORT = "export"
RUNTIME = None  # mix's nil label

_TYPE_ORDER = {COMPILE: 0, EXPORT: 1, RUNTIME: 2}
# Erlang compares atoms alphabetically: compile < export < nil.
_ATOM_KEY = {COMPILE: "compile", EXPORT: "export", RUNTIME: "nil"}


@dataclass
class FileGraph:
    files: list[str]
    edges: dict[str, dict[str, str]]
    # Optional, for ``--only-direct``: every label under which a source file
    # references (some module of) a sink file. Defaults to the edge label alone.
    direct: dict[str, dict[str, frozenset[str]]] | None = None


@dataclass
class GraphOptions:
    format: str = "pretty"
    label: str | None = None
    only_direct: bool = False
    only_nodes: bool = False
    sources: list[str] = ()
    sinks: list[str] = ()
    exclude: list[str] = ()
    groups: list[str] = ()
    min_cycle_size: int | None = None
    min_cycle_label: int | None = None
    fail_above: int | None = None


@dataclass
class RenderResult:
    text: str
    exit_code: int = 0
    error: str | None = None
    error_kind: str | None = None
    # Everything mix prints on stdout: ``text`` itself for the printed formats,
    # the "Generated ..." notice for dot and json (default output file).
    stdout: str = ""
    # the error is --fail-above's count (exfix exits 1), not bad input (exit 2)
    over_limit: bool = False

    @property
    def stderr(self) -> str:
        if self.error is None:
            return ""
        return f"** ({self.error_kind or 'Mix'}) {self.error}\n"


class MixError(Exception):
    def __init__(self, message: str, kind: str = "Mix"):
        super().__init__(message)
        self.message = message
        self.kind = kind


def _version_tuple(version: str) -> tuple[int, int]:
    m = re.match(r"^\s*v?(\d+)\.(\d+)", str(version))
    if not m:
        raise ValueError(f"unknown Elixir version {version!r}")
    return int(m.group(1)), int(m.group(2))


_LABELS = {None: RUNTIME, "runtime": RUNTIME, "nil": RUNTIME, COMPILE: COMPILE, EXPORT: EXPORT}


def _norm_label(label: str | None):
    try:
        return _LABELS[label]
    except KeyError:
        raise ValueError(f"unknown edge label {label!r}") from None


def _ref_key(ref):
    # Sort key of an Elixir {file, type} tuple.
    return (ref[0], _ATOM_KEY[ref[1]])


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


# ---------------------------------------------------------------------------
# Building file references (what mix reads from its manifest)


def _file_references(graph: FileGraph, direct_filter) -> dict[str, list]:
    """file -> [(sink, label)], sorted by sink (a small Erlang map turned into a list)."""
    files: dict[str, None] = {}
    for f in graph.files:
        files.setdefault(f, None)
    for src, sinks in graph.edges.items():
        files.setdefault(src, None)
        for sink in sinks:
            files.setdefault(sink, None)

    refs: dict[str, list] = {}
    no_edges: dict = {}
    for f in files:
        if direct_filter == "all":
            # a file's sinks are distinct: sorting the pairs sorts by sink, as _ref_key does
            edges = graph.edges.get(f, no_edges)
            out = sorted((sink, _norm_label(label)) for sink, label in edges.items() if sink != f)
        else:
            out = []
            if graph.direct is not None:
                table = graph.direct.get(f, {})
                for sink, labels in table.items():
                    norm = {_norm_label(x) for x in labels}
                    if sink != f and direct_filter in norm:
                        out.append((sink, direct_filter))
            else:
                for sink, label in graph.edges.get(f, {}).items():
                    if sink != f and _norm_label(label) == direct_filter:
                        out.append((sink, direct_filter))
            out.sort(key=_ref_key)
        refs[f] = out
    return refs


# ---------------------------------------------------------------------------
# Groups, exclusion, sources and sinks

_HUMANIZE = {
    "group": "Group files",
    "source": "Sources",
    "sink": "Sinks",
    "exclude": "Excluded files",
}


def _check_files(files: list[str], refs: dict, what: str):
    if not files:
        return None
    missing = list(files)
    for key in refs:  # Elixir's `files -- keys`: drop one occurrence per key
        try:
            missing.remove(key)
        except ValueError:
            pass
    if missing:
        raise MixError(f"{_HUMANIZE[what]} could not be found: {', '.join(missing)}")
    return files


def _group(paths: list[str], refs: dict, aliases: dict):
    group_name = paths[0] + "+"
    new_aliases = {p: group_name for p in paths}
    new_aliases.update(aliases)
    aliases = new_aliases

    in_group = set(paths)
    from_group = [refs[k] for k in sorted(refs) if k in in_group]
    rest = {k: v for k, v in refs.items() if k not in in_group}

    merged = [r for lst in from_group for r in lst]
    merged.sort(key=lambda r: _TYPE_ORDER[r[1]])  # stable, like Enum.sort_by
    seen = set()
    uniq = []
    for r in merged:
        if r[0] not in seen:
            seen.add(r[0])
            uniq.append(r)
    uniq.sort(key=_ref_key)
    rest[group_name] = uniq

    out = {}
    for f, lst in rest.items():
        to_merge = [r for r in lst if r[0] in aliases]
        if not to_merge:
            out[f] = lst
            continue
        others = [r for r in lst if r[0] not in aliases]
        kind = min((r[1] for r in to_merge), key=lambda t: _TYPE_ORDER[t])
        out[f] = sorted([(group_name, kind)] + others, key=_ref_key)

    own = out[group_name]
    for i, r in enumerate(own):
        if r[0] == group_name:
            out[group_name] = own[:i] + own[i + 1 :]
            break
    return out, aliases


def _merge_groups(refs: dict, groups: list[str], ver):
    aliases: dict[str, str] = {}
    for spec in groups:
        paths = spec.split(",")
        if ver >= (1, 15):
            paths = [p for p in paths if p != ""]
        _check_files(paths, refs, "group")
        if not paths:
            # mix crashes on hd([]) here (`--group ","`); report it like mix does
            raise MixError("errors were found at the given arguments:\n\n  * 1st argument: not a nonempty list\n", "ArgumentError")
        refs, aliases = _group(paths, refs, aliases)
    return refs, aliases


def _get_files(what: str, values, refs: dict, aliases: dict):
    files = [aliases.get(f, f) for f in _as_list(values)]
    return _check_files(files, refs, what)


def _exclude(refs: dict, excluded):
    if excluded is None:
        return refs
    ex = set(excluded)
    return {k: [r for r in v if r[0] not in ex] for k, v in refs.items() if k not in ex}


def _source_tree(refs: dict, keys: list[str]) -> dict:
    acc: dict = {}
    for key in keys:
        stack = [key]
        # Depth-first, in list order; only membership matters for the result.
        while stack:
            k = stack.pop()
            nodes = refs.get(k)
            if nodes is None or k in acc:
                continue
            acc[k] = nodes
            for r in reversed(nodes):
                stack.append(r[0])
    return acc


def _invert(refs: dict) -> dict:
    acc: dict = {}
    for f in sorted(refs):
        for target, kind in refs[f]:
            acc.setdefault(target, []).insert(0, (f, kind))
    return acc


def _sink_tree(refs: dict, keys: list[str]) -> dict:
    return _invert(_source_tree(_invert(refs), keys))


# ---------------------------------------------------------------------------
# Label filtering


def _label_filter(label: str | None):
    if label is None:
        return "all"
    if label == "compile":
        return COMPILE
    if label == "export":
        return EXPORT
    if label == "runtime":
        return RUNTIME
    if label == "compile-connected":
        return "compile_connected"
    raise MixError(f"Unknown --label {label} in mix xref graph")


def _filter_fn(refs: dict, flt):
    if flt == "compile_connected":
        return lambda key, kind: kind == COMPILE and bool(refs.get(key))
    return lambda key, kind: kind == flt


def _transitive_filter(refs: dict, flt) -> dict:
    if flt == "all":
        return refs
    fn = _filter_fn(refs, flt)
    return {k: [r for r in v if fn(r[0], r[1])] for k, v in refs.items()}


def _count(refs: dict) -> int:
    return sum(len(v) for v in refs.values())


# ---------------------------------------------------------------------------
# Output formats


class _Out:
    def __init__(self):
        self.parts: list[str] = []

    def info(self, line: str = ""):
        self.parts.append(line + "\n")

    def text(self) -> str:
        return "".join(self.parts)


def _print_tree(out: _Out, roots: list[str], children_of, pretty: bool):
    """mix's print_tree: each level is marked seen before its subtrees are printed."""
    seen: set[str] = set()

    def prepare(nodes):
        items = []
        for name, info in nodes:
            if name in seen:
                items.append((name, info, []))
            else:
                items.append((name, info, children_of(name)))
                seen.add(name)
        return items

    branch, last, bar, blank = (
        ("├── ", "└── ", "│   ", "    ") if pretty else ("|-- ", "`-- ", "|   ", "    ")
    )
    # stack of [items, index, depth] where depth is a tuple of "has more siblings" flags
    stack = [[prepare([(r, None) for r in roots]), 0, ()]]
    while stack:
        frame = stack[-1]
        items, i, depth = frame
        if i >= len(items):
            stack.pop()
            continue
        frame[1] = i + 1
        name, info, children = items[i]
        more = i + 1 < len(items)
        if depth:
            indent = "".join(bar if d else blank for d in depth[1:])
            prefix = branch if more else last
        else:
            indent = prefix = ""
        suffix = f" ({info})" if info else ""
        out.info(f"{indent}{prefix}{name}{suffix}")
        stack.append([prepare(children), 0, depth + (more,)])


def _dot_quote(s: str, escape: bool) -> str:
    if not escape or ('"' not in s and "\\" not in s):
        return f'"{s}"'
    res = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] == "\\":
            res.append("\\\\")
            i += 2
            continue
        if c == '"':
            res.append('\\"')
        elif c == "\\" and i == n - 1:
            res.append("\\\\")
        else:
            res.append(c)
        i += 1
    return '"' + "".join(res) + '"'


def _dot(roots: list[str], children_of, escape: bool) -> str:
    """mix's build_dot_graph: for each node (keyed by parent and name, written once), its
    line, then its children, then its following siblings; a list of siblings stops at a node
    already written under that parent. A node met again lists no children: its first child
    was written when it was first met."""
    quoted: dict[str, str] = {}
    labels: dict = {None: ""}

    def distinct(nodes) -> list:  # the siblings up to the first one met twice
        names = set()
        for k, (name, info) in enumerate(nodes):
            if name in names:
                return nodes[:k]
            names.add(name)
            if name not in quoted:
                quoted[name] = _dot_quote(name, escape)
            if info not in labels:
                labels[info] = f" [label={_dot_quote('(' + info + ')', escape)}]" if info else ""
        return nodes

    lines = ['digraph "xref graph" {\n']
    append = lines.append
    expanded: set[str] = set()
    stack = [("  ", iter(distinct([(r, None) for r in roots])))]  # (line prefix, siblings)
    while stack:
        prefix, siblings = stack[-1]
        for name, info in siblings:
            append(f"{prefix}{quoted[name]}{labels[info]}\n")
            if name not in expanded:
                expanded.add(name)
                children = children_of(name)
                if children:
                    stack.append((f"  {quoted[name]} -> ", iter(distinct(children))))
                    break
        else:
            stack.pop()
    append("}\n")
    return "".join(lines)


def _json(roots: list[str], children_raw) -> str:
    src: dict[str, dict[str, str]] = {}
    # mix's build_json_tree: depth-first, first visit wins
    stack = [[[r for r in roots], 0]]
    while stack:
        frame = stack[-1]
        nodes, i = frame
        if i >= len(nodes):
            stack.pop()
            continue
        frame[1] = i + 1
        name = nodes[i]
        if name in src:
            continue
        children = children_raw(name)
        sink_map: dict[str, str] = {}
        for child, kind in children:
            sink_map[child] = "runtime" if kind is None else kind
        src[name] = sink_map
        stack.append([[c for c, _ in children], 0])

    def enc(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)

    parts = []
    for k in sorted(src):
        inner = ",".join(f"{enc(s)}:{enc(v)}" for s, v in sorted(src[k].items()))
        parts.append(f"{enc(k)}:{{{inner}}}")
    return "{" + ",".join(parts) + "}"


class _Digraph:
    """The subset of Erlang's :digraph that xref relies on."""

    def __init__(self, refs: dict):
        self.vertices = list(refs)
        vset = set(refs)
        self.out_order: dict[str, list[str]] = {v: [] for v in refs}
        self.label: dict[tuple[str, str], object] = {}
        self.in_edges: dict[str, list[str]] = {v: [] for v in refs}
        for f, deps in refs.items():
            for dep, kind in deps:
                if dep not in vset or (f, dep) in self.label:
                    continue  # add_edge fails for unknown vertices
                self.out_order[f].insert(0, dep)  # out_neighbours: newest first
                self.label[(f, dep)] = kind
                self.in_edges[dep].append(f)

    def out_degree(self, v):
        return len(self.out_order.get(v, ()))

    def in_degree(self, v):
        return len(self.in_edges.get(v, ()))

    def cyclic_sccs(self, start_order=None) -> list[list[str]]:
        """Strongly connected components on a cycle (Tarjan, iterative)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result = []
        counter = 0
        order = start_order if start_order is not None else sorted(self.vertices)
        for root in order:
            if root in index:
                continue
            work = [(root, iter(sorted(self.out_order[root])))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                v, it = work[-1]
                advanced = False
                for w in it:
                    if w not in index:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack.add(w)
                        work.append((w, iter(sorted(self.out_order[w]))))
                        advanced = True
                        break
                    if w in on_stack:
                        low[v] = min(low[v], index[w])
                if advanced:
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or (v, v) in self.label:
                        result.append(comp)
        return result

    def get_cycle(self, v: str):
        """Erlang's digraph:get_cycle/2: depth-first with a global visited list."""
        visited = {v}
        path = [v]
        stack = [iter(self.out_order[v])]
        while stack:
            advanced = False
            for w in stack[-1]:
                if w == v:
                    if len(path) >= 2:
                        return path + [v]
                    continue
                if w in visited:
                    continue
                visited.add(w)
                path.append(w)
                stack.append(iter(self.out_order[w]))
                advanced = True
                break
            if not advanced:
                stack.pop()
                path.pop()
        if v in self.out_order[v]:
            return [v]
        return None


def _cycles_old(graph: _Digraph, flt, min_size, ver):
    """Cycles up to 1.18: one found cycle per pass over each component."""
    found = []
    for comp in graph.cyclic_sccs():
        vertices = sorted(comp)
        while vertices:
            v = vertices[0]
            cycle = graph.get_cycle(v)
            for x in cycle:
                if x in vertices:
                    vertices.remove(x)
            if ver < (1, 17):
                found.append((len(cycle), [(x, None) for x in cycle]))
            else:
                labelled = [(b, graph.label[(a, b)]) for a, b in zip(cycle, cycle[1:])]
                found.append((len(labelled), labelled))
    if min_size is not None:
        found = [c for c in found if c[0] > min_size]
    if ver >= (1, 17) and flt != "all":
        want = COMPILE if flt == "compile_connected" else flt
        found = [c for c in found if any(kind == want for _, kind in c[1])]
    return found


def _cycles_new(graph: _Digraph, flt, min_size, min_label):
    found = []
    for comp in graph.cyclic_sccs():
        members = set(comp)
        labelled = []
        for v in comp:
            kind = None
            for w in graph.out_order[v]:
                if w in members:
                    lbl = graph.label[(v, w)]
                    if lbl == COMPILE:
                        kind = COMPILE
                        break
                    if lbl == EXPORT:
                        kind = EXPORT
            labelled.append((v, kind))
        labelled.sort(key=_ref_key)
        found.append((len(comp), labelled))
    if min_size is not None:
        found = [c for c in found if c[0] >= min_size]
    needed = 1
    if min_label is not None:
        if flt == "all":
            raise MixError("--min-cycle-label requires the --label option to be given")
        if min_label <= 0:
            raise MixError("--min-cycle-label must be greater than 0")
        needed = min_label
    if flt != "all":
        want = COMPILE if flt == "compile_connected" else flt
        found = [c for c in found if sum(1 for _, k in c[1] if k == want) >= needed]
    return found


def _cycles(graph, flt, opts: GraphOptions, ver):
    if ver >= (1, 19):
        return _cycles_new(graph, flt, opts.min_cycle_size, opts.min_cycle_label)
    return _cycles_old(graph, flt, opts.min_cycle_size, ver)


def _sort_cycles(found):
    return sorted(found, key=lambda c: (c[0], [_ref_key(x) for x in c[1]]), reverse=True)


def _print_cycles(out: _Out, refs: dict, flt, opts, ver) -> int:
    graph = _Digraph(refs)
    found = _sort_cycles(_cycles(graph, flt, opts, ver))
    if not found:
        out.info("No cycles found")
        return 0
    out.info(f"{len(found)} cycles found. Showing them in decreasing size:\n")
    for length, cycle in found:
        meta = ""
        if ver >= (1, 19):
            c = sum(1 for _, k in cycle if k == COMPILE)
            e = sum(1 for _, k in cycle if k == EXPORT)
            info = ([f"{c} compile"] if c else []) + ([f"{e} export"] if e else [])
            if info:
                meta = " (" + ", ".join(info) + ")"
        out.info(f"Cycle of length {length}{meta}:\n")
        for node, kind in cycle:
            out.info(f"    {node} ({kind})" if kind else f"    {node}")
        out.info("")
    return len(found)


def _print_stats(out: _Out, refs: dict, flt, opts, ver):
    graph = _Digraph(refs)
    counters = {COMPILE: 0, EXPORT: 0, RUNTIME: 0}
    for deps in refs.values():
        for _, kind in deps:
            counters[kind] += 1
    out.info(f"Tracked files: {len(refs)} (nodes)")
    out.info(f"Compile dependencies: {counters[COMPILE]} (edges)")
    out.info(f"Exports dependencies: {counters[EXPORT]} (edges)")
    out.info(f"Runtime dependencies: {counters[RUNTIME]} (edges)")
    out.info(f"Cycles: {len(_cycles(graph, flt, opts, ver))}")

    if ver >= (1, 17) and flt != "all":
        fn = _filter_fn(refs, flt)
        # mix passes the file itself (not the neighbour) to the filter
        out_count = lambda f: sum(1 for w in graph.out_order[f] if fn(f, graph.label[(f, w)]))
        in_count = lambda f: sum(1 for w in graph.in_edges[f] if fn(f, graph.label[(w, f)]))
    else:
        out_count, in_count = graph.out_degree, graph.in_degree

    outgoing = sorted(((out_count(f), f) for f in refs), reverse=True)[:10]
    out.info(f"\nTop {len(outgoing)} files with most outgoing dependencies:")
    for c, f in outgoing:
        out.info(f"  * {f} ({c})")
    incoming = sorted(((in_count(f), f) for f in refs), reverse=True)[:10]
    out.info(f"\nTop {len(incoming)} files with most incoming dependencies:")
    for c, f in incoming:
        out.info(f"  * {f} ({c})")


def _print_sources_cycles(out: _Out, refs: dict, sources: list[str], opts, ver):
    graph = _Digraph(refs)
    for length, cycle in _sort_cycles(_cycles(graph, COMPILE, opts, ver)):
        members = {n for n, _ in cycle}
        source = next((s for s in sources if s in members), None)
        if source is not None:
            out.info(
                f"\nWARNING: Source {source} is part of a cycle of {length} nodes and this "
                "cycle has a compile dependency. Therefore source and the whole cycle will "
                "recompile whenever any of the files they depend on change. Run "
                '"mix xref graph --format stats --label compile-connected" to print '
                'compilation cycles and "mix help xref" for information on removing them'
            )


# ---------------------------------------------------------------------------
# Entry point


# switch -> (first version that has it, mix's "did you mean" hint for older ones)
_NEW_SWITCHES = {"min_cycle_label": ((1, 19), "--min-cycle-label", "--min-cycle-size")}


def _check_switches(opts: GraphOptions, ver):
    unknown = []
    for attr, (since, switch, hint) in _NEW_SWITCHES.items():
        if getattr(opts, attr) is not None and ver < since:
            unknown.append(f"{switch} : Unknown option. Did you mean {hint}?")
    if unknown:
        n = len(unknown)
        found = f"{n} error{'s' if n > 1 else ''} found!"
        raise MixError('Could not invoke task "xref": ' + found + "\n" + "\n".join(unknown))


def generated_notice(fmt: str, version: str, target: str | None = None) -> str:
    """What mix prints after writing the dot or json file (default xref_graph.dot/.json)."""
    ver = _version_tuple(version)
    target = target or f"xref_graph.{fmt}"
    if fmt == "json":
        return f'Generated "{target}".\n'
    png = target.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".png"
    if ver >= (1, 19):
        return (f'Generated "{target}". To generate a PNG:\n\n'
                f'   dot -Tpng "{target}" -o "{png}"\n\n'
                "For more options see https://www.graphviz.org/.\n")
    files = f'"{target}" -o "{png}"' if ver >= (1, 15) else f"{target} -o {png}"
    return (f'Generated "{target}" in the current directory. To generate a PNG:\n\n'
            f"   dot -Tpng {files}\n\n"
            "For more options see http://www.graphviz.org/.\n")


def render_graph(graph: FileGraph, opts: GraphOptions, version: str) -> RenderResult:
    ver = _version_tuple(version)
    out = _Out()
    try:
        body, count_info = _render(graph, opts, ver, out)
    except MixError as e:
        return RenderResult(out.text(), 1, e.message, e.kind, out.text())
    if body is None:
        body = stdout = out.text()
    else:
        stdout = generated_notice(opts.format, version)
    found, count = count_info
    if opts.fail_above is not None and count > opts.fail_above:
        msg = f"Too many {found} (found: {count}, permitted: {opts.fail_above})"
        return RenderResult(body, 1, msg, "Mix", stdout, over_limit=True)
    return RenderResult(body, 0, None, None, stdout)


def _render(graph: FileGraph, opts: GraphOptions, ver, out: _Out):
    _check_switches(opts, ver)
    label = _label_filter(opts.label)
    if opts.only_direct:
        direct_filter, flt = label, "all"
    else:
        direct_filter, flt = "all", label
    if direct_filter == "compile_connected":
        raise MixError("Cannot use --only-direct with --label=compile-connected")

    all_refs = _file_references(graph, direct_filter)
    all_refs, aliases = _merge_groups(all_refs, _as_list(opts.groups), ver)
    all_refs = _exclude(all_refs, _get_files("exclude", opts.exclude, all_refs, aliases))
    sources = _get_files("source", opts.sources, all_refs, aliases)
    sinks = _get_files("sink", opts.sinks, all_refs, aliases)

    if sinks:
        refs = _sink_tree(all_refs, sinks)
    elif sources:
        refs = _source_tree(all_refs, sources)
    else:
        refs = all_refs

    fmt = opts.format
    has_label = opts.label is not None

    def roots_and_children(refs):
        if ver >= (1, 15):
            refs = _transitive_filter(refs, flt)
            if has_label:
                refs = {k: v for k, v in refs.items() if v}
        if sources:
            roots = list(sources)
        else:
            drop = set(sinks or ())
            roots = [k for k in refs if k not in drop]
        roots.sort()

        sorted_children: dict[str, list] = {}

        def children_raw(f):  # the same list for the same file: callers only read it
            if opts.only_nodes:
                return []
            got = sorted_children.get(f)
            if got is None:
                got = sorted_children[f] = sorted(refs.get(f, []), key=_ref_key)
            return got

        return roots, children_raw, _count(refs)

    if ver < (1, 15):
        # 1.14 filters once, for every format
        refs = _transitive_filter(refs, flt)
        if has_label:
            refs = {k: v for k, v in refs.items() if v}
        stats_refs, stats_filter = refs, "all"
    elif ver < (1, 17):
        # 1.15 and 1.16 filter the trees themselves, but stats and cycles still see the
        # filtered graph (1.17: "Respect the --label option on stats and cycles")
        stats_refs = _transitive_filter(refs, flt)
        if has_label:
            stats_refs = {k: v for k, v in stats_refs.items() if v}
        stats_filter = "all"
    else:
        stats_refs, stats_filter = refs, flt

    if fmt in ("dot", "json") or fmt in (None, "plain", "pretty"):
        roots, children_raw, count = roots_and_children(refs)
        if fmt == "dot":
            return _dot(roots, children_raw, ver >= (1, 19)), ("references", count)
        if fmt == "json":
            return _json(roots, children_raw), ("references", count)
        _print_tree(out, roots, children_raw, pretty=(fmt != "plain"))
        if sources and ver >= (1, 19):
            _print_sources_cycles(out, _source_tree(all_refs, sources), sources, opts, ver)
        return None, ("references", count)
    if fmt == "stats":
        _print_stats(out, stats_refs, stats_filter, opts, ver)
        return None, ("stats", 0)
    if fmt == "cycles":
        n = _print_cycles(out, stats_refs, stats_filter, opts, ver)
        return None, ("cycles", n)
    raise MixError(f"Unknown --format {fmt} in mix xref graph")


# ---------------------------------------------------------------------------
# Reading mix's dot output back

_DOT_NODE = re.compile(r'^  "((?:[^"\\]|\\.)*)"(?: -> "((?:[^"\\]|\\.)*)")?(?: \[label="\((\w+)\)"\])?$')


def _dot_unquote(s: str) -> str:
    return re.sub(r'\\(["\\])', r"\1", s)


def parse_dot(text: str, unescape: bool = True) -> FileGraph:
    """Parse the dot file written by ``mix xref graph --format dot``.

    Every node line and every edge end is a file; an edge without a label is a
    runtime edge. Pass ``unescape=False`` for dot written by Elixir < 1.19, which
    does not escape quotes.
    """
    files: dict[str, None] = {}
    edges: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.startswith("  "):
            continue
        m = _DOT_NODE.match(line)
        if not m:
            raise ValueError(f"unexpected dot line: {line!r}")
        a, b, label = m.groups()
        if unescape:
            a = _dot_unquote(a)
            b = _dot_unquote(b) if b is not None else None
        files.setdefault(a, None)
        if b is not None:
            files.setdefault(b, None)
            edges.setdefault(a, {})[b] = label or "runtime"
    return FileGraph(files=list(files), edges=edges)
