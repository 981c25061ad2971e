"""What exfix prints: unified diffs, JSON, SARIF 2.1.0, and the summary tables.

Diffs use ``a/`` and ``b/`` prefixes and paths relative to the folder exfix was run from, so
``exfix suggest > fix.patch && git apply fix.patch`` writes exactly what ``exfix apply``
writes. File names are quoted as git quotes them (a tab, a newline, a carriage return, ``"``
or ``\\`` in a name: C-style in double quotes; a space: a tab ends the ``---``/``+++`` name),
so ``git apply`` reads any name back. Each diff is read back before it is printed; a diff
that does not read back as the change it stands for is a bug, and stops the run rather than
mislead.
Header lines between diffs start with ``#``, which ``git apply`` skips.

JSON and SARIF hold valid Unicode only: a name or text with bytes that are not UTF-8 shows
U+FFFD for them, and the bytes themselves stay recoverable: in JSON beside it, as
``<key>_bytes`` percent-encoded; in SARIF every URI is percent-encoded (RFC 3986) and
inserted content that is not UTF-8 goes as ``binary`` (base64).

In the diff output each edited file appears once, with every fix ``apply`` writes to it; in
JSON each suggestion's ``diff`` is its fix alone against the file as analysed, and
``patches`` holds the merged per-file diffs, exactly what ``apply`` writes.
"""

from __future__ import annotations

import base64
import difflib
from bisect import bisect_left
import json
import re
from urllib.parse import quote
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .engine import FilePatch, ProjectResult, Suggestion, display_path
from .gain import describe as describe_gain

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INFO_URI = "https://github.com/exfix/exfix"


# --------------------------------------------------------------------------- diffs


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


def patch_diff(result: ProjectResult, patch: FilePatch, cwd: str) -> str:
    path = display_path(f"{result.root}/{patch.file}", cwd)
    return unified_diff(path, patch.before, patch.after)


def suggestion_diff(result: ProjectResult, sug: Suggestion, cwd: str) -> str | None:
    if not sug.offered or sug.after is None:
        return None
    parts = [unified_diff(display_path(f"{result.root}/{sug.file}", cwd), sug.before, sug.after)]
    for rel, data in sorted(sug.new_files.items()):
        parts.append(unified_diff(display_path(f"{result.root}/{rel}", cwd), None, data))
    return "".join(parts)


# --------------------------------------------------------------------------- text output


def _fanout(sug_or_before, after=None) -> str:
    if isinstance(sug_or_before, Suggestion):
        before, after = sug_or_before.fanout_before, sug_or_before.fanout_after
    else:
        before = sug_or_before
    if before is None or after is None or (before == 0 and after == 0):
        return ""
    return f"fan-out {before} → {after}"


def verdict(sug: Suggestion) -> str:
    if not sug.has_fix:
        return "no automatic fix"
    if sug.offered and sug.in_patch:
        return (
            "verified"
            + ("" if sug.safe else " (unsafe fix, allowed by --allow-concat)")
            + (f", found once the fixes of pass {sug.found_in_pass - 1} are made" if sug.found_in_pass > 1 else "")
            + (", written" if sug.written else "")
        )
    return "not fixed: " + "; ".join(sug.reasons)


def header_lines(result: ProjectResult, sug: Suggestion, cwd: str) -> list[str]:
    """Comment lines (each starts with ``#``, so git apply skips them) heading a suggestion."""
    where = display_path(f"{result.root}/{sug.file}", cwd)
    lines = [f"{sug.rule} {where}:{sug.line} {sug.severity}: {sug.message}"]
    extra = [verdict(sug)]
    if sug.offered and sug.gain is not None:
        extra.append(describe_gain(sug))
    fan = _fanout(sug)
    if fan:
        extra.append(fan)
    lines.append("  " + ", ".join(extra))
    if sug.detail:
        lines.append("  " + sug.detail)
    for w in sug.warnings:
        lines.append(f"  warning: {w}")
    return ["# " + part for line in lines for part in line.splitlines() or [""]]


def write_diff_report(results: list[ProjectResult], out: TextIO, cwd: str, colour: bool,
                      width: int | None = None) -> None:
    """Per file: the headers of the suggestions it carries, then the one diff apply writes.

    Suggestions without a verified fix follow, as headers alone. With ``width`` (a
    terminal's), header lines are wrapped to it; diff lines never are.
    """
    from .line_formats import wrap_comment

    def headers(result: ProjectResult, sug: Suggestion) -> list[str]:
        lines = header_lines(result, sug, cwd)
        return [part for line in lines for part in wrap_comment(line, width)] if width else lines

    console = Console(file=out, highlight=False, soft_wrap=True, force_terminal=colour or None,
                      no_color=not colour, emoji=False, markup=False)

    def emit(line: str, style: str = "") -> None:
        if colour:
            console.print(Text(line.rstrip("\n"), style=style), soft_wrap=True)
        else:
            out.write(line if line.endswith("\n") else line + "\n")

    def emit_diff(result: ProjectResult, patch: FilePatch) -> None:
        diff = patch_diff(result, patch, cwd)
        if colour:
            for line in diff.splitlines():
                style = ""
                if line.startswith(("diff --git", "--- ", "+++ ", "new file")):
                    style = "bold"
                elif line.startswith("@@"):
                    style = "cyan"
                elif line.startswith("+"):
                    style = "green"
                elif line.startswith("-"):
                    style = "red"
                emit(line, style)
        else:
            out.write(diff)

    for result in results:
        patches = {p.file: p for p in result.patches}
        printed: set[str] = set()
        # each edited file: the headers of its suggestions, its diff, then the files they add
        in_patch: dict[str, list] = {}
        for s in result.suggestions:
            if s.in_patch:
                in_patch.setdefault(s.file, []).append(s)
        for patch in result.patches:
            if patch.before is None:
                continue
            sugs = in_patch.get(patch.file, [])
            for sug in sugs:
                for h in headers(result, sug):
                    emit(h, "bold yellow")
            emit_diff(result, patch)
            printed.add(patch.file)
            for rel in sorted({rel for s in sugs for rel in s.new_files}):
                if rel in patches and rel not in printed:
                    emit_diff(result, patches[rel])
                    printed.add(rel)
        for patch in result.patches:
            if patch.file not in printed:
                emit_diff(result, patch)
        for sug in result.suggestions:
            if not sug.in_patch:
                for h in headers(result, sug):
                    emit(h, "magenta")


# --------------------------------------------------------------------------- JSON


def to_json(
    results: list[ProjectResult], cwd: str, extra_errors=(), written=None, refused=None
) -> dict:
    suggestions = []
    patches = []
    errors = []
    for result in results:
        for sug in result.suggestions:
            suggestions.append(
                {
                    "rule": sug.rule,
                    "project": result.display,
                    "file": sug.file,
                    "line": sug.line,
                    "severity": sug.severity,
                    "message": sug.message,
                    "detail": sug.detail,
                    "diff": suggestion_diff(result, sug, cwd),
                    "verified": sug.offered,
                    "in_patch": sug.in_patch,
                    "safe": sug.safe,
                    "reasons": list(sug.reasons),
                    "refused": sug.refused or None,
                    "fanout_before": sug.fanout_before,
                    "fanout_after": sug.fanout_after,
                    "gain": sug.gain,
                    "gain_measured_with": sug.gain_with,
                    "warnings": list(sug.warnings),
                }
            )
        for patch in result.patches:
            patches.append(
                {"project": result.display, "file": patch.file, "rules": patch.rules,
                 "diff": patch_diff(result, patch, cwd)}
            )
        for err in result.errors:
            errors.append({"file": err.file, "line": err.line, "message": err.message,
                           "project": err.project})
    for err in extra_errors:
        errors.append({"file": err.file, "line": err.line, "message": err.message,
                       "project": err.project})
    projects = []
    for result in results:
        st = result.stats
        projects.append(
            {
                "project": result.display,
                "name": result.name,
                "analysed": st is not None,
                "files": st.files if st else None,
                "edges": st.edges if st else None,
                "compile_edges": st.compile_edges if st else None,
                "compile_cycles": st.compile_cycles if st else None,
                "fanout_before": st.fanout if st else None,
                "fanout_after": result.fanout_after if st else None,
                "suggestions": len(result.suggestions),
                "hidden_no_gain": len(result.hidden),
                "errors": len(result.errors),
            }
        )
    doc = {"version": 1, "suggestions": suggestions, "patches": patches, "errors": errors,
           "projects": projects}
    if written is not None:
        doc["written"] = list(written)
        doc["refused"] = [{"file": r.path, "message": r.reason} for r in refused or []]
    return recoverable(doc)


def _not_utf8(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, held as lone surrogates
        return True
    return False


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def uri(path: str) -> str:
    """A path as a URI reference: every byte but unreserved ones and ``/`` percent-encoded."""
    return quote(_raw(path), safe="/")


def valid_text(value):
    """``value`` (and what it holds) with U+FFFD for each byte that was not UTF-8."""
    if isinstance(value, dict):
        return {k: valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_text(v) for v in value]
    if _not_utf8(value):
        return _raw(value).decode("utf-8", "replace")
    return value


def recoverable(value):
    """``valid_text``, plus ``KEY_bytes`` (percent-encoded) beside each string, or list of
    strings, that was not UTF-8: a JSON reader gets the exact file name or text back."""
    if isinstance(value, list):
        return [recoverable(v) for v in value]
    if not isinstance(value, dict):
        return valid_text(value)
    out = {}
    for key, v in value.items():
        out[key] = recoverable(v)
        if _not_utf8(v):
            out[key + "_bytes"] = uri(v)
        elif isinstance(v, list) and any(_not_utf8(x) for x in v):
            out[key + "_bytes"] = [uri(x) if isinstance(x, str) else x for x in v]
    return out


# --------------------------------------------------------------------------- SARIF


def _replacements(before: bytes | None, after: bytes) -> list[dict]:
    """Line-aligned byte replacements turning ``before`` into ``after``."""
    old = _split_lines(before or b"", b"\n")  # like the diffs
    new = _split_lines(after, b"\n")
    offsets = [0]
    for line in old:
        offsets.append(offsets[-1] + len(line))
    out = []
    for tag, i1, i2, j1, j2 in line_opcodes(old, new):
        if tag == "equal":
            continue
        inserted = b"".join(new[j1:j2])
        try:
            content = {"text": inserted.decode("utf-8")}
        except UnicodeDecodeError:  # not UTF-8: the bytes themselves
            content = {"binary": base64.b64encode(inserted).decode("ascii")}
        out.append(
            {
                "deletedRegion": {"byteOffset": offsets[i1], "byteLength": offsets[i2] - offsets[i1]},
                "insertedContent": content,
            }
        )
    return out


def to_sarif(results: list[ProjectResult], cwd: str, rules: list[type], extra_errors=()) -> dict:
    rule_ids = [r.id for r in rules]
    for result in results:
        for sug in result.suggestions:
            if sug.rule not in rule_ids:
                rule_ids.append(sug.rule)
    by_id = {r.id: r for r in rules}
    driver_rules = []
    for rid in rule_ids:
        cls = by_id.get(rid)
        summary = (getattr(cls, "summary", "") or rid) if cls else rid
        entry = {"id": rid, "name": rid, "shortDescription": {"text": summary}}
        doc = (cls.__doc__ or "").strip() if cls else ""
        if doc:
            entry["fullDescription"] = {"text": doc.split("\n\n")[0]}
            entry["help"] = {"text": doc}
        driver_rules.append(entry)
    sarif_results = []
    notifications = []
    for result in results:
        for sug in result.suggestions:
            where = uri(display_path(f"{result.root}/{sug.file}", cwd))
            item = {
                "ruleId": sug.rule,
                "ruleIndex": rule_ids.index(sug.rule),
                "level": SARIF_LEVEL.get(sug.severity, "warning"),
                "message": {"text": sug.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": where, "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": max(1, sug.line)},
                        }
                    }
                ],
                "properties": {
                    "project": result.display,
                    "verified": sug.offered,
                    "verdict": verdict(sug),
                    "detail": sug.detail,
                    "fanoutBefore": sug.fanout_before,
                    "fanoutAfter": sug.fanout_after,
                    "gain": sug.gain,
                    "gainMeasuredWith": sug.gain_with,
                },
            }
            if sug.offered and sug.after is not None:
                changes = [
                    {
                        "artifactLocation": {"uri": where, "uriBaseId": "%SRCROOT%"},
                        "replacements": _replacements(sug.before, sug.after),
                    }
                ]
                for rel, data in sorted(sug.new_files.items()):
                    changes.append(
                        {
                            "artifactLocation": {
                                "uri": uri(display_path(f"{result.root}/{rel}", cwd)),
                                "uriBaseId": "%SRCROOT%",
                            },
                            "replacements": _replacements(None, data),
                        }
                    )
                item["fixes"] = [{"description": {"text": sug.message}, "artifactChanges": changes}]
            sarif_results.append(item)
        for err in result.errors:
            notifications.append(_notification(err))
    for err in extra_errors:
        notifications.append(_notification(err))
    return valid_text({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "exfix",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": driver_rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not notifications,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": _dir_uri(cwd)}},
                "results": sarif_results,
            }
        ],
    })


def _dir_uri(cwd: str) -> str:
    from pathlib import Path

    uri = Path(cwd).resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _notification(err) -> dict:
    note = {"level": "error", "message": {"text": err.message}}
    loc = {"physicalLocation": {"artifactLocation": {"uri": uri(err.file), "uriBaseId": "%SRCROOT%"}}}
    if err.line:
        loc["physicalLocation"]["region"] = {"startLine": err.line}
    note["locations"] = [loc]
    return note


# --------------------------------------------------------------------------- tables


def stats_table(results: list[ProjectResult]) -> Table:
    table = Table(title="Suggestions by rule")
    for col in ("rule", "found", "fixed", "not verified", "no fix", "no gain (hidden)"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    rows: dict[str, list[int]] = {}
    for result in results:
        for sug in result.suggestions:
            row = rows.setdefault(sug.rule, [0, 0, 0, 0, 0])
            row[0] += 1
            if sug.in_patch:
                row[1] += 1
            elif sug.has_fix:
                row[2] += 1
            else:
                row[3] += 1
        for sug in result.hidden:
            rows.setdefault(sug.rule, [0, 0, 0, 0, 0])[4] += 1
    total = [0, 0, 0, 0, 0]
    for rule in sorted(rows):
        table.add_row(rule, *map(str, rows[rule]))
        total = [a + b for a, b in zip(total, rows[rule])]
    table.add_row("total", *map(str, total), style="bold")
    return table


def refused_table(results: list[ProjectResult]) -> Table | None:
    """Fixes the rules refused because the analysis cannot see all of the code, by kind."""
    counts: dict[tuple[str, str], int] = {}
    for result in results:
        for sug in result.suggestions:
            if sug.refused:
                counts[(sug.rule, sug.refused)] = counts.get((sug.rule, sug.refused), 0) + 1
    if not counts:
        return None
    table = Table(title="Refused: the analysis cannot see all of the code")
    for col in ("rule", "why", "refused"):
        table.add_column(col, justify="right" if col == "refused" else "left")
    for (rule, why), n in sorted(counts.items()):
        table.add_row(rule, why, str(n))
    return table


def projects_table(results: list[ProjectResult]) -> Table:
    table = Table(title="Projects")
    for col in ("project", "files", "edges", "compile cycles", "fan-out", "macros not followed", "suggestions",
                "errors"):
        table.add_column(col, justify="left" if col == "project" else "right")
    for r in results:
        if r.stats is None:
            table.add_row(r.display, "-", "-", "-", "-", "-", "-", str(len(r.errors)), style="red")
            continue
        fan = "-" if r.stats.fanout is None else str(r.stats.fanout)
        if r.stats.fanout is not None and r.fanout_after is not None and r.fanout_after != r.stats.fanout:
            fan = f"{r.stats.fanout} → {r.fanout_after}"
        table.add_row(
            r.display,
            str(r.stats.files),
            str(r.stats.edges),
            str(r.stats.compile_cycles),
            fan,
            str(r.stats.unfollowed),
            str(len(r.suggestions)),
            str(len(r.errors)),
        )
    return table


def print_tables(tables: list[Table], err: TextIO | None = None) -> None:
    stream = err or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    # piped: wide enough that no project path is cut
    console = Console(file=stream, highlight=False, width=None if tty else 200)
    for t in tables:
        console.print(t)


def dumps(doc: dict) -> str:
    # to_json and to_sarif leave no lone surrogate; ASCII escapes keep the output plain
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"

