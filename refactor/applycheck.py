"""What ``exfix apply`` does with the compiler's verdict on its patches (``buildcheck``):
reverted patches are not written, and the fixes in them say why; formatted text replaces the
patched text; every project gets one line saying how its patches were checked."""

from __future__ import annotations

import shutil
from pathlib import Path

from .buildcheck import BuildVerdict, check_build
from .engine import ProjectResult, display_path
from .mixcheck import Runner, run_on_path


def judge(results: list[ProjectResult], env: str, cwd: str, run: Runner | None = None,
          workdir: Path | None = None) -> list[str]:
    """Check every project's patches with mix (``run``: default mix on PATH), drop what it
    reverts; returns the lines to tell the user."""
    lines: list[str] = []
    if run is None and shutil.which("mix") is None:
        for r in results:
            if r.patches:
                lines.append(f"exfix: {r.display}: patches checked against exfix's graph only (no mix on PATH)")
        return lines
    for r in results:
        if r.failed or not r.patches:
            continue
        verdict = check_build(Path(r.root), r.patches, env, run or run_on_path, workdir)
        lines.extend(apply_verdict(r, verdict, cwd))
    return lines


def apply_verdict(result: ProjectResult, verdict: BuildVerdict, cwd: str) -> list[str]:
    if not verdict.checked:
        return [f"exfix: {result.display}: patches checked against exfix's graph only: {verdict.why}"]
    reverted = _with_partners(result, dict(verdict.reverted))
    lines = []
    for rel, why in sorted(reverted.items()):
        lines.append(f"mix: {display_path(Path(result.root) / rel, cwd)}: reverted, not written: {why}")
    kept = []
    for patch in result.patches:
        if patch.file in reverted:
            continue
        if patch.file in verdict.formatted:
            patch.after = verdict.formatted[patch.file]
        kept.append(patch)
    result.patches = kept
    for sug in result.suggestions:
        hit = [f for f in (sug.file, *sug.new_files) if f in reverted]
        if sug.in_patch and hit:
            sug.in_patch = False
            sug.reasons.append(f"reverted: {reverted[hit[0]]}")
    formatted = sum(1 for p in kept if p.file in verdict.formatted)
    lines.append(
        f"mix: {result.display}: {len(kept)} patched file{'s compile' if len(kept) != 1 else ' compiles'} with no new "
        f"warning, {len(reverted)} reverted, {formatted} formatted by mix format "
        f"({verdict.compiles} mix compile in a copy, {verdict.seconds:.1f} s)")
    return lines


def _with_partners(result: ProjectResult, reverted: dict[str, str]) -> dict[str, str]:
    """A fix spanning files (a guard helper and its caller) goes whole: a file whose fix needs
    a reverted new file is reverted too, and so is a new file all of whose users are."""
    needs: dict[str, set[str]] = {}  # file -> the new files its fixes need
    for sug in result.suggestions:
        if sug.in_patch:
            needs.setdefault(sug.file, set()).update(sug.new_files)
    changed = True
    while changed:
        changed = False
        for file, new in needs.items():
            if file not in reverted and new & set(reverted):
                reverted[file] = f"it needs {sorted(new & set(reverted))[0]}, which was reverted"
                changed = True
        for patch in result.patches:
            users = [f for f, new in needs.items() if patch.file in new]
            if patch.before is None and patch.file not in reverted and users \
                    and all(u in reverted for u in users):
                reverted[patch.file] = "the files that use it were reverted"
                changed = True
    return reverted
