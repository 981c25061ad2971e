"""`exfix rules` and `exfix rule ID`: every rule's documentation on the command line."""

from __future__ import annotations

import inspect

import pytest

from gate_helpers import exfix
from refactor.rules import ALL_RULES


def test_rules_lists_each_rule_with_its_summary_and_fix_safety():
    res = exfix("rules")
    assert res.exit_code == 0
    out = res.stdout.splitlines()
    for rule in ALL_RULES:
        at = next(i for i, line in enumerate(out) if line.startswith(rule.id + " "))
        assert rule.summary in out[at]
        safety = out[at + 1].strip()
        if not rule.fixes:
            assert safety.startswith("advice: no automatic fix")
        elif rule.safe:
            assert safety.startswith("fix: safe")
        else:
            assert safety.startswith("fix: unsafe, only with --allow-concat")
    hoist = out[[i for i, line in enumerate(out) if line.startswith("hoist-conditional-use")][0] + 1]
    assert "strategy: auto|hoist|guard, hoist_max_lines: N" in hoist


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_prints_the_whole_documentation(rule):
    res = exfix("rule", rule.id)
    assert res.exit_code == 0
    assert res.stdout.startswith(f"{rule.id}: {rule.summary}\n")
    assert inspect.cleandoc(rule.__doc__) in res.stdout
    text = res.stdout.lower()
    assert "what it does" in text and "fix safety" in text


def test_an_unknown_rule_is_a_usage_error():
    res = exfix("rule", "no-such-rule")
    assert res.exit_code == 2 and "unknown rule no-such-rule" in res.stderr
