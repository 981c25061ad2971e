"""One line per finding: ``--format concise`` (as ``ruff --output-format concise`` and
compilers print) and ``--format github`` (GitHub Actions workflow commands, which the runner
turns into annotations on the pull request's diff); and the wrapping of long header lines
on a terminal."""

from __future__ import annotations

import textwrap

from .engine import ProjectResult, Suggestion, display_path

# GitHub's three annotation levels
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def status(sug: Suggestion) -> str:
    """A few words on the fix: what concise and GitHub lines end with."""
    if not sug.has_fix:
        return "no automatic fix"
    if sug.offered and sug.in_patch:
        return "fix written" if sug.written else "verified fix"
    return "not fixed"


def findings(results: list[ProjectResult], cwd: str):
    """(path as the user sees it, suggestion) of every finding, in report order."""
    for result in results:
        for sug in result.suggestions:
            yield display_path(f"{result.root}/{sug.file}", cwd), sug


def concise(results: list[ProjectResult], cwd: str) -> list[str]:
    """``path:line: severity: message [rule, status]``, one line each, whatever its length."""
    return [f"{where}:{sug.line}: {sug.severity}: {_flat(sug.message)} [{sug.rule}, {status(sug)}]"
            for where, sug in findings(results, cwd)]


def github(results: list[ProjectResult], cwd: str, problems=()) -> list[str]:
    """``::warning file=...,line=...,title=...::message`` for each finding, then ``::error``
    for each error (a file that does not parse, a broken mix.exs): paths relative to the
    working folder, which in a workflow is the repository's root."""
    out = []
    for where, sug in findings(results, cwd):
        level = GITHUB_LEVEL.get(sug.severity, "warning")
        title = f"exfix {sug.rule} ({status(sug)})"
        out.append(f"::{level} file={_property(where)},line={sug.line},title={_property(title)}::"
                   f"{_data(sug.message)}")
    for p in problems:
        where = f"file={_property(p.file)}" + (f",line={p.line}" if p.line else "")
        out.append(f"::error {where},title=exfix::{_data(p.message)}")
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


def _data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped as the runner reads them back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value: also ':' and ',' escaped."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def wrap_comment(line: str, width: int) -> list[str]:
    """A ``# ...`` header line cut at word boundaries to ``width`` columns; the parts go on
    with ``#`` and the line's indent plus two spaces, so git apply still skips them all."""
    if len(line) <= width or not line.startswith("#"):
        return [line]
    body = line[1:]
    indent = "#" + body[: len(body) - len(body.lstrip(" "))]
    return textwrap.wrap(body.strip(" "), width=max(width, len(indent) + 22), initial_indent=indent,
                         subsequent_indent=indent + "  ", break_long_words=False,
                         break_on_hyphens=False) or [line]
