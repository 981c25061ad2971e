"""Rule ``attribute-to-function``: a module attribute computed by calling another project module."""

from __future__ import annotations

import re

from tree_sitter import Node

from refactor.parse import captures, load_query
from refactor.rules._common import (
    DEF_KINDS,
    clean_sources,
    compile_count,
    enclosing_module,
    indentation,
    line_span,
    module_name,
    newline_of,
    private_function_edit,
    removal,
)
from refactor.rules._sight import Blind, atoms, opaque, unfollowed
from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext
from refactor.syntax import call_arguments, call_name, do_block, keyword_get, line, text

RULE_ID = "attribute-to-function"
QUERY_NAME = "attribute_to_function"

# Attributes the compiler itself reads: never rewritten.
RESERVED = frozenset(
    """
    after_compile after_verify before_compile behaviour callback compile deprecated derive
    dialyzer doc enforce_keys external_resource file impl macrocallback moduledoc nifs
    on_definition on_load opaque optional_callbacks spec since type typedoc typep vsn
    """.split()
)

# Functions and macros Kernel imports with arity 0: a defp of that name would clash.
KERNEL_ARITY0 = frozenset({"self", "node", "make_ref", "binding", "__info__", "module_info"})


class Refusal(Exception):
    """The rewrite would be wrong; the message says why."""


class AttributeToFunction(Rule):
    """Turns ``@attr Mod.fun(...)`` into ``defp attr, do: Mod.fun(...)`` when only functions read it.

    **What it does**

    Finds module attributes set in a module body whose value calls another module of the
    project (``@rates Billing.Rates.load()``), which mix records as a *compile* dependency:
    the attribute's value is computed while the module compiles, so the module must be
    recompiled whenever ``Billing.Rates``, or anything it reaches at run time, changes.
    When every read of the attribute is inside a function body, the rule replaces the
    attribute by a private function of the same name, placed at the end of the module, and
    every ``@attr`` read by ``attr()``. The reference becomes a run-time one; the compile
    edge (and the fan-out it caused) goes.

    It refuses, with the reason, when the attribute is read in a guard, a function head
    (pattern), the module body, another attribute, a macro or ``quote``; when it is set more
    than once or registered with ``accumulate: true``; when its value uses module-body
    variables, ``__ENV__``, ``unquote`` or attributes set later; or when a function
    ``attr/0`` already exists or is imported (Kernel's ``self/0``, ``node/0`` ...).

    **Why is this bad?**

    A compile-time call into another project module is the most common compile edge that
    serves no purpose: the value is only used at run time, yet every change of the callee
    (even of a function the attribute never calls, since mix tracks files, not functions)
    recompiles the caller and everything that depends on it at compile time.

    **Example**

    ```elixir
    defmodule Shop.Prices do
      @vat Shop.Config.vat_rate()

      def gross(net), do: net * (1 + @vat)
    end
    ```

    becomes

    ```elixir
    defmodule Shop.Prices do
      def gross(net), do: net * (1 + vat())

      defp vat, do: Shop.Config.vat_rate()
    end
    ```

    **Fix safety**

    The fix is marked safe and ``exfix apply`` writes it, because it keeps the program's
    meaning whenever the called function is a pure computation of its arguments, which is
    what a module attribute is for. It does change *when* the code runs: the call moves
    from compile time to run time and runs on every call of ``attr()`` instead of once per
    build. If the function reads configuration, the environment, files, the clock or a
    process, the result may now differ between builds and runs (for example a
    ``config/runtime.exs`` value now wins over the compile-time one), and an expensive
    computation is now paid at every call. The diagnostic says so each time; review it
    before applying, or skip the rule with ``--skip-rule attribute-to-function``.
    """

    id = RULE_ID
    summary = "a module attribute computed from another project module, read only in functions"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        analysis = ctx.analysis
        out: list[Diagnostic] = []
        for path, facts, source in clean_sources(ctx):
            own = {m.name for m in facts.modules}
            refs = [
                r
                for r in facts.references
                if r.mode == "compile"
                and r.context == "attribute"
                and not r.via
                and not r.origin
                and r.target not in own
                and analysis.module_file.get(r.target) not in (None, path)
            ]
            if not refs:
                continue
            tree = ctx.tree(path)
            caps = captures(load_query(QUERY_NAME), tree.root_node)
            sets = caps.get("set", [])
            reads = caps.get("read", [])
            for node in sorted(sets, key=lambda n: n.start_byte):
                first, last = line(node), node.end_point[0] + 1
                mine = [r for r in refs if first <= r.line <= last]
                if not mine:
                    continue
                diag = self.consider(ctx, path, source, node, sets, reads, mine)
                if diag is not None:
                    out.append(diag)
        return out

    def consider(self, ctx, path, source, node, sets, reads, refs) -> Diagnostic | None:
        operand = node.child_by_field_name("operand")
        name = text(operand.child_by_field_name("target"))
        if name in RESERVED:
            return None
        module = enclosing_module(node)
        if module is None or node.parent != do_block(module):
            return None  # not set in a module body (inside a def, a quote, a block)
        value = call_arguments(operand)[0]
        targets = sorted({r.target for r in refs})
        sink = ctx.analysis.module_file[targets[0]]
        head = (
            f"@{name} calls {', '.join(targets)} while {module_name(module)} compiles: "
            f"a compile dependency on {sink}"
        )
        try:
            my_reads = self.reads_of(module, name, reads)
            if not my_reads:
                raise Refusal(f"@{name} is never read; remove it if it is not needed")
            self.check_sets(module, name, sets)
            self.check_reads(module, name, node, my_reads)
            self.check_value(module, node, value, sets)
            self.check_name(ctx, module, name)
            span = line_span(source, node)
            if span is None:
                raise Refusal(f"@{name} shares its line with other code")
            unfollowed(ctx, path)
            opaque(ctx, do_block(module))
            atoms(source, module.start_byte, module.end_byte, {name}, "the attribute @{name}")
        except Refusal as why:
            return Diagnostic(RULE_ID, path, line(node), "warning", f"{head}; not rewritten: {why}")
        except Blind as why:
            return Diagnostic(RULE_ID, path, line(node), "warning", f"{head}; not rewritten: {why}",
                              refused=why.kind)
        function = private_function_edit(source, module, value, name, indentation(source, node),
                                         newline_of(source))
        if function is None:
            return Diagnostic(
                RULE_ID, path, line(node), "warning",
                f"{head}; not rewritten: the module's `end` shares its line with other code",
            )
        edits = [removal(source, span), function]
        for read in my_reads:
            edits.append(Edit(read.start_byte, read.end_byte, f"{name}()".encode()))
        message = (
            f"{head}, yet only function bodies read it: a private function {name}/0 makes it a "
            f"run-time call"
        )
        moves = (
            f"evaluation moves from compile time to run time: `{_short(text(value))}` will run on "
            f"every call of {name}() instead of once when the module compiles"
        )
        return Diagnostic(RULE_ID, path, line(node), "warning", message, Fix(edits, warnings=[moves]))

    # ---- checks

    def reads_of(self, module: Node, name: str, reads: list[Node]) -> list[Node]:
        out = []
        for read in reads:
            if text(read.child_by_field_name("operand")) != name:
                continue
            if enclosing_module(read) == module:
                out.append(read)
        return sorted(out, key=lambda n: n.start_byte)

    def check_sets(self, module, name, sets) -> None:
        same = [
            s
            for s in sets
            if enclosing_module(s) == module
            and text(s.child_by_field_name("operand").child_by_field_name("target")) == name
        ]
        if len(same) > 1:
            raise Refusal(f"@{name} is set {len(same)} times")
        body = text(module)
        if re.search(rf"register_attribute\([^)]*:{re.escape(name)}\b", body):
            raise Refusal(f"@{name} is registered with Module.register_attribute (accumulated or persisted)")
        if re.search(rf"Module\.(get|put|delete|has)_attribute\([^)]*:{re.escape(name)}\b", body):
            raise Refusal(f"@{name} is read or written with Module.*_attribute")

    def check_reads(self, module, name, node, reads) -> None:
        block = do_block(module)
        for read in reads:
            if read.start_byte < node.start_byte:
                raise Refusal(f"@{name} is read on line {line(read)}, before it is set")
            where = _where(read, block)
            if where is not None:
                raise Refusal(f"@{name} is read in {where} (line {line(read)})")

    def check_value(self, module, node, value, sets) -> None:
        before = {}
        after = set()
        for s in sets:
            if enclosing_module(s) != module:
                continue
            n = text(s.child_by_field_name("operand").child_by_field_name("target"))
            if s.start_byte < node.start_byte:
                before[n] = before.get(n, 0) + 1
            elif s.start_byte > node.start_byte:
                after.add(n)
        stack = [(value, frozenset())]
        while stack:
            cur, bound = stack.pop()
            if cur.type == "anonymous_function":
                bound = bound | _fn_parameters(cur)
            if cur.type == "identifier":
                word = text(cur)
                parent = cur.parent
                if word in ("__ENV__", "__CALLER__", "__STACKTRACE__"):
                    raise Refusal(f"its value uses {word}, which means something else in a function")
                if word in ("__MODULE__", "__DIR__") or word in bound or _captured_name(cur):
                    pass
                elif parent is not None and parent.type == "call" and parent.child_by_field_name("target") == cur:
                    if word in ("unquote", "unquote_splicing"):
                        raise Refusal("its value uses unquote")
                elif parent is not None and parent.type == "unary_operator":
                    if word in after or before.get(word, 0) != 1:
                        raise Refusal(f"its value reads @{word}, which is not set exactly once before it")
                elif parent is not None and parent.type == "dot" and parent.child_by_field_name("right") == cur:
                    pass
                else:
                    raise Refusal(f"its value uses the variable `{word}`, not visible in a function")
            stack.extend((child, bound) for child in cur.named_children)

    def check_name(self, ctx, module, name) -> None:
        if name in KERNEL_ARITY0:
            raise Refusal(f"a function {name}/0 would clash with Kernel.{name}/0")
        info = ctx.analysis.modules.get(module_name(module))
        if info is not None:
            for d in info.definitions.get(name, []):
                if 0 in d.arities:
                    raise Refusal(f"the module already defines {name}/0")
        for stmt in do_block(module).named_children:
            if stmt.type == "call" and call_name(stmt) in DEF_KINDS:
                head = call_arguments(stmt)[:1]
                if head and (text(head[0]) == name or text(head[0]).startswith(name + "(")):
                    raise Refusal(f"the module already defines a function named {name}")
            if stmt.type == "call" and call_name(stmt) == "import":
                args = call_arguments(stmt)
                if not args:
                    continue
                only = keyword_get(args[1:], "only")
                if only is not None and re.search(rf"\b{re.escape(name)}:\s*0\b", text(only)):
                    raise Refusal(f"{name}/0 is imported from {text(args[0])}")
                if only is None:
                    imported = ctx.analysis.modules.get(text(args[0]))
                    if imported is None or (name, 0) in imported.functions:
                        why = "exports" if imported is not None else "may export (unknown module)"
                        raise Refusal(f"{text(args[0])}, imported here, {why} {name}/0")

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        facts = ctx.analysis.files[diagnostic.file]
        targets = {
            r.target for r in facts.references if r.line == diagnostic.line and r.mode == "compile"
        }
        before = compile_count(ctx.analysis, diagnostic.file, targets)
        after = compile_count(patched.analysis, diagnostic.file, targets)
        if after >= before:
            return [f"the compile references to {', '.join(sorted(targets))} did not decrease"]
        return []


def _where(read: Node, block: Node) -> str | None:
    """None when ``read`` is inside the body of a def/defp that is a statement of ``block``;
    otherwise where it is, in words."""
    path = [read]
    cur = read
    while cur.parent is not None and cur.parent != block:
        cur = cur.parent
        path.append(cur)
    if cur.parent is None:
        return "code outside the module"
    statement = path[-1]
    for i, node in enumerate(path[1:], start=1):
        child = path[i - 1]
        if node.type == "stab_clause" and node.child_by_field_name("left") == child:
            return "a clause head (pattern or guard of case/fn/receive)"
        if node.type == "binary_operator" and node.child_by_field_name("left") == child:
            op = node.child_by_field_name("operator")
            if op is not None and text(op) in ("=", "<-"):
                return "a pattern (left of =/<-)"
        if node.type == "binary_operator":
            op = node.child_by_field_name("operator")
            if op is not None and text(op) == "when":
                return "a guard"
        if node.type == "call" and call_name(node) in DEF_KINDS:
            break
    for i, node in enumerate(path):
        if node.type == "call" and call_name(node) == "quote":
            return "a quote"
        if node.type == "call" and call_name(node) in DEF_KINDS:
            kind = call_name(node)
            if node != statement:
                return f"a {kind} inside a body-level expression"
            if kind not in ("def", "defp"):
                return f"a {kind}"
            child = path[i - 1] if i > 0 else None
            if child is not None and child.type == "do_block":
                return None
            if child is not None and child.type == "arguments":
                args = [c for c in child.named_children if c.type != "comment"]
                inner = path[i - 2] if i > 1 else None
                if args and inner == args[0]:
                    return "a function head (pattern or guard)"
                return None  # the do: keyword
            return "a function head (pattern or guard)"
    if statement.type == "unary_operator":
        return "another attribute"
    return "the module body"


def _fn_parameters(fn: Node) -> frozenset[str]:
    """Variables the clauses of ``fn a, b -> ... end`` bind in their heads."""
    names = set()
    for clause in fn.named_children:
        head = clause.child_by_field_name("left") if clause.type == "stab_clause" else None
        stack = [head] if head is not None else []
        while stack:
            cur = stack.pop()
            if cur.type == "identifier":
                names.add(text(cur))
            elif cur.type == "unary_operator" and text(cur).startswith("^"):
                continue  # a pinned variable is read, not bound
            stack.extend(cur.named_children)
    return frozenset(names)


def _captured_name(ident: Node) -> bool:
    """True for ``name`` in a capture ``&name/2``: a local function, not a variable."""
    parent = ident.parent
    if parent is None or parent.type != "binary_operator" or parent.child_by_field_name("left") != ident:
        return False
    op = parent.child_by_field_name("operator")
    grand = parent.parent
    return (op is not None and text(op) == "/" and grand is not None and grand.type == "unary_operator"
            and text(grand).startswith("&"))


def _short(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."
