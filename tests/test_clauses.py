"""Macro-time clause choice (refactor/clauses.py): patterns and guards against quoted arguments."""

from __future__ import annotations

import pytest

from refactor.clauses import guard_holds, may_match, pick
from refactor.index import Definition, head_parts
from refactor.parse import parse
from refactor.syntax import call_arguments, named_children


def node(source: str):
    return named_children(parse(source.encode()).root_node)[0]


@pytest.mark.parametrize("param, arg, expected", [
    ("which", ":controller", True),
    (":controller", ":controller", True),
    (":controller", ":live_view", False),
    ("{which, opts}", ":controller", False),
    ("{which, opts}", "{:live_view, layout: 1}", True),
    ("{:a, opts}", "{:b, 1}", False),
    ("{which, opts}", "{:a, 1, 2}", False),
    ("[do: block]", ":x", False),
    ("[do: block]", "[do: 1]", None),
    (":controller", "which", None),
    ("\"a\"", "\"a\"", True),
    ("\"a\"", "\"b\"", False),
    ("opts = [_ | _]", ":x", False),
    ("opts = [_ | _]", "[1]", None),
])
def test_may_match(param, arg, expected):
    assert may_match(node(param), node(arg)) is expected


@pytest.mark.parametrize("guard, value, expected", [
    ("is_atom(w)", ":controller", True),
    ("is_atom(w)", "{:live_view, []}", False),
    ("is_atom(w)", "Some.Module", True),
    ("is_list(w)", "[a: 1]", True),
    ("is_atom(w) and is_list(w)", ":x", False),
    ("is_atom(w) or is_list(w)", "[1]", True),
    ("not is_atom(w)", "{1}", True),
    ("is_atom(w)", "some_var", None),
    ("w > 1", "2", None),
])
def test_guard_holds(guard, value, expected):
    assert guard_holds(node(guard), {"w": node(value)}) is expected


def definitions(source: str) -> list[Definition]:
    out = []
    for call in named_children(named_children(parse(source.encode()).root_node)[0].named_children[-1]):
        name, params, _guard = head_parts(call_arguments(call)[0])
        out.append(Definition("M", "defmacro", name, (len(params),), params, None, {}, "m.ex", call))
    return out


PHX_USING = """defmodule M do
  defmacro __using__({which, opts}) when is_atom(which), do: apply(__MODULE__, which, [opts])
  defmacro __using__(which) when is_atom(which), do: apply(__MODULE__, which, [])
end
"""


def test_pick_follows_patterns_and_guards_in_clause_order():
    tuple_clause, atom_clause = definitions(PHX_USING)
    assert pick([tuple_clause, atom_clause], [node(":controller")]) is atom_clause
    assert pick([tuple_clause, atom_clause], [node("{:live_view, layout: 1}")]) is tuple_clause
    # an argument exfix cannot evaluate rules nothing out: the first clause, as before
    assert pick([tuple_clause, atom_clause], [node("which")]) is tuple_clause
    # every clause ruled out: the first
    assert pick([tuple_clause, atom_clause], [node("[1]")]) is tuple_clause
