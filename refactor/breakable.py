"""Rank the references worth breaking: which compile references cost the most recompiles.

Two kinds of compile edge make recompiles fan out (the seed talk explains both):

* a compile edge inside a cycle: every file of the cycle, and every file that reaches it,
  is stale whenever one of them changes, and the compile edge makes its source recompile;
* a *compile-connected* edge (``mix xref graph --label compile-connected``): a compile edge
  whose sink itself depends on other files, so the source recompiles when anything the
  sink reaches at run time changes.

For each such edge, ``rank`` lists the references that create it (file, line, construct,
module) and scores the edge by how much the project's mean recompile fan-out would drop if
its compile references to one target module went away: the source file's manifest-like
``FileDeps`` is copied with that module moved from ``compile`` to ``runtime`` (what a
rewrite such as ``attribute-to-function`` or ``import-to-alias`` leaves behind: the module
is still called, at run time), and the fan-out is computed again with
``recompile.Fanout.changed`` (only the components whose recompile sets can change).

A single reference scores the drop only when every compile reference of the file to that
module is on its line (one expression, such as the alias and the call of ``Mod.f()``);
otherwise removing it alone changes nothing and its score is 0 (the edge's ``gain`` says
what removing all of them gains).

Candidates with the same (file, module) share one computation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import networkx as nx

from .recompile import FileDeps

COMPILE = "compile"


@dataclass
class Culprit:
    """One reference that makes a compile edge."""

    file: str
    line: int
    kind: str  # alias | call | import | require | struct
    target: str  # the module referenced
    function: str = ""
    context: str = ""  # body | def | match | guard | attribute
    via: str = ""  # the macro that injected it, when any
    construct: str = ""  # words for a human: "call Foo.bar/1 in an attribute"
    score: float = 0.0  # drop of the mean fan-out if this reference alone goes


@dataclass
class BreakableEdge:
    source: str  # file
    sink: str  # file
    target: str  # module of the sink referenced at compile time
    why: str  # "cycle" | "compile-connected"
    culprits: list[Culprit] = field(default_factory=list)
    fanout_before: float = 0.0
    fanout_after: float = 0.0

    @property
    def gain(self) -> float:
        return round(self.fanout_before - self.fanout_after, 3)


def _mean(values: dict[str, int]) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def construct_of(ref) -> str:
    what = {
        "call": f"call {ref.target}.{ref.function}" if ref.function else f"call into {ref.target}",
        "import": f"imported {ref.function} from {ref.target}" if ref.function else f"import {ref.target}",
        "require": f"require {ref.target}",
        "struct": f"%{ref.target}{{}}",
        "alias": f"{ref.target} used as a value",
    }.get(ref.kind, f"{ref.kind} {ref.target}")
    where = {
        "body": "in the module body",
        "attribute": "in a module attribute",
        "guard": "in a guard",
        "match": "in a pattern",
        "def": "in a function",
    }.get(ref.context, "")
    parts = [what]
    if where:
        parts.append(where)
    if ref.via:
        parts.append(f"(from {ref.via})")
    if ref.origin:
        parts.append(f"(through {ref.origin})")
    return " ".join(parts)


def without_compile(d: FileDeps, module: str) -> FileDeps:
    """A copy of a file's ``d`` where it references ``module`` at run time, not compile time."""
    d = copy.copy(d)
    d.compile = set(d.compile) - {module}
    d.runtime = set(d.runtime) | {module}
    return d


def candidate_edges(analysis) -> list[tuple[str, str, str]]:
    """(source, sink, why) for compile edges in a cycle or compile-connected, sorted."""
    graph = analysis.file_graph
    comp_of: dict[str, int] = {}
    for i, comp in enumerate(nx.strongly_connected_components(graph)):
        for f in comp:
            comp_of[f] = i
    out = []
    for a, b, data in graph.edges(data=True):
        if data.get("label") != COMPILE:
            continue
        if comp_of.get(a) == comp_of.get(b):
            out.append((a, b, "cycle"))
        elif graph.out_degree(b) > 0:
            out.append((a, b, "compile-connected"))
    return sorted(out)


def rank(analysis, limit: int | None = None) -> list[BreakableEdge]:
    """Breakable compile edges, best first (largest drop of the mean fan-out)."""
    deps = analysis.file_deps()
    model = analysis.fanout_model  # the one Analysis.fanout() reads: computed once
    base = _mean(model.values)
    out: list[BreakableEdge] = []
    cache: dict[tuple[str, str], float] = {}
    for source, sink, why in candidate_edges(analysis):
        facts = analysis.files[source]
        refs = [
            r
            for r in facts.references
            if r.mode == COMPILE and analysis.module_file.get(r.target) == sink
        ]
        for target in sorted({r.target for r in refs}):
            key = (source, target)
            if key not in cache:
                cache[key] = _mean(model.changed({source: without_compile(deps[source], target)}))
            edge = BreakableEdge(source, sink, target, why, fanout_before=base, fanout_after=cache[key])
            mine = sorted((r for r in refs if r.target == target), key=lambda r: (r.line, r.kind))
            alone = len({r.line for r in mine}) == 1  # one expression: alias + call of `Mod.f()`
            for r in mine:
                edge.culprits.append(
                    Culprit(
                        file=source,
                        line=r.line,
                        kind=r.kind,
                        target=r.target,
                        function=r.function,
                        context=r.context,
                        via=r.via,
                        construct=construct_of(r),
                        score=edge.gain if alone else 0.0,
                    )
                )
            out.append(edge)
    out.sort(key=lambda e: (-e.gain, e.why != "cycle", e.source, e.target))
    return out[:limit] if limit is not None else out


def format_ranking(edges: list[BreakableEdge]) -> str:
    lines = []
    for e in edges:
        lines.append(
            f"{e.source} -> {e.sink} ({e.why}, {e.target}): mean fan-out "
            f"{e.fanout_before:.2f} -> {e.fanout_after:.2f} (-{e.gain:.2f})"
        )
        for c in e.culprits:
            lines.append(f"  {c.file}:{c.line}: {c.construct}")
    return "\n".join(lines)
