"""Rule ``module-concat``: the last resort, hide a run-time reference from the compiler."""

from __future__ import annotations

import re

from refactor.breakable import _mean
from refactor.parse import captures, load_query
from refactor.recompile import FileDeps
from refactor.rules._common import absorb_blank, line_span
from refactor.rules._sight import Blind, unfollowed
from refactor.rules._unused import _in_quote
from refactor.rules.attribute_to_function import AttributeToFunction
from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext
from refactor.syntax import text

RULE_ID = "module-concat"
QUERY_NAME = "module_concat"


def _without_runtime(d: FileDeps, module: str) -> FileDeps:
    return FileDeps(set(d.modules), set(d.compile), set(d.export), set(d.runtime) - {module})


class ModuleConcat(Rule):
    """Hides a run-time call ``Foo.Bar.f(x)`` from the compiler: ``Module.concat(["Foo.Bar"]).f(x)``.

    **What it does**

    Looks at the files that are the sink of a compile edge (another file uses them while
    it compiles). Every run-time dependency of such a file lengthens a compile-connected
    chain: the compile-time user recompiles whenever anything the sink reaches changes.
    For each project module the sink only *calls* at run time (remote calls in function
    bodies, nothing else: no struct, no import, no module-body use), the rule computes the
    recompile fan-out with that dependency gone and, when it drops, rewrites every call
    ``Foo.Bar.f(x)`` to ``Module.concat(["Foo.Bar"]).f(x)`` (a list of one *string*, so no
    alias is traced: ``Module.concat([Foo, Bar])`` would still reference ``Foo``), and
    removes an ``alias Foo.Bar`` the rewrite leaves unused.

    It is offered only when no safer rewrite cuts the same chain: when every compile edge
    into the file can be cut by ``attribute-to-function``, that rule is the answer.

    **Why is this bad?**

    The chain makes every edit to a leaf module recompile the files that use the sink at
    compile time, and everything that depends on those at compile time in turn.

    **Example**

    ```elixir
    def price(id), do: Shop.Repo.get(id)
    ```

    becomes

    ```elixir
    def price(id), do: Module.concat(["Shop.Repo"]).get(id)
    ```

    **Fix safety**

    Unsafe (``safe = False``), shown and applied only with ``exfix apply --allow-concat``.
    The compiler no longer knows the file depends on ``Foo.Bar``: no "undefined function"
    warning when ``Foo.Bar.f/1`` is renamed or removed (the call fails at run time), no
    ``mix xref`` entry, and no recompilation of the compile-time users of this file when
    ``Foo.Bar`` changes. That last point is the danger: if those users run this file's
    code while they compile (which is why they have a compile edge), and that code calls
    into ``Foo.Bar``, they keep what they computed from the old ``Foo.Bar``, that is code
    built against a stale ``.beam``, until a clean build. Use it only when the compile-time
    users never reach the hidden call while compiling.
    """

    id = RULE_ID
    summary = "last resort: hide a run-time call that keeps a compile-connected chain alive"
    safe = False

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        a = ctx.analysis
        if a is None:
            return []
        graph = a.file_graph
        sinks = sorted({b for x, b, d in graph.edges(data=True) if d.get("label") == "compile" and x != b})
        if not sinks:
            return []
        safer = {
            d.file for d in AttributeToFunction().check(ctx) if d.fix is not None
        }
        deps = a.file_deps()
        model = a.fanout_model
        base = _mean(model.values)
        out: list[Diagnostic] = []
        for sink in sinks:
            users = sorted(x for x, b, d in graph.in_edges(sink, data=True) if d.get("label") == "compile")
            if all(u in safer for u in users):
                continue  # attribute-to-function cuts every compile edge into it
            facts = a.files.get(sink)
            if facts is None or facts.errors or sink not in ctx.sources:
                continue
            own = {m.name for m in facts.modules}
            targets = sorted({
                r.target for r in facts.references
                if r.target not in own and a.module_file.get(r.target) not in (None, sink)
            })
            for target in targets:
                refs = [r for r in facts.references if r.target == target]
                if not all(r.mode == "runtime" and r.kind in ("call", "alias") and r.context == "def"
                           and not r.via and not r.origin for r in refs):
                    continue
                after = _mean(model.changed({sink: _without_runtime(deps[sink], target)}))
                if after >= base:
                    continue
                diag = self.rewrite(ctx, sink, target, refs, users, base, after)
                if diag is not None:
                    out.append(diag)
        return out

    def rewrite(self, ctx, path, target, refs, users, base, after) -> Diagnostic | None:
        source = ctx.sources[path]
        tree = ctx.tree(path)
        caps = captures(load_query(QUERY_NAME), tree.root_node)
        short = target.rsplit(".", 1)[-1]
        # an alias inside a quote is the caller's (a `__using__` hands it to every user)
        alias_nodes = [n.parent.parent for n in caps.get("alias.module", [])
                       if text(n) == target and not _in_quote(n)]
        receivers = {target} | ({short} if alias_nodes else set())
        # the `Foo.Bar` of each call `Foo.Bar.f(...)` to rewrite
        lefts = [n for n in caps.get("call.receiver", []) if text(n) in receivers]
        n_calls = sum(1 for r in refs if r.kind == "call")
        first = min(r.line for r in refs)
        n_alias = sum(1 for r in refs if r.kind == "alias")
        if len(lefts) != n_calls or n_alias > n_calls:
            return Diagnostic(
                RULE_ID, path, first, "info",
                f"{path} keeps a compile-connected chain alive through its run-time calls to "
                f"{target}, but not every reference to it is a remote call exfix can rewrite (a bare module name, a struct, a call it could not match); nothing rewritten",
            )
        try:  # a macro exfix did not expand may need the alias as written
            unfollowed(ctx, path)
        except Blind as why:
            return Diagnostic(RULE_ID, path, first, "info",
                              f"{path} calls {target} at run time, which keeps a compile-connected chain "
                              f"alive, but it is kept: {why}", refused=why.kind)
        edits = [Edit(left.start_byte, left.end_byte, f'Module.concat(["{target}"])'.encode()) for left in lefts]
        short_calls = sum(1 for left in lefts if text(left) == short)
        for node in alias_nodes:
            rest = source[: node.start_byte] + source[node.end_byte:]
            uses = len(re.findall(rb"(?<![\w.])" + re.escape(short.encode()) + rb"\b", rest))
            if uses - short_calls <= 0:
                span = line_span(source, node)
                if span is None:
                    return None
                edits.append(Edit(span[0], absorb_blank(source, span), b"", tidy=True))
        users_text = ", ".join(users)
        many = len(users) > 1
        warning = (
            f"Module.concat hides {target} from the compiler: {path} no longer depends on it, so "
            f"{users_text}, which {'use' if many else 'uses'} {path} at compile time, "
            f"{'are' if many else 'is'} no longer recompiled when {target} changes. If "
            f"{'their' if many else 'its'} compile-time work reaches these calls, "
            f"{'they keep what they' if many else 'it keeps what it'} computed from the old "
            f"{target} (code built against a stale .beam) until a clean build; and a renamed or "
            f"removed {target} function fails only at run time."
        )
        message = (
            f"{path} is used at compile time by {users_text} and calls {target} at run time, "
            f"which keeps the compile-connected chain alive; hiding the calls with "
            f"Module.concat lowers the mean fan-out {base:.2f} -> {after:.2f} (last resort: "
            f"no safer rewrite cuts this chain)"
        )
        return Diagnostic(RULE_ID, path, first, "info", message, Fix(edits, safe=False, warnings=[warning]))

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        before = ctx.analysis.file_graph
        after = patched.analysis.file_graph
        f = diagnostic.file
        if after.out_degree(f) >= before.out_degree(f):
            return [f"{f} still has as many dependencies"]
        # an alias the fix removes while a file still needs it: the engine's lost-alias check
        return []
