"""A baseline: the findings a project accepts for now, so that a gate fails on new ones only.

``exfix baseline`` writes one (JSON); ``--baseline FILE`` hides what it lists. An entry is
keyed by file, rule and the text of the finding's line (blanks squeezed), not by line
number, with a count: lines added or removed above a finding do not bring it back, a second
identical finding in the same file is new, and editing the line itself makes the finding
new (it is new code). File names are relative to the baseline's folder, so the file can be
committed and used from any working folder.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass

VERSION = 1


class BaselineError(Exception):
    def __init__(self, file: str, message: str):
        super().__init__(message)
        self.file, self.message = file, message


@dataclass(frozen=True)
class Key:
    file: str  # relative to the baseline's folder, with /
    rule: str
    code: str


class LineText:
    """The text of a line of a source file, blanks squeezed (a finding's ``code``); each
    file is split once."""

    def __init__(self, sources: dict[str, bytes]):
        self.sources = sources
        self.split: dict[str, list[bytes]] = {}

    def at(self, rel: str, line: int) -> str:
        lines = self.split.get(rel)
        if lines is None:
            lines = self.split[rel] = self.sources.get(rel, b"").split(b"\n")
        raw = lines[line - 1] if 0 < line <= len(lines) else b""
        return " ".join(raw.decode("utf-8", "replace").split())


def relative(path: str, folder: str) -> str:
    return os.path.relpath(os.path.abspath(path), folder).replace(os.sep, "/")


def entries(results, folder: str) -> list[dict]:
    """The baseline entries of ``results`` (engine ProjectResults), sorted."""
    counts: Counter = Counter()
    messages: dict[Key, str] = {}
    for result in results:
        for sug in result.suggestions:
            key = Key(relative(os.path.join(result.root, sug.file), folder), sug.rule, sug.code)
            counts[key] += 1
            messages.setdefault(key, sug.message)
    return [
        {"file": k.file, "rule": k.rule, "code": k.code, "count": n, "message": messages[k]}
        for k, n in sorted(counts.items(), key=lambda kv: (kv[0].file, kv[0].rule, kv[0].code))
    ]


def dumps(items: list[dict]) -> str:
    doc = {"version": VERSION, "tool": "exfix", "findings": items}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def load(path: str) -> "BaselineFilter":
    from .files import read_bytes

    try:
        doc = json.loads(read_bytes(path).decode("utf-8"))
    except OSError as exc:
        raise BaselineError(path, f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(path, f"not a baseline (JSON): {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(path, f"not an exfix baseline (version {VERSION}); write one with exfix baseline")
    counts: dict[Key, int] = {}
    for n, item in enumerate(doc["findings"], 1):
        try:
            key = Key(str(item["file"]), str(item["rule"]), str(item["code"]))
            count = int(item.get("count", 1))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(path, f"finding {n}: needs file, rule, code and count") from exc
        counts[key] = counts.get(key, 0) + count
    return BaselineFilter(os.path.dirname(os.path.abspath(path)), counts)


class BaselineFilter:
    """The engine's filter: hides as many findings per key as the baseline counts."""

    def __init__(self, folder: str, counts: dict[Key, int]):
        self.folder = folder
        self.counts = counts

    def keep(self, root, diagnostics: list, sources: dict[str, bytes]) -> list:
        left = dict(self.counts)  # each pass of the engine starts from the baseline's counts
        lines = LineText(sources)
        out = []
        for diag in diagnostics:
            key = Key(relative(os.path.join(root, diag.file), self.folder), diag.rule,
                      lines.at(diag.file, diag.line))
            if left.get(key, 0) > 0:
                left[key] -= 1
                continue
            out.append(diag)
        return out

    def problems(self, sources, wanted) -> list:
        return []
