"""``exfix apply`` asks the compiler before it writes: a patch that breaks the build, or adds
a warning, is reverted (never written).

The folder mix builds the project in (the project, or the umbrella holding it: where
``_build/<env>`` is) is copied whole, ``_build`` and ``deps`` included, and kept between runs
(``shadow.py``), and mix sees it at the project's own path (``mountns.py``), so it compiles
the copy incrementally and the dependencies are not built again. In the copy:

1. the files to patch are formatted by ``mix format`` as they are; those it leaves
   unchanged were clean, and stay clean: once patched, ``mix format`` formats them (with
   the project's ``.formatter.exs``, its line length and ``import_deps``), and that text is
   what apply writes;
2. mix compiles the copy as it is (the baseline: a project that does not compile as it is
   cannot judge a patch, and the warnings it prints are not new);
3. the patches are written and mix compiles again; a patched file named by an error, or by
   a warning the baseline lacks, gets its original text back, and mix compiles again, until
   the build holds. An error or new warning that names no patched file reverts every patch.

The project's own files are never touched here (the copy lives under ``_build/exfix``, which
mix does not read): ``apply`` writes what this leaves, afterwards.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import mixdiag
from .mixcheck import Runner, run_on_path
from .mountns import seen_at
from .shadow import build_copy

MAX_ROUNDS = 8  # compiles after the baseline; past it, what still fails is all reverted


@dataclass
class BuildVerdict:
    checked: bool  # False: mix was not asked (``why`` says why)
    why: str = ""
    reverted: dict[str, str] = field(default_factory=dict)  # patched file -> what mix said
    formatted: dict[str, bytes] = field(default_factory=dict)  # file -> text after mix format
    unformatted: list[str] = field(default_factory=list)  # patched files mix format did not find clean
    compiles: int = 0
    seconds: float = 0.0


def build_root(root: Path, env: str) -> Path | None:
    """The folder holding ``_build/<env>`` for the project at ``root``: itself, or the
    umbrella it is an app of; None when it has not been compiled for ``env``."""
    here = root.resolve()
    for folder in (here, *here.parents[:3]):
        if (folder / "mix.exs").is_file() and (folder / "_build" / env).is_dir():
            return folder
    return None


def check_build(root: Path, patches, env: str, run: Runner = run_on_path,
                workdir: Path | None = None) -> BuildVerdict:
    """Compile ``patches`` (FilePatch: file relative to ``root``, before, after) with mix in a
    copy of the project; see the module docstring."""
    started = time.monotonic()
    home = build_root(root, env)
    if home is None:
        return BuildVerdict(False, f"the project has no _build/{env} (run mix compile first)")
    with build_copy(home, env, workdir) as copy:
        prefix = root.resolve().relative_to(home).as_posix()
        if run is run_on_path:  # mix on this machine: let it see the copy at the project's path
            run = seen_at(copy, home, run)
        judge = _Judge(copy, {_join(prefix, p.file): p for p in patches}, env, run)
        verdict = judge.run()
    verdict.reverted = {_strip(prefix, f): why for f, why in verdict.reverted.items()}
    verdict.formatted = {_strip(prefix, f): data for f, data in verdict.formatted.items()}
    verdict.unformatted = sorted(_strip(prefix, f) for f in verdict.unformatted)
    verdict.seconds = time.monotonic() - started
    return verdict


def _join(prefix: str, rel: str) -> str:
    return rel if prefix in ("", ".") else f"{prefix}/{rel}"


def _strip(prefix: str, rel: str) -> str:
    return rel if prefix in ("", ".") else rel.removeprefix(prefix + "/")


class _Judge:
    def __init__(self, copy: Path, patches: dict, env: str, run: Runner):
        self.copy = copy
        self.patches = patches  # path relative to the copy -> FilePatch
        self.run_ = run
        self.env = {"MIX_ENV": env}
        self.compiles = 0

    def mix(self, *argv: str):
        return self.run_(["mix", *argv], self.copy, self.env)

    def compile(self):
        self.compiles += 1
        proc = self.mix("compile")
        return proc, mixdiag.parse(proc.stdout + "\n" + proc.stderr)

    def write(self, rel: str, data: bytes | None) -> None:
        target = self.copy / rel
        if data is None:
            target.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def run(self) -> BuildVerdict:
        from .mixformat import Formatter

        verdict = BuildVerdict(True)
        formatter = Formatter(self.mix, self.copy)
        clean = formatter.clean([rel for rel, p in self.patches.items() if p.before is not None])
        for rel in self.patches:  # the files as they are, newer than the build: compiled again
            if self.patches[rel].before is not None:
                os.utime(self.copy / rel)
        proc, baseline = self.compile()
        if proc.returncode != 0:
            first = next((d.describe() for d in baseline if d.kind == "error"), _tail(proc))
            return BuildVerdict(False, f"the project does not compile as it is ({first})",
                                compiles=self.compiles)
        known = {d.key for d in baseline}
        _next_second()
        for rel, patch in self.patches.items():
            self.write(rel, patch.after)
        verdict.formatted = formatter.format([rel for rel in self.patches if rel in clean])
        verdict.unformatted = sorted(rel for rel, p in self.patches.items()
                                     if p.before is not None and rel not in clean)
        live = dict(self.patches)
        for _round in range(MAX_ROUNDS):
            if not live:
                break
            proc, found = self.compile()
            fresh = [d for d in found if d.key not in known]
            if proc.returncode == 0 and not fresh:
                break
            blamed = self.blame(proc, fresh, live)
            _next_second()
            for rel, why in blamed.items():
                verdict.reverted[rel] = why
                self.write(rel, live.pop(rel).before)
        else:
            for rel in list(live):
                verdict.reverted[rel] = "the build still failed after reverting the patches mix named"
        verdict.formatted = {rel: data for rel, data in verdict.formatted.items() if rel not in verdict.reverted}
        verdict.compiles = self.compiles
        return verdict

    def blame(self, proc, fresh: list[mixdiag.Diagnostic], live: dict) -> dict[str, str]:
        """The patched files to revert, each with what mix said about it."""
        out: dict[str, str] = {}
        # "== Compilation error in file x ==" says less than the error under it
        for d in sorted(fresh, key=lambda d: d.message == "compilation error"):
            if d.file in live and d.file not in out:
                what = "does not compile" if d.kind == "error" else "adds a warning"
                out[d.file] = f"the patched file {what}: {d.describe()}"
        if out:
            return out
        if proc.returncode != 0:
            for rel in sorted(mixdiag.files_named(proc.stdout + proc.stderr) & set(live)):
                out[rel] = f"the patched file does not compile: {_tail(proc)}"
        if out:
            return out
        said = fresh[0].describe() if fresh else _tail(proc)
        return {rel: f"with the patches the build fails or warns where no patch is ({said}): every patch reverted"
                for rel in live}


def _tail(proc) -> str:
    lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    return lines[-1] if lines else f"mix exited {proc.returncode}"


def _next_second() -> None:
    """mix compares modification times in whole seconds: what is written next must land in
    a later second than what the last compile wrote."""
    time.sleep(max(0.0, int(time.time()) + 1 - time.time()) + 0.01)
