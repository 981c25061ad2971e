"""Helpers shared by the dependency-cutting rules (not a rule module: the registry skips it)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter

from tree_sitter import Node

from refactor.rules.base import Edit
from refactor.syntax import call_arguments, call_name, do_block, line, text

DEF_KINDS = frozenset({"def", "defp", "defmacro", "defmacrop", "defguard", "defguardp", "defdelegate"})


def clean_sources(ctx, needle: bytes = b""):
    """``(path, facts, source)`` of each analysed source that parsed cleanly and holds ``needle``."""
    if ctx.analysis is None:
        return
    for path in sorted(ctx.sources):
        facts = ctx.analysis.files.get(path)
        source = ctx.sources[path]
        if facts is None or facts.errors or not path.endswith((".ex", ".exs")) or needle not in source:
            continue
        yield path, facts, source


def is_defmodule(node: Node) -> bool:
    return node.type == "call" and call_name(node) == "defmodule" and do_block(node) is not None


def enclosing_module(node: Node) -> Node | None:
    """The nearest ``defmodule`` call holding ``node`` in its do-block."""
    cur = node.parent
    while cur is not None:
        if is_defmodule(cur):
            return cur
        cur = cur.parent
    return None


def module_name(module: Node) -> str:
    args = call_arguments(module)
    return text(args[0]) if args else ""


def newline_of(source: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in source else b"\n"


def line_span(source: bytes, node: Node) -> tuple[int, int] | None:
    """Bytes of the whole lines ``node`` occupies, newline included, when nothing else is on
    them (only whitespace before it and only whitespace after it); else None."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    if source[start : node.start_byte].strip():
        return None
    end = source.find(b"\n", node.end_byte)
    end = len(source) if end < 0 else end + 1
    if source[node.end_byte : end].strip():
        return None
    return start, end


def indentation(source: bytes, node: Node) -> bytes:
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    line = source[start : node.start_byte]
    return line[: len(line) - len(line.lstrip())]


class References:
    """A file's references sorted by line, and counted by target: a rule that asks for those
    of one statement or one target reads only them, so N directives in one file cost N, not
    N**2 (each scanning every reference of the file)."""

    def __init__(self, refs):
        self.refs = sorted(refs, key=lambda r: r.line)
        self.lines = [r.line for r in self.refs]
        self.by_target = Counter(r.target for r in self.refs)
        self.compile = Counter(r.target for r in self.refs if r.mode == "compile")

    def between(self, first: int, last: int) -> list:
        """The references on lines ``first`` to ``last``, both included, in line order."""
        return self.refs[bisect_left(self.lines, first) : bisect_right(self.lines, last)]


_REFERENCES: dict[int, tuple[object, object, References]] = {}


def references(facts) -> References:
    """``facts.references`` indexed, built once per file's facts (held while they are)."""
    got = _REFERENCES.get(id(facts))
    if got is not None and got[0] is facts and got[1] is facts.references:
        return got[2]
    if len(_REFERENCES) > 4096:
        _REFERENCES.clear()
    index = References(facts.references)
    _REFERENCES[id(facts)] = (facts, facts.references, index)
    return index


def directive_target(ctx, facts, node: Node) -> str | None:
    """The project module an ``import``/``require`` statement names: the one target of the
    ``require`` references the analysis records on its lines; None when not exactly one."""
    first, last = line(node), node.end_point[0] + 1
    found = {
        r.target
        for r in references(facts).between(first, last)
        if r.kind == "require" and not r.via and r.target in ctx.analysis.module_file
    }
    return found.pop() if len(found) == 1 else None


def tuple_of(function: str) -> tuple[str, int]:
    """``"name/2"`` -> ``("name", 2)`` (arity -1 when it is not a number)."""
    name, _, arity = function.rpartition("/")
    return name, int(arity) if arity.isdigit() else -1


def compile_count(analysis, path: str, targets: set[str]) -> int:
    facts = analysis.files.get(path)
    if facts is None:
        return 0
    compiled = references(facts).compile
    return sum(compiled[t] for t in targets)


def removal(source: bytes, span: tuple[int, int]) -> Edit:
    """The edit deleting the statement on the lines ``span``, with its own comment above it
    and the blank line it would leave doubled."""
    span = with_comments(source, span)
    return Edit(span[0], absorb_blank(source, span), b"", tidy=True)


def with_comments(source: bytes, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` (whole lines of a statement to delete) with the comment lines right above it,
    at its indentation, when they belong to it alone: the statement ends its paragraph (a
    blank line, the block's end or the file's end follows). A comment above a group of
    statements stays."""
    start, end = span
    nxt_end = source.find(b"\n", end)
    after = source[end : len(source) if nxt_end < 0 else nxt_end].strip()
    if after and not CLOSING.match(after):
        return span
    first = source[start : source.find(b"\n", start)]
    indent = first[: len(first) - len(first.lstrip())]
    top = start
    while top > 0:
        prev_start = source.rfind(b"\n", 0, top - 1) + 1
        prev = source[prev_start:top].rstrip(b"\r\n")
        if not prev.startswith(indent + b"#"):
            break
        top = prev_start
    return top, end


CLOSING = re.compile(rb"(?:end|else|rescue|catch|after)(?![\w?!:])")


def absorb_blank(source: bytes, span: tuple[int, int]) -> int:
    """End of the deletion: also take the blank line after ``span`` when the line before it
    is blank or opens the block, so no doubled or leading blank line is left."""
    start, end = span
    nxt = source.find(b"\n", end)
    if nxt < 0 or source[end:nxt].strip():
        return end
    prev_start = source.rfind(b"\n", 0, max(start - 1, 0)) + 1
    prev = source[prev_start:start].strip()
    if not prev or prev.endswith(b"do"):
        return nxt + 1
    return end


def private_function_edit(source: bytes, module: Node, value: Node, name: str, indent: bytes,
                          nl: bytes):
    """An edit adding ``defp name`` returning ``value``'s code just before ``module``'s ``end``
    (a multi-line value keeps its continuation lines where they stand relative to its first);
    None when that ``end`` shares its line with other code."""
    value_text = text(value).encode()
    if b"\n" in value_text:
        body_lines = value_text.replace(b"\r\n", b"\n").split(b"\n")
        shift = value.start_point[1] - (len(indent) + 2)
        rest = [_shift(l, shift) for l in body_lines[1:]]
        body = nl.join([indent + b"  " + body_lines[0]] + rest)
        func = indent + f"defp {name} do".encode() + nl + body + nl + indent + b"end" + nl
    else:
        func = indent + f"defp {name}, do: ".encode() + value_text + nl
    end_tok = do_block(module).children[-1]
    end_line_start = source.rfind(b"\n", 0, end_tok.start_byte) + 1
    if source[end_line_start : end_tok.start_byte].strip():
        return None
    return Edit(end_line_start, end_line_start, nl + func)


def _shift(line_: bytes, shift: int) -> bytes:
    if not line_.strip():
        return line_
    if shift >= 0:
        lead = len(line_) - len(line_.lstrip(b" "))
        return line_[min(shift, lead):]
    return b" " * -shift + line_
