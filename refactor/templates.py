"""The Elixir code inside templates (EEx, HEEx), as one Elixir source with the same lines.

A template compiles into a function of the module that embeds it (``EEx.function_from_file``,
Phoenix's ``embed_templates``, a ``~H`` sigil), and the references of its code are that
module's. Rather than a grammar of its own, exfix masks the template: every character that
is not code becomes a space (newlines stay), each tag's code stays where it is, and a ``;``
ends a tag's expression where more code follows on its line (unless the tag leaves a block
or a clause open), so that ``<%= for x <- @xs do %><%= x %><%= y %><% end %>`` reads as
``for x <- @xs do x; y; end``. The Elixir grammar then parses the whole template at once, and every node's
line is its line in the template.

HEEx adds ``{expr}`` in attributes and in the body, and component tags: ``<.name ...>`` is a
call of the local or imported function ``name/1`` and ``<Mod.name ...>`` of ``Mod.name/1``,
which the engine compiles as captures (``&name/1``, ``&Mod.name/1``).
"""

from __future__ import annotations

import re

# code that a tag leaves open: `case x do`, `pattern ->`, `fn x ->`, `else`
_OPENS = re.compile(rb"(?:\bdo|->|\belse|,)\s*\Z")
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
        self.ends: list[int] = []  # where an expression ends: `;` when code follows on its line
        self.raw_until = -1  # the end of a <script> or <style> element
        self.clauses: list[int] = []  # where a clause's head `pattern ->` ends
        self.quote: int | None = None  # the quote of an attribute value being read
        self.in_tag = False

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
            c = data[i]
            if data.startswith(b"<%", i):
                i = self.eex_tag(i)
            elif not self.heex:
                i += 1
            elif self.quote is not None:  # a quoted attribute value: no code in it
                if c == self.quote:
                    self.quote = None
                i += 1
            elif self.in_tag and c in (0x22, 0x27):
                self.quote = c
                i += 1
            elif self.in_tag and c == 0x3E:  # >
                self.in_tag = False
                i += 1
            elif c == 0x7B and i >= self.raw_until:  # {
                i = self.braces(i)
            elif c == 0x3C:  # <
                i = self.tag(i)
            else:
                i += 1
        out = self.out
        for end in self.clauses:
            line_end = out.find(b"\n", end)
            if not out[end:len(out) if line_end < 0 else line_end].strip() and out[end] == 0x20:
                out[end] = 0x30  # 0: the text the clause renders
        for end in self.ends:
            line_end = out.find(b"\n", end + 1)
            if out[end + 1:len(out) if line_end < 0 else line_end].strip():
                # after the expression's last character, in the masked space that follows
                at = end if out[end] == 0x20 else end + 1
                if at < len(out) and out[at] == 0x20:
                    out[at] = 0x3B  # ;
        return out

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
        if not _OPENS.search(data[start:end]):
            self.ends.append(end)  # `;` would end a clause's head or a block's opening
        elif data[start:end].rstrip().endswith(b"->"):
            self.clauses.append(end)  # the clause's body is text: a placeholder stands for it
        return end + 2

    def braces(self, i: int) -> int:
        """``{expr}``: the code up to the matching brace (strings and nested braces skipped)."""
        end = _matching(self.data, i)
        if end is None:
            return i + 1
        self.keep(i + 1, end)
        self.ends.append(end)
        return end + 1

    def tag(self, i: int) -> int:
        data = self.data
        if data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            return len(data) if end < 0 else end + 3
        if i + 1 < len(data) and (data[i + 1:i + 2].isalpha() or data[i + 1] == 0x2E):
            self.in_tag = True  # an element or a component: its attributes follow
        m = _COMPONENT.match(data, i)
        if m is not None and not m.group(1):
            name = m.group(2).decode()
            call = f"&{name[1:]}/1" if name.startswith(".") else f"&{name}/1"
            self.put_call(i, call.encode())
            return m.end()
        for raw in (b"<script", b"<style"):
            if data.startswith(raw, i):
                # no {...} inside: their braces are JavaScript's and CSS's (EEx tags still count)
                close = data.find(b"</" + raw[1:], i)
                self.raw_until = len(data) if close < 0 else close
        return i + 1

    def put_call(self, at: int, call: bytes) -> None:
        """Write a component's call at its tag, or ending at the end of the tag's line when
        the tag ends the line (``<.modal`` then attributes below), over masked spaces."""
        end = self.data.find(b"\n", at)
        end = len(self.data) if end < 0 else end
        start = at
        if end - at < len(call):
            start = max(at - (len(call) - (end - at)), self.data.rfind(b"\n", 0, at) + 1)
            if any(c != 0x20 for c in self.out[start:at]):
                start = at  # no room before it: written short, as a reference still
        self.put(start, call)
        self.ends.append(start + len(call) - 1 if start + len(call) <= end else end - 1)


def _matching(data: bytes, i: int) -> int | None:
    """The index of the brace that closes the one at ``i`` (code: strings, charlists and
    the ``#{...}`` inside them skipped), or None."""
    depth, j, n = 0, i, len(data)
    while j < n:
        c = data[j]
        if c in (0x22, 0x27):  # a string or charlist
            j = _string_end(data, j)
            if j is None:
                return None
        elif c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _string_end(data: bytes, i: int) -> int | None:
    """The index of the quote that closes the string opened at ``i``."""
    quote, j, n = data[i], i + 1, len(data)
    while j < n:
        c = data[j]
        if c == 0x5C:  # \
            j += 2
            continue
        if c == quote:
            return j
        if c == 0x23 and j + 1 < n and data[j + 1] == 0x7B:  # #{ ... }
            close = _matching(data, j + 1)
            if close is None:
                return None
            j = close
        j += 1
    return None
