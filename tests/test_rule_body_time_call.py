"""Rule body-time-call: what is particular to it (the shared cases run in test_rule_cases.py)."""

from __future__ import annotations

import shutil

import pytest

from rule_cases import Cases
from refactor.rules.body_time_call import BodyTimeCall

CASES = Cases(BodyTimeCall)


def test_message_says_evaluation_moves_to_run_time():
    _, diags = CASES.run("simple")
    assert "evaluation moves from compile time to run time" in diags[0].fix.warnings[0]
    assert diags[0].severity == "warning"


@pytest.mark.parametrize("case", CASES.fixed())
def test_engine_verifies_and_lowers_fanout(case, tmp_path):
    result = CASES.engine(case, tmp_path)
    (sug,) = [s for s in result.suggestions if s.file == CASES.path(case)]
    assert sug.offered, sug.reasons
    assert sug.fanout_after < sug.fanout_before


def test_advice_names_the_call_the_line_and_why():
    _, (diag,) = CASES.run("refuse-for-defs")
    assert (diag.line, diag.severity, diag.fix) == (2, "info", None)
    assert diag.message.startswith("`Cfg.roles/0` runs while RefuseForDefs compiles: ")
    assert "so it must stay at compile time" in diag.message
    assert "move `Cfg.roles/0` (and only what it needs) into a module that depends on no other" in diag.message


def test_no_advice_for_a_call_of_a_module_that_depends_on_nothing():
    # Leaf depends on no file: the edge costs only Leaf's own changes, moving saves nothing
    _, diags = CASES.run("clean-leaf")
    assert diags == []


def test_macro_calls_are_left_to_split_macro_module():
    sources = {"lib/macro_user.ex": "defmodule MacroUser do\n  require Mac\n  Mac.define(:x)\nend\n",
               "lib/mac.ex": "defmodule Mac do\n  defmacro define(n), do: quote(do: def unquote(n)(), do: "
                             "Cfg.Util.up(\"x\"))\nend\n"}
    ctx = CASES.context("simple")
    from refactor.analysis import analyze

    extra = {k: v.encode() for k, v in sources.items()}
    ctx.analysis = analyze(ctx.project, version="1.18", sources={**ctx.sources, **extra})
    ctx.sources.update(extra)
    assert not [d for d in BodyTimeCall().check(ctx) if d.file == "lib/macro_user.ex"]


@pytest.mark.oracle
def test_patched_functions_return_what_they_returned(toolchain):
    """The values the functions return are the same before and after every fix."""
    calls = {
        "simple": 'Simple.hello("x")',
        "private-function": "{PrivateFunction.all(), PrivateFunction.role?(:user), PrivateFunction.role?(:x)}",
        "escaped": "Escaped.names()",
        "multiline-private": "{MultilinePrivate.factor_of(2), MultilinePrivate.double()}",
    }
    assert sorted(calls) == sorted(CASES.fixed())
    expr = "IO.inspect({" + ", ".join(calls[c] for c in sorted(calls)) + "})"
    outputs = []
    for side in ("before", "after"):
        root = toolchain.workdir(f"body-time-call-{side}")
        shutil.copytree(CASES.project, root, dirs_exist_ok=True)
        for case in calls:
            data = (CASES.dir / case / "before.ex").read_bytes()
            if side == "after":
                data = CASES.patched(case)
            (root / CASES.path(case)).write_bytes(data)
        proc = toolchain.run(root, ["mix", "run", "-e", expr], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout.strip().splitlines()[-1])
    assert outputs[0] == outputs[1]

