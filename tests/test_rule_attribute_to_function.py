"""Rule attribute-to-function: snapshots, refusals, engine verification, and the compiler."""

from __future__ import annotations

import pytest

from rule_cases import Cases, check_findings, check_refusal, check_snapshot
from refactor.rules.attribute_to_function import AttributeToFunction

CASES = Cases(AttributeToFunction)


@pytest.mark.parametrize("case", CASES.fixed())
def test_snapshot(case):
    check_snapshot(CASES, case)


@pytest.mark.parametrize("case", CASES.refused())
def test_refusal(case):
    check_refusal(CASES, case)


@pytest.mark.parametrize("case", CASES.names)
def test_findings(case):
    check_findings(CASES, case)


def test_message_says_evaluation_moves_to_run_time():
    _, diags = CASES.run("simple")
    assert "Evaluation moves from compile time to run time" in diags[0].message


def test_engine_verifies_and_lowers_fanout(tmp_path):
    result = CASES.engine("simple", tmp_path)
    (sug,) = [s for s in result.suggestions if s.file == "lib/simple.ex"]
    assert sug.offered, sug.reasons
    assert sug.fanout_after < sug.fanout_before
    assert [p.file for p in result.patches] == ["lib/simple.ex"]


@pytest.mark.oracle
def test_patched_cases_compile_without_warnings(toolchain):
    """Every fixed case, patched, compiles with --warnings-as-errors."""
    import shutil

    root = toolchain.workdir("attr-to-fn")
    shutil.copytree(CASES.project, root, dirs_exist_ok=True)
    for case in CASES.fixed():
        (root / CASES.path(case)).write_text((CASES.dir / case / "after.ex").read_text())
    proc = toolchain.run(root, ["mix", "compile", "--warnings-as-errors"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
