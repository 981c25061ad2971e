"""Which clause of a macro (or of a local helper it calls) the compiler runs, at macro time.

The compiler dispatches a macro call like a function call: the first clause whose
parameters match the quoted arguments and whose guard holds. exfix knows the arguments only
as source, so a match is three-valued: ``True`` (it matches), ``False`` (it cannot match:
an atom against a tuple, ``:a`` against ``:b``, a guard ``is_atom(x)`` on a tuple) and
``None`` (it depends on a value exfix does not know). The clause chosen is the first one
that is not ruled out, which is the compiler's choice whenever the arguments are literals,
as in ``use MyAppWeb, :controller`` or ``use MyAppWeb, {:live_view, layout: ...}``.
"""

from __future__ import annotations

from tree_sitter import Node

from .syntax import atom_value, call_arguments, call_name, named_children, text, unwrap_block

# literal node types and the type test that holds for each
_ATOMS = {"atom", "quoted_atom", "boolean", "nil", "alias"}
_LISTS = {"list", "keywords"}
_NUMBERS = {"integer", "float", "char"}
_LITERALS = _ATOMS | _LISTS | _NUMBERS | {"tuple", "string", "map"}
_TYPE_TESTS = {
    "is_atom": _ATOMS,
    "is_boolean": {"boolean"},
    "is_list": _LISTS,
    "is_tuple": {"tuple"},
    "is_binary": {"string"},
    "is_bitstring": {"string"},
    "is_integer": {"integer", "char"},
    "is_float": {"float"},
    "is_number": _NUMBERS,
    "is_map": {"map"},
}


def _literal(node: Node | None) -> Node | None:
    """The node when it is a literal whose type is known at macro time, else None."""
    if node is None:
        return None
    node = unwrap_block(node)
    return node if node.type in _LITERALS else None


def may_match(param: Node | None, arg: Node | None) -> bool | None:
    """Whether the pattern ``param`` matches the quoted argument ``arg``."""
    if param is None:
        return None
    param = unwrap_block(param)
    kind = param.type
    if kind == "identifier":
        return True
    if kind == "binary_operator":
        op = text(param.child_by_field_name("operator"))
        if op == "\\\\":
            return may_match(param.child_by_field_name("left"), arg)
        if op == "=":
            return _all(may_match(param.child_by_field_name(side), arg) for side in ("left", "right"))
        return None
    value = _literal(arg)
    if value is None or kind not in _LITERALS:
        return None
    if kind in ("atom", "quoted_atom", "boolean", "nil"):
        if value.type not in ("atom", "quoted_atom", "boolean", "nil"):
            return False
        return _atom(param) == _atom(value)
    if kind == "tuple":
        if value.type != "tuple":
            return False
        params, values = named_children(param), named_children(value)
        if len(params) != len(values):
            return False
        return _all(may_match(p, v) for p, v in zip(params, values))
    if kind in _LISTS:
        return None if value.type in _LISTS else False
    if kind in ("string", "integer", "float", "char"):
        if value.type != kind:
            return False
        plain = not any(c.type == "interpolation" for c in (*param.named_children, *value.named_children))
        return text(param) == text(value) if plain else None
    if kind == "map":
        return None if value.type == "map" else False
    return None


def _atom(node: Node) -> str | None:
    if node.type in ("boolean", "nil"):
        return text(node)
    return atom_value(node)


def _all(results) -> bool | None:
    seen_unknown = False
    for r in results:
        if r is False:
            return False
        if r is None:
            seen_unknown = True
    return None if seen_unknown else True


def combine(op: str, left: bool | None, right: bool | None) -> bool | None:
    """``left op right`` for ``and``/``&&`` and ``or``/``||`` where None is "not known"."""
    if op in ("and", "&&"):
        return False if False in (left, right) else (None if None in (left, right) else True)
    return True if True in (left, right) else (None if None in (left, right) else False)


def guard_holds(guard: Node | None, values: dict[str, Node | None]) -> bool | None:
    """Whether a guard of type tests on the clause's variables holds for their values."""
    if guard is None:
        return True
    guard = unwrap_block(guard)
    if guard.type == "binary_operator":
        op = text(guard.child_by_field_name("operator"))
        left = guard_holds(guard.child_by_field_name("left"), values)
        right = guard_holds(guard.child_by_field_name("right"), values)
        return combine(op, left, right) if op in ("and", "&&", "or", "||") else None
    if guard.type == "unary_operator" and text(guard.child_by_field_name("operator")) in ("not", "!"):
        inner = [c for c in guard.children_by_field_name("operand") if c.is_named]
        got = guard_holds(inner[0], values) if inner else None
        return None if got is None else not got
    if guard.type == "call":
        name = call_name(guard)
        args = call_arguments(guard)
        if name in _TYPE_TESTS and len(args) == 1 and args[0].type == "identifier":
            value = _literal(values.get(text(args[0])))
            return None if value is None else value.type in _TYPE_TESTS[name]
    return None


def bound_values(param: Node | None, arg: Node | None, out: dict[str, Node | None]) -> None:
    """The argument (or the part of it) each variable of ``param`` is bound to."""
    if param is None:
        return
    param = unwrap_block(param)
    if param.type == "identifier":
        out[text(param)] = arg
    elif param.type == "binary_operator":
        op = text(param.child_by_field_name("operator"))
        if op == "\\\\":
            bound_values(param.child_by_field_name("left"), arg, out)
        elif op == "=":
            bound_values(param.child_by_field_name("left"), arg, out)
            bound_values(param.child_by_field_name("right"), arg, out)
    elif param.type == "tuple" and arg is not None and unwrap_block(arg).type == "tuple":
        params, values = named_children(param), named_children(unwrap_block(arg))
        if len(params) == len(values):
            for p, v in zip(params, values):
                bound_values(p, v, out)


def pick(defs: list, args: list[Node | None]):
    """The first clause of ``defs`` (Definitions) not ruled out for ``args``; the first
    clause when every one is."""
    for d in defs:
        if _all(may_match(p, a) for p, a in zip(d.params, args)) is False:
            continue
        values: dict[str, Node | None] = {}
        for p, a in zip(d.params, args):
            bound_values(p, a, values)
        if guard_holds(d.guard, values) is False:
            continue
        return d
    return defs[0]
