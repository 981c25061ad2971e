"""Done-when of the dependency-cutting rules: on fixture projects with compile cycles and
compile-connected chains, ``exfix apply`` lowers the recompile fan-out that the real
``mix compile --verbose`` shows, and the patched project compiles with --warnings-as-errors.

Fan-out of a file: how many other files mix recompiles when that file's body changes (a
comment appended: same exports). To keep the run short, mix is asked only about the files
whose fan-out exfix predicts to change (a few recompiles per version); there mix must agree
with the prediction, and the sum must drop. The other files' fan-out is unchanged by the
prediction, which the recompile oracle tests check against mix on their own fixtures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from refactor.analysis import analyze
from refactor.cli import main

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "fixtures" / "rules" / "_projects"
EXAMPLE = REPO / "fixtures" / "example"  # read only: copied before apply

# --all where a fixture has an unused import: dropping it saves no recompile (hidden by
# default), but mix warns of it, and the patched project must compile with no warning
CASES = [
    # safe rules only; --all also drops its unused require (no gain), which 1.20 warns about
    ("chains", ["--all"]),
    ("phoenix_like", ["--allow-concat", "--all"]),  # with the last resort
    ("example", ["--all"]),
]


def source_of(name: str) -> Path:
    return EXAMPLE if name == "example" else PROJECTS / name


def applied_copy(name: str, flags: list[str], version: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(source_of(name), root, ignore=shutil.ignore_patterns("_build", "deps"))
    result = CliRunner().invoke(main, ["apply", str(root), "--elixir", version, *flags])
    assert result.exit_code == 0, result.output
    return root


def predicted(root: Path, version: str) -> dict[str, int]:
    return analyze(root, version=version).fanout()


def mix_fanout(compiled, root: Path, files: list[str]) -> dict[str, int]:
    out = {}
    for f in files:
        text = (root / f).read_text() + "\n# touched\n"
        got = compiled.recompile_after({f: text})
        out[f] = len([g for g in got if g != f])
    return out


@pytest.mark.oracle
@pytest.mark.parametrize("name,flags", CASES, ids=[c[0] for c in CASES])
def test_apply_lowers_fanout_measured_by_mix(name, flags, elixir_version, toolchain, compile_project, tmp_path):
    before_root = source_of(name)
    after_root = applied_copy(name, flags, elixir_version, tmp_path)
    changed_files = sorted(
        p.relative_to(after_root).as_posix() for p in after_root.rglob("*.ex")
        if p.read_bytes() != (before_root / p.relative_to(after_root)).read_bytes()
    )
    assert changed_files, "apply wrote nothing"

    # the patched project compiles with no warning
    work = toolchain.workdir(f"{name}-strict")
    shutil.copytree(after_root, work, dirs_exist_ok=True)
    proc = toolchain.run(work, ["mix", "compile", "--warnings-as-errors"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    pred_before = predicted(before_root, elixir_version)
    pred_after = predicted(after_root, elixir_version)
    assert sum(pred_after.values()) < sum(pred_before.values())
    moved = sorted(f for f in pred_before if pred_before[f] != pred_after.get(f))
    assert moved

    before = compile_project(before_root)
    after = compile_project(after_root)
    mix_before = mix_fanout(before, before_root, moved)
    mix_after = mix_fanout(after, after_root, moved)
    assert mix_before == {f: pred_before[f] for f in moved}
    assert mix_after == {f: pred_after[f] for f in moved}
    assert sum(mix_after.values()) < sum(mix_before.values())
