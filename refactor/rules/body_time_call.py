"""Rule ``body-time-call``: a call into another project module evaluated in a module body."""

from __future__ import annotations

import re

import networkx as nx
from tree_sitter import Node

from refactor.parse import captures, load_query
from refactor.rules._common import (
    DEF_KINDS,
    clean_sources,
    compile_count,
    enclosing_module,
    indentation,
    is_defmodule,
    line_span,
    module_name,
    newline_of,
    private_function_edit,
    removal,
    tuple_of,
)
from refactor.rules.attribute_to_function import AttributeToFunction, _short, _where
from refactor.rules.attribute_to_function import Refusal as AttributeRefusal
from refactor.rules._sight import Blind, atoms, opaque, unfollowed
from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext
from refactor.syntax import call_arguments, call_name, do_block, line, text

RULE_ID = "body-time-call"
QUERY_NAME = "body_time_call"

CONDITIONALS = frozenset({"if", "unless", "case", "cond", "with"})
# Values that need no parentheses wherever an expression can stand.
ATOMIC = frozenset({
    "call", "identifier", "alias", "atom", "quoted_atom", "string", "charlist", "integer",
    "float", "boolean", "nil", "list", "tuple", "map", "sigil", "char", "block",
})
# What a function that returns quoted code (rather than plain data) is made of.
CODE_BUILDERS = re.compile(r"\bquote\b|\bMacro\.|\bCode\.(string_to_quoted|eval)|:elixir_")


# Why a call is not rewritten: its result is needed while the module compiles; the rewrite
# cannot be done safely (a person can do it); the result is not used at all.
STAYS, MANUAL, DISCARDED = "stays", "manual", "discarded"
# The call sits in the block of a macro exfix reads as module-body code: mix may disagree.
UNSURE = "unsure"


class Refusal(Exception):
    """The call is not rewritten; the message says why and ``kind`` which of the three."""

    def __init__(self, message: str, kind: str = STAYS, remedy: str = ""):
        super().__init__(message)
        self.kind = kind
        self.remedy = remedy  # what a person can do, when it is not the usual advice


class BodyTimeCall(Rule):
    """Moves a module-body call whose result only functions use to run time; explains the rest.

    **What it does**

    Finds calls of another project module's functions made in a module body, outside
    attributes (``attribute-to-function`` handles ``@attr Mod.fun()``): code that runs
    while the module compiles, which mix records as a *compile* dependency.

    When the call gives a value to a module-body variable that is read only through
    ``unquote(var)`` or ``unquote(Macro.escape(var))`` inside the bodies of ``def``/``defp``
    of the same module (an unquote fragment), the assignment is removed and the call runs
    where the value is used: inlined at the one place that reads it, or, when several
    functions read it, as a private function ``var/0`` at the end of the module. A plain
    ``unquote(var)`` inserts the value as code; the rule rewrites it only when neither the
    value nor the called function builds quoted code (``quote``, ``Macro.``), so the value
    is plain data and calling the function returns the same thing.

    Every other body-time call gets advice without a patch, naming the call, its line and
    why it has to run while the module compiles: its result defines functions (a ``for``
    that generates ``def``s, ``def unquote(name)``), decides which code is compiled
    (``if``/``case``), is an argument of a macro (``defstruct``, a DSL), is used in the
    module body, or is discarded (the call runs for a side effect). Advice is given only
    when the callee's file depends on other files, i.e. when the edge is part of a
    compile-connected chain or a cycle and moving the function into a module of its own
    would shrink what this file recompiles for; a call of a leaf module costs nothing more
    than that module's own changes. Macro calls are left to ``split-macro-module``. A call
    in the ``do`` block of a macro exfix reads as module-body code (``rule "x" do ... end``
    of a library missing from ``deps/``) is reported as something to check with ``mix xref
    trace``: if the macro turns its block into a function, there is no compile dependency.

    **Why is this bad?**

    A body-time call makes this file recompile whenever the callee's file, or anything it
    reaches at run time, changes, because mix tracks files, not functions. When only
    function bodies use the result, the dependency buys nothing but recompiles.

    **Example**

    ```elixir
    defmodule Shop.Greeter do
      greeting = Shop.Config.greeting()

      def hello(name), do: unquote(greeting) <> name
    end
    ```

    becomes

    ```elixir
    defmodule Shop.Greeter do
      def hello(name), do: Shop.Config.greeting() <> name
    end
    ```

    and for

    ```elixir
    for name <- Shop.Config.roles() do
      def unquote(:"#{name}?")(user), do: user.role == unquote(name)
    end
    ```

    the rule says that ``Shop.Config.roles/0`` defines functions, so it must stay at
    compile time, and suggests moving it into a module that depends on no other file.

    **Fix safety**

    The fix is marked safe and ``exfix apply`` writes it: it keeps the program's meaning
    whenever the called function is a pure computation, as the value of a module-body
    variable spliced into functions is meant to be. It changes *when* the code runs: once
    per build before, on every call after. If the function reads configuration, the
    environment, files, the clock or a process, the result can now differ (a
    ``config/runtime.exs`` value now wins over the compile-time one), and an expensive
    computation is paid at each call; the diagnostic says so. The rule refuses when the
    value uses other module-body variables, ``__ENV__``, ``unquote`` or attributes set
    more than once, when the variable is bound again, read in a function head, a guard, a
    pattern, a macro, a nested module or the module body, or when ``var/0`` would clash
    with an existing or imported function.
    """

    id = RULE_ID
    summary = "a call into another project module evaluated in a module body"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for path, facts, source in clean_sources(ctx, b"."):
            refs = self.body_calls(ctx, path, facts)
            if not refs:
                continue
            calls = captures(load_query(QUERY_NAME), ctx.tree(path).root_node).get("call", [])
            groups: dict[int, tuple[Node, Node, list]] = {}
            for ref in refs:
                node = locate(ref, calls)
                if node is None:
                    continue
                module = enclosing_module(node)
                if module is None:
                    continue
                stmt = statement_of(node, do_block(module))
                if stmt is None:
                    continue
                groups.setdefault(stmt.start_byte, (stmt, module, []))[2].append((node, ref))
            for key in sorted(groups):
                stmt, module, found = groups[key]
                diag = self.consider(ctx, path, source, stmt, module, found)
                if diag is not None:
                    out.append(diag)
        return out

    def body_calls(self, ctx, path, facts) -> list:
        a = ctx.analysis
        own = {m.name for m in facts.modules}
        out = []
        for r in sorted(set(facts.references)):
            if r.mode != "compile" or r.kind != "call" or r.context != "body" or r.via or r.origin:
                continue
            if not r.function or r.target in own:
                continue
            sink = a.module_file.get(r.target)
            info = a.modules.get(r.target)
            if sink in (None, path) or sink not in ctx.sources or info is None:
                continue
            if tuple_of(r.function) in info.macros:
                continue  # a macro needs its module at compile time: split-macro-module
            out.append(r)
        return out

    # ---- one statement of a module body

    def consider(self, ctx, path, source, stmt, module, found) -> Diagnostic | None:
        a = ctx.analysis
        functions = sorted({f"{r.target}.{r.function}" for _, r in found})
        named = ", ".join(f"`{f}`" for f in functions)
        holder = module_name(module)
        left = assignment_target(stmt)
        nodes = [n for n, _ in found]
        blind = ""
        try:
            if left is not None and all(inside(n, stmt.child_by_field_name("right")) for n in nodes):
                try:
                    unfollowed(ctx, path)
                    opaque(ctx, do_block(module))
                    atoms(source, module.start_byte, module.end_byte, {text(left)}, "the variable {name}")
                except Blind as why:
                    blind = why.kind
                    raise Refusal(f"its result is bound to `{text(left)}`, but {why}", kind=MANUAL) from None
                return self.rewrite(ctx, path, source, module, stmt, left, found, named, holder)
            raise Refusal(*self.why(stmt, nodes))
        except Refusal as why:
            refusal = why
        sinks = sorted({a.module_file[r.target] for _, r in found})
        reach = sorted(set().union(*(reachable(a, s) for s in sinks)) - set(sinks))
        if not reach:
            return None  # the edge costs only the callee's own changes: nothing to gain
        listed = ", ".join(reach[:3]) + (", ..." if len(reach) > 3 else "")
        cycle = f", {path} itself among them (a cycle)" if path in reach else ""
        cost = (
            f"that is a compile dependency on {', '.join(sinks)}, which depends on {len(reach)} "
            f"other file(s) ({listed}){cycle}, so {path} recompiles whenever one of them changes"
        )
        moved = " and ".join(f"`{f}`" for f in functions)
        if refusal.kind == UNSURE:
            verdict = f"{refusal}"
            remedy = (
                f"check with `mix xref trace {path}`; if mix says compile, move {moved} (and only what it "
                f"needs) into a module that depends on no other project file"
            )
        elif refusal.kind == DISCARDED:
            verdict = f"{refusal}"
            remedy = (
                f"if that is not needed while the module compiles, call it from a function instead; "
                f"otherwise move {moved} into a module that depends on no other project file"
            )
        elif refusal.kind == MANUAL:
            verdict = f"{refusal}, so it is not rewritten automatically"
            remedy = (
                f"rewrite it by hand so that functions call {moved} at run time, or move it into "
                f"a module that depends on no other project file"
            )
        else:
            verdict = f"{refusal}, so it must stay at compile time"
            remedy = (
                f"move {moved} (and only what it needs) into a module that depends on no other "
                f"project file, or accept the edge"
            )
        remedy = refusal.remedy or remedy
        message = f"{named} runs while {holder} compiles: {verdict}; {cost}: {remedy}"
        return Diagnostic(RULE_ID, path, line(found[0][0]), "info", message, refused=blind)

    def why(self, stmt: Node, nodes: list[Node]) -> tuple[str, str]:
        """Why the result of a body-time call is needed while the module compiles, and which
        kind of refusal that is."""
        name = call_name(stmt)
        if stmt in nodes or (stmt.type == "binary_operator" and _op(stmt) == "|>"):
            return "its result is not used: it runs only for what it does while the module compiles", DISCARDED
        if stmt.type == "binary_operator" and _op(stmt) == "=":
            pattern = _short(text(stmt.child_by_field_name("left")), 40)
            return f"its result is matched against the pattern `{pattern}` in the module body", MANUAL
        if name == "for":
            body = do_block(stmt)
            if any(inside(n, body) for n in nodes):
                return "it is called inside a `for` that runs in the module body", STAYS
            if body is not None and defines_functions(body):
                return "its result drives a `for` that defines functions", STAYS
            return "its result drives a `for` that runs in the module body", STAYS
        if name in CONDITIONALS:
            args = next((c for c in stmt.named_children if c.type == "arguments"), None)
            if any(inside(n, args) for n in nodes):
                return f"its result decides, in an `{name}`, which code the module holds", STAYS
            return f"it is called inside an `{name}` that runs in the module body", STAYS
        if name in DEF_KINDS:
            return f"it is evaluated while `{_code(stmt)}` is defined (head or unquote fragment)", STAYS
        if name is not None:
            if any(inside(n, do_block(stmt)) for n in nodes):
                return (
                    f"it is inside the block of `{name}`, which exfix reads as module-body code; if "
                    f"`{name}` turns its block into a function, the call runs at run time and mix records "
                    f"no compile dependency", UNSURE,
                )
            return f"it is an argument of `{name}`, which uses it while the module compiles", STAYS
        if stmt.type == "call":
            target = stmt.child_by_field_name("target")
            return f"it is an argument of `{text(target)}`, evaluated while the module compiles", STAYS
        return "its result is used by the module body", STAYS

    # ---- var = Mod.f(...) read only through unquote(var) in functions

    def rewrite(self, ctx, path, source, module, stmt, left, found, named, holder) -> Diagnostic:
        var = text(left)
        value = stmt.child_by_field_name("right")
        if var.startswith("_"):
            raise Refusal(f"its result is bound to `{var}`, whose name says it is not used", kind=MANUAL)
        fragments = self.fragments(module, stmt, var)
        if not fragments:
            raise Refusal(f"its result is bound to `{var}`, which nothing reads through unquote", kind=MANUAL)
        attribute_sets = captures(load_query("attribute_to_function"), module).get("set", [])
        helper = AttributeToFunction()
        try:
            helper.check_value(module, stmt, value, attribute_sets)
        except AttributeRefusal as why:
            raise Refusal(f"its result is bound to `{var}`, but {why}", kind=MANUAL) from None
        plain = [u for u, escaped in fragments if not escaped]
        if plain:
            builder = self.builds_code(ctx, value, found)
            if builder:
                raise Refusal(
                    f"its result is bound to `{var}`, which `unquote({var})` inserts as code, and {builder}",
                    kind=MANUAL,
                    remedy=f"if it is plain data, write `unquote(Macro.escape({var}))` and run exfix again",
                )
        span = line_span(source, stmt)
        if span is None:
            raise Refusal(f"the assignment to `{var}` shares its line with other code", kind=MANUAL)
        nl = newline_of(source)
        value_text = text(value)
        edits = [removal(source, span)]
        if len(fragments) == 1 and "\n" not in value_text:
            unquote, _ = fragments[0]
            needs_parens = value.type not in ATOMIC and unquote.parent is not None and unquote.parent.type not in (
                "pair", "do_block", "body", "stab_clause")
            replacement = f"({value_text})" if needs_parens else value_text
            edits.append(Edit(unquote.start_byte, unquote.end_byte, replacement.encode()))
            how = f"calling it where the value is used (`{_code(statement_of(unquote, do_block(module)))}`)"
        else:
            try:
                helper.check_name(ctx, module, var)
            except AttributeRefusal as why:
                raise Refusal(f"its result is bound to `{var}`, read in {len(fragments)} places, but {why}",
                              kind=MANUAL) from None
            edits.append(self.function_edit(source, module, stmt, value, var, nl))
            for unquote, _ in fragments:
                edits.append(Edit(unquote.start_byte, unquote.end_byte, f"{var}()".encode()))
            how = f"a private function {var}/0"
        sinks = sorted({ctx.analysis.module_file[r.target] for _, r in found})
        message = (
            f"{named} runs while {holder} compiles only to give `{var}` a value that function bodies "
            f"read through unquote: a compile dependency on {', '.join(sinks)}; {how} makes it a "
            f"run-time call"
        )
        moves = (
            f"evaluation moves from compile time to run time: `{_short(value_text)}` will run on "
            f"every call instead of once when the module compiles"
        )
        return Diagnostic(RULE_ID, path, line(found[0][0]), "warning", message, Fix(edits, warnings=[moves]))

    def fragments(self, module: Node, stmt: Node, var: str) -> list[tuple[Node, bool]]:
        """The ``unquote(var)`` fragments in def/defp bodies of ``module`` that read ``var``
        (with whether they escape it); Refusal when ``var`` is read anywhere else at compile time."""
        block = do_block(module)
        left = stmt.child_by_field_name("left")
        out = []
        for ident in identifiers(module, var):
            if ident == left or inside(ident, stmt):
                continue  # the binding itself; a use in the value is refused by check_value
            top = statement_of(ident, block)
            if top is None:
                raise Refusal(f"its result is bound to `{var}`, which a nested module also reads "
                              f"(`{_code(ident.parent)}`)", kind=MANUAL)
            kind = call_name(top)
            if is_defmodule(top):
                raise Refusal(f"its result is bound to `{var}`, which the nested module "
                              f"{module_name(top)} may read", kind=MANUAL)
            if kind not in DEF_KINDS:
                if defines_functions(top):
                    raise Refusal(f"its result is bound to `{var}`, which `{_code(top)}` uses to define "
                                  f"functions")
                if assignment_target(top) is not None and text(assignment_target(top)) == var:
                    raise Refusal(f"its result is bound to `{var}`, which is bound again "
                                  f"(`{_code(top)}`)", kind=MANUAL)
                raise Refusal(f"its result is bound to `{var}`, which the module body also uses "
                              f"(`{_code(top)}`)", kind=MANUAL)
            unquote = fragment_of(ident, top)
            if unquote is None:
                continue  # a variable of the function that happens to have the same name
            if top.start_byte < stmt.start_byte:
                raise Refusal(f"its result is bound to `{var}`, which `{_code(top)}` reads "
                              f"before it is bound", kind=MANUAL)
            arg = call_arguments(unquote)[0] if call_arguments(unquote) else None
            escaped = arg is not None and is_escape(arg) and call_arguments(arg)[0] == ident
            if call_name(unquote) != "unquote" or not (arg == ident or escaped):
                raise Refusal(f"its result is bound to `{var}`, which `{_short(text(unquote), 40)}` "
                              f"computes with while the function is defined")
            where = _where(unquote, block)
            parent = unquote.parent
            if parent is not None and parent.type == "call" and parent.child_by_field_name("target") == unquote:
                where = "the name of a function it defines"
            if where is not None:
                raise Refusal(f"its result is bound to `{var}`, which is read in {where} "
                              f"(`{_code(top)}`)")
            out.append((unquote, escaped))
        return out

    def builds_code(self, ctx, value: Node, found) -> str | None:
        """Why ``value`` may be quoted code rather than plain data, or None."""
        if CODE_BUILDERS.search(text(value)):
            return "the value is built with quote or Macro"
        for _, r in found:
            name, arity = tuple_of(r.function)
            info = ctx.analysis.modules.get(r.target)
            clauses = [d for d in (info.definitions.get(name, []) if info else []) if arity in d.arities]
            if not clauses:
                return f"exfix cannot read `{r.target}.{r.function}` to tell whether it returns quoted code"
            for d in clauses:
                if any(CODE_BUILDERS.search(text(b)) for b in d.body):
                    return f"`{r.target}.{r.function}` may return quoted code (it uses quote or Macro)"
        return None

    def function_edit(self, source: bytes, module: Node, stmt: Node, value: Node, name: str, nl: bytes) -> Edit:
        edit = private_function_edit(source, module, value, name, indentation(source, stmt), nl)
        if edit is None:
            raise Refusal("the module's `end` shares its line with other code", kind=MANUAL)
        return edit

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        facts = ctx.analysis.files[diagnostic.file]
        targets = {
            r.target for r in facts.references
            if r.line == diagnostic.line and r.mode == "compile" and r.kind == "call" and r.context == "body"
        }
        before = compile_count(ctx.analysis, diagnostic.file, targets)
        after = compile_count(patched.analysis, diagnostic.file, targets)
        if after >= before:
            return [f"the compile references to {', '.join(sorted(targets))} did not decrease"]
        return []


# ---- helpers


def _code(node: Node) -> str:
    """The first line of ``node``'s code, shortened: names a place without a line number
    (the engine may report a diagnostic on text earlier fixes already changed)."""
    return _short(text(node).splitlines()[0] if text(node) else "", 50)


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""


def inside(node: Node, outer: Node | None) -> bool:
    return outer is not None and outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def statement_of(node: Node, block: Node | None) -> Node | None:
    """The statement of ``block`` that holds ``node`` (None when ``node`` is not in it)."""
    if block is None:
        return None
    cur = node
    while cur.parent is not None and cur.parent != block:
        cur = cur.parent
    return cur if cur.parent == block else None


def assignment_target(stmt: Node) -> Node | None:
    """``var`` of a statement ``var = value``; None for anything else."""
    if stmt.type == "binary_operator" and _op(stmt) == "=":
        left = stmt.child_by_field_name("left")
        if left is not None and left.type == "identifier":
            return left
    return None


def locate(ref, calls: list[Node]) -> Node | None:
    """The remote call written on ``ref.line`` that ``ref`` records."""
    name, _ = tuple_of(ref.function)
    here = []
    for node in calls:
        if line(node) != ref.line:
            continue
        target = node.child_by_field_name("target")
        right = target.child_by_field_name("right") if target is not None else None
        if right is not None and text(right) == name:
            here.append(node)
    for node in here:
        receiver = text(node.child_by_field_name("target").child_by_field_name("left")).replace(" ", "")
        if ref.target == receiver or ref.target.endswith("." + receiver):
            return node
    return here[0] if len(here) == 1 else None


def identifiers(root: Node, name: str) -> list[Node]:
    out = []
    stack = [root]
    while stack:
        cur = stack.pop()
        if cur.type == "identifier" and text(cur) == name:
            parent = cur.parent
            # `x.y`'s y and keyword keys are not variables
            if not (parent is not None and parent.type == "dot" and parent.child_by_field_name("right") == cur):
                out.append(cur)
        stack.extend(cur.named_children)
    return sorted(out, key=lambda n: n.start_byte)


def fragment_of(ident: Node, top: Node) -> Node | None:
    """The ``unquote`` call of the definition ``top`` that holds ``ident``, when it is an
    unquote fragment (not inside a ``quote`` of the function); None otherwise."""
    cur = ident.parent
    found = None
    while cur is not None and cur != top:
        if cur.type == "call" and call_name(cur) in ("unquote", "unquote_splicing") and found is None:
            found = cur
        elif cur.type == "call" and call_name(cur) == "quote" and found is not None:
            return None  # the unquote belongs to a quote in the function
        cur = cur.parent
    return found


def is_escape(node: Node) -> bool:
    if node.type != "call":
        return False
    target = node.child_by_field_name("target")
    return (
        target is not None and target.type == "dot" and text(target).replace(" ", "") == "Macro.escape"
        and len(call_arguments(node)) == 1
    )


def defines_functions(node: Node) -> bool:
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "call" and call_name(cur) in DEF_KINDS:
            return True
        stack.extend(cur.named_children)
    return False


def reachable(analysis, sink: str) -> set[str]:
    """Files ``sink`` depends on, directly or not: a change to any of them makes it stale."""
    return nx.descendants(analysis.file_graph, sink)
