"""Rule ``drop-unused-require``: ``require Mod`` of a project module whose macros are not used."""

from __future__ import annotations

import re

from refactor.rules._unused import UnusedDirective
from refactor.rules.base import Rule
from refactor.syntax import keyword_get, text

RULE_ID = "drop-unused-require"


class DropUnusedRequire(UnusedDirective, Rule):
    """Removes a ``require`` of a project module when no macro of it is called in its scope.

    **What it does**

    For each ``require Mod`` of a module of the project, looks at the statement's lexical
    scope (the rest of the block holding it). ``require`` is only needed to call ``Mod``'s
    macros. When the analysis records no call of one of its macros in scope, no
    ``.macro_name`` appears in the scope's text, and every remote call ``Mod.f`` written in
    scope names a function exfix knows to be a plain function of ``Mod`` (not a macro
    generated at compile time, as ``Record.defrecord`` makes), the line is deleted.

    It keeps the require, and says why, when it has ``as:`` (it also defines an alias), or
    when a ``use`` in the same scope could inject code calling ``Mod``'s macros (quoted
    code needs the caller to have required the module).

    Only modules of the project are considered. ``require Logger`` (needed only when
    ``Logger.debug`` and the other macros are called, and harmless otherwise) and a
    ``require`` of a module of ``deps/``, a path dependency or an umbrella sibling are left
    alone even when nothing of it is used: they make no edge between two files of the
    project, so removing them changes no recompile fan-out of an edit to the project; and
    exfix knows a dependency's macros only from its source, which can miss macros generated
    while it compiles, so a removal could break the build for nothing.

    **Why is this bad?**

    ``require`` makes an *export* dependency (since Elixir 1.11 ``require`` alone is not a
    compile dependency, but the file is still recompiled when ``Mod``'s exports change),
    and it misleads readers into thinking the module's macros are used.

    **Example**

    ```elixir
    defmodule Shop.Cart do
      require Shop.Money

      def total(items), do: Shop.Money.sum(items)  # a function, not a macro
    end
    ```

    The ``require Shop.Money`` line is removed; the remote call keeps working.

    **Fix safety**

    Safe: calling a module's *functions* never needs ``require``. Macro calls are found
    by the analysis, including those produced by macro expansion, and cross-checked in the
    text; the only blind spot is code injected by ``use``, hence the refusal.
    """

    id = RULE_ID
    summary = "require of a project module whose macros are not used"
    safe = True
    kind = "require"

    def names(self, info, args):
        return {n for n, _ in info.macros}

    def unused(self, node, info, args, refs, source, scope):
        macros = {n for n, _ in info.macros}
        if any(r.kind in ("call", "import") and r.function.split("/")[0] in macros for r in refs):
            return False
        after = self.scope_text(source, node, scope)
        for name in macros:
            if re.search(rb"\." + re.escape(name.encode()) + rb"\b", after):
                return False
        # a remote call of a name exfix does not know as a plain function of the module may
        # be a macro generated at compile time (Record.defrecord, a DSL): keep the require
        plain = {n for n, _ in info.functions} - macros
        written = text(args[0]).encode()
        receivers = {written, written.rsplit(b".", 1)[-1]}
        for recv in receivers:
            for m in re.finditer(rb"(?<![\w.])" + re.escape(recv) + rb"\.([a-z_][A-Za-z0-9_]*[?!]?)", after):
                if m.group(1).decode() not in plain:
                    return False
        return True

    def refusal(self, ctx, args, scope):
        alias = keyword_get(args[1:], "as")
        if alias is not None:
            return f"it also defines the alias {text(alias)}"
        return None
