"""Soundness against the real compiler: what a rule refuses because the analysis cannot see
all of it (rules/_sight.py) would have broken the build, and apply's compile check
(buildcheck.py) reverts such a patch.

Each case ``fixtures/rules/<rule>/<case>/`` with a ``naive.ex`` holds the patch the rule
would write if it trusted the analysis alone: the name used only through a macro exfix does
not expand, or through an atom. The rule refuses it; mix compiles the file as it is, and
the compile check reverts the naive patch.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rule_cases import RULES, Cases  # noqa: E402

from refactor.buildcheck import check_build  # noqa: E402
from refactor.engine import FilePatch  # noqa: E402
from refactor.rules import ALL_RULES  # noqa: E402

NAIVE = [(Cases(rule), case) for rule in ALL_RULES if (RULES / rule.id).is_dir()
         for case in Cases(rule).names if (RULES / rule.id / case / "naive.ex").exists()]


def runner(toolchain):
    return lambda argv, cwd, env=None: toolchain.run(cwd, argv, env=env, check=False)


def test_every_rule_that_removes_code_has_a_blind_spot_case():
    rules = {cases.rule_cls.id for cases, _ in NAIVE}
    assert {"drop-unused-import", "drop-unused-require", "import-to-alias", "attribute-to-function",
            "body-time-call", "module-concat"} <= rules


@pytest.mark.parametrize("cases, case", [pytest.param(c, n, id=f"{c.rule_cls.id}/{n}") for c, n in NAIVE])
def test_the_rule_refuses_and_says_why(cases, case):
    _, diags = cases.run(case)
    assert [d.fix for d in diags] == [None]
    assert diags[0].refused, diags[0].message


@pytest.mark.oracle
@pytest.mark.parametrize("cases, case", [pytest.param(c, n, id=f"{c.rule_cls.id}/{n}") for c, n in NAIVE])
def test_the_naive_patch_breaks_the_build_and_is_reverted(cases, case, toolchain):
    root = toolchain.workdir(f"{cases.rule_cls.id}-{case}")
    shutil.copytree(cases.project, root, dirs_exist_ok=True)
    rel = cases.path(case)
    before = (cases.dir / case / "before.ex").read_bytes()
    (root / rel).write_bytes(before)
    toolchain.run(root, ["mix", "compile"])  # the code as it is compiles
    naive = FilePatch(rel, before, (cases.dir / case / "naive.ex").read_bytes())
    verdict = check_build(root, [naive], "dev", run=runner(toolchain), workdir=toolchain.workdir("build"))
    assert verdict.checked, verdict.why
    assert rel in verdict.reverted, verdict
    assert (root / rel).read_bytes() == before  # the project itself is never touched
