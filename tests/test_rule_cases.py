"""The before/after cases of the dependency-cutting rules, one parametrized suite for all.

Each rule keeps its cases in ``fixtures/rules/<rule-id>/`` (see ``rule_cases.py``); its own
test module holds only what is particular to it.
"""

from __future__ import annotations

import shutil

import pytest

from refactor.rules.attribute_to_function import AttributeToFunction
from refactor.rules.body_time_call import BodyTimeCall
from refactor.rules.drop_unused_import import DropUnusedImport
from refactor.rules.drop_unused_require import DropUnusedRequire
from refactor.rules.import_to_alias import ImportToAlias
from refactor.rules.module_concat import ModuleConcat
from refactor.rules.split_macro_module import SplitMacroModule
from rule_cases import Cases, check_findings, check_refusal, check_snapshot

ALL = [Cases(rule) for rule in (AttributeToFunction, BodyTimeCall, DropUnusedImport, DropUnusedRequire, ImportToAlias, ModuleConcat,
                                SplitMacroModule)]


def each(kind: str):
    return [pytest.param(c, case, id=f"{c.rule_cls.id}/{case}") for c in ALL for case in getattr(c, kind)()]


@pytest.mark.parametrize("cases, case", each("fixed"))
def test_snapshot(cases, case):
    check_snapshot(cases, case)


@pytest.mark.parametrize("cases, case", each("refused"))
def test_refusal(cases, case):
    check_refusal(cases, case)


@pytest.mark.parametrize("cases, case", [pytest.param(c, n, id=f"{c.rule_cls.id}/{n}") for c in ALL for n in c.names])
def test_findings(cases, case):
    check_findings(cases, case)


@pytest.mark.parametrize("cases, case", each("fixed"))
def test_engine_offers_the_fix(cases, case, tmp_path):
    result = cases.engine(case, tmp_path, allow_unsafe=not cases.rule_cls.safe)
    sugs = [s for s in result.suggestions if s.file == cases.path(case)]
    assert sugs and all(s.offered for s in sugs), [s.reasons for s in sugs]


@pytest.mark.oracle
@pytest.mark.parametrize("cases", ALL, ids=[c.rule_cls.id for c in ALL])
def test_patched_cases_compile_without_warnings(cases, toolchain):
    """Every fixed case, patched, compiles with --warnings-as-errors."""
    root = toolchain.workdir(cases.rule_cls.id)
    shutil.copytree(cases.project, root, dirs_exist_ok=True)
    for case in cases.fixed():
        (root / cases.path(case)).write_text((cases.dir / case / "after.ex").read_text())
    proc = toolchain.run(root, ["mix", "compile", "--warnings-as-errors"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
