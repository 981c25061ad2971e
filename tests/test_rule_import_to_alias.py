"""Rule import-to-alias: snapshots, refusals, engine verification, and the compiler."""

from __future__ import annotations

import shutil

import pytest

from rule_cases import Cases, check_findings, check_refusal, check_snapshot
from refactor.rules.import_to_alias import ImportToAlias

CASES = Cases(ImportToAlias)


@pytest.mark.parametrize("case", CASES.fixed())
def test_snapshot(case):
    check_snapshot(CASES, case)


@pytest.mark.parametrize("case", CASES.refused())
def test_refusal(case):
    check_refusal(CASES, case)


@pytest.mark.parametrize("case", CASES.names)
def test_findings(case):
    check_findings(CASES, case)


@pytest.mark.parametrize("case", CASES.fixed())
def test_engine_offers_the_fix(case, tmp_path):
    result = CASES.engine(case, tmp_path)
    sugs = [s for s in result.suggestions if s.file == CASES.path(case)]
    assert sugs and all(s.offered for s in sugs), [s.reasons for s in sugs]


@pytest.mark.oracle
def test_patched_cases_compile_without_warnings(toolchain):
    """Every fixed case, patched, compiles with --warnings-as-errors."""
    root = toolchain.workdir("import_to_alias")
    shutil.copytree(CASES.project, root, dirs_exist_ok=True)
    for case in CASES.fixed():
        (root / CASES.path(case)).write_text((CASES.dir / case / "after.ex").read_text())
    proc = toolchain.run(root, ["mix", "compile", "--warnings-as-errors"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_patched_file_has_no_import_reference_left(tmp_path):
    result = CASES.engine("simple", tmp_path)
    (sug,) = [s for s in result.suggestions if s.file == "lib/simple.ex"]
    assert sug.offered and b"import" not in sug.after
