"""Inline suppressions: comments in the Elixir source that hide a finding of a named rule.

    # exfix:ignore attribute-to-function            (alone on a line: the next line)
    @default Config.shelf()  # exfix:ignore attribute-to-function   (at a line's end: that line)
    # exfix:ignore-file module-concat, body-time-call                (anywhere: the whole file)

A comment names one or more rules (separated by spaces or commas); a finding of a named rule
on the line it covers is not reported and its fix is not made, as ruff's ``# noqa: CODE``
and Credo's ``# credo:disable-for-next-line``. Only real comments count (found with
tree-sitter, so the words inside a string or a heredoc do nothing), and only files that
contain ``exfix:`` are parsed for them. A comment that names no rule, or a rule that does
not exist, is an error naming its file and line: a suppression that silently does nothing
would leave the gate failing for a reason nobody can see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

MARK = b"exfix:"
DIRECTIVE = re.compile(r"#\s*exfix:(ignore-file|ignore)\b(.*)$")


@dataclass
class Suppressions:
    """What the comments of one file hide: rule ids per line, and for the whole file."""

    lines: dict[int, set[str]] = field(default_factory=dict)
    file: set[str] = field(default_factory=set)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    def hides(self, rule: str, line: int) -> bool:
        return rule in self.file or rule in self.lines.get(line, ())


NONE = Suppressions()


@lru_cache(maxsize=256)
def read(source: bytes, known: frozenset[str]) -> Suppressions:
    """The suppressions in ``source``; ``known``: the rule ids a comment may name."""
    if MARK not in source:
        return NONE
    from tree_sitter import QueryCursor

    from .parse import LANGUAGE, parse

    out = Suppressions()
    tree = parse(source)
    comments = QueryCursor(_comment_query(LANGUAGE)).captures(tree.root_node).get("c", [])
    for node in sorted(comments, key=lambda n: n.start_byte):
        text = node.text.decode("utf-8", "replace")
        m = DIRECTIVE.search(text)
        if m is None:
            continue
        kind, rest = m.group(1), m.group(2)
        line = node.start_point[0] + 1
        rules = [r for r in re.split(r"[\s,]+", rest.strip()) if r]
        if not rules:
            out.problems.append((line, f"exfix:{kind} names no rule (write the rule id after it, "
                                       "e.g. # exfix:ignore attribute-to-function)"))
            continue
        unknown = [r for r in rules if r not in known]
        if unknown:
            out.problems.append((line, f"exfix:{kind} names unknown rule {', '.join(unknown)} "
                                       f"(known: {', '.join(sorted(known))})"))
        named = {r for r in rules if r in known}
        if kind == "ignore-file":
            out.file |= named
            continue
        start = source.rfind(b"\n", 0, node.start_byte) + 1
        alone = not source[start : node.start_byte].strip()
        target = line + 1 if alone else line
        out.lines.setdefault(target, set()).update(named)
    return out


@lru_cache(maxsize=1)
def _comment_query(language):
    from tree_sitter import Query

    return Query(language, "(comment) @c")


class SuppressionFilter:
    """The engine's filter for inline suppressions (picklable: it holds only rule ids)."""

    def __init__(self, known: list[str] | tuple[str, ...]):
        self.known = frozenset(known)

    def keep(self, root, diagnostics: list, sources: dict[str, bytes]) -> list:
        out = []
        for diag in diagnostics:
            source = sources.get(diag.file)
            if source is not None and read(source, self.known).hides(diag.rule, diag.line):
                continue
            out.append(diag)
        return out

    def problems(self, sources: dict[str, bytes], wanted) -> list[tuple[str, int, str]]:
        """(file, line, message) of every malformed suppression in the files reported on."""
        out = []
        for rel, source in sorted(sources.items()):
            if rel.endswith((".ex", ".exs")) and wanted(rel) and MARK in source:
                out.extend((rel, line, msg) for line, msg in read(source, self.known).problems)
        return out
