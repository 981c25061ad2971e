"""What every rule produces: diagnostics, each with an optional fix made of byte-range edits.

A rule never reprints a tree: a fix is a list of edits on the original bytes of one file
(plus, at most, new files it creates), so comments, blank lines and formatting outside the
edited ranges stay byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edit:
    """Replace bytes ``[start, end)`` of the original file with ``text``."""

    start: int
    end: int
    text: bytes


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
    message: str
    fix: Fix | None = None


def apply_edits(source: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits to ``source``; raises ValueError on overlap."""
    out = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos or edit.end < edit.start or edit.end > len(source):
            raise ValueError(f"overlapping or out-of-range edit at byte {edit.start}")
        out.append(source[pos : edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(source[pos:])
    return b"".join(out)


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


class Rule:
    """Base of every rule. Subclasses set the class attributes and implement ``check``.

    The class docstring is the user-facing documentation, in four parts:
    What it does / Why is this bad? / Example / Fix safety.
    """

    id: str = ""
    summary: str = ""
    # Fixes of an unsafe rule are only applied on explicit request.
    safe: bool = True

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        raise NotImplementedError

    def verify(self, ctx: RuleContext, diagnostic: Diagnostic, patched: RuleContext) -> list[str]:
        """Rule-specific checks of a patched project; returns the reasons it fails (empty = ok).

        The engine's generic checks (clean re-parse, same modules defined, no new compile edge
        or cycle) run for every fix; override this to add the rule's own.
        """
        return []
