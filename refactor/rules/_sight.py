"""What the analysis cannot see, and so no rule removes or rewrites (not a rule module).

A rule may only remove or rewrite what the analysis fully sees. Three blind spots make it
refuse, each with a reason the user reads (``suggest`` prints it; ``--stats`` counts the
refusals by kind):

- a macro expansion exfix could not follow in the file (``graph --verbose`` lists them): the
  code it produces may call anything;
- a ``use`` or a compile hook (``@before_compile``, ``@after_compile``, ``@on_definition``)
  in the scope whose code exfix cannot read (a module that is not the project's own);
- a name written as an atom (``plug :fetch_user``, ``pipe_through [:auth]``,
  ``defdelegate ..., as: :f``, ``apply(mod, :f, args)``, ``Module.get_attribute(m, :attr)``):
  a macro may turn it into a call, or read it, where no call is written.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from refactor.syntax import call_arguments, call_name, text

# the kinds a refusal is counted under (Diagnostic.refused)
UNEXPANDED = "a macro exfix could not expand"
ATOM = "a name used as an atom"
OPAQUE = "code exfix cannot read (use, compile hook)"

NOT_FOLLOWED = ("cannot see", "not followed", "dynamic name")
HOOKS = ("before_compile", "after_compile", "on_definition")


class Blind(Exception):
    """A blind spot: ``kind`` is one of the constants above, ``str()`` the reason."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


def unfollowed(ctx, path: str) -> None:
    """Raise Blind when the analysis of ``path`` left a macro expansion unfollowed."""
    facts = ctx.analysis.files.get(path)
    for note in getattr(facts, "notes", ()):
        if any(k in note for k in NOT_FOLLOWED):
            raise Blind(UNEXPANDED, f"exfix could not expand a macro in this file ({note})")


def atoms(source: bytes, start: int, end: int, names: set[str], what: str) -> None:
    """Raise Blind when one of ``names`` appears in ``source[start:end]`` as an atom
    (``:name``, ``:"name"``), which a macro or ``apply`` may call or read; ``what``
    says what it names, with ``{name}`` for the name."""
    if not names:
        return
    for m in ATOM_RE.finditer(source, start, end):
        name = (m.group(1) or m.group(2)).decode(errors="replace")
        if name in names:
            line = source.count(b"\n", 0, m.start()) + 1
            raise Blind(ATOM, f"`:{name}` (line {line}) may name {what.format(name=name)}: a macro "
                              "(plug, pipe_through, @before_compile...), apply/3 or defdelegate can call "
                              "or read it where no call is written")


ATOM_RE = re.compile(rb"(?<![\w:]):(?:([a-z_][A-Za-z0-9_]*[?!]?)|\"([a-z_][A-Za-z0-9_]*[?!]?)\")(?![\w:\"])")


def opaque(ctx, scope: Node) -> None:
    """Raise Blind when a statement of ``scope`` is a ``use`` or a compile hook naming a
    module that is not the project's (exfix follows only the project's own macros)."""
    for stmt in scope.named_children:
        module = None
        if stmt.type == "call" and call_name(stmt) == "use":
            args = call_arguments(stmt)
            module, what = (text(args[0]) if args else ""), "use"
        elif stmt.type == "unary_operator" and text(stmt)[:1] == "@":
            operand = stmt.child_by_field_name("operand")
            if operand is not None and operand.type == "call" and call_name(operand) in HOOKS:
                args = call_arguments(operand)
                what = f"@{call_name(operand)}"
                module = text(args[0]).split(",")[0].strip("{} ") if args else ""
        if module is not None and module not in ctx.analysis.project_tails and module != "__MODULE__":
            raise Blind(OPAQUE, f"`{what} {module}` in the same scope may inject code that needs it "
                                "(exfix expands only the project's own macros)")
