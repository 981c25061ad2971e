"""Rule ``drop-unused-import``: ``import Mod`` of a project module of which nothing is used."""

from __future__ import annotations

import re

from refactor.rules._unused import UnusedDirective, imported_names, local_uses
from refactor.rules.base import Rule

RULE_ID = "drop-unused-import"


class DropUnusedImport(UnusedDirective, Rule):
    """Removes an ``import`` of a project module when nothing it imports is called in its scope.

    **What it does**

    For each ``import Mod`` (with or without ``only:``/``except:``) of a module of the
    project, looks at the statement's lexical scope (the rest of the block holding it:
    the module body, nested modules included, or the function body). When the analysis
    records no imported call of ``Mod`` there, and no name ``Mod`` would import (after
    ``only:``/``except:``, sigils as ``~x``) appears unqualified in that scope, the line is
    deleted.

    It keeps the import, and says why, when a ``use`` in the same scope could inject code
    that relies on it. It says nothing when the ``only:``/``except:`` lists are not
    literal, or when the import is written inside a ``quote``.

    Only modules of the project are considered: an unused ``import`` of a standard library
    module or of a module of ``deps/``, a path dependency or an umbrella sibling makes no
    edge between two files of the project, so removing it changes no recompile fan-out of
    an edit to the project, and Elixir already warns about it ("unused import").

    **Why is this bad?**

    An import makes an *export* dependency: the file is recompiled whenever the imported
    module's public functions or macros change, even though nothing of it is used. (Elixir
    also warns "unused import", which fails ``--warnings-as-errors`` builds.)

    **Example**

    ```elixir
    defmodule Shop.Cart do
      import Shop.Format

      def total(items), do: Enum.sum(items)
    end
    ```

    The ``import Shop.Format`` line is removed.

    **Fix safety**

    Safe: a call can only resolve to an imported function if the import is there; the rule
    removes it only when no call in scope could (the analysis and a textual check of every
    unqualified name agree). Calls injected by macros the analysis cannot expand are the
    one blind spot, hence the refusal next to a ``use``.
    """

    id = RULE_ID
    summary = "import of a project module of which nothing is used"
    safe = True
    kind = "import"

    def names(self, info, args):
        return imported_names(info, args) or set()

    def unused(self, node, info, args, refs, source, scope):
        if any(r.kind == "import" for r in refs):
            return False
        names = imported_names(info, args)
        if names is None:
            return False
        after = self.scope_text(source, node, scope)
        if local_uses(after, {n for n in names if not n.startswith("sigil_")}):
            return False
        for n in names:
            if n.startswith("sigil_") and re.search(rb"~" + re.escape(n[6:].encode()) + rb"\W", after):
                return False
        return True
