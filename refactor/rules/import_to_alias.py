"""Rule ``import-to-alias``: an ``import`` of a project module used only for its functions."""

from __future__ import annotations

import re

from tree_sitter import Node

from refactor.parse import captures, load_query
from refactor.rules._common import (
    clean_sources,
    directive_target,
    enclosing_module,
    line_span,
    references,
    removal,
)
from refactor.rules._sight import Blind, atoms, opaque, unfollowed
from refactor.rules._unused import IDENT, _in_quote, dynamic_definitions, imported_names, template_reason
from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext
from refactor.syntax import call_arguments, call_name, keyword_get, line, text

RULE_ID = "import-to-alias"
QUERY_NAME = "import_to_alias"


class Refusal(Exception):
    pass


class ImportToAlias(Rule):
    """Replaces ``import Mod`` by remote calls ``Mod.f(...)`` when only functions of it are used.

    **What it does**

    For each ``import Mod`` of a project module whose imported names, in the statement's
    lexical scope, are all *functions* (no macro), rewrites every call ``f(...)`` (also
    piped, ``x |> f()``, and captured, ``&f/1``) to ``Mod.f(...)``, through an ``alias``
    of ``Mod`` already written in the same block when there is one, and deletes the import.

    It refuses, with the reason, when a used name is a macro of ``Mod``, when a macro of
    ``Mod`` is called remotely in scope (the import also required it), when a ``use`` in
    the same scope could inject calls that rely on the import, or when a name of ``Mod``
    appears anywhere in scope that it cannot match to one recorded imported call
    (a variable of the same name, a zero-arity call without parentheses, a call inside a
    ``quote``): every use must resolve, or nothing is rewritten.

    **Why is this bad?**

    ``import`` records an *export* dependency on ``Mod``: the file recompiles whenever
    ``Mod``'s public functions or macros change, and with macros or module-body calls it
    takes part in compile-connected chains. Remote calls make only run-time references.

    **Example**

    ```elixir
    defmodule Shop.Label do
      import Shop.Format

      def label(s), do: s |> trim() |> pad(10)
    end
    ```

    becomes

    ```elixir
    defmodule Shop.Label do
      def label(s), do: s |> Shop.Format.trim() |> Shop.Format.pad(10)
    end
    ```

    **Fix safety**

    Safe: each rewritten call names the function the import resolved it to, and the rule
    refuses whenever one use cannot be matched to a recorded imported call.
    """

    id = RULE_ID
    summary = "import of a project module used only for its functions"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for path, facts, source in clean_sources(ctx, b"import"):
            tree = ctx.tree(path)
            caps = captures(load_query(QUERY_NAME), tree.root_node)
            locals_ = caps.get("local", [])
            for node in caps.get("directive", []):
                diag = self.consider(ctx, path, source, node, facts, locals_)
                if diag is not None:
                    out.append(diag)
        return out

    def consider(self, ctx, path, source, node, facts, locals_) -> Diagnostic | None:
        if _in_quote(node) or enclosing_module(node) is None:
            return None
        target = directive_target(ctx, facts, node)
        if target is None or ctx.analysis.module_file[target] == path:
            return None
        info = ctx.analysis.modules.get(target)
        if info is None:
            return None
        scope = node.parent
        last, end_line = node.end_point[0] + 1, scope.end_point[0] + 1
        refs = [r for r in references(facts).between(last, end_line) if r.target == target]
        imports = [r for r in refs if r.kind == "import" and not r.via]
        if not imports:
            return None  # unused: drop-unused-import's business
        if template_reason(ctx, path, source) or dynamic_definitions(ctx, target):
            return None  # templates or generated names exfix cannot read may use more of it
        args = call_arguments(node)
        written = text(args[0])
        head = f"import {written} is used only for"
        used = sorted({r.function for r in imports})
        used_names = {f.split("/")[0] for f in used}
        macros = {n for n, _ in info.macros}
        try:
            bad = [f for f in used if f.split("/")[0] in macros]
            if bad:
                raise Refusal(f"{', '.join(bad)} is a macro")
            if any(r.kind == "import" and r.via for r in refs):
                raise Refusal("code expanded from a macro calls its functions unqualified")
            remote_macros = [r.function for r in refs if r.kind == "call" and r.function.split("/")[0] in macros]
            if remote_macros:
                raise Refusal(f"the import also requires {written} for {remote_macros[0]}")
            unfollowed(ctx, path)
            opaque(ctx, scope)
            atoms(source, enclosing_module(node).start_byte, enclosing_module(node).end_byte,
                  imported_names(info, args) or set(used_names), f"the function {{name}} imported from {written}")
            prefix = self.prefix(written, scope, node)
            edits = self.call_edits(source, node, scope, imports, locals_, prefix, info, args)
            span = line_span(source, node)
            if span is None:
                raise Refusal("it shares its line with other code")
        except Refusal as why:
            return Diagnostic(RULE_ID, path, line(node), "info",
                              f"import {written} could become remote calls, but: {why}")
        except Blind as why:
            return Diagnostic(RULE_ID, path, line(node), "info",
                              f"import {written} could become remote calls, but: {why}", refused=why.kind)
        edits.append(removal(source, span))
        message = (
            f"{head} {', '.join(used)}: call them as {prefix}.f(...) and drop the import, "
            f"so this file no longer recompiles when {target}'s exports change"
        )
        return Diagnostic(RULE_ID, path, line(node), "info", message, Fix(edits))

    def prefix(self, written: str, scope: Node, node: Node) -> str:
        """How to write the module in calls: the alias in scope for it (``alias A.B``,
        ``alias A.{B, C}``, ``alias A.B, as: X``, in this block or one around it, written
        before the import), else as the import writes it."""
        if "." not in written:
            return written
        here, block = node, scope
        while block is not None:
            for stmt in block.named_children:
                if stmt.start_byte >= here.start_byte:
                    break
                if stmt.type == "call" and call_name(stmt) == "alias":
                    short = _aliases(stmt).get(written)
                    if short is not None:
                        return short
            here, block = block, block.parent
        return written

    def call_edits(self, source, node, scope, imports, locals_, prefix, info, args) -> list[Edit]:
        names = {f.split("/")[0] for f in (r.function for r in imports)}
        wanted: dict[tuple[str, int], int] = {}
        for r in imports:
            name, arity = r.function.split("/")
            wanted[(name, int(arity))] = wanted.get((name, int(arity)), 0) + 1
        edits: list[Edit] = []
        found: dict[tuple[str, int], int] = {}
        for call in locals_:
            if call.start_byte < node.end_byte or call.end_byte > scope.end_byte:
                continue
            name = call_name(call)
            if name not in names:
                continue
            if _in_quote(call):
                raise Refusal(f"{name} is called inside a quote (line {line(call)})")
            arity = len(call_arguments(call))
            parent = call.parent
            if parent is not None and parent.type == "binary_operator":
                op = parent.child_by_field_name("operator")
                if op is not None and text(op) == "|>" and parent.child_by_field_name("right") == call:
                    arity += 1
            key = (name, arity)
            found[key] = found.get(key, 0) + 1
            target = call.child_by_field_name("target")
            edits.append(Edit(target.start_byte, target.start_byte, f"{prefix}.".encode()))
        all_names = imported_names(info, args) or names
        for ident, arity in _captures(scope, node, all_names):
            # the analysis does not record captures; one resolves to the import when the
            # module exports it and no local definition shadows it (checked below)
            if (text(ident), arity) not in info.functions or (text(ident), arity) in info.macros:
                raise Refusal(f"&{text(ident)}/{arity} does not name a function of the module")
            names.add(text(ident))
            edits.append(Edit(ident.start_byte, ident.start_byte, f"{prefix}.".encode()))
        captured = len(edits) - sum(found.values())
        if found != wanted:
            raise Refusal("not every use of its names could be matched to an imported call")
        after = source[node.end_byte: scope.end_byte]
        occurrences = sum(
            1 for m in IDENT.finditer(after)
            if m.group(1).decode() in all_names
        )
        if occurrences != sum(found.values()) + captured:
            raise Refusal("a name it imports is also used in a way exfix cannot resolve "
                          "(a variable, a call without parentheses, a definition)")
        return edits

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        pf = patched.analysis.files.get(diagnostic.file)
        facts = ctx.analysis.files[diagnostic.file]
        targets = {r.target for r in facts.references if r.line == diagnostic.line and r.kind == "require" and not r.via}
        if pf is None:
            return ["the patched file is gone"]
        left = [r for r in pf.references if r.target in targets and r.kind in ("import", "require")]
        if left:
            return [f"{left[0].kind} references to {left[0].target} remain (line {left[0].line})"]
        return []


MULTI_ALIAS = re.compile(r"^([A-Z][\w.]*)\.\{(.*)\}$", re.S)


def _aliases(stmt: Node) -> dict[str, str]:
    """The modules an ``alias`` statement names, each with the name it gives them."""
    args = call_arguments(stmt)
    if not args:
        return {}
    first = re.sub(r"\s+", "", text(args[0]))
    as_ = keyword_get(args[1:], "as")
    if as_ is not None:
        return {first: text(as_)} if as_.type == "alias" else {}
    multi = MULTI_ALIAS.match(first)
    if multi:
        return {f"{multi.group(1)}.{part}": part.rsplit(".", 1)[-1]
                for part in multi.group(2).split(",") if part}
    return {first: first.rsplit(".", 1)[-1]}


def _captures(scope: Node, after: Node, names: set[str]) -> list[tuple[Node, int]]:
    """``&f/1`` captures of a name in ``names`` in ``scope`` after ``after``: (``f``, arity)."""
    out = []
    stack = [scope]
    while stack:
        cur = stack.pop()
        if cur.end_byte <= after.end_byte:
            continue
        if cur.type == "unary_operator" and text(cur)[:1] == "&":
            operand = cur.child_by_field_name("operand")
            if operand is not None and operand.type == "binary_operator":
                left = operand.child_by_field_name("left")
                right = operand.child_by_field_name("right")
                op = operand.child_by_field_name("operator")
                if (
                    op is not None and text(op) == "/" and left is not None
                    and left.type == "identifier" and text(left) in names
                    and right is not None and right.type == "integer"
                ):
                    if _in_quote(cur):
                        raise Refusal(f"{text(left)} is captured inside a quote (line {line(cur)})")
                    out.append((left, int(text(right))))
                    continue
        stack.extend(cur.named_children)
    return out
