"""Rule attribute-to-function: what is particular to it (the shared cases run in test_rule_cases.py)."""

from __future__ import annotations

from rule_cases import Cases
from refactor.rules.attribute_to_function import AttributeToFunction

CASES = Cases(AttributeToFunction)


def test_message_says_evaluation_moves_to_run_time():
    _, diags = CASES.run("simple")
    assert "evaluation moves from compile time to run time" in diags[0].fix.warnings[0]


def test_engine_verifies_and_lowers_fanout(tmp_path):
    result = CASES.engine("simple", tmp_path)
    (sug,) = [s for s in result.suggestions if s.file == "lib/simple.ex"]
    assert sug.offered, sug.reasons
    assert sug.fanout_after < sug.fanout_before
    assert [p.file for p in result.patches] == ["lib/simple.ex"]
