"""Unified diffs that ``git apply`` reads back exactly.

Diffs use ``a/`` and ``b/`` prefixes. File names are quoted as git quotes them (a tab, a
newline, a carriage return, ``"`` or ``\\`` in a name: C-style in double quotes; a space: a
tab ends the ``---``/``+++`` name), so ``git apply`` reads any name back. Each diff is read
back before it is returned; a diff that does not read back as the change it stands for is a
bug (``DiffError``), and stops the run rather than mislead. ``line_opcodes`` is the line
matcher under it, fast on large repetitive files.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _lines(data: bytes) -> list[str]:
    """Lines with their endings, split on \\n only (CR stays part of the line)."""
    return _split_lines(_text(data), "\n")


def _split_lines(data, nl):
    """``data`` (str or bytes) cut after each ``nl``; a last line without one is kept."""
    parts = data.split(nl)
    lines = [p + nl for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class DiffError(Exception):
    pass


def line_opcodes(old: list, new: list) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes over the whole of ``old`` -> ``new``, fast on large files.

    The common head and tail are set aside first (a fix touches a few lines of a file), and
    only the middle goes to SequenceMatcher, with its default junk heuristic, so a 5 MB
    generated file full of identical ``end`` lines does not take quadratic time.
    """
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    mid_old = old[head : len(old) - tail]
    mid_new = new[head : len(new) - tail]
    ops: list[tuple[str, int, int, int, int]] = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    if mid_old or mid_new:
        _middle(mid_old, mid_new, head, head, ops)
    if tail:
        ops.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return _merged(ops)


# past this many lines, the middle is first cut at lines found once in each side
ANCHOR_MIN = 2000


def _middle(old: list, new: list, i0: int, j0: int, ops: list) -> None:
    """Opcodes of ``old`` -> ``new`` (at offsets i0, j0). SequenceMatcher is quadratic in the
    lines between the first and the last change: 3,000 fixes spread over one file took most
    of a run. A long middle is cut first at the lines that occur once in each side, in the
    same order (patience diff's anchors), and only the gaps between go to SequenceMatcher."""
    anchors = _anchors(old, new) if len(old) + len(new) >= ANCHOR_MIN else []
    if not anchors:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
            ops.append((tag, i1 + i0, i2 + i0, j1 + j0, j2 + j0))
        return
    pi = pj = 0
    for i, j in [*anchors, (len(old), len(new))]:
        if i > pi or j > pj:
            _middle(old[pi:i], new[pj:j], i0 + pi, j0 + pj, ops)
        if i < len(old):
            ops.append(("equal", i0 + i, i0 + i + 1, j0 + j, j0 + j + 1))
        pi, pj = i + 1, j + 1


def _anchors(old: list, new: list) -> list[tuple[int, int]]:
    """(i, j) of lines found exactly once in ``old`` and once in ``new``, the longest run
    of them in the same order in both."""
    counts: dict = {}
    for line in old:
        counts[line] = counts.get(line, 0) + 1
    where: dict = {}
    for j, line in enumerate(new):
        if counts.get(line) == 1:
            where[line] = -1 if line in where else j
    pairs = [(i, where[line]) for i, line in enumerate(old) if where.get(line, -1) >= 0]
    # longest increasing run of j (patience sorting), with back-links
    tails: list[int] = []
    tail_at: list[int] = []
    back = [-1] * len(pairs)
    for k, (_i, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[pos] = j
            tail_at[pos] = k
        back[k] = tail_at[pos - 1] if pos else -1
    out = []
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    return out[::-1]


def _merged(ops: list) -> list:
    """Adjacent opcodes of the same tag joined, as SequenceMatcher gives them."""
    out: list = []
    for op in ops:
        if out and out[-1][0] == op[0] == "equal":
            tag, i1, _i2, j1, _j2 = out[-1]
            out[-1] = (tag, i1, op[2], j1, op[4])
        else:
            out.append(op)
    return out


class _Opcodes:
    """Lends difflib's hunk grouping to opcodes computed by ``line_opcodes``."""

    def __init__(self, ops):
        self.ops = ops

    def get_opcodes(self):
        return list(self.ops)

    get_grouped_opcodes = difflib.SequenceMatcher.get_grouped_opcodes


def _range(start: int, stop: int) -> str:
    """A unified diff range, as difflib writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


_C_ESCAPES = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 34: '"', 92: "\\"}


def _needs_quotes(raw: bytes) -> bool:
    return any(b < 0x20 or b in (0x22, 0x5C, 0x7F) for b in raw)


def git_quote(name: str) -> str:
    """``name`` as git writes it in a diff header (``core.quotePath=false``): as it is, or
    in double quotes with C escapes when it holds a control character, ``"`` or ``\\``."""
    raw = name.encode("utf-8", "surrogateescape")
    if not _needs_quotes(raw):
        return name
    out = bytearray(b'"')
    for b in raw:
        if b in _C_ESCAPES:
            out += b"\\" + _C_ESCAPES[b].encode()
        elif b < 0x20 or b == 0x7F:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b'"'
    return out.decode("utf-8", "surrogateescape")


_UNESCAPES = {v: k for k, v in _C_ESCAPES.items()}


def git_unquote(name: str) -> str:
    """The inverse of ``git_quote``."""
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        return name
    raw = name[1:-1].encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == 0x5C and i + 1 < len(raw):
            nxt = chr(raw[i + 1])
            if nxt in _UNESCAPES:
                out.append(_UNESCAPES[nxt])
                i += 2
                continue
            if raw[i + 1 : i + 4].isdigit():
                out.append(int(raw[i + 1 : i + 4], 8))
                i += 4
                continue
        out.append(b)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def one_line(name: str) -> str:
    """A file name fit for a one-line message: control characters escaped as git does."""
    raw = name.encode("utf-8", "surrogateescape")
    return git_quote(name)[1:-1] if any(b < 0x20 or b == 0x7F for b in raw) else name


def _header_name(prefix: str, path: str) -> str:
    """``a/path`` or ``b/path`` on a ---/+++ line: quoted as git does, a tab after a name
    with a space (git's own way to end it there)."""
    return git_quote(prefix + path) + ("\t" if " " in path else "")


def unified_diff(path: str, before: bytes | None, after: bytes, context: int = 3) -> str:
    """A git-style unified diff of one file, checked by reading it back."""
    old = _lines(before) if before is not None else []
    new = _lines(after)
    if before is not None and old == new:
        return ""
    out = [f"diff --git {git_quote('a/' + path)} {git_quote('b/' + path)}\n"]
    if before is None:
        out.append("new file mode 100644\n")
        out.append("--- /dev/null\n")
    else:
        out.append(f"--- {_header_name('a/', path)}\n")
    out.append(f"+++ {_header_name('b/', path)}\n")
    ops = line_opcodes(old, new)
    body = []
    for group in _Opcodes(ops).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        body.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body.extend(" " + line for line in old[i1:i2])
                continue
            body.extend("-" + line for line in old[i1:i2])
            body.extend("+" + line for line in new[j1:j2])
    for line in body:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    diff = "".join(out)
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag != "equal")
    added = sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag != "equal")
    _check(diff, path, added, removed, before is None)
    return diff


HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _read_back(diff: str) -> tuple[str, bool, int, int]:
    """(path, created, added, removed) of a one-file diff as ``unified_diff`` writes it;
    ValueError when it does not parse."""
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(lines):
            raise ValueError("it ends early")
        i += 1
        return lines[i - 1]

    if not take().startswith("diff --git "):
        raise ValueError("no diff --git line")
    head = take()
    created = head == "new file mode 100644"
    if created:
        head = take()
    plus = take()
    if not head.startswith("--- ") or not plus.startswith("+++ "):
        raise ValueError("no ---/+++ lines")
    if created != (head == "--- /dev/null"):
        raise ValueError("new file without /dev/null")
    name = git_unquote(plus[4:].removesuffix("\t"))
    if not name.startswith("b/"):
        raise ValueError(f"target {name} without b/")
    added = removed = 0
    while i < len(lines):
        m = HUNK.fullmatch(take())
        if m is None:
            raise ValueError(f"line {i}: not a hunk header")
        old_n = int(m.group(2) or 1)
        new_n = int(m.group(4) or 1)
        while old_n or new_n:
            line = take()
            kind = line[:1]
            if kind == " " and old_n and new_n:
                old_n -= 1
                new_n -= 1
            elif kind == "-" and old_n:
                old_n -= 1
                removed += 1
            elif kind == "+" and new_n:
                new_n -= 1
                added += 1
            else:
                raise ValueError(f"line {i}: does not fit its hunk")
            if i < len(lines) and lines[i] == "\\ No newline at end of file":
                i += 1
    return name[2:], created, added, removed


def _check(diff: str, path: str, added: int, removed: int, created: bool) -> None:
    try:
        got, was_created, got_added, got_removed = _read_back(diff)
    except ValueError as exc:
        raise DiffError(f"diff for {path} does not parse: {exc}") from exc
    if got != path or got_added != added or got_removed != removed or created != was_created:
        raise DiffError(
            f"diff for {path} reads back as {got} +{got_added} -{got_removed}, "
            f"expected +{added} -{removed}"
        )
