"""`--check` and `--fail-on`: the gate a cleaned-up project passes, and what makes it fail."""

from __future__ import annotations

import pytest

from gate_helpers import NEW_FINDING, copy_example, exfix, findings


@pytest.fixture
def example(tmp_path):
    return copy_example(tmp_path / "example")


def test_apply_then_check_is_green_and_a_new_finding_turns_it_red(example):
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 1
    # the unused import's fix saves no recompile: not one to apply (hidden, counted)
    assert "exfix: check failed: 1 verified fix to apply" in res.stderr
    assert "exfix: 1 verified fix not shown (drop-unused-import 1)" in res.stderr
    assert exfix("apply", cwd=example).exit_code == 0
    res = exfix("suggest", "--check", cwd=example)
    # what apply leaves is info-level advice with no automatic fix
    assert res.exit_code == 0, res.stderr
    left = findings(res)
    assert len(left) == 3 and all(" info: " in line for line in res.stdout.splitlines()
                                  if line.startswith("# ") and not line.startswith("#  "))
    assert "exfix: check passed: no verified fix to apply, no finding at or above error (3 below)" in res.stderr
    (example / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 1
    assert "attribute-to-function lib/bookshelf/summary.ex:2" in findings(res)
    assert "exfix: check failed: 1 verified fix to apply" in res.stderr


@pytest.mark.parametrize("fail_on,code,why", [
    ("error", 0, "no finding at or above error (3 below)"),
    ("warning", 0, "no finding at or above warning (3 below)"),
    ("info", 1, "3 findings at or above info"),
])
def test_fail_on_counts_findings_from_that_severity_up(example, fail_on, code, why):
    exfix("apply", cwd=example)
    res = exfix("suggest", "--check", "--fail-on", fail_on, cwd=example)
    assert res.exit_code == code
    assert why in res.stderr


def test_a_finding_without_a_fix_fails_from_its_severity(example):
    exfix("apply", cwd=example)
    # an attribute read by a guard cannot become a function: a warning with no fix
    (example / "lib/bookshelf/limits.ex").write_text(
        "defmodule Bookshelf.Limits do\n"
        "  @max Bookshelf.Config.default_shelf()\n\n"
        "  def ok?(x) when x == @max, do: true\n"
        "  def ok?(_), do: false\n"
        "end\n")
    res = exfix("suggest", "--format", "json", cwd=example)
    import json

    mine = [s for s in json.loads(res.stdout)["suggestions"] if s["file"].endswith("limits.ex")]
    assert [(s["rule"], s["severity"], s["in_patch"]) for s in mine] == [
        ("attribute-to-function", "warning", False)]
    assert exfix("suggest", "--check", cwd=example).exit_code == 0
    res = exfix("suggest", "--check", "--fail-on", "warning", cwd=example)
    assert res.exit_code == 1 and "1 finding at or above warning" in res.stderr


def test_without_check_findings_never_fail(example):
    assert exfix("suggest", cwd=example).exit_code == 0
    assert exfix("suggest", "--fail-on", "info", cwd=example).exit_code == 0


def test_help_says_what_fails_and_why_the_default(example):
    res = exfix("suggest", "--help")
    assert "--fail-on [error|warning|info]" in res.stdout
    assert "a verified fix left to apply" in res.stdout
    assert "lets a project cleaned by `exfix apply` pass" in " ".join(res.stdout.split())
