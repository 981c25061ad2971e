"""The expander's state at a point of the walk: the lexical environment (``Env``), the
caller's code a macro parameter is bound to (``Binding``), the imports in scope, and how
much of a module an expansion read (what its cache entry depends on)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as dataclass_replace

from tree_sitter import Node

# How much of a module the expander read: what a cached expansion depends on (analysis.py)
MACROS, SUMMARY, DEFINITIONS = 1, 2, 3


@dataclass(frozen=True)
class Import:
    module: str
    only: frozenset | None = None  # (name, arity) pairs, or None for everything
    except_: frozenset = frozenset()
    kind: str = "all"  # all | functions | macros | sigils


@dataclass(frozen=True)
class Binding:
    """A macro parameter bound to the caller's argument (walked in the caller's scope)."""

    node: Node | None
    env: "Env"
    atom: str | None = None  # a literal atom argument, e.g. `use MyAppWeb, :controller`
    # a fragment the macro quoted into a variable (`def_x = quote do ... end`): its body is
    # walked with the macro's hygiene wherever it is unquoted
    quoted: tuple = ()
    # a list of such fragments (`Enum.map(opts, fn {k, v} -> quote ... end)`), each with
    # its own bindings
    items: tuple = ()


class Env:
    """The lexical environment at a point of the walk. Never changed in place: ``replace``
    gives a new one (a plain dict copy, as the walk makes tens of thousands of them)."""

    module: str | None = None
    function: tuple | None = None
    context: str | None = None  # None | "match" | "guard"
    aliases: dict = {}  # never mutated: every change builds a new dict
    imports: tuple = ()
    # set while walking code quoted in a macro: the aliases where the quote was written
    hygiene: dict | None = None
    macro_aliases: dict = {}
    bindings: dict | None = None
    line: int | None = None  # line of the macro call for quoted code (mix reports that line)
    via: str = ""
    depth: int = 0
    attribute: str | None = None
    # inside a def written outside any quote: the module body's environment at the def,
    # where the def's `unquote(...)` fragments are evaluated (at compile time)
    fragment_env: "Env | None" = None
    # in a module body's branch that the environment never takes (`if Mix.env() == :dev`
    # analysed for prod): still expanded, but the modules and functions it defines never exist
    dead: bool = False
    # in a template's code: the file mix names in traces (a template file; "" for this file)
    # and what is added to the template's lines (a template in a string of this file)
    origin: str = ""
    line_offset: int = 0

    def __init__(self, **fields):
        self.__dict__.update(fields)


_new = object.__new__


def replace(obj, **changes):
    if type(obj) is Env:
        new = _new(Env)
        new.__dict__ = {**obj.__dict__, **changes}
        return new
    return dataclass_replace(obj, **changes)
