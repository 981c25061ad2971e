"""First pass over every file: which modules exist, and their functions, macros and structs.

The expander needs this before it labels anything: whether ``X.m(1)`` or an imported ``m(1)``
is a macro decides compile vs export/runtime, and ``use X`` injects what ``X.__using__``
quotes. The index also keeps, for each macro, the node of its body and the aliases in scope
where it was defined, so its quote can be expanded in the caller with the right hygiene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from . import frameworks
from .syntax import (
    atom_value,
    call_arguments,
    call_name,
    do_body,
    keyword_get,
    named_children,
    text,
)

DEF_KINDS = {"def", "defp", "defmacro", "defmacrop", "defguard", "defguardp", "defn", "defnp"}
MACRO_KINDS = {"defmacro", "defmacrop", "defguard", "defguardp"}
PUBLIC_KINDS = {"def", "defmacro", "defguard", "defn"}


class Definition:
    """One clause of a def/defmacro: its parameters and body, with the module's aliases there.

    The body is found on first use (most clauses are never expanded)."""

    __slots__ = ("module", "kind", "name", "arities", "params", "aliases", "file", "_node", "_body")

    def __init__(self, module: str, kind: str, name: str, arities: tuple[int, ...], params: list[Node],
                 body: list[Node] | None, aliases: dict[str, str], file: str, node: Node | None = None):
        self.module = module
        self.kind = kind
        self.name = name
        self.arities = arities
        self.params = params
        self.aliases = aliases
        self.file = file
        self._node = node  # the def call, when the body is left to find
        self._body = body

    @property
    def body(self) -> list[Node]:
        if self._body is None:
            self._body = do_body(self._node) if self._node is not None else []
        return self._body

    @property
    def guard(self) -> Node | None:
        """The clause's ``when`` guard (None for a defguard, whose guard is its body)."""
        if self._node is None or self.kind in ("defguard", "defguardp"):
            return None
        args = call_arguments(self._node)
        return head_parts(args[0])[2] if args else None

    def __repr__(self) -> str:
        return f"Definition({self.module}.{self.kind} {self.name}/{self.arities} in {self.file})"


class ModuleInfo:
    """A module as the index knows it: where it is defined, its public functions and its
    macros, every (name, arity) it defines, and the clauses of its definitions.

    The clauses hold syntax-tree nodes, so they are never cached: they are loaded on first
    use from the segments (``parts``: file, segment index) of the files that define the
    module, parsing those files again when this run did not.
    """

    __slots__ = ("name", "file", "line", "in_project", "functions", "macros", "defined", "parts",
                 "loader", "_definitions")

    def __init__(self, name: str, file: str, line: int, in_project: bool,
                 functions: set | None = None, macros: set | None = None,
                 definitions: dict | None = None):
        self.name = name
        self.file = file
        self.line = line
        self.in_project = in_project
        self.functions: set[tuple[str, int]] = functions if functions is not None else set()  # public, including macros
        self.macros: set[tuple[str, int]] = macros if macros is not None else set()  # public and private macros
        # every (name, arity) a def/defmacro/defguard clause defines, private ones included
        self.defined: set[tuple[str, int]] = set()
        self.parts: list[tuple[str, int]] = []
        self.loader = None
        self._definitions: dict[str, list[Definition]] | None = definitions

    @property
    def definitions(self) -> dict[str, list[Definition]]:
        defs = self._definitions
        if defs is None:
            defs = {}
            for file, index in self.parts:
                segment = self.loader.segment(file, index) if self.loader is not None else None
                if segment is None:
                    continue
                for name, clauses in segment.definitions.items():
                    defs.setdefault(name, []).extend(clauses)
            self._definitions = defs
        return defs

    @definitions.setter
    def definitions(self, value: dict[str, list[Definition]]) -> None:
        self._definitions = value

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {self.file!r}, {self.line}, in_project={self.in_project})"


@dataclass
class Segment:
    """What one file says about one module from one ``defmodule``/``defimpl`` on: reopening
    the module in the same file starts a new segment, as the merge may keep or replace the
    module at each (see ``merge_file``)."""

    name: str
    line: int
    kind: str  # "module" (defmodule, defprotocol) | "impl" (defimpl)
    functions: set[tuple[str, int]] = field(default_factory=set)
    macros: set[tuple[str, int]] = field(default_factory=set)
    defined: set[tuple[str, int]] = field(default_factory=set)
    definitions: dict[str, list[Definition]] = field(default_factory=dict)


def summarize(segments: list[Segment]) -> tuple:
    """The segments without syntax trees, as plain tuples (what the cache keeps)."""
    return tuple(
        (s.name, s.line, s.kind, frozenset(s.functions), frozenset(s.macros), frozenset(s.defined),
         bool(s.definitions))
        for s in segments
    )


def merge_file(modules: dict[str, ModuleInfo], file: str, in_project: bool, summary: tuple, loader,
               only: str | None = None) -> None:
    """Add one file's summary to the index, as indexing it into the shared index would.

    A ``defmodule`` creates the module unless it exists, or a project file replaces a
    dependency's module of that name; a ``defimpl`` creates it only when absent. What the
    segment defines then goes to whichever module holds the name. With ``only``, just the
    segments of that module (what a module's entry needs, merged file after file).
    """
    for index, (name, line, kind, functions, macros, defined, has_definitions) in enumerate(summary):
        if only is not None and name != only:
            continue
        info = modules.get(name)
        if info is None or (kind == "module" and in_project and not info.in_project):
            info = ModuleInfo(name, file, line, in_project, definitions=None)
            info.loader = loader
            modules[name] = info
        if functions:
            info.functions |= functions
        if macros:
            info.macros |= macros
        if defined:
            info.defined |= defined
        if has_definitions:
            info.parts.append((file, index))
            info._definitions = None


def head_parts(head: Node) -> tuple[str | None, list[Node], Node | None]:
    """Split a def head into (name, parameter nodes, guard)."""
    guard = None
    if head.type == "binary_operator":
        op = head.child_by_field_name("operator")
        if op is not None and text(op) == "when":
            guard = head.child_by_field_name("right")
            head = head.child_by_field_name("left")
    if head.type == "identifier":
        return text(head), [], guard
    if head.type == "call":
        name = call_name(head)
        return name, call_arguments(head), guard
    if head.type == "binary_operator":  # operator definitions: def a + b
        op = head.child_by_field_name("operator")
        return (text(op) if op is not None else None), [
            head.child_by_field_name("left"),
            head.child_by_field_name("right"),
        ], guard
    if head.type == "unary_operator":
        op = head.child_by_field_name("operator")
        return (text(op) if op is not None else None), [head.child_by_field_name("operand")], guard
    return None, [], guard


def param_arities(params: list[Node]) -> tuple[int, ...]:
    total = len(params)
    defaults = sum(1 for p in params if is_default(p))
    return tuple(range(total - defaults, total + 1))


def is_default(param: Node) -> bool:
    if param.type != "binary_operator":
        return False
    op = param.child_by_field_name("operator")
    return op is not None and text(op) == "\\\\"


class AliasScope:
    """Resolution of alias names with a chain of lexical alias maps."""

    @staticmethod
    def resolve(parts: list[str], aliases: dict[str, str]) -> str:
        head = parts[0]
        if head == "Elixir":
            return ".".join(parts[1:])
        full = aliases.get(head)
        if full is None:
            return ".".join(parts)
        return ".".join([full, *parts[1:]])


def alias_target(node: Node, aliases: dict[str, str], module: str | None) -> str | None:
    """Module named by an alias expression (``Foo.Bar``, ``__MODULE__``, ``__MODULE__.Sub``)."""
    if node.type == "alias":
        return AliasScope.resolve(text(node).replace(" ", "").split("."), aliases)
    if node.type == "identifier" and text(node) == "__MODULE__":
        return module
    if node.type == "dot":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or right.type != "alias":
            return None
        base = alias_target(left, aliases, module)
        if base is None:
            return None
        return base + "." + text(right).replace(" ", "")
    if node.type == "call" and not call_arguments(node):
        # `__MODULE__.Sub` parses as a call of a dot without parentheses in some positions
        target = node.child_by_field_name("target")
        if target is not None and target.type == "dot" and not any(
            c.type == "arguments" for c in node.named_children
        ):
            return alias_target(target, aliases, module)
    atom = atom_value(node) if node.type in ("atom", "quoted_atom") else None
    if atom is not None and atom.startswith("Elixir."):
        return atom[len("Elixir.") :]
    return None


def alias_statement(call: Node, aliases: dict[str, str], module: str | None) -> dict[str, str]:
    """The aliases an ``alias``/``require``/``import`` call defines (name -> full module)."""
    args = call_arguments(call)
    if not args:
        return {}
    first = args[0]
    out: dict[str, str] = {}
    as_node = keyword_get(args[1:], "as")
    if first.type == "dot" and first.child_by_field_name("right") is not None and (
        first.child_by_field_name("right").type == "tuple"
    ):
        base = alias_target(first.child_by_field_name("left"), aliases, module)
        if base is None:
            return {}
        for ref in named_children(first.child_by_field_name("right")):
            if ref.type == "alias":
                name = text(ref).replace(" ", "")
                out[name.split(".")[-1]] = base + "." + name
        return out
    full = alias_target(first, aliases, module)
    if full is None:
        return {}
    if as_node is not None:
        if as_node.type == "alias":
            out[text(as_node)] = full
        return out
    if call_name(call) == "alias":
        out[full.split(".")[-1]] = full
    return out


MODULE_KINDS = {"defmodule", "defprotocol", "defimpl"}
# calls that define modules, functions, macros and structs, and the directives that change
# which names are in scope
KEYWORDS = DEF_KINDS | MODULE_KINDS | {"defdelegate", "defstruct", "defexception", "alias", "require", "import",
                                       "use"}
# calls whose bodies are not module-body code: definitions inside them are not the module's
OPAQUE = DEF_KINDS | {"quote", "defdelegate"}


class Indexer:
    """Records the modules one file defines: the ``KEYWORDS`` calls at module-body level.

    Calls are read in document order, each in the module of the nearest module-defining
    call around it; calls in a def body, a quote or an anonymous function are not at
    module-body level and are skipped. Aliases are lexical: an alias applies to the code
    after it inside the same block (kept as a stack of scopes).

    The result is a list of ``Segment``s, one per module-defining call, in document order;
    ``merge_file`` adds them to the index of the whole project.
    """

    def __init__(self, file: str):
        self.file = file
        self.segments: list[Segment] = []
        # module name -> its current segment (the last defmodule/defimpl of it so far)
        self.current: dict[str, Segment] = {}
        # module-defining call (start, end) -> module names it defines
        self.defined: dict[tuple[int, int], list[str]] = {}
        # (scope end byte, scope start byte, alias name, full module), innermost last
        self.scopes: list[tuple[int, int, str, str]] = []

    def run(self, root: Node) -> None:
        """One walk in document order. It does not enter def bodies, quotes or anonymous
        functions (what is there is not module-body code), and each call it meets knows the
        module it is in: the nearest enclosing defmodule/defprotocol/defimpl that defined
        one (a defmodule with a name exfix cannot read is looked through)."""
        defined = self.defined
        stack: list[tuple[Node, list[str] | None]] = [(root, None)]
        pop, push = stack.pop, stack.append
        while stack:
            node, modules = pop()
            t = node.type
            if t == "call":
                target = node.child_by_field_name("target")
                if target is not None and target.type == "identifier":
                    name = target.text.decode("utf-8", "replace")
                    if name in KEYWORDS:
                        self._visit(node, name, modules)
                        if name in OPAQUE:
                            continue
                        if name in MODULE_KINDS:
                            modules = defined.get((node.start_byte, node.end_byte), modules)
                    elif name in OPAQUE:  # quote
                        continue
            elif t == "anonymous_function":
                continue
            if node.named_child_count:
                children = node.named_children
                for child in reversed(children):
                    push((child, modules))

    def _aliases_at(self, node: Node) -> dict[str, str]:
        while self.scopes and self.scopes[-1][0] <= node.start_byte:
            self.scopes.pop()
        return {name: full for end, start, name, full in self.scopes if start <= node.start_byte < end}

    def _push_alias(self, scope: Node, name: str, full: str) -> None:
        self.scopes.append((scope.end_byte, scope.start_byte, name, full))

    def _visit(self, node: Node, kind: str, modules: list[str] | None) -> None:
        """A matched call at module-body level, in the module(s) ``modules`` (None: top level)."""
        module = modules[0] if modules else None
        aliases = self._aliases_at(node)
        if kind in ("defmodule", "defprotocol"):
            self._defmodule(node, module, aliases)
        elif kind == "defimpl":
            names = impl_module_names(node, aliases, module)
            for name in names:
                self._segment(name, node.start_point[0] + 1, "impl")
            self.defined[(node.start_byte, node.end_byte)] = names
        elif modules is None:
            return
        elif kind in ("alias", "require", "import"):
            for name, full in alias_statement(node, aliases, module).items():
                self._push_alias(node.parent, name, full)
        elif kind == "use":
            self._use(node, modules, aliases)
        else:
            for name in modules:
                self._definition(node, kind, name, aliases)

    def _use(self, node: Node, modules: list[str], aliases: dict[str, str]) -> None:
        """``use Gettext, otp_app: ...``: the macros a framework model says it defines."""
        args = call_arguments(node)
        used = alias_target(args[0], aliases, modules[0]) if args else None
        model = frameworks.registry().using.get(used) if used else None
        if model is None or not model.defines:
            return
        if model.defines_unless_option and keyword_get(args[1:], model.defines_unless_option) is not None:
            return
        for name in modules:
            segment = self.current.get(name)
            if segment is not None:
                segment.functions.update(model.defines)
                segment.macros.update(model.defines)
                segment.defined.update(model.defines)

    def _defmodule(self, node: Node, module: str | None, aliases: dict[str, str]) -> None:
        args = call_arguments(node)
        if not args:
            return
        full, auto_alias = module_name(args[0], aliases, module)
        if full is None:
            return
        self._segment(full, args[0].start_point[0] + 1, "module")
        self.defined[(node.start_byte, node.end_byte)] = [full]
        if auto_alias is not None:
            # `defmodule Foo.Bar` nested in Parent aliases Foo to Parent.Foo, there and after
            self._push_alias(node.parent, *auto_alias)

    def _segment(self, name: str, line: int, kind: str) -> None:
        segment = Segment(name, line, kind)
        self.segments.append(segment)
        self.current[name] = segment

    def _definition(self, node: Node, kind: str, module: str, aliases: dict[str, str]) -> None:
        info = self.current.get(module)
        if info is None:
            return
        if kind in ("defstruct", "defexception"):
            if kind == "defexception":
                info.functions.update({("exception", 1), ("message", 1)})
            return
        args = call_arguments(node)
        if not args:
            return
        name, params, guard = head_parts(args[0])
        if name is None:
            return
        arities = param_arities(params)
        if kind == "defdelegate":
            info.functions.update((name, a) for a in arities)
            return
        body = None  # the do-block or do: keyword, found on first use
        if kind in ("defguard", "defguardp") and guard is not None:
            body = [guard]  # a guard's body is its `when` expression
        info.definitions.setdefault(name, []).append(
            Definition(module, kind, name, arities, params, body, dict(aliases), self.file, node)
        )
        for arity in arities:
            info.defined.add((name, arity))
            if kind in PUBLIC_KINDS:
                info.functions.add((name, arity))
            if kind in MACRO_KINDS:
                info.macros.add((name, arity))


def module_name(name_node: Node, aliases: dict[str, str], parent: str | None):
    """Full name of ``defmodule NAME`` and the alias it creates in the parent, if nested."""
    if name_node.type == "alias":
        raw = text(name_node).replace(" ", "")
        parts = raw.split(".")
        if parts[0] == "Elixir":
            return ".".join(parts[1:]), None
        if parent is None:
            return AliasScope.resolve(parts, aliases), None
        full = parent + "." + raw
        return full, (parts[0], parent + "." + parts[0])
    target = alias_target(name_node, aliases, parent)
    return target, None


def impl_module_names(node: Node, aliases: dict[str, str], module: str | None) -> list[str]:
    args = call_arguments(node)
    if not args:
        return []
    protocol = alias_target(args[0], aliases, module)
    if protocol is None:
        return []
    fors: list[str] = []
    for_node = keyword_get(args[1:], "for")
    if for_node is None:
        if module is not None:
            fors = [module]
    elif for_node.type == "list":
        for item in named_children(for_node):
            target = alias_target(item, aliases, module)
            if target:
                fors.append(target)
    else:
        target = alias_target(for_node, aliases, module)
        if target:
            fors.append(target)
    return [protocol + "." + f for f in fors]
