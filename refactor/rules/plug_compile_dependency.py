"""Rule ``plug-compile-dependency``: ``plug Mod`` makes a compile dependency; a human decides."""

from __future__ import annotations

from refactor.parse import captures, load_query
from refactor.rules._common import clean_sources, enclosing_module, module_name
from refactor.rules.base import Diagnostic, Rule, RuleContext
from refactor.syntax import line, text

RULE_ID = "plug-compile-dependency"
QUERY_NAME = "plug_compile_dependency"


class PlugCompileDependency(Rule):
    """Points at ``plug Mod`` of a project module in a router, controller or plug pipeline.

    **What it does**

    Finds ``plug Mod`` (``Mod`` a module of the project) in a module body. Plug builders
    (``Plug.Builder``, Phoenix routers and controllers) call ``Mod.init/1`` while the module
    compiles, so the file gets a *compile* dependency on ``Mod``, and through it on
    everything ``Mod`` calls at run time (a compile-connected chain: a router recompiles
    when a plug's helpers, their schemas, ... change). The diagnostic names the chain
    (what ``Mod``'s file depends on) and the choices; there is no automatic fix.

    **Why is this bad?**

    Routers are the classic hub: every controller and plug they reach at compile time
    pulls the whole app into their recompiles.

    **Example**

    ```elixir
    pipeline :browser do
      plug MyAppWeb.Plugs.Auth
    end
    ```

    **Fix safety**

    No fix: only a human can choose between
    ``config :phoenix, :plug_init_mode, :runtime`` (``init/1`` then runs on every request,
    only right when it is cheap and pure), ``plug Mod, init_mode: :runtime`` where the
    builder supports it, keeping ``Mod`` free of run-time dependencies (move its helpers
    out), or accepting the edge.
    """

    id = RULE_ID
    fixes = False
    summary = "plug Mod of a project module: compile dependency through Mod.init/1"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        a = ctx.analysis
        out: list[Diagnostic] = []
        for path, facts, source in clean_sources(ctx, b"plug"):
            caps = captures(load_query(QUERY_NAME), ctx.tree(path).root_node)
            for written_node in caps.get("plug.module", []):
                node = written_node.parent.parent  # the `plug` call
                module = enclosing_module(node)
                if module is None:
                    continue
                written = text(written_node)
                mods = sorted({
                    r.target for r in facts.references
                    if r.line == line(node) and r.target in a.module_file and a.module_file[r.target] != path
                    and (r.target == written or r.target.endswith("." + written))
                })
                if len(mods) != 1:
                    continue
                target = mods[0]
                sink = a.module_file[target]
                label = (a.file_graph.get_edge_data(path, sink) or {}).get("label")
                reach = sorted(a.file_graph.successors(sink))
                chain = (
                    f"; {sink} depends on {len(reach)} other file(s) ({', '.join(reach[:3])}"
                    f"{', ...' if len(reach) > 3 else ''}), so {path} also recompiles when they change"
                    if reach else ""
                )
                holder = module_name(module)
                out.append(Diagnostic(
                    RULE_ID, path, line(node), "info",
                    f"plug {written} "
                    f"in {holder}: the plug builder calls {target}.init/1 while {holder} compiles"
                    f" (edge: {label or 'none recorded'}){chain}",
                    detail=(
                        f"A human must choose: plug_init_mode :runtime (init/1 per request), keeping "
                        f"{target} free of run-time dependencies, or accepting the edge."
                    ),
                ))
        return out
