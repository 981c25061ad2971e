"""What exfix prints: unified diffs, JSON, SARIF 2.1.0, and the summary tables.

Diffs (``udiff.py``) use paths relative to the folder exfix was run from, so
``exfix suggest > fix.patch && git apply fix.patch`` writes exactly what ``exfix apply``
writes.
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
import json
from urllib.parse import quote
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .engine import FilePatch, ProjectResult, Suggestion, display_path
from .gain import describe as describe_gain
from .udiff import _split_lines, line_opcodes, unified_diff

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INFO_URI = "https://github.com/exfix/exfix"


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

