"""What every rule produces: diagnostics, each with an optional fix made of byte-range edits.

A rule never reprints a tree: a fix is a list of edits on the original bytes of one file
(plus, at most, new files it creates), so comments, blank lines and formatting outside the
edited ranges stay byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from refactor.parse import parse


@dataclass(frozen=True)
class Edit:
    """Replace bytes ``[start, end)`` of the original file with ``text``.

    ``tidy``: the edit deletes whole lines (a statement); once every edit of the file is
    applied, the blank lines where they were are tidied as a person would (see
    ``apply_edits``), whichever other deletions of neighbouring lines were applied with it.
    """

    start: int
    end: int
    text: bytes
    tidy: bool = False


@dataclass
class Fix:
    edits: list[Edit]
    # Safe fixes are applied by default; unsafe ones only on request (e.g. --allow-concat).
    safe: bool = True
    # Files the fix creates, path relative to the project root -> content (e.g. a guard helper).
    new_files: dict[str, bytes] = field(default_factory=dict)
    # Shown next to the diff, e.g. the stale .beam warning of module-concat.
    warnings: list[str] = field(default_factory=list)


@dataclass
class Diagnostic:
    rule: str
    file: str  # relative to the project root, as mix prints paths
    line: int  # 1-based
    severity: str  # "error" | "warning" | "info"
    message: str  # the reason, in one sentence
    fix: Fix | None = None
    # what the user may want to know beyond that sentence: the mechanism, the choice made
    detail: str = ""
    # a fix the rule refused because the analysis cannot see all of the code: the kind of
    # blind spot (rules/_sight.py), counted by suggest --stats
    refused: str = ""


def apply_edits(source: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits to ``source``; raises ValueError on overlap.

    Where ``tidy`` edits deleted lines, a blank line left right after a line that opens a
    block (``do``, ``->``) or at the start of the file, a second blank line in a row, and a
    blank line right before ``end``/``else``/... are removed: deleting two adjacent
    directives separately, or the last statement before ``end``, leaves what a person
    would have written.
    """
    out = []
    pos = 0
    length = 0
    gaps: list[int] = []  # offsets in the output where tidy edits deleted lines
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos or edit.end < edit.start or edit.end > len(source):
            raise ValueError(f"overlapping or out-of-range edit at byte {edit.start}")
        out.append(source[pos : edit.start])
        length += edit.start - pos
        if edit.tidy:
            gaps.append(length + len(edit.text))
        out.append(edit.text)
        length += len(edit.text)
        pos = edit.end
    out.append(source[pos:])
    data = b"".join(out)
    for gap in sorted(set(gaps), reverse=True):
        data = _tidy_gap(data, gap)
    return data


OPENS = re.compile(rb"(?:^|[^\w?!:.@])do$|->$")
CLOSES = re.compile(rb"(?:end|else|rescue|catch|after)(?![\w?!:])")


def _tidy_gap(data: bytes, gap: int) -> bytes:
    """Blank lines around ``gap`` (a line start where lines were deleted), tidied."""
    if gap > 0 and data[gap - 1 : gap] != b"\n":
        return data  # not a line start: the edit did not delete whole lines
    while True:
        nxt_end = data.find(b"\n", gap)
        nxt_end = len(data) if nxt_end < 0 else nxt_end + 1
        nxt = data[gap:nxt_end]
        prev_start = data.rfind(b"\n", 0, gap - 1) + 1 if gap > 0 else 0
        prev = data[prev_start:gap]
        next_blank = bool(nxt) and not nxt.strip()
        prev_blank = bool(prev) and not prev.strip()
        opens = gap == 0 or OPENS.search(prev.rstrip()) is not None
        closes = not nxt or CLOSES.match(nxt.strip()) is not None
        if next_blank and (prev_blank or opens):
            data = data[:gap] + data[nxt_end:]
        elif prev_blank and closes:
            data = data[:prev_start] + data[gap:]
            gap = prev_start
        else:
            return data


@dataclass
class RuleContext:
    """What a rule sees: one mix project, its sources as analysed, and the graph built from them.

    ``project`` is a ``refactor.project.Project``; ``analysis`` a ``refactor.analysis.Analysis``
    computed from exactly ``sources`` (path relative to the project root -> bytes).
    """

    project: object
    analysis: object
    sources: dict[str, bytes]
    options: dict = field(default_factory=dict)
    _trees: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def tree(self, path: str):
        """The syntax tree of ``sources[path]``, parsed once for all the rules that read it."""
        tree = self._trees.get(path)
        if tree is None:
            tree = self._trees[path] = parse(self.sources[path])
        return tree


class Rule:
    """Base of every rule. Subclasses set the class attributes and implement ``check``.

    The class docstring is the user-facing documentation, in four parts:
    What it does / Why is this bad? / Example / Fix safety.
    """

    id: str = ""
    summary: str = ""
    # Fixes of an unsafe rule are only applied on explicit request.
    safe: bool = True
    # Whether its fixes are worth making for the recompiles they save (refactor/gain.py),
    # so that one saving fewer than --min-gain is not offered. False for a rule whose fixes
    # repair something else (a build that lacks an optional dependency).
    for_gain: bool = True
    # False for a rule that only advises (where only a person can decide): it has no fix
    fixes: bool = True
    # option name -> int, str or a tuple of the words allowed: what .exfix.exs may set
    config_options: dict = {}

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        raise NotImplementedError

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        """Rule-specific checks of a patched project; returns the reasons it fails (empty = ok).

        The engine's generic checks (clean re-parse, same modules defined, no new compile edge
        or cycle) run for every fix; override this to add the rule's own.
        """
        return []
