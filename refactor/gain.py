"""The gain of a fix: how many recompiles it saves over the project.

For every file f of the project, R(f) is the set of files mix recompiles when f changes (an
edit that keeps its exports: the fan-out of ``exfix fanout``). The gain of a fix is

    gain = sum over the files of the project before the fix of |R(f)|
         - sum over the files of the project after it of |R'(f)|

that is, the recompiles saved if every file of the project were edited once, or the drop in
mean fan-out times the number of files (a file the fix creates counts with its own fan-out).
It is measured on the analysis that verified the fix: the patched project's graph. A fix
that changes no recompile set (an import dropped that only added an export dependency, an
import turned into an alias while a compile reference to the module stays) has gain 0.
"""

from __future__ import annotations


def fanout_values(analysis) -> dict[str, int] | None:
    """File -> size of its recompile set, when the analysis has it."""
    method = getattr(analysis, "fanout", None)
    if callable(method):
        return method() or None
    try:
        from .recompile import fanout
    except ImportError:
        return None
    return fanout(analysis.file_deps(), getattr(analysis, "version", None)) or None


def total_of(values: dict[str, int] | None) -> int | None:
    return None if not values else sum(values.values())


def mean_of(values: dict[str, int] | None) -> float | None:
    return None if not values else round(sum(values.values()) / len(values), 1)


def gain(before_total: int | None, after_total: int | None) -> int | None:
    """Recompiles saved: None when either side could not be measured."""
    if before_total is None or after_total is None:
        return None
    return before_total - after_total


def worth(sug, min_gain: int | None) -> bool:
    """Whether a verified fix is kept under ``--min-gain`` (None: every fix is). A fix whose
    gain could not be measured is kept: nothing says it is worthless."""
    return min_gain is None or sug.gain is None or sug.gain >= min_gain


def by_gain(sug) -> tuple:
    """Sort key: the highest gain first, unmeasured last (stable: ties keep their order)."""
    return (sug.gain is None, -(sug.gain or 0))


def describe(sug) -> str:
    """The gain as a header states it: ``gain 12`` and with whom it was measured."""
    if sug.gain is None:
        return ""
    text = f"gain {sug.gain} recompile{'' if abs(sug.gain) == 1 else 's'}"
    if sug.gain_with > 1:
        text += f" (with the {sug.gain_with} fixes of this file together)"
    return text
