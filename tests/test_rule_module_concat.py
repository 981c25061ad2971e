"""Rule module-concat: what is particular to it (the shared cases run in test_rule_cases.py)."""

from __future__ import annotations

from rule_cases import Cases
from refactor.rules.module_concat import ModuleConcat

CASES = Cases(ModuleConcat)


def test_unsafe_and_hidden_without_allow_concat(tmp_path):
    result = CASES.engine("settings", tmp_path)
    (sug,) = [s for s in result.suggestions if s.rule == "module-concat"]
    assert not sug.safe and not sug.offered
    assert "--allow-concat" in sug.reasons[0]
    assert result.patches == []


def test_fix_carries_the_stale_beam_warning():
    _, diags = CASES.run("settings")
    (w,) = diags[0].fix.warnings
    assert "stale .beam" in w and "lib/user.ex" in w


def test_rewritten_form_makes_no_reference(tmp_path):
    from refactor.analysis import analyze

    result = CASES.engine("settings", tmp_path, allow_unsafe=True)
    (sug,) = [s for s in result.suggestions if s.rule == "module-concat"]
    assert sug.offered and sug.fanout_after < sug.fanout_before
    root = tmp_path / "proj"
    (root / "lib/settings.ex").write_bytes(sug.after)
    facts = analyze(root, version="1.18").files["lib/settings.ex"]
    assert [r for r in facts.references if r.target.startswith("Shop.")] == []


def test_not_offered_when_attribute_to_function_cuts_the_edge(tmp_path):
    from refactor.analysis import analyze
    from refactor.project import load_project
    from refactor.rules.base import RuleContext

    root = tmp_path / "p"
    import shutil as sh
    sh.copytree(CASES.project, root)
    (root / "lib/user.ex").write_text(
        "defmodule Shop.User do\n  @limit Shop.Settings.limit()\n\n  def max, do: @limit + 1\nend\n"
    )
    (root / "lib/settings.ex").write_bytes((CASES.dir / "settings" / "before.ex").read_bytes())
    project = load_project(root)
    ctx = RuleContext(project, analyze(project, version="1.18"),
                      {r: (root / r).read_bytes() for r in project.source_files}, {})
    assert ModuleConcat().check(ctx) == []


def test_refused_when_a_removed_alias_was_still_needed(tmp_path, monkeypatch):
    """Were the alias of the `__using__` quote removed, Shop.Cart would call `Store`: the
    verification catches it."""
    import refactor.rules.module_concat as module_concat

    monkeypatch.setattr(module_concat, "_in_quote", lambda node: False)
    result = CASES.engine("settings-using-alias", tmp_path, allow_unsafe=True)
    (sug,) = [s for s in result.suggestions if s.rule == "module-concat"]
    assert not sug.offered
    assert sug.reasons == [
        "lib/cart.ex would refer to Store, which names no module (through code it injects): "
        "an alias it needs is gone"
    ]
