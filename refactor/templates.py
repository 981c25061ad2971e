"""The Elixir code inside templates (EEx, HEEx), as one Elixir source with the same lines.

A template compiles into a function of the module that embeds it (``EEx.function_from_file``,
Phoenix's ``embed_templates``, a ``~H`` sigil), and the references of its code are that
module's. Rather than a grammar of its own, exfix masks the template: every character that
is not code becomes a space (newlines stay), each tag's code stays where it is, and a ``;``
closes each tag, so that ``<%= for x <- @xs do %>...<% end %>`` reads as ``for x <- @xs do
; ... ; end``. The Elixir grammar then parses the whole template at once, and every node's
line is its line in the template.

HEEx adds ``{expr}`` in attributes and in the body, and component tags: ``<.name ...>`` is a
call of the local or imported function ``name/1`` and ``<Mod.name ...>`` of ``Mod.name/1``,
which the engine compiles as captures (``&name/1``, ``&Mod.name/1``).
"""

from __future__ import annotations

import re

_COMPONENT = re.compile(rb"<(/?)(\.[a-z_][A-Za-z0-9_?!]*|(?:[A-Z][A-Za-z0-9_]*\.)+[a-z_][A-Za-z0-9_?!]*)")


def eex_code(data: bytes) -> bytes:
    """The code of an EEx template, masked (see the module's doc)."""
    return bytes(_Masker(data, heex=False).run())


def heex_code(data: bytes) -> bytes:
    """The code of a HEEx template: EEx tags, ``{...}`` expressions and component tags."""
    return bytes(_Masker(data, heex=True).run())


class _Masker:
    def __init__(self, data: bytes, heex: bool):
        self.data = data
        self.heex = heex
        self.out = bytearray(0x0A if c == 0x0A else 0x20 for c in data)

    def keep(self, start: int, end: int) -> None:
        self.out[start:end] = self.data[start:end]

    def put(self, at: int, text: bytes) -> None:
        """Write code over masked characters on one line (never past a newline)."""
        for i, byte in enumerate(text):
            if at + i >= len(self.out) or self.data[at + i] == 0x0A:
                return
            self.out[at + i] = byte

    def run(self) -> bytearray:
        data, i, n = self.data, 0, len(self.data)
        while i < n:
            if data.startswith(b"<%", i):
                i = self.eex_tag(i)
            elif self.heex and data[i] == 0x7B:  # {
                i = self.braces(i)
            elif self.heex and data[i] == 0x3C:  # <
                i = self.tag(i)
            else:
                i += 1
        return self.out

    def eex_tag(self, i: int) -> int:
        data = self.data
        end = data.find(b"%>", i + 2)
        if end < 0:
            return len(data)
        start = i + 2
        if data.startswith(b"%", start):  # <%% is a literal <%
            return end + 2
        if data.startswith(b"#", start):  # a comment
            return end + 2
        if data.startswith(b"=", start) or data.startswith(b"/", start) or data.startswith(b"|", start):
            start += 1
        self.keep(start, end)
        self.put(end, b";")
        return end + 2

    def braces(self, i: int) -> int:
        """``{expr}``: the code up to the matching brace (strings and nested braces skipped)."""
        end = _matching(self.data, i)
        if end is None:
            return i + 1
        self.keep(i + 1, end)
        self.put(end, b";")
        return end + 1

    def tag(self, i: int) -> int:
        data = self.data
        if data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            return len(data) if end < 0 else end + 3
        m = _COMPONENT.match(data, i)
        if m is not None and not m.group(1):
            name = m.group(2).decode()
            call = f"&{name[1:]}/1;" if name.startswith(".") else f"&{name}/1;"
            self.put(i, call.encode())
            return m.end()
        return i + 1


def _matching(data: bytes, i: int) -> int | None:
    depth, j, n = 0, i, len(data)
    while j < n:
        c = data[j]
        if c in (0x22, 0x27):  # a string: skip to its closing quote
            j += 1
            while j < n and data[j] != c:
                j += 2 if data[j] == 0x5C else 1
        elif c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None
