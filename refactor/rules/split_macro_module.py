"""Rule ``split-macro-module``: a module whose macros are used at compile time also holds many
run-time functions; a human decides how to split it."""

from __future__ import annotations

from refactor.rules.base import Diagnostic, Rule, RuleContext

RULE_ID = "split-macro-module"
MIN_FUNCTIONS = 3


class SplitMacroModule(Rule):
    """Suggests moving the macros of a module into a module of their own.

    **What it does**

    Finds project modules that define public macros used by other files (a *compile*
    dependency on the whole file) and also at least three public functions, in a file that
    itself depends on other files. Every user of a macro then recompiles whenever any of
    those functions, or anything they call, changes. The diagnostic lists the macros, the
    number of functions, the files that use the macros and what the file depends on.
    There is no automatic fix.

    **Why is this bad?**

    Mix tracks files, not functions: a compile dependency on a module for its macros is a
    dependency on everything in that file and everything it reaches at run time.

    **Example**

    ```elixir
    defmodule MyApp.Schema do
      defmacro field(name), do: ...
      def cast(data, types), do: MyApp.Repo...   # run-time code, used everywhere
    end
    ```

    **Fix safety**

    No fix: which functions the macros' expansions need (they must move with them or be
    called remotely), and how to name the new module, is a human decision.
    """

    id = RULE_ID
    summary = "a macro module that also holds many run-time functions"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        a = ctx.analysis
        out: list[Diagnostic] = []
        if a is None:
            return out
        users: dict[str, set[str]] = {}
        for path, facts in a.files.items():
            for r in facts.references:
                info = a.modules.get(r.target)
                if (r.mode == "compile" and info is not None and a.module_file.get(r.target) not in (None, path)
                        and r.function and tuple_of(r.function) in info.macros):
                    users.setdefault(r.target, set()).add(path)
        for module, files in sorted(users.items()):
            info = a.modules[module]
            path = a.module_file[module]
            if path not in ctx.sources:
                continue
            macros = sorted(f"{n}/{k}" for n, k in info.macros if (n, k) in info.functions and not n.startswith("__"))
            funcs = sorted(f"{n}/{k}" for n, k in info.functions - info.macros if not n.startswith("__"))
            deps = sorted(a.file_graph.successors(path))
            if not macros or len(funcs) < MIN_FUNCTIONS or not deps:
                continue
            line = info.line or 1
            out.append(Diagnostic(
                RULE_ID, path, line, "info",
                f"{module} defines macros ({', '.join(macros)}) used at compile time by "
                f"{len(files)} file(s) ({', '.join(sorted(files)[:3])}{', ...' if len(files) > 3 else ''}) "
                f"and {len(funcs)} run-time functions; its file depends on {', '.join(deps[:3])}"
                f"{', ...' if len(deps) > 3 else ''}, so those users recompile whenever any of it "
                f"changes",
                detail="Move the macros into a module of their own, with only what their expansions "
                       "need at compile time.",
            ))
        return out


def tuple_of(function: str) -> tuple[str, int]:
    name, _, arity = function.rpartition("/")
    return name, int(arity) if arity.isdigit() else -1
