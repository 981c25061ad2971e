"""Rule ``split-macro-module``: a module whose macros (or ``__using__``) are used at compile
time also holds many run-time functions; a human decides how to split it."""

from __future__ import annotations

from refactor.rules._common import tuple_of
from refactor.rules.base import Diagnostic, Rule, RuleContext
from refactor.syntax import call_name

RULE_ID = "split-macro-module"
MIN_FUNCTIONS = 3
USING = ("__using__", 1)


class SplitMacroModule(Rule):
    """Suggests moving the macros of a module, or its run-time functions, into another module.

    **What it does**

    Finds project modules that define public macros used by other files (a *compile*
    dependency on the whole file), ``__using__/1`` included (every file that writes
    ``use Mod`` depends on ``Mod``'s file at compile time), and also at least three public
    run-time functions (functions that only return a ``quote``, as in Phoenix's
    ``MyAppWeb``, are macro-time code and do not count), in a file that itself depends on
    other files. Every user of a macro then recompiles whenever any of those functions, or
    anything they call, changes. The diagnostic lists the macros, the number of functions,
    the files that use the macros and what the file depends on. There is no automatic fix.

    **Why is this bad?**

    Mix tracks files, not functions: a compile dependency on a module for its macros is a
    dependency on everything in that file and everything it reaches at run time. A module
    like credo's ``Credo.Check``, whose ``__using__`` 140 checks use and which also holds
    the run-time helpers, recompiles all of them when a helper changes.

    **Example**

    ```elixir
    defmodule MyApp.Schema do
      defmacro field(name), do: ...
      def cast(data, types), do: MyApp.Repo...   # run-time code, used everywhere
    end

    defmodule MyApp.Check do
      defmacro __using__(_opts), do: quote(do: @behaviour MyApp.Check)
      def format_issue(issue, opts), do: MyApp.Issue...   # run-time code
    end
    ```

    **Fix safety**

    No fix: which functions the macros' expansions need (they must move with them or be
    called remotely), and how to name the new module, is a human decision.
    """

    id = RULE_ID
    fixes = False
    summary = "a macro module (or a module used with `use`) that also holds many run-time functions"
    safe = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        a = ctx.analysis
        out: list[Diagnostic] = []
        if a is None:
            return out
        users: dict[str, set[str]] = {}
        # module -> the files that `use` it (a compile call of its __using__/1)
        using: dict[str, set[str]] = {}
        for path, facts in a.files.items():
            for r in facts.references:
                info = a.modules.get(r.target)
                if (r.mode == "compile" and info is not None and a.module_file.get(r.target) not in (None, path)
                        and r.function and tuple_of(r.function) in info.macros):
                    users.setdefault(r.target, set()).add(path)
                    if tuple_of(r.function) == USING:
                        using.setdefault(r.target, set()).add(path)
        for module, files in sorted(users.items()):
            info = a.modules[module]
            path = a.module_file[module]
            if path not in ctx.sources:
                continue
            macros = sorted(f"{n}/{k}" for n, k in info.macros if (n, k) in info.functions and not n.startswith("__"))
            used_by_use = module in using
            if used_by_use:
                macros.insert(0, "__using__/1")
            funcs = run_time_functions(info)
            deps = sorted(a.file_graph.successors(path))
            if not macros or len(funcs) < MIN_FUNCTIONS or not deps:
                continue
            line = info.line or 1
            chain = f"its file depends on {listing(deps)}, so those users recompile whenever any of it changes"
            if macros == ["__using__/1"]:
                message = (f"{module} is used (`use {module}`) at compile time by {len(files)} file(s) "
                           f"({listing(files)}) and also holds {len(funcs)} run-time functions; {chain}")
                detail = (f"Keep {module} small for `use` (its __using__/1 and what the quote needs while "
                          "the users compile) and move the run-time functions into another module that "
                          "the quoted code calls remotely; what the quote runs in the users' module "
                          "bodies should reach only modules whose files have no run-time dependencies.")
            else:
                message = (f"{module} defines macros ({', '.join(macros)}) used at compile time by "
                           f"{len(files)} file(s) ({listing(files)}) and {len(funcs)} run-time functions; "
                           f"{chain}")
                detail = ("Move the macros into a module of their own, with only what their expansions "
                          "need at compile time.")
                if used_by_use:
                    detail += (f" `use {module}` counts: __using__/1 can move with them, or the run-time "
                               "functions can move out instead.")
            out.append(Diagnostic(RULE_ID, path, line, "info", message, detail=detail))
        return out


def listing(files) -> str:
    """The first three of ``files`` in order, and ``...`` when there are more."""
    return ", ".join(sorted(files)[:3]) + (", ..." if len(files) > 3 else "")


def run_time_functions(info) -> list[str]:
    """Public functions of the module, not macros, that are not only quote builders."""
    names = sorted((n, k) for n, k in info.functions - info.macros if not n.startswith("__"))
    if not names:
        return []
    defs = info.definitions
    out = []
    for n, k in names:
        clauses = [d for d in defs.get(n, []) if k in d.arities and d.kind == "def"]
        if clauses and all(returns_quote(d) for d in clauses):
            continue
        out.append(f"{n}/{k}")
    return out


def returns_quote(definition) -> bool:
    body = definition.body
    return bool(body) and body[-1].type == "call" and call_name(body[-1]) == "quote"
