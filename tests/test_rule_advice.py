"""The rules that only advise (no patch): plug-compile-dependency and split-macro-module."""

from __future__ import annotations

from pathlib import Path

import pytest

from refactor.analysis import analyze
from refactor.project import load_project
from refactor.rules.base import RuleContext
from refactor.rules.plug_compile_dependency import PlugCompileDependency
from refactor.rules.split_macro_module import SplitMacroModule
from rule_cases import Cases

REPO = Path(__file__).resolve().parent.parent
PHOENIX_LIKE = REPO / "fixtures" / "rules" / "_projects" / "phoenix_like"
CHAINS = REPO / "fixtures" / "rules" / "_projects" / "chains"


def ctx_of(root: Path) -> RuleContext:
    project = load_project(root)
    return RuleContext(project, analyze(project, version="1.18"),
                       {r: (root / r).read_bytes() for r in project.source_files}, {})


@pytest.fixture(scope="module")
def phoenix():
    return ctx_of(PHOENIX_LIKE)


def test_plug_in_router_and_controller(phoenix):
    diags = PlugCompileDependency().check(phoenix)
    assert [(d.file, d.line) for d in diags] == [
        ("lib/shop_web/controllers/product_controller.ex", 6),
        ("lib/shop_web/router.ex", 4),
    ]
    router = diags[1]
    assert router.fix is None
    assert "calls ShopWeb.Plugs.Auth.init/1 while ShopWeb.Router compiles (edge: compile)" in router.message
    assert "plug_init_mode :runtime" in router.detail
    assert "lib/shop_web/router.ex also recompiles" in router.message


def test_macro_module_with_runtime_functions(phoenix):
    (d,) = SplitMacroModule().check(phoenix)
    assert (d.file, d.fix) == ("lib/shop/schema.ex", None)
    assert "Move the macros into a module of their own" in d.detail
    assert "lib/shop/item.ex, lib/shop/product.ex" in d.message
    assert "macros (__using__/1, belongs_to/2, field/1, has_many/2, schema/2)" in d.message
    assert "__using__/1 can move with them" in d.detail


def test_module_used_with_use_and_run_time_helpers():
    # credo's Credo.Check: `use` in every check, run-time helpers in the same file
    cases = Cases(SplitMacroModule)
    _, (d,) = cases.run("using-runtime-helpers")
    assert (d.file, d.line, d.fix) == ("lib/lint/check.ex", 1, None)
    assert d.message.endswith("its file depends on lib/lint/config.ex, lib/lint/issue.ex, so those users "
                              "recompile whenever any of it changes")
    assert "move the run-time functions into another module" in d.detail


def test_nothing_to_advise_without_plugs_or_macro_modules():
    ctx = ctx_of(CHAINS)
    assert PlugCompileDependency().check(ctx) == []
    assert SplitMacroModule().check(ctx) == []
