"""From a project's sources to its dependency graphs: parse, index, expand, connect.

``analyze`` is the one entry point: rules, verification and the CLI all call it, with the
files on disk or with patched sources held in memory.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import networkx as nx

from .expand import Expander
from .facts import STRENGTH, FileFacts, ParseIssue
from .index import Indexer, ModuleInfo
from .parse import first_error, parse
from .project import Project, load_project, source_files
from .semantics import Semantics, default_version, semantics


@dataclass
class Analysis:
    project: Project
    semantics: Semantics
    files: dict[str, FileFacts]
    modules: dict[str, ModuleInfo]  # project and dependency modules
    module_file: dict[str, str]  # project modules only: module -> file
    file_graph: nx.DiGraph  # nodes: project files; edge attribute "label"
    module_graph: nx.DiGraph  # nodes: project modules; edge attribute "label"
    notes: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.semantics.version

    def edges(self) -> dict[str, dict[str, str]]:
        """``{source file: {sink file: label}}`` with every file present, as mix's JSON."""
        out: dict[str, dict[str, str]] = {f: {} for f in self.file_graph.nodes}
        for a, b, data in self.file_graph.edges(data=True):
            out[a][b] = data["label"]
        return out

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
        from .recompile import fanout

        return fanout(self.file_deps(), self.version, exports_changed, export_implies_runtime=False)

    def file_deps(self):
        """Per file: modules defined and modules referenced per label, as mix's manifest has."""
        from .recompile import FileDeps

        out = {}
        for path, facts in self.files.items():
            own = {m.name for m in facts.modules}
            seen: dict[str, set[str]] = {"compile": set(), "export": set(), "runtime": set()}
            for ref in facts.references:
                if ref.target in own or ref.target not in self.module_file:
                    continue
                seen[ref.mode].add(ref.target)
            # like the lexical tracker: compile wins over runtime; exports are kept apart, so
            # `%S{}` in a function is both an export and a runtime reference, and `use M`
            # both an export (its require) and a compile reference
            out[path] = FileDeps(
                modules=own,
                compile=seen["compile"],
                export=seen["export"],
                runtime=seen["runtime"] - seen["compile"],
            )
        return out


def analyze(
    project: Project | str,
    version: str | None = None,
    sources: dict[str, bytes] | None = None,
) -> Analysis:
    """Build the graphs of ``project``. ``sources`` overrides file contents (path -> bytes)."""
    if not isinstance(project, Project):
        project = load_project(project)
    sem = semantics(version or default_version())
    notes = list(project.notes)
    files = list(project.source_files)
    if sources:
        files = sorted(set(files) | {p for p in sources if p.endswith(".ex")})
    modules: dict[str, ModuleInfo] = {}
    trees = {}
    facts: dict[str, FileFacts] = {}
    # dependency sources first, so project modules win on a name clash
    for dep_dir in project.dependency_source_dirs():
        _index_dependency(dep_dir, modules, notes)
    for path in files:
        ff = FileFacts(path)
        facts[path] = ff
        try:
            data = sources[path] if sources and path in sources else project.read(path)
        except OSError as exc:
            ff.errors.append(ParseIssue(0, f"cannot read: {exc.strerror}"))
            continue
        tree = parse(data)
        err = first_error(tree)
        if err is not None:
            ff.errors.append(ParseIssue(err.start_point[0] + 1, "syntax error"))
        trees[path] = tree
        try:
            Indexer(path, True, modules).run(tree.root_node)
        except RecursionError:
            _too_deep(ff, tree)
    with _deep_recursion():
        for path, tree in trees.items():
            try:
                Expander(path, modules, sem, facts[path]).run(tree.root_node)
            except RecursionError:
                _too_deep(facts[path], tree)
    module_file: dict[str, str] = {}
    for path in files:
        for mod in facts[path].modules:
            module_file.setdefault(mod.name, path)
    file_graph = nx.DiGraph()
    file_graph.add_nodes_from(files)
    module_graph = nx.DiGraph()
    module_graph.add_nodes_from(module_file)
    for path in files:
        own = {m.name for m in facts[path].modules}
        for ref in facts[path].references:
            sink = module_file.get(ref.target)
            if sink is None:
                continue
            if ref.module and ref.target != ref.module:
                _strongest_edge(module_graph, ref.module, ref.target, ref.mode)
            if sink == path or ref.target in own:
                continue
            _strongest_edge(file_graph, path, sink, ref.mode)
        for note in facts[path].notes:
            notes.append(note)
    return Analysis(project, sem, facts, modules, module_file, file_graph, module_graph, notes)


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


def _strongest_edge(graph: nx.DiGraph, a: str, b: str, label: str) -> None:
    current = graph.get_edge_data(a, b)
    if current is None or STRENGTH[label] > STRENGTH[current["label"]]:
        graph.add_edge(a, b, label=label)


def _index_dependency(dep_dir, modules: dict[str, ModuleInfo], notes: list[str]) -> None:
    try:
        dep = load_project(dep_dir)
        paths = dep.source_files
        root = dep.root
    except Exception:  # a dependency without a readable mix.exs: take its lib/
        root = dep_dir
        paths = source_files(dep_dir, ["lib"])
    for rel in paths:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        tree = parse(data)
        try:
            Indexer(str(root / rel), False, modules).run(tree.root_node)
        except RecursionError:  # a dependency too deeply nested: what was indexed stays
            notes.append(f"{root / rel}: nested too deeply for exfix to follow")


def umbrella_graph(children: list[Analysis]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The merged graph mix prints at an umbrella root since 1.18: every app's files (paths
    relative to each app, as mix prints them) and the edges between apps."""
    module_file: dict[str, str] = {}
    for child in children:
        for module, path in child.module_file.items():
            module_file.setdefault(module, path)
    files: list[str] = []
    edges: dict[str, dict[str, str]] = {}
    for child in children:
        for path, facts in child.files.items():
            if path not in edges:
                files.append(path)
                edges[path] = {}
            own = {m.name for m in facts.modules}
            for ref in facts.references:
                sink = module_file.get(ref.target)
                if sink is None or sink == path or ref.target in own:
                    continue
                current = edges[path].get(sink)
                if current is None or STRENGTH[ref.mode] > STRENGTH[current]:
                    edges[path][sink] = ref.mode
    return sorted(files), edges

