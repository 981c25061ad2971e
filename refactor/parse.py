"""Tree-sitter parsing of Elixir source and loading of the queries shipped in ``queries/``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import tree_sitter_elixir
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

LANGUAGE = Language(tree_sitter_elixir.language())


# Bytes the parser may see in place of NUL: control bytes valid in a string, an error elsewhere,
# like NUL itself for Elixir
STAND_INS = [bytes([b]) for b in (*range(1, 9), *range(14, 27), *range(28, 32))]


def nul_stand_in(source: bytes) -> bytes | None:
    """The byte parsed in place of each NUL of ``source`` (None: it has no NUL, or holds
    every stand-in). tree-sitter's Elixir scanner takes NUL for the end of the input, so
    ``"a\\0b"``, which mix compiles, would be a syntax error; the stand-in is a byte the
    file does not hold, so a rule's edit that copies node text gets NUL back in
    ``restore_nul``."""
    if b"\0" not in source:
        return None
    for byte in STAND_INS:
        if byte not in source:
            return byte
    return None


def restore_nul(text: bytes, source: bytes) -> bytes:
    """``text`` built from the parse of ``source``, with NUL where the parser saw the stand-in."""
    stand_in = nul_stand_in(source)
    return text.replace(stand_in, b"\0") if stand_in and stand_in in text else text


def parse(source: bytes) -> Tree:
    """Parse Elixir source bytes. Never raises on bad syntax: look for ERROR/MISSING nodes."""
    stand_in = nul_stand_in(source)
    if stand_in is not None:
        source = source.replace(b"\0", stand_in)
    return Parser(LANGUAGE).parse(source)


@lru_cache(maxsize=None)
def load_query(name: str) -> Query:
    """Load ``queries/<name>.scm`` from the installed package (or, in a checkout that is not
    installed, from the repository's ``queries/`` folder)."""
    try:
        text = resources.files("refactor.queries").joinpath(f"{name}.scm").read_text("utf-8")
    except ModuleNotFoundError:
        text = (Path(__file__).resolve().parent.parent / "queries" / f"{name}.scm").read_text("utf-8")
    return Query(LANGUAGE, text)


def captures(query: Query, node: Node) -> dict[str, list[Node]]:
    return QueryCursor(query).captures(node)


def matches(query: Query, node: Node) -> list[tuple[int, dict[str, list[Node]]]]:
    return QueryCursor(query).matches(node)


def first_error(tree: Tree) -> Node | None:
    """The first ERROR or MISSING node in document order, or None when the parse is clean.

    A MISSING token can hide inside a named leaf (``1 + )`` gives an ``identifier`` with
    ``has_error`` and no children): such a leaf is the error itself.
    """
    if not tree.root_node.has_error:
        return None
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return node
        if node.has_error:
            children = [c for c in node.children if c.has_error]
            if not children:
                return node
            stack.extend(reversed(children))
    return None
