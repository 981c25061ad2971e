"""What ``mix compile`` printed, read as diagnostics: kind, first line of the message, file.

Elixir 1.14 prints ``warning: msg`` then the location on the next line (``  lib/a.ex:3``);
1.18 and 1.20 print a box ending in ``└─ lib/a.ex:3:5``; a compile error ends with
``** (CompileError) lib/a.ex:4: ...`` or ``== Compilation error in file lib/a.ex ==``. A
block runs from one ``warning:``/``error:``/``**`` line to the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START = re.compile(r"^\s*(warning|error):\s*(.*)$|^\s*\*\* \((\w+(?:\.\w+)*)\)\s*(.*)$")
COMPILATION_ERROR = re.compile(r"^== Compilation error in file (\S+) ==")
LOCATION = re.compile(r"(?:^|[\s(\"'])((?:[\w.@+-]+/)*[\w.@+-]+\.(?:exs?|[hl]?eex)):(\d+)")
LINE_WORDS = re.compile(r"\b(line|lines) \d+\b|(\.(?:exs?|[hl]?eex)):\d+(?::\d+)?")


@dataclass(frozen=True)
class Diagnostic:
    kind: str  # "warning" | "error"
    message: str  # the first line, line numbers in it replaced by N
    file: str  # relative to the project compiled, "" when the block names none
    line: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        """What stays the same when a patch moves the code: lines shift, words do not."""
        return self.kind, self.file, self.message

    def describe(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        return f"{where}{self.kind}: {self.message}"


def parse(output: str) -> list[Diagnostic]:
    """The warnings and errors in ``output``, in order; each names the first file its block
    locates."""
    out: list[Diagnostic] = []
    block: list[str] = []
    head: tuple[str, str] | None = None

    def close():
        if head is None:
            return
        file, line = "", 0
        for text in block:
            m = LOCATION.search(text)
            if m:
                file, line = m.group(1).removeprefix("./"), int(m.group(2))
                break
        message = LINE_WORDS.sub(lambda m: f"{m.group(1)} N" if m.group(1) else m.group(2), head[1])
        out.append(Diagnostic(head[0], message.strip(), file, line))

    for text in output.splitlines():
        m = START.match(text)
        ce = COMPILATION_ERROR.match(text)
        if m or ce:
            close()
            if ce:
                head = ("error", "compilation error")
                block = [f"{ce.group(1)}:0"]
                continue
            if m.group(1):
                head = (m.group(1), m.group(2))
            else:
                head = ("error", f"({m.group(3)}) {m.group(4)}")
            block = [m.group(2) or m.group(4) or ""]
            continue
        if head is not None:
            block.append(text)
    close()
    return out


def files_named(output: str) -> set[str]:
    """Every source file a location in ``output`` names."""
    return {m.group(1).removeprefix("./") for m in LOCATION.finditer(output)}
