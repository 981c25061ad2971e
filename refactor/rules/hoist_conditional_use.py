"""Rule ``hoist-conditional-use``: a body-level ``if`` cannot protect ``use``/``import``/``require``."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node, Query

from refactor.parse import captures, first_error, load_query, parse
from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext, apply_edits

RULE_ID = "hoist-conditional-use"
QUERY_NAME = "hoist_conditional_use"

CONDITIONALS = ("if", "unless", "case", "cond")
DIRECTIVES = ("use", "import", "require")
STRATEGIES = ("auto", "hoist", "guard")

# auto hoists when hoisting adds at most this many lines, and uses the guard form otherwise
DEFAULT_HOIST_MAX_LINES = 40
# hoisting k independent blocks of one module writes 2**k copies of it
MAX_HOISTED_BLOCKS = 3

GUARD_MACRO = "if_loaded"

# Top-level namespaces shipped with Elixir itself (elixir, eex, ex_unit, iex, logger, mix):
# they are always there when a project compiles, so guarding them cannot fail.
STDLIB_NAMESPACES = frozenset(
    """
    Access Agent Application Atom Base Behaviour Bitwise Calendar Code Collectable Config Date
    DateTime Dict Duration DynamicSupervisor EEx Enum Enumerable Exception ExUnit File Float
    Function GenEvent GenServer HashDict HashSet IEx IO Inspect Integer JSON Kernel Keyword List
    Logger Macro Map MapSet Mix Module NaiveDateTime Node OptionParser PartitionSupervisor Path
    Port Process Protocol Range Record Regex Registry Set Stream String StringIO Supervisor
    System Task Time Tuple URI Version
    """.split()
)

# Local calls a condition may make and still mean the same thing outside the module (Kernel).
KERNEL_CALLS = frozenset(
    """
    function_exported? macro_exported? not is_nil is_atom is_binary is_boolean is_integer
    is_list is_map is_tuple is_function is_number length hd tl elem map_size tuple_size
    byte_size to_string to_charlist match? apply max min abs div rem in and or
    """.split()
)

# Conditions that test whether a module is available: (receiver, function).
AVAILABILITY_CALLS = {
    ("Code", "ensure_loaded?"),
    ("Code", "ensure_loaded"),
    ("Code", "ensure_compiled"),
    ("Code", "ensure_compiled?"),
    ("Code", "ensure_compiled!"),
    (":code", "ensure_loaded"),
    (":code", "is_loaded"),
    (None, "function_exported?"),
    (None, "macro_exported?"),
    ("Kernel", "function_exported?"),
    ("Kernel", "macro_exported?"),
}
# Of those, the ones the guard macro reproduces exactly (it calls Code.ensure_loaded?/1).
GUARDABLE_CALLS = {("Code", "ensure_loaded?")}

STRING_TYPES = ("string", "charlist", "sigil", "quoted_atom", "quoted_keyword")


class Refusal(Exception):
    """The rewrite would be wrong; the message says why, in words for the user."""


# --------------------------------------------------------------------------- query & nodes


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _target(node: Node) -> Node | None:
    return node.child_by_field_name("target") if node.type == "call" else None


def _call_name(node: Node) -> str | None:
    """``foo`` for a local call ``foo ...``; None for anything else."""
    target = _target(node)
    if target is not None and target.type == "identifier":
        return _text(target)
    return None


def _remote(node: Node) -> tuple[str, str] | None:
    """(receiver text, function) for a remote call ``Mod.fun(...)``."""
    target = _target(node)
    if target is None or target.type != "dot":
        return None
    left, right = target.child_by_field_name("left"), target.child_by_field_name("right")
    if left is None or right is None or right.type != "identifier":
        return None
    return _text(left), _text(right)


def _arguments_node(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type == "arguments":
            return child
    return None


def _args(node: Node) -> list[Node]:
    args = _arguments_node(node)
    if args is None:
        return []
    return [c for c in args.named_children if c.type != "comment"]


def _do_block(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type == "do_block":
            return child
    return None


def _keyword_pairs(node: Node) -> dict[str, Node]:
    """``do:``/``else:`` values of a keyword-form call (``if c, do: x, else: y``)."""
    out: dict[str, Node] = {}
    args = _args(node)
    if args and args[-1].type == "keywords":
        for pair in args[-1].named_children:
            if pair.type != "pair":
                continue
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is not None and value is not None:
                out[_text(key).strip().rstrip(":").strip()] = value
    return out


def _block_statements(block: Node) -> list[Node]:
    """Statements of a do_block/else_block/stab body, without comments and inner blocks."""
    return [
        c
        for c in block.named_children
        if c.type not in ("comment", "else_block", "after_block", "rescue_block", "catch_block")
    ]


def _block_items(block: Node) -> list[Node]:
    """Like _block_statements, but keeping comments (they move with the branch)."""
    return [
        c
        for c in block.named_children
        if c.type not in ("else_block", "after_block", "rescue_block", "catch_block")
    ]


def _value_statements(value: Node) -> list[Node]:
    if value.type == "block":
        return [c for c in value.named_children if c.type != "comment"]
    return [value]


@dataclass
class Branch:
    """One branch of a conditional: its statements (comments included) and, for case/cond, its head."""

    items: list[Node]
    head: Node | None = None  # the stab clause's left side (case pattern / cond condition)
    clause: Node | None = None

    @property
    def statements(self) -> list[Node]:
        return [n for n in self.items if n.type != "comment"]


def _conditional_parts(node: Node) -> tuple[str, Node | None, list[Branch]]:
    """(kind, condition or case subject, branches). For if/unless: [then, else]."""
    kind = _call_name(node) or ""
    args = _args(node)
    do_block = _do_block(node)
    subject = args[0] if args and args[0].type != "keywords" else None
    branches: list[Branch] = []
    if kind in ("if", "unless"):
        if do_block is not None:
            then_items = _block_items(do_block)
            else_items: list[Node] = []
            for child in do_block.named_children:
                if child.type == "else_block":
                    else_items = _block_items(child)
            branches = [Branch(then_items), Branch(else_items)]
        else:
            pairs = _keyword_pairs(node)
            then_v, else_v = pairs.get("do"), pairs.get("else")
            branches = [
                Branch(_value_statements(then_v) if then_v is not None else []),
                Branch(_value_statements(else_v) if else_v is not None else []),
            ]
    elif kind in ("case", "cond") and do_block is not None:
        for clause in do_block.named_children:
            if clause.type != "stab_clause":
                continue
            body = clause.child_by_field_name("right")
            items = _block_items(body) if body is not None else []
            branches.append(Branch(items, clause.child_by_field_name("left"), clause))
    return kind, subject, branches


# --------------------------------------------------------------------------- modules & aliases


def _split_alias(text: str) -> list[str]:
    return [p for p in re.sub(r"\s+", "", text).split(".") if p]


@dataclass
class Module:
    node: Node
    name: str | None  # full name; None when not a literal alias
    parent: "Module | None"
    auto_alias: tuple[str, str] | None  # (short, full) alias the nested defmodule sets up
    loaded: set[str] = field(default_factory=set)  # checked by an `if` around the defmodule
    # aliases computed once: asking the parent for them from each level again (twice per
    # level, by own_aliases and all_aliases) made nested modules cost 2**depth
    _inherited: dict[str, str] | None = field(default=None, repr=False, compare=False)
    _own: dict[int, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def body(self) -> Node | None:
        return _do_block(self.node)

    def statements(self) -> list[Node]:
        body = self.body
        return _block_statements(body) if body is not None else []

    def inherited_aliases(self) -> dict[str, str]:
        """The aliases in force where the module starts (its parents' own, outermost first)."""
        if self._inherited is None:
            self._inherited = self.parent.all_aliases(self.node.start_byte) if self.parent else {}
        return self._inherited

    def own_aliases(self, before: int) -> dict[str, str]:
        """Aliases the module's own body sets up before byte ``before`` (plus its own short name)."""
        got = self._own.get(before)
        if got is not None:
            return dict(got)
        out: dict[str, str] = {}
        if self.auto_alias:
            out[self.auto_alias[0]] = self.auto_alias[1]
        inherited = self.inherited_aliases()
        for stmt in self.statements():
            if stmt.start_byte >= before:
                break
            if _call_name(stmt) in ("alias", "defmodule"):
                _collect_alias(stmt, {**inherited, **out}, self, out)
        self._own[before] = out
        return dict(out)

    def all_aliases(self, before: int) -> dict[str, str]:
        return {**self.inherited_aliases(), **self.own_aliases(before)}


def _expand_alias(text: str, aliases: dict[str, str], module: Module | None) -> str | None:
    parts = _split_alias(text)
    if not parts:
        return None
    if parts[0] == "__MODULE__":
        if module is None or module.name is None:
            return None
        return ".".join([module.name, *parts[1:]])
    if parts[0] == "Elixir":
        return ".".join(parts[1:]) or None
    if parts[0] in aliases:
        return ".".join([aliases[parts[0]], *parts[1:]])
    return ".".join(parts)


def _module_ref(node: Node, aliases: dict[str, str], module: Module | None) -> str | None:
    """Full name of a module written as an alias or ``__MODULE__.X``; None otherwise."""
    if node.type == "alias":
        return _expand_alias(_text(node), aliases, module)
    if node.type == "identifier" and _text(node) == "__MODULE__":
        return module.name if module else None
    if node.type == "dot":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and right.type == "alias":
            base = _module_ref(left, aliases, module)
            return f"{base}.{_text(right)}" if base else None
    return None


def _collect_alias(stmt: Node, aliases: dict[str, str], module: Module, out: dict[str, str]) -> None:
    name = _call_name(stmt)
    if name == "alias":
        args = _args(stmt)
        if not args:
            return
        target = args[0]
        as_name = None
        if len(args) > 1 and args[1].type == "keywords":
            for pair in args[1].named_children:
                key = pair.child_by_field_name("key")
                value = pair.child_by_field_name("value")
                if key is not None and value is not None and _text(key).strip().startswith("as:"):
                    as_name = _text(value)
        if target.type == "dot" and (right := target.child_by_field_name("right")) is not None and right.type == "tuple":
            base = _module_ref(target.child_by_field_name("left"), aliases, module)
            if base:
                for item in right.named_children:
                    if item.type == "alias":
                        parts = _split_alias(_text(item))
                        out[parts[-1]] = f"{base}.{'.'.join(parts)}"
            return
        full = _module_ref(target, aliases, module)
        if full:
            out[as_name or full.split(".")[-1]] = full
    elif name == "defmodule":
        args = _args(stmt)
        if args and args[0].type == "alias":
            parts = _split_alias(_text(args[0]))
            if parts[0] not in aliases and module.name:
                out[parts[0]] = f"{module.name}.{parts[0]}"


def _make_module(node: Node, parent: Module | None) -> Module:
    args = _args(node)
    name_node = args[0] if args else None
    name = None
    auto = None
    if name_node is not None:
        if parent is None:
            name = _module_ref(name_node, {}, None) if name_node.type == "alias" else None
        else:
            aliases = parent.all_aliases(node.start_byte)
            if name_node.type == "alias":
                parts = _split_alias(_text(name_node))
                if parts[0] in aliases:
                    name = _expand_alias(_text(name_node), aliases, parent)
                elif parent.name:
                    name = f"{parent.name}.{'.'.join(parts)}"
                    auto = (parts[0], f"{parent.name}.{parts[0]}")
            else:
                name = _module_ref(name_node, aliases, parent)
    return Module(node, name, parent, auto)


# --------------------------------------------------------------------------- detection


@dataclass
class Directive:
    kind: str  # use | import | require
    module: str  # full name
    node: Node

    @property
    def line(self) -> int:
        return _line(self.node)


@dataclass
class Problem:
    """A body-level conditional whose branches use/import/require a module."""

    conditional: Node
    module: Module
    directives: list[Directive]
    tested: list[str] = field(default_factory=list)  # modules whose availability the conditions test

    @property
    def line(self) -> int:
        return _line(self.conditional)


def _scan(root: Node, query: Query | None = None) -> tuple[list[Module], list[Problem]]:
    """Modules and problems (in document order) of a parsed file.

    The query finds every defmodule, conditional and directive; the walk keeps those that sit at
    body level of a module, where the compiler expands them while it compiles the module body.
    """
    caps = captures(query or load_query(QUERY_NAME), root)
    module_ids = {n.id for n in caps.get("module", [])}
    conditional_ids = {n.id for n in caps.get("conditional", [])}
    directive_ids = {n.id for n in caps.get("directive", [])}

    def is_module(node: Node) -> bool:
        return node.id in module_ids

    def is_conditional(node: Node) -> bool:
        return node.id in conditional_ids

    modules: list[Module] = []
    problems: list[Problem] = []

    def walk_file(nodes: list[Node]) -> None:
        for node in nodes:
            if is_module(node):
                visit_module(node, None)
            elif is_conditional(node):
                for branch in _conditional_parts(node)[2]:
                    walk_file(branch.statements)
            elif _is_guard_call(node):
                walk_file(_guard_call_statements(node))
            elif node.type == "block":
                walk_file([c for c in node.named_children if c.type != "comment"])

    def visit_module(node: Node, parent: Module | None) -> None:
        module = _make_module(node, parent)
        module.loaded = _outer_guarantees(module)
        modules.append(module)
        for stmt in module.statements():
            visit_body(stmt, module)

    def visit_body(stmt: Node, module: Module) -> None:
        if is_module(stmt):
            visit_module(stmt, module)
            return
        if is_conditional(stmt):
            found: list[Directive] = []
            tested: list[str] = []
            collect(stmt, module, found, tested)
            if found:
                problems.append(Problem(stmt, module, found, tested))
            # modules defined inside branches are modules of their own
            for branch in _conditional_parts(stmt)[2]:
                for s in branch.statements:
                    visit_nested_modules(s, module)
        elif _is_guard_call(stmt):
            for s in _guard_call_statements(stmt):
                visit_nested_modules(s, module)
        elif stmt.type == "block":
            for c in stmt.named_children:
                if c.type != "comment":
                    visit_body(c, module)

    def visit_nested_modules(stmt: Node, module: Module) -> None:
        if is_module(stmt):
            visit_module(stmt, module)
        elif is_conditional(stmt):
            for branch in _conditional_parts(stmt)[2]:
                for s in branch.statements:
                    visit_nested_modules(s, module)
        elif _is_guard_call(stmt):
            for s in _guard_call_statements(stmt):
                visit_nested_modules(s, module)

    def collect(cond: Node, module: Module, found: list[Directive], tested: list[str]) -> None:
        kind, subject, branches = _conditional_parts(cond)
        aliases = module.all_aliases(cond.start_byte)
        heads = [subject] + [b.head for b in branches]
        for head in heads:
            if head is not None:
                tested.extend(_tested_modules(head, aliases, module))
        for branch in branches:
            for stmt in branch.statements:
                collect_stmt(stmt, module, aliases, found, tested)

    def collect_stmt(stmt, module, aliases, found, tested) -> None:
        name = _call_name(stmt)
        if stmt.id in directive_ids:
            args = _args(stmt)
            full = _module_ref(args[0], aliases, module) if args else None
            # a module that an `if` around the defmodule checks is loaded cannot be missing
            if full and not _is_stdlib(full) and full not in module.loaded:
                found.append(Directive(name, full, stmt))
        elif is_conditional(stmt):
            collect(stmt, module, found, tested)
        elif stmt.type == "block":
            for c in stmt.named_children:
                if c.type != "comment":
                    collect_stmt(c, module, aliases, found, tested)

    walk_file([c for c in root.named_children if c.type != "comment"])
    problems.sort(key=lambda p: p.conditional.start_byte)
    return modules, problems


def _is_guard_call(node: Node) -> bool:
    """``Helper.if_loaded Mod do ... end``: the guard form this rule writes."""
    remote = _remote(node) if node.type == "call" else None
    return bool(remote and remote[1] == GUARD_MACRO)


def _guard_call_statements(node: Node) -> list[Node]:
    out: list[Node] = []
    do_block = _do_block(node)
    if do_block is not None:
        out += _block_statements(do_block)
        for child in do_block.named_children:
            if child.type == "else_block":
                out += _block_statements(child)
    else:
        for value in _keyword_pairs(node).values():
            out += _value_statements(value)
    return out


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in STDLIB_NAMESPACES


def _availability_call(node: Node) -> tuple[tuple[str | None, str], Node | None] | None:
    """((receiver, fun), module argument) when ``node`` is an availability test."""
    if node.type != "call":
        return None
    remote = _remote(node)
    key = remote if remote else (None, _call_name(node) or "")
    if key not in AVAILABILITY_CALLS:
        return None
    args = _args(node)
    return key, (args[0] if args else None)


def _tested_modules(node: Node, aliases: dict[str, str], module: Module) -> list[str]:
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        hit = _availability_call(n)
        if hit and hit[1] is not None:
            full = _module_ref(hit[1], aliases, module)
            if full:
                out.append(full)
        stack.extend(n.named_children)
    return out


def find_problems(source: bytes) -> list[Problem]:
    """Every body-level conditional of ``source`` that guards a use/import/require."""
    return _scan(parse(source).root_node)[1]


def defined_modules(source: bytes) -> set[str]:
    """Names of the modules ``source`` defines (literal names only), nested ones in full."""
    return {m.name for m in _scan(parse(source).root_node)[0] if m.name}


# --------------------------------------------------------------------------- text helpers


class Text:
    """The original bytes of a file, split in lines, with the lines a re-indent must not touch."""

    def __init__(self, src: bytes, root: Node):
        self.src = src
        self.lines = src.split(b"\n")
        self.offsets = []
        pos = 0
        for line in self.lines:
            self.offsets.append(pos)
            pos += len(line) + 1
        self.protected: set[int] = set()
        stack = [root]
        while stack:
            n = stack.pop()
            if n.start_point[0] != n.end_point[0] and n.type in STRING_TYPES:
                start = n.child_by_field_name("quoted_start")
                heredoc = start is not None and _text(start) in ('"""', "'''")
                if not heredoc:
                    self.protected.update(range(n.start_point[0] + 1, n.end_point[0] + 1))
                continue
            if n.start_point[0] != n.end_point[0]:
                stack.extend(n.children)

    def row_of(self, offset: int) -> int:
        lo, hi = 0, len(self.offsets) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.offsets[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def indent(self, row: int) -> int:
        line = self.lines[row]
        return len(line) - len(line.lstrip(b" "))

    def starts_line(self, node: Node) -> bool:
        row = node.start_point[0]
        return self.src[self.offsets[row] : node.start_byte].strip() == b""

    def ends_line(self, offset: int) -> bool:
        row = self.row_of(offset)
        end = self.offsets[row] + len(self.lines[row])
        return self.src[offset:end].strip() == b""

    def rows(self, first: int, last: int) -> list[tuple[bytes, bool]]:
        return [(self.lines[r], r in self.protected) for r in range(first, last + 1)]


Lines = list[tuple[bytes, bool]]


def _shift(lines: Lines, delta: int) -> Lines:
    """Indent (delta > 0) or dedent every unprotected non-blank line."""
    out = []
    for text, protected in lines:
        if protected or not text.strip():
            out.append((text if protected else b"", protected))
        elif delta >= 0:
            out.append((b" " * delta + text, protected))
        else:
            strip = min(-delta, len(text) - len(text.lstrip(b" ")))
            out.append((text[strip:], protected))
    return out


def _join(lines: Lines) -> bytes:
    return b"\n".join(t for t, _ in lines)


def _blank(lines: Lines, index: int) -> bool:
    return bool(lines) and not lines[index][1] and not lines[index][0].strip()


# --------------------------------------------------------------------------- condition rewrite


def _rewrite_expr(node: Node, module: Module, text: Text, case_head: bool = False, depth: int = 0) -> str:
    """The expression's source, made to mean the same thing outside ``module``; raises Refusal."""
    if depth > 5:
        raise Refusal("the condition is defined through too many module attributes")
    own = module.own_aliases(node.start_byte)
    has_import = any(
        _call_name(s) == "import" for s in module.statements() if s.start_byte < node.start_byte
    )
    bound = _bound_names(node, case_head)
    edits: list[tuple[int, int, str]] = []

    def visit(n: Node) -> None:
        t = n.type
        if t == "alias":
            parts = _split_alias(_text(n))
            if parts and parts[0] in own:
                edits.append((n.start_byte, n.end_byte, _expand_alias(_text(n), own, module)))
            return
        if t == "unary_operator":
            op = n.child_by_field_name("operator")
            operand = n.child_by_field_name("operand")
            if op is not None and _text(op) == "@" and operand is not None:
                name = _text(operand) if operand.type == "identifier" else None
                if name is None:
                    raise Refusal(f"the condition sets a module attribute (`{_text(n)}`)")
                value = _attribute_value(module, name, n.start_byte)
                inner = _rewrite_expr(value, module, text, depth=depth + 1)
                if value.type in ("binary_operator", "unary_operator") and not _whole(n, node):
                    inner = f"({inner})"
                edits.append((n.start_byte, n.end_byte, inner))
                return
        if t == "identifier":
            name = _text(n)
            parent = n.parent
            if parent is not None and parent.type == "call" and parent.child_by_field_name("target") == n:
                pass
            elif parent is not None and parent.type == "dot" and parent.child_by_field_name("right") == n:
                return
            elif name == "__MODULE__":
                if _inside_module_call(n):
                    raise Refusal(
                        "the condition asks `Module` about the module being compiled "
                        "(`__MODULE__`), which does not exist yet outside its body"
                    )
                if module.name is None:
                    raise Refusal("the condition reads `__MODULE__` and the module name is not a literal")
                edits.append((n.start_byte, n.end_byte, module.name))
                return
            elif name in ("__ENV__", "__CALLER__", "__STACKTRACE__"):
                raise Refusal(f"the condition reads `{name}`, which differs outside the module")
            elif name in ("__DIR__",) or name.startswith("_") or name in bound:
                return
            else:
                value = _variable_value(module, name, n.start_byte)
                inner = _rewrite_expr(value, module, text, depth=depth + 1)
                if value.type in ("binary_operator", "unary_operator") and not _whole(n, node):
                    inner = f"({inner})"
                edits.append((n.start_byte, n.end_byte, inner))
                return
        if t == "call":
            name = _call_name(n)
            if name in ("unquote", "unquote_splicing", "quote"):
                raise Refusal(f"the condition uses `{name}`")
            if name is not None and name not in KERNEL_CALLS and has_import and name not in bound:
                raise Refusal(
                    f"the condition calls `{name}`, which may come from an `import` in the module body"
                )
        for child in n.named_children:
            visit(child)

    visit(node)
    src = text.src
    out = []
    pos = node.start_byte
    for start, end, new in sorted(edits):
        out.append(src[pos:start].decode("utf-8", "replace"))
        out.append(new)
        pos = end
    out.append(src[pos : node.end_byte].decode("utf-8", "replace"))
    return "".join(out)


def _whole(n: Node, root: Node) -> bool:
    return n.start_byte == root.start_byte and n.end_byte == root.end_byte


# Module functions that only compute names: the same outside the module being compiled.
PURE_MODULE_FUNCTIONS = frozenset({"concat", "safe_concat", "split"})


def _inside_module_call(n: Node) -> bool:
    """Whether ``n`` is an argument of a ``Module`` function that inspects a module being compiled."""
    p = n.parent
    while p is not None:
        if p.type == "call":
            remote = _remote(p)
            if remote and remote[0] == "Module" and remote[1] not in PURE_MODULE_FUNCTIONS:
                return True
        p = p.parent
    return False


def _bound_names(node: Node, case_head: bool) -> set[str]:
    """Variables the expression binds itself: fn/for clause arguments, or a case pattern."""
    names: set[str] = set()

    def idents(n: Node, skip_pin: bool) -> None:
        if n.type == "unary_operator":
            op = n.child_by_field_name("operator")
            if skip_pin and op is not None and _text(op) == "^":
                return
        if n.type == "identifier":
            names.add(_text(n))
        for c in n.named_children:
            idents(c, skip_pin)

    if case_head:
        target = node
        if node.type == "arguments":
            kids = node.named_children
            target = kids[0] if kids else node
        if target.type == "binary_operator":
            op = target.child_by_field_name("operator")
            if op is not None and _text(op) == "when":
                target = target.child_by_field_name("left")
        idents(target, skip_pin=True)
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "stab_clause":
            left = n.child_by_field_name("left")
            if left is not None:
                idents(left, skip_pin=True)
        if n.type == "binary_operator":
            op = n.child_by_field_name("operator")
            if op is not None and _text(op) == "<-":
                idents(n.child_by_field_name("left"), skip_pin=True)
        stack.extend(n.named_children)
    return names


def _body_assignments(module: Module, before: int, attribute: str | None, variable: str | None) -> list[Node]:
    """Values assigned at body level (unconditionally) to an attribute or a variable before ``before``."""
    values = []
    for stmt in module.statements():
        if stmt.start_byte >= before:
            break
        if attribute and stmt.type == "unary_operator":
            operand = stmt.child_by_field_name("operand")
            if operand is not None and _call_name(operand) == attribute:
                args = _args(operand)
                if len(args) == 1:
                    values.append(args[0])
        if variable and stmt.type == "binary_operator":
            op = stmt.child_by_field_name("operator")
            left = stmt.child_by_field_name("left")
            if op is not None and _text(op) == "=" and left is not None and left.type == "identifier" and _text(left) == variable:
                values.append(stmt.child_by_field_name("right"))
    return values


def _attribute_value(module: Module, name: str, before: int) -> Node:
    body = module.body
    body_text = _text(body) if body is not None else ""
    if re.search(r"Module\.(put_attribute|register_attribute|delete_attribute)\([^)]*:" + re.escape(name) + r"\b", body_text):
        raise Refusal(f"the condition reads `@{name}`, which the module changes through `Module`")
    values = _body_assignments(module, before, name, None)
    if len(values) != 1:
        where = "is never set" if not values else "is set more than once"
        raise Refusal(
            f"the condition reads the module attribute `@{name}`, which {where} at body level "
            "before the condition, so it has no single value to write outside the module"
        )
    return values[0]


def _variable_value(module: Module, name: str, before: int) -> Node:
    values = _body_assignments(module, before, None, name)
    if len(values) != 1:
        raise Refusal(
            f"the condition reads `{name}`, which is not bound exactly once by `{name} = ...` "
            "at body level before the condition, so it means nothing outside the module"
        )
    return values[0]


def _dedent_continuation(text: str, delta: int) -> str:
    """Shift the 2nd+ lines of a (one-statement) text left by delta columns."""
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if delta >= 0:
            out.append(line[min(delta, len(line) - len(line.lstrip(" "))) :])
        else:
            out.append(" " * (-delta) + line if line.strip() else line)
    return "\n".join(out)


# --------------------------------------------------------------------------- hoist


def _branch_lines(branch: Branch, column: int, text: Text) -> Lines:
    """A branch's lines, re-indented so its statements start at ``column``."""
    items = branch.items
    if len(branch.statements) == 1 and branch.statements[0].type == "nil" and len(items) == 1:
        return []
    if not items:
        return []
    first, last = items[0], items[-1]
    if text.starts_line(first) and text.ends_line(last.end_byte):
        r0, r1 = first.start_point[0], last.end_point[0]
        return _shift(text.rows(r0, r1), column - text.indent(r0))
    # inline (``do: x`` or ``pattern -> x``): the text of the statements
    src = text.src[first.start_byte : last.end_byte].decode("utf-8", "replace")
    raw = src.split("\n")
    r0 = first.start_point[0]
    out: Lines = [(b" " * column + raw[0].encode(), False)]
    rest = [(line.encode(), (r0 + i + 1) in text.protected) for i, line in enumerate(raw[1:])]
    if rest:
        indents = [len(t) - len(t.lstrip(b" ")) for t, p in rest if not p and t.strip()]
        base = min(indents) if indents else column + 2
        rest = _shift(rest, column + 2 - base)
    return out + rest


def _module_layout(module: Module, text: Text):
    node = module.node
    body = module.body
    if body is None:
        raise Refusal("the module is written `defmodule M, do: ...`; run `mix format` style do/end first")
    if not text.starts_line(node):
        raise Refusal("`defmodule` does not start its line")
    do_tok = body.children[0] if body.children and body.children[0].type == "do" else None
    end_tok = body.children[-1] if body.children and body.children[-1].type == "end" else None
    if do_tok is None or end_tok is None:
        raise Refusal("the module's do/end block is not complete")
    do_row = do_tok.start_point[0]
    rest = text.src[do_tok.end_byte : text.offsets[do_row] + len(text.lines[do_row])].strip()
    if rest and not rest.startswith(b"#"):
        raise Refusal("code follows `do` on the `defmodule` line")
    if not text.starts_line(end_tok):
        raise Refusal("the module's `end` does not start its line")
    return node.start_point[0], do_row, end_tok.start_point[0], end_tok


def _module_copy(module: Module, problem: Node, branch: Lines, text: Text) -> Lines:
    """The whole defmodule (rows) with the conditional replaced by the branch's lines."""
    first_row, do_row, end_row, end_tok = _module_layout(module, text)
    c0, c1 = problem.start_point[0], problem.end_point[0]
    before = text.rows(do_row + 1, c0 - 1)
    after = text.rows(c1 + 1, end_row - 1)
    if not branch:
        if before and _blank(before, -1) and (not after or _blank(after, 0)):
            before = before[:-1]
        elif not before and after and _blank(after, 0):
            after = after[1:]
    header = text.rows(first_row, do_row)
    end_line = text.src[text.offsets[end_row] : end_tok.end_byte]
    return header + before + branch + after + [(end_line, False)]


def _nested_alias_line(module: Module, text: Text) -> str | None:
    """``alias Parent.Child`` to restore the alias a nested defmodule gives the code after it.

    Inside the hoisted ``if`` that alias only reaches the end of the branch, so it is written
    again after the ``if`` when a later statement of the same block uses the short name.
    """
    if module.parent is None or module.auto_alias is None:
        return None
    short, full = module.auto_alias
    sibling = module.node.next_named_sibling
    while sibling is not None:
        stack = [sibling]
        while stack:
            n = stack.pop()
            if n.type == "alias" and _split_alias(_text(n))[0] == short:
                return f"alias {full}"
            stack.extend(n.named_children)
        sibling = sibling.next_named_sibling
    return None


def _hoist_once(src: bytes, problem: Problem) -> bytes:
    """Hoist one conditional above its module's defmodule; raises Refusal."""
    tree = parse(src)
    text = Text(src, tree.root_node)
    module = problem.module
    cond = problem.conditional
    if not text.starts_line(cond) or not text.ends_line(cond.end_byte):
        raise Refusal("the conditional shares its lines with other code; run `mix format` first")
    kind, subject, branches = _conditional_parts(cond)
    dcol = module.node.start_point[1]
    ccol = cond.start_point[1]
    shift = ccol - dcol
    ind = b" " * dcol
    alias_line = _nested_alias_line(module, text)

    def copy(branch: Branch, extra: int) -> bytes:
        lines = _module_copy(module, cond, _branch_lines(branch, ccol, text), text)
        return _join(_shift(lines, extra))

    if kind in ("if", "unless"):
        if subject is None:
            raise Refusal(f"the `{kind}` has no condition")
        condition = _dedent_continuation(_rewrite_expr(subject, module, text), shift).encode()
        then_b, else_b = branches
        if kind == "unless":
            then_b, else_b = else_b, then_b
        out = (
            b"if " + condition + b" do\n" + copy(then_b, 2) + b"\n" + ind + b"else\n"
            + copy(else_b, 2) + b"\n" + ind + b"end"
        )
    elif kind in ("case", "cond"):
        if not branches:
            raise Refusal(f"the `{kind}` has no clauses")
        parts = []
        if kind == "case":
            if subject is None:
                raise Refusal("the `case` has no subject")
            head = b"case " + _dedent_continuation(_rewrite_expr(subject, module, text), shift).encode() + b" do\n"
        else:
            head = b"cond do\n"
        parts.append(head)
        for i, branch in enumerate(branches):
            clause_head = _rewrite_expr(branch.head, module, text, case_head=(kind == "case"))
            clause_head = _dedent_continuation(clause_head, shift)
            if i:
                parts.append(b"\n")  # mix format separates multi-line clauses by a blank line
            parts.append(ind + b"  " + clause_head.encode() + b" ->\n" + copy(branch, 4) + b"\n")
        parts.append(ind + b"end")
        out = b"".join(parts)
    else:
        raise Refusal(f"`{kind}` is not a conditional the rule can hoist")
    if alias_line:
        out += b"\n\n" + ind + alias_line.encode()
    return src[: module.node.start_byte] + out + src[module.node.end_byte :]


# --------------------------------------------------------------------------- guard


def _guard_targets(cond: Node, module: Module, helper: str) -> list[tuple[Node, Node]]:
    """(conditional, module argument) pairs to turn into ``if_loaded``; raises Refusal."""
    kind, subject, branches = _conditional_parts(cond)
    if kind == "if" and subject is not None:
        hit = _availability_call(_unparen(subject))
        if hit and hit[0] in GUARDABLE_CALLS and hit[1] is not None and hit[1].type == "alias":
            return [(cond, hit[1])]
    aliases = module.all_aliases(cond.start_byte)
    targets: list[tuple[Node, Node]] = []

    def visit(stmt: Node) -> None:
        name = _call_name(stmt)
        if name in DIRECTIVES:
            args = _args(stmt)
            full = _module_ref(args[0], aliases, module) if args else None
            if full and not _is_stdlib(full) and full != helper:
                raise Refusal(
                    f"the guard form needs `if Code.ensure_loaded?(Mod) do` around `{name} {full}`; "
                    f"`{_text(cond).splitlines()[0].strip()}` tests something else"
                )
        elif name in CONDITIONALS:
            targets.extend(_guard_targets(stmt, module, helper))
        elif stmt.type == "block":
            for c in stmt.named_children:
                visit(c)

    for branch in branches:
        for stmt in branch.statements:
            visit(stmt)
    return targets


def _unparen(node: Node) -> Node:
    while node.type == "block" and len(node.named_children) == 1:
        node = node.named_children[0]
    return node


def _guard_once(src: bytes, problem: Problem, helper: str, with_else: bool = True) -> bytes:
    tree = parse(src)
    text = Text(src, tree.root_node)
    module = problem.module
    targets = _guard_targets(problem.conditional, module, helper)
    if not with_else:
        for cond, _arg in targets:
            if _conditional_parts(cond)[2][1].items:
                raise Refusal(
                    f"{helper}.{GUARD_MACRO} has no `else:` clause, and the `if` at line "
                    f"{_line(cond)} has an else branch"
                )
    edits: list[Edit] = []
    for cond, mod_arg in targets:
        subject = _args(cond)[0]
        args_node = _arguments_node(cond)
        call = f"{helper}.{GUARD_MACRO}({_text(mod_arg)}".encode()
        parens = args_node is not None and args_node.children and args_node.children[0].type == "("
        if _do_block(cond) is not None:
            # mix format writes a remote call with a do-block without parentheses
            end = args_node.end_byte if parens else subject.end_byte
            edits.append(Edit(cond.start_byte, end, f"{helper}.{GUARD_MACRO} {_text(mod_arg)}".encode()))
        else:
            edits.append(Edit(cond.start_byte, subject.end_byte, call))
            if not parens:
                edits.append(Edit(cond.end_byte, cond.end_byte, b")"))
    # `require Helper` once, at body level, before the statement holding the conditional
    top = problem.conditional
    body = module.body
    while top.parent is not None and top.parent != body:
        top = top.parent
    already = any(
        _call_name(s) == "require" and _args(s) and _text(_args(s)[0]) == helper
        for s in module.statements()
        if s.start_byte < top.start_byte
    )
    if not already:
        if not text.starts_line(top):
            raise Refusal("the conditional shares its line with other code; run `mix format` first")
        col = top.start_point[1]
        edits.append(Edit(top.start_byte, top.start_byte, f"require {helper}\n\n".encode() + b" " * col))
    return apply_edits(src, edits)


def guard_helper_source(name: str) -> bytes:
    """The guard helper module: expands a block only when a module can be loaded."""
    return f'''defmodule {name} do
  @moduledoc false

  # Expands the block only when the module can be loaded at compile time, so the macros in
  # it (use, import, require) are never expanded without it. Unlike `if` in a module body,
  # the branch that is not taken is never expanded.

  @doc false
  defmacro {GUARD_MACRO}(module, do: block) do
    expand_if_loaded(module, block, nil, __CALLER__)
  end

  defmacro {GUARD_MACRO}(module, do: block, else: other) do
    expand_if_loaded(module, block, other, __CALLER__)
  end

  defp expand_if_loaded(module, block, other, caller) do
    if Code.ensure_loaded?(Macro.expand(module, caller)), do: block, else: other
  end
end
'''.encode()


# --------------------------------------------------------------------------- fixing one root module


def _root_of(module: Module) -> Module:
    while module.parent is not None:
        module = module.parent
    return module


def _problems_in(src: bytes, start: int, end: int) -> list[Problem]:
    problems = _scan(parse(src).root_node)[1]
    return [p for p in problems if start <= p.conditional.start_byte and p.conditional.end_byte <= end]


def _fixpoint(src: bytes, start: int, end: int, step, limit: int = 64) -> bytes:
    """Apply ``step`` to the first problem inside [start, end) until none is left."""
    suffix = len(src) - end
    for _ in range(limit):
        problems = _problems_in(src, start, len(src) - suffix)
        if not problems:
            return src
        src = step(src, problems[0])
    raise Refusal("the rewrite does not settle")


def hoist_source(src: bytes, start: int, end: int) -> bytes:
    """Hoist every conditional in [start, end) of ``src``; raises Refusal."""
    for module, count in _blocks_per_module(src, start, end).items():
        if count > MAX_HOISTED_BLOCKS:
            raise Refusal(
                f"module {module} has {count} conditional blocks; hoisting them all would write "
                f"{2 ** count} copies of it"
            )
    return _fixpoint(src, start, end, _hoist_once)


def guard_source(src: bytes, start: int, end: int, helper: str, with_else: bool = True) -> bytes:
    """Wrap every conditional in [start, end) in ``helper.if_loaded``; raises Refusal.

    ``with_else=False`` when the helper only has ``if_loaded(mod, do: block)``.
    """
    return _fixpoint(src, start, end, lambda s, p: _guard_once(s, p, helper, with_else))


def _blocks_per_module(src: bytes, start: int, end: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in _problems_in(src, start, end):
        key = p.module.name or f"at line {_line(p.module.node)}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _line_edits(before: bytes, after: bytes) -> list[Edit]:
    """Edits of whole lines that turn ``before`` into ``after`` (one per changed run of lines)."""
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    offsets = [0]
    for line in a:
        offsets.append(offsets[-1] + len(line))
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    edits = [
        Edit(offsets[i1], offsets[i2], b"".join(b[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    if apply_edits(before, edits) != after:  # never expected; one edit is always right
        return [_minimal_edit(before, after)]
    return edits


def _minimal_edit(before: bytes, after: bytes) -> Edit:
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix
        and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]
    ):
        suffix += 1
    # keep edits on whole lines so a diff reads naturally
    start = before.rfind(b"\n", 0, prefix) + 1
    end_b = len(before) - suffix
    end_a = len(after) - suffix
    nl = before.find(b"\n", end_b)
    extend = (nl if nl != -1 else len(before)) - end_b
    return Edit(start, end_b + extend, after[start : end_a + extend])


# --------------------------------------------------------------------------- project facts (seams)


def _camelize(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _project_root(ctx: RuleContext) -> Path | None:
    root = getattr(ctx.project, "root", None)
    return Path(root) if root else None


def _project_modules(ctx: RuleContext) -> set[str]:
    """Modules defined in the project: from the analysis when there, else from the sources."""
    module_file = getattr(ctx.analysis, "module_file", None)
    if module_file:
        return set(module_file)
    out: set[str] = set()
    for path, data in ctx.sources.items():
        if path.endswith((".ex", ".exs")) and Path(path).name != "mix.exs":
            out |= defined_modules(data)
    return out


_DEFMODULE_RE = re.compile(rb"^\s*defmodule\s+([A-Z][A-Za-z0-9_.]*)\s+do\b", re.M)
_DEP_RE = re.compile(r"\{\s*:([a-z_][a-z0-9_]*)\s*,([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", re.S)


def _deps(ctx: RuleContext) -> dict[str, dict]:
    """Dependencies of the project: name -> {"optional": bool, ...}."""
    deps = getattr(ctx.project, "deps", None)
    if isinstance(deps, dict) and deps:
        out = {}
        for name, dep in deps.items():  # refactor.project.Dep, or a plain dict
            optional = dep.get("optional") if isinstance(dep, dict) else getattr(dep, "optional", False)
            only = dep.get("only", []) if isinstance(dep, dict) else getattr(dep, "only", [])
            out[str(name).lstrip(":")] = {"optional": bool(optional), "only": list(only)}
        return out
    root = _project_root(ctx)
    mix_exs = ctx.sources.get("mix.exs")
    if mix_exs is None and root is not None and (root / "mix.exs").is_file():
        mix_exs = (root / "mix.exs").read_bytes()
    if not mix_exs:
        return {}
    text = mix_exs.decode("utf-8", "replace")
    out = {}
    for m in _DEP_RE.finditer(text):
        only = re.search(r"\bonly:\s*(\[[^\]]*\]|:\w+)", m.group(2))
        out[m.group(1)] = {"optional": bool(re.search(r"\boptional:\s*true\b", m.group(2))),
                           "only": re.findall(r":(\w+)", only.group(1)) if only else []}
    return out


def _dep_modules(ctx: RuleContext) -> dict[str, str]:
    """Modules defined in deps/ (module -> dep name), from the top-level defmodules of each dep."""
    deps_dir = getattr(ctx.project, "deps_dir", None)
    if deps_dir is None:
        root = _project_root(ctx)
        deps_dir = root / "deps" if root else None
    out: dict[str, str] = {}
    if deps_dir is None or not Path(deps_dir).is_dir():
        return out
    for dep in sorted(Path(deps_dir).iterdir()):
        if not dep.is_dir():
            continue
        for f in dep.glob("lib/**/*.ex"):
            try:
                for m in _DEFMODULE_RE.finditer(f.read_bytes()):
                    out.setdefault(m.group(1).decode(), dep.name)
            except OSError:
                continue
    return out


@dataclass
class Facts:
    project_modules: set[str]
    deps: dict[str, dict]
    dep_modules: dict[str, str]

    def dep_of(self, module: str) -> str | None:
        if module in self.dep_modules:
            return self.dep_modules[module]
        top = module.split(".")[0]
        for name in self.deps:
            if _camelize(name) == top:
                return name
        return None

    def defined(self, module: str) -> bool:
        return module in self.project_modules or module in self.dep_modules


def _facts(ctx: RuleContext) -> Facts:
    return Facts(_project_modules(ctx), _deps(ctx), _dep_modules(ctx))


def _positive_tests(node: Node, aliases: dict[str, str], module: Module | None) -> set[str]:
    """Modules a condition makes sure are loaded when it is true (``a and b`` included)."""
    node = _unparen(node)
    hit = _availability_call(node)
    if hit and hit[0] in GUARDABLE_CALLS | {("Code", "ensure_compiled!")} and hit[1] is not None:
        full = _module_ref(hit[1], aliases, module)
        return {full} if full else set()
    if node.type == "binary_operator":
        op = node.child_by_field_name("operator")
        if op is not None and _text(op) in ("and", "&&"):
            return _positive_tests(node.child_by_field_name("left"), aliases, module) | _positive_tests(
                node.child_by_field_name("right"), aliases, module
            )
    return set()


def _outer_guarantees(module: Module) -> set[str]:
    """Modules that an ``if`` around the defmodule (outside it) already checks are loaded:
    those of the parent module (computed first), and those the ``if``s between the two
    check, so each level walks only its own part of the tree (not up to the root again)."""
    parent = module.parent
    out: set[str] = set(parent.loaded) if parent is not None else set()
    stop = parent.node.id if parent is not None else None
    prev, node = module.node, module.node.parent
    while node is not None and node.id != stop:
        if node.type == "do_block" and prev.type != "else_block" and _call_name(node.parent) == "if":
            args = _args(node.parent)
            if args:
                outer = module.parent
                aliases = outer.all_aliases(node.parent.start_byte) if outer else {}
                out |= _positive_tests(args[0], aliases, outer)
        prev, node = node, node.parent
    return out


def _severity(problem: Problem, facts: Facts) -> tuple[str, str, Directive]:
    """(severity, why, the directive the explanation is about); severity "none" when every
    build has the module (nothing to report)."""
    if problem.tested:
        return (
            "error",
            f"the condition tests whether {problem.tested[0]} is available, so it is expected to be missing",
            problem.directives[0],
        )
    for d in problem.directives:
        dep = facts.dep_of(d.module)
        if dep and facts.deps.get(dep, {}).get("optional"):
            return "error", f"{d.module} comes from :{dep}, an optional dependency in mix.exs", d
    for d in problem.directives:
        if d.module not in facts.project_modules and not facts.dep_of(d.module):
            return "error", f"{d.module} is defined neither in the project nor in its dependencies", d
    for d in problem.directives:
        dep = facts.dep_of(d.module)
        only = facts.deps.get(dep, {}).get("only") if dep else None
        if only:
            return (
                "warning",
                f"{d.module} comes from :{dep}, which mix.exs fetches only for "
                f"{', '.join(':' + e for e in only)}, so a build in another environment lacks it",
                d,
            )
    # the module is always there (the project's own, or a dependency every build fetches):
    # the branch cannot fail for want of it
    return "none", "", problem.directives[0]


# --------------------------------------------------------------------------- the rule


class HoistConditionalUse(Rule):
    """A body-level `if` cannot protect `use`, `import` or `require`.

    ## What it does
    Finds `if`, `unless`, `case` and `cond` in the body of a `defmodule` (at any depth of
    body-level nesting) whose branches `use`, `import` or `require` a module, and moves the
    condition above `defmodule`, with one complete module per branch; or, for a large module,
    wraps the block in a tiny guard macro that expands it only when the module can be loaded.

    ## Why is this bad?
    Elixir expands the macros of both branches while it compiles the module body, whether the
    branch is taken or not. `use Mod`, `import Mod` and `require Mod` need `Mod` loaded, so
    without it the file fails with "module Mod is not loaded and could not be found", even
    under `if Code.ensure_loaded?(Mod)`. A library with an optional dependency then breaks
    every user who does not have it (evision 0.1.14 and `:kino`).

    ## Example
    ```elixir
    defmodule MyLib.Cell do
      if Code.ensure_loaded?(Kino.SmartCell) do
        use Kino.JS, assets_path: "lib/assets"
        def available?, do: true
      else
        def available?, do: false
      end
    end
    ```
    becomes
    ```elixir
    if Code.ensure_loaded?(Kino.SmartCell) do
      defmodule MyLib.Cell do
        use Kino.JS, assets_path: "lib/assets"
        def available?, do: true
      end
    else
      defmodule MyLib.Cell do
        def available?, do: false
      end
    end
    ```
    or, with the guard form (`--strategy guard`, or `auto` when hoisting would duplicate
    many lines):
    ```elixir
    defmodule MyLib.Cell do
      require MyLib.Optional

      MyLib.Optional.if_loaded Kino.SmartCell do
        use Kino.JS, assets_path: "lib/assets"
        def available?, do: true
      else
        def available?, do: false
      end
    end
    ```
    where `MyLib.Optional` (added once per project, in `lib/my_lib/optional.ex`, unless the
    project names its own with the `guard_module` option) defines `defmacro if_loaded(mod, do: block)`.
    Options: `strategy` (`hoist`, `guard` or `auto`, the default), `hoist_max_lines` (what
    `auto` accepts to duplicate, default 40), `guard_module` and `guard_path`.

    ## Fix safety
    Safe. The hoisted condition is the original one, with the module's own aliases written in
    full, `__MODULE__` replaced by the module name, and module attributes or body variables
    replaced by the single value they were given; when that cannot be done (the attribute is
    set twice, the condition asks `Module` about the module being compiled, ...) the rule
    reports the problem and refuses to rewrite it. Everything outside the rewritten module is
    kept byte for byte; a `unless` hoists as an `if` with its branches swapped. The guard form
    applies only to `if Code.ensure_loaded?(Mod)`, which its macro reproduces exactly.

    The rule reports but does not rewrite (and says why) when:
    - the condition reads a module attribute that is not set exactly once, unconditionally,
      at body level before it, or that the module changes through `Module.put_attribute/3`,
      `Module.register_attribute/3` or `Module.delete_attribute/2`;
    - the condition reads a variable not bound exactly once by `name = ...` at body level
      before it;
    - the condition asks `Module` about the module being compiled (`Module.get_attribute(
      __MODULE__, ...)` and the like; `Module.concat/2` is fine), reads `__MODULE__` of a module
      whose name is not a literal alias, reads `__ENV__`/`__CALLER__`, or uses `unquote`;
    - the condition calls a local function that is not Kernel's while the module imports
      something before it;
    - the layout is not one statement per line (code after `do` on the `defmodule` line,
      a conditional sharing its lines with other code, `defmodule M, do: ...`);
    - hoisting: a module has more than 3 such blocks (2**k copies); `auto` then guards;
    - guard form: a `use`/`import`/`require` is not under `if Code.ensure_loaded?(Mod)`
      (`unless`, `Mix.env()`, `Application.compile_env`, `function_exported?` ...); `auto` then
      hoists.
    """

    id = RULE_ID
    summary = "use/import/require inside a body-level if: hoist the condition above defmodule"
    safe = True
    for_gain = False  # it repairs a build without the module, whatever the recompiles
    # what a project's .exfix.exs may set for this rule (see refactor/config.py)
    config_options = {"strategy": tuple(STRATEGIES), "hoist_max_lines": int, "guard_module": str,
                      "guard_path": str}
    _helper_has_else = True

    # ---- options

    def _strategy(self, ctx: RuleContext) -> str:
        strategy = str(ctx.options.get("strategy") or "auto")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (hoist, guard or auto)")
        return strategy

    def _helper(self, ctx: RuleContext, root_module: str | None, facts: Facts) -> tuple[str, str | None, bool]:
        """(helper module, path of a file to create or None, created?)."""
        name = ctx.options.get("guard_module")
        existing = _find_helper(ctx.sources, name)
        self._helper_has_else = True
        if existing:
            data = ctx.sources[existing[1]]
            self._helper_has_else = re.search(rb"defmacro\s+" + GUARD_MACRO.encode() + rb"\b[^\n]*else:", data) is not None
            return existing[0], existing[1], False
        if name:
            path = ctx.options.get("guard_path") or _default_helper_path(name, _helper_folder(ctx))
            return name, path, True
        app = _app_name(ctx)
        base = _camelize(app) if app else (root_module or "App").split(".")[0]
        name = f"{base}.Optional"
        taken = facts.project_modules
        if name in taken:
            name = f"{base}.OptionalGuard"
        return name, _default_helper_path(name, _helper_folder(ctx)), True

    # ---- check

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        strategy = self._strategy(ctx)
        limit = int(ctx.options.get("hoist_max_lines", DEFAULT_HOIST_MAX_LINES))
        facts: Facts | None = None
        out: list[Diagnostic] = []
        for path in sorted(ctx.sources):
            if not path.endswith((".ex", ".exs")) or Path(path).name == "mix.exs":
                continue
            src = ctx.sources[path]
            if b"defmodule" not in src:
                continue
            tree = ctx.tree(path)
            if first_error(tree) is not None:
                continue
            _modules, problems = _scan(tree.root_node)
            if not problems:
                continue
            facts = facts or _facts(ctx)
            helper_name, helper_path, helper_new = self._helper(ctx, None, facts)
            problems = [p for p in problems if all(d.module != helper_name for d in p.directives)]
            by_root: dict[int, list[Problem]] = {}
            roots: dict[int, Module] = {}
            for p in problems:
                root = _root_of(p.module)
                by_root.setdefault(root.node.id, []).append(p)
                roots[root.node.id] = root
            for key, group in by_root.items():
                root = roots[key]
                if all(_severity(p, facts)[0] == "none" for p in group):
                    continue  # every build has the modules: the branch cannot fail for want of them
                out.append(
                    self._diagnose(ctx, path, src, root, group, facts, strategy, limit)
                )
        return out

    def _diagnose(self, ctx, path, src, root: Module, group: list[Problem], facts: Facts,
                  strategy: str, limit: int) -> Diagnostic:
        first = group[0]
        severities = [s for s in (_severity(p, facts) for p in group) if s[0] != "none"]
        severity = "error" if any(s[0] == "error" for s in severities) else "warning"
        sev, why, d = severities[0]
        kind, subject, _ = _conditional_parts(first.conditional)
        cond_head = kind if subject is None else f"{kind} {_text(subject)}"
        if "\n" in cond_head:
            cond_head = cond_head.split("\n")[0] + " ..."
        module_name = first.module.name or "this module"
        message = (
            f"`{d.kind} {d.module}` (line {d.line}) inside `{cond_head}` in the body of {module_name} "
            f"fails to compile when {d.module} is missing, since Elixir expands use/import/require "
            f"in every branch, taken or not"
        )
        msg = [
            f"The compiler stops with \"module {d.module} is not loaded and could not be found\": "
            f"the condition cannot protect it. Here {why}."
        ]
        for p in group[1:]:
            for other in p.directives[:1]:
                msg.append(
                    f"Also `{other.kind} {other.module}` at {path}:{other.line} "
                    f"(in {p.module.name or 'a module'}, under the condition at line {p.line})."
                )
        start, end = root.node.start_byte, root.node.end_byte
        helper_name, helper_path, helper_new = self._helper(ctx, root.name, facts)
        fix, note = self._fix(src, start, end, strategy, limit, helper_name, helper_path, helper_new)
        msg.append(note)
        return Diagnostic(RULE_ID, path, first.line, severity, message, fix, detail=" ".join(msg))

    def _fix(self, src, start, end, strategy, limit, helper_name, helper_path, helper_new):
        hoisted = guarded = None
        hoist_reason = guard_reason = None
        if strategy in ("hoist", "auto"):
            try:
                hoisted = hoist_source(src, start, end)
            except Refusal as exc:
                hoist_reason = str(exc)
        if strategy in ("guard", "auto") and helper_new and not helper_path:
            guard_reason = "no folder of elixirc_paths inside the project can hold the guard helper"
        elif strategy in ("guard", "auto"):
            try:
                guarded = guard_source(src, start, end, helper_name, self._helper_has_else)
            except Refusal as exc:
                guard_reason = str(exc)
        added = (hoisted.count(b"\n") - src.count(b"\n")) if hoisted is not None else None

        def make(result: bytes, guard: bool) -> Fix:
            fix = Fix(_line_edits(src, result) if guard else [_minimal_edit(src, result)])
            if guard and helper_new and helper_path:
                fix.new_files[helper_path] = guard_helper_source(helper_name)
            return fix

        if strategy == "hoist":
            if hoisted is None:
                return None, f"No fix: the condition cannot be hoisted: {hoist_reason}."
            return make(hoisted, False), f"Fix: hoist the condition above defmodule (adds {added} lines)."
        if strategy == "guard":
            if guarded is None:
                return None, f"No fix: {guard_reason}."
            return make(guarded, True), self._guard_note(helper_name, helper_path, helper_new, "")
        # auto
        if hoisted is not None and (added <= limit or guarded is None):
            why = (
                f"it duplicates only {added} lines, within the limit of {limit}"
                if added <= limit
                else f"it adds {added} lines, over the limit of {limit}, but the guard form does "
                f"not apply: {guard_reason}"
            )
            return make(hoisted, False), (
                f"Fix: hoist the condition above defmodule (strategy auto chose hoisting: {why})."
            )
        if guarded is not None:
            why = (
                f"hoisting would duplicate {added} lines, over the limit of {limit}"
                if hoisted is not None
                else f"the condition cannot be hoisted: {hoist_reason}"
            )
            return make(guarded, True), self._guard_note(
                helper_name, helper_path, helper_new, f" (strategy auto chose the guard form: {why})"
            )
        return None, (
            f"No fix: the condition cannot be hoisted ({hoist_reason}) and the guard form does not "
            f"apply ({guard_reason})."
        )

    @staticmethod
    def _guard_note(helper_name, helper_path, helper_new, why: str) -> str:
        where = f"added in {helper_path}" if helper_new else f"defined in {helper_path}"
        return (
            f"Fix: expand the block through {helper_name}.{GUARD_MACRO}/2 ({where}), which leaves "
            f"it unexpanded when the module cannot be loaded{why}."
        )

    # ---- verify

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        reasons: list[str] = []
        before = ctx.sources.get(diagnostic.file)
        after = patched.sources.get(diagnostic.file)
        if before is None or after is None:
            return [f"{diagnostic.file} is missing from the patched project"]
        tree = patched.tree(diagnostic.file)
        err = first_error(tree)
        if err is not None:
            return [f"the patched {diagnostic.file} does not parse (line {err.start_point[0] + 1})"]
        modules_after, problems_after = _scan(tree.root_node)
        named_after = {m.name for m in modules_after if m.name}
        named_before = {m.name for m in _scan(ctx.tree(diagnostic.file).root_node)[0] if m.name}
        if named_before != named_after:
            reasons.append(
                f"the patched {diagnostic.file} defines {sorted(named_after)} "
                f"instead of {sorted(named_before)}"
            )
        guard_names = set()
        if diagnostic.fix is not None:
            for rel, data in diagnostic.fix.new_files.items():
                data = patched.sources.get(rel, data)
                names = defined_modules(data)
                guard_names |= names
                reasons.extend(_verify_helper(rel, data, names, _project_modules(ctx)))
        existing = _find_helper(patched.sources, None)
        if existing:
            guard_names.add(existing[0])
        left = [
            p for p in problems_after
            if not all(d.module in guard_names for d in p.directives)
        ]
        for p in left:
            d = p.directives[0]
            reasons.append(
                f"the patched {diagnostic.file} still has `{d.kind} {d.module}` under a body-level "
                f"condition (line {d.line})"
            )
        return reasons


def _verify_helper(rel: str, data: bytes, names: set[str], project: set[str]) -> list[str]:
    tree = parse(data)
    if first_error(tree) is not None:
        return [f"the guard helper {rel} does not parse"]
    if len(names) != 1:
        return [f"the guard helper {rel} should define one module, not {sorted(names)}"]
    reasons = []
    stack = [tree.root_node]
    refs = set()
    while stack:
        n = stack.pop()
        if n.type == "alias":
            refs.add(_text(n))
        stack.extend(n.named_children)
    for ref in sorted(refs - names):
        if not _is_stdlib(ref) or ref in project:
            reasons.append(f"the guard helper {rel} refers to {ref}; it must depend on nothing in the project")
    return reasons


def _find_helper(sources: dict[str, bytes], name: str | None) -> tuple[str, str] | None:
    """(module, path) of a project module that defines ``defmacro if_loaded``."""
    for path in sorted(sources):
        data = sources[path]
        if not path.endswith(".ex") or f"defmacro {GUARD_MACRO}".encode() not in data:
            continue
        for module in sorted(defined_modules(data)):
            if name is None or module == name:
                return module, path
    return None


def _default_helper_path(name: str, folder: str | None = "lib") -> str | None:
    if folder is None:
        return None
    parts = [re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", p).lower() for p in name.split(".")]
    return (folder + "/" if folder else "") + "/".join(parts) + ".ex"


def _helper_folder(ctx: RuleContext) -> str | None:
    """The folder of ``elixirc_paths`` the guard helper goes in (``lib`` when mix compiles
    it, else the first that lies inside the project): a helper elsewhere is not compiled,
    and its users fail with "module ... is not loaded". None when there is none."""
    folders = []
    for entry in getattr(ctx.project, "elixirc_paths", None) or ["lib"]:
        norm = os.path.normpath(entry).replace(os.sep, "/")
        if os.path.isabs(entry) or norm == ".." or norm.startswith("../") or norm.endswith(".ex"):
            continue
        folders.append("" if norm == "." else norm)
    if not folders:
        return None
    return "lib" if "lib" in folders else folders[0]


def _app_name(ctx: RuleContext) -> str | None:
    app = getattr(ctx.project, "app", None) or getattr(ctx.project, "name", None)
    if isinstance(app, str) and re.fullmatch(r":?[a-z_][a-z0-9_]*", app):
        return app.lstrip(":")
    mix_exs = ctx.sources.get("mix.exs")
    root = _project_root(ctx)
    if mix_exs is None and root is not None and (root / "mix.exs").is_file():
        mix_exs = (root / "mix.exs").read_bytes()
    if mix_exs:
        m = re.search(rb"\bapp:\s*:([a-z_][a-z0-9_]*)", mix_exs)
        if m:
            return m.group(1).decode()
    return None
