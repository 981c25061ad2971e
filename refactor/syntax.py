"""Helpers over tree-sitter-elixir nodes: names, arguments, keyword lists, do-blocks."""

from __future__ import annotations

from tree_sitter import Node

# Node types that carry no code.
SKIP = {"comment"}


def text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


def line(node: Node) -> int:
    return node.start_point[0] + 1


def named_children(node: Node) -> list[Node]:
    kids = node.named_children  # a new list on every call
    for c in kids:
        if c.type in SKIP:
            return [c for c in kids if c.type not in SKIP]
    return kids


def call_name(node: Node) -> str | None:
    """``foo`` for a local call ``foo(...)`` / ``foo ... do end``; None for remote calls."""
    if node.type != "call":
        return None
    target = node.child_by_field_name("target")
    if target is not None and target.type == "identifier":
        return text(target)
    return None


def remote_parts(node: Node) -> tuple[Node, Node] | None:
    """``(Mod, fun)`` for a remote call ``Mod.fun(...)`` (either may be any expression);
    None for anything else."""
    if node.type != "call":
        return None
    target = node.child_by_field_name("target")
    if target is None or target.type != "dot":
        return None
    left, right = target.child_by_field_name("left"), target.child_by_field_name("right")
    if left is None or right is None:
        return None
    return left, right


def call_arguments(node: Node) -> list[Node]:
    """Positional and keyword arguments of a call, not counting the do-block."""
    for child in node.named_children:
        if child.type == "arguments":
            return named_children(child)
    return []


def do_block(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type == "do_block":
            return child
    return None


def keyword_pairs(node: Node) -> list[tuple[str, Node]]:
    """``[(key, value)]`` of a ``keywords`` node or a ``list`` holding one; keys without colon."""
    if node.type == "list":
        kws = [c for c in named_children(node) if c.type == "keywords"]
        if not kws:
            return []
        node = kws[0]
    if node.type != "keywords":
        return []
    out = []
    for pair in named_children(node):
        if pair.type != "pair":
            continue
        key = pair.child_by_field_name("key")
        value = pair.child_by_field_name("value")
        if key is None or value is None:
            continue
        k = text(key).strip()
        if k.endswith(":"):
            k = k[:-1]
        k = k.strip('"')
        out.append((k, value))
    return out


def keyword_get(args: list[Node], key: str) -> Node | None:
    for arg in args:
        if arg.type in ("keywords", "list"):
            for k, v in keyword_pairs(arg):
                if k == key:
                    return v
    return None


def block_body(node: Node) -> list[Node]:
    """The expressions of a do-block (without else/rescue/... sub-blocks)."""
    return [
        c
        for c in named_children(node)
        if c.type not in ("else_block", "after_block", "rescue_block", "catch_block")
    ]


def do_body(call: Node) -> list[Node]:
    """Body expressions of ``call``: its do-block, or a ``do:`` keyword argument."""
    block = do_block(call)
    if block is not None:
        return block_body(block)
    value = keyword_get(call_arguments(call), "do")
    return [value] if value is not None else []


def atom_value(node: Node) -> str | None:
    """``foo`` for ``:foo`` or ``:"foo"``; None for anything else."""
    if node.type == "atom":
        return text(node)[1:]
    if node.type == "quoted_atom":
        contents = [c for c in node.named_children if c.type == "quoted_content"]
        if len(contents) == 1 and all(c.type == "quoted_content" for c in node.named_children):
            return text(contents[0])
        if not node.named_children:
            return ""
    return None


def unwrap_block(node: Node) -> Node:
    """``(expr)`` -> ``expr``."""
    while node.type == "block":
        kids = named_children(node)
        if len(kids) != 1:
            break
        node = kids[0]
    return node


def operand(node: Node) -> Node | None:
    """The operand of a unary operator; for ``&(expr)`` the field starts at the ``(`` token."""
    for child in node.children_by_field_name("operand"):
        if child.is_named and child.type not in SKIP:
            return child
    return None


def string_value(node: Node) -> str | None:
    """The value of a plain string literal (no interpolation, no escapes), or None."""
    if node.type != "string" or any(c.type != "quoted_content" for c in node.named_children):
        return None
    return "".join(text(c) for c in node.named_children)


def string_content(node: Node) -> tuple[bytes, int] | None:
    """The source between a string's (or heredoc's) delimiters, and the line it starts on;
    None for anything but a string. A heredoc's content starts on the line after its
    opening quotes."""
    if node.type != "string":
        return None
    kids = node.children
    if len(kids) < 2:
        return None
    return _between(node, kids[0].end_byte, kids[-1].start_byte, kids[0].end_point[0] + 1)


def _between(node: Node, start: int, end: int, line: int) -> tuple[bytes, int]:
    """The node's source from byte ``start`` to ``end``, starting on ``line``; a leading
    newline (a heredoc's, after its opening quotes) is dropped and moves the start line."""
    data = node.text[start - node.start_byte:end - node.start_byte]
    if data.startswith(b"\n"):
        data, line = data[1:], line + 1
    return data, line


def sigil_content(node: Node) -> tuple[bytes, int] | None:
    """The source between a sigil's delimiters and the line it starts on (a heredoc's on the
    line after its opening quotes); None when it is empty."""
    parts = [c for c in node.named_children if c.type not in ("sigil_name", "sigil_modifiers")]
    if not parts:
        return None
    return _between(node, parts[0].start_byte, parts[-1].end_byte, parts[0].start_point[0] + 1)


def branch_body(node: Node, truth: bool) -> list[Node]:
    """The expressions of an ``if``/``unless`` branch: the do part (``truth``) or the else
    part, from a do-block or from ``do:``/``else:`` keywords."""
    block = do_block(node)
    if block is not None:
        if truth:
            return [c for c in named_children(block) if not c.type.endswith("_block")]
        other = next((c for c in named_children(block) if c.type == "else_block"), None)
        return named_children(other) if other is not None else []
    value = keyword_get(call_arguments(node)[1:], "do" if truth else "else")
    return [value] if value is not None else []

