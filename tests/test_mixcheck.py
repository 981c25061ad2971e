"""suggest --verify-with-mix: the patches, compiled by the real mix, give exfix's graph."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from refactor.engine import Options, run_project
from refactor.mixcheck import verify_with_mix
from refactor.rules import ALL_RULES

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def runner(toolchain):
    return lambda argv, cwd: toolchain.run(cwd, argv, check=False)


@pytest.mark.oracle
def test_example_patches_compile_and_match_mix(elixir_version, toolchain, tmp_path):
    result = run_project(EXAMPLE, Options(rules=list(ALL_RULES), version=elixir_version, cwd=str(tmp_path)))
    assert result.patches, "the example has verified fixes"
    verdict = verify_with_mix(EXAMPLE, result.patches, elixir_version, "example",
                              workdir=toolchain.workdir("mixcheck"), run=runner(toolchain))
    assert verdict.compiled, verdict.output
    assert verdict.graph_equal, "\n".join(verdict.differences)


@pytest.mark.oracle
def test_a_patch_that_breaks_the_build_is_reported(elixir_version, toolchain, tmp_path):
    result = run_project(EXAMPLE, Options(rules=list(ALL_RULES), version=elixir_version, cwd=str(tmp_path)))
    broken = [replace(result.patches[0], after=result.patches[0].after + b"\ndefmodule Broken do\n  def x, do: Nope.y(\nend\n")]
    verdict = verify_with_mix(EXAMPLE, broken, elixir_version, "example",
                              workdir=toolchain.workdir("mixcheck"), run=runner(toolchain))
    assert not verdict.compiled and not verdict.ok
    assert "example: the patched copy does not compile" in verdict.describe()
