"""Rule hoist-conditional-use: snapshots of the patched text, detection, refusals, and the compiler.

Each case is a directory of ``fixtures/rules/hoist-conditional-use/``:
``before.ex``, ``case.json`` and, when the rule fixes it, ``after.ex`` (the exact patched text)
plus ``new_files/<path>`` for files the fix creates. ``case.json`` keys: ``strategy``,
``severity``, ``message`` (a substring of the message), ``refuse`` (a substring of the reason
when there is no fix), ``findings`` (0 for code the rule must leave alone), ``extra_sources``,
and ``compile`` (the case also runs through mix, with and without the optional dependency in
``_project/optdep``).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from refactor.parse import first_error, parse
from refactor.rules.base import Diagnostic, Fix, RuleContext, apply_edits
from refactor.rules.hoist_conditional_use import (
    RULE_ID,
    HoistConditionalUse,
    defined_modules,
    find_problems,
    guard_helper_source,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "rules" / "hoist-conditional-use"
PROJECT = FIXTURES / "_project"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def said(diag) -> str:
    """The reason and the detail that follows it."""
    return f"{diag.message} {diag.detail}"


def meta(case: str) -> dict:
    return json.loads((FIXTURES / case / "case.json").read_text())


def source_path(case: str) -> str:
    return meta(case).get("path", "lib/" + case.replace("-", "_") + ".ex")


def context(case: str, before: bytes | None = None, **options) -> RuleContext:
    m = meta(case)
    path = source_path(case)
    sources = {
        "mix.exs": (PROJECT / "mix.exs").read_bytes(),
        path: before if before is not None else (FIXTURES / case / "before.ex").read_bytes(),
    }
    for rel, text in m.get("extra_sources", {}).items():
        sources[rel] = text.encode()
    opts = {k: m[k] for k in ("strategy", "guard_module", "hoist_max_lines") if k in m}
    opts.update(options)
    return RuleContext(project=None, analysis=None, sources=sources, options=opts)


def run(case: str) -> tuple[RuleContext, list[Diagnostic]]:
    ctx = context(case)
    return ctx, HoistConditionalUse().check(ctx)


def patched(case: str) -> tuple[RuleContext, Diagnostic, RuleContext, bytes]:
    ctx, diags = run(case)
    assert len(diags) == 1, [d.message for d in diags]
    diag = diags[0]
    assert diag.fix is not None, diag.message
    path = source_path(case)
    after = apply_edits(ctx.sources[path], diag.fix.edits)
    patched_ctx = RuleContext(None, None, {**ctx.sources, path: after, **diag.fix.new_files}, ctx.options)
    return ctx, diag, patched_ctx, after


FIXED = [c for c in CASES if (FIXTURES / c / "after.ex").exists()]
REFUSED = [c for c in CASES if "refuse" in meta(c)]
CLEAN = [c for c in CASES if meta(c).get("findings") == 0]
COMPILED = [c for c in CASES if meta(c).get("compile")]


def test_every_case_has_an_expectation():
    for case in CASES:
        assert (case in FIXED) + (case in REFUSED) + (case in CLEAN) == 1, case


# --------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("case", FIXED)
def test_snapshot(case):
    _ctx, diag, _patched_ctx, after = patched(case)
    assert after.decode() == (FIXTURES / case / "after.ex").read_text()
    expected_new = {
        p.relative_to(FIXTURES / case / "new_files").as_posix(): p.read_bytes()
        for p in sorted((FIXTURES / case / "new_files").rglob("*"))
        if p.is_file()
    }
    assert diag.fix.new_files == expected_new
    m = meta(case)
    assert diag.rule == RULE_ID
    assert diag.severity == m["severity"]
    if "message" in m:
        assert m["message"] in said(diag)


@pytest.mark.parametrize("case", FIXED)
def test_edits_keep_the_rest_of_the_file(case):
    ctx, diag, _p, _after = patched(case)
    before = ctx.sources[source_path(case)]
    for edit in diag.fix.edits:
        # whole lines, inside the file
        assert edit.start == 0 or before[edit.start - 1 : edit.start] == b"\n"
        assert edit.end == len(before) or b"\n" in (before[edit.end - 1 : edit.end], before[edit.end : edit.end + 1])


@pytest.mark.parametrize("case", FIXED)
def test_verify_accepts_the_fix(case):
    ctx, diag, patched_ctx, after = patched(case)
    assert first_error(parse(after)) is None
    assert defined_modules(after) == defined_modules(ctx.sources[source_path(case)])
    assert HoistConditionalUse().verify(ctx, diag, patched_ctx) == []


@pytest.mark.parametrize("case", FIXED)
def test_idempotent(case):
    _ctx, _diag, patched_ctx, after = patched(case)
    assert find_problems(after) == []
    assert HoistConditionalUse().check(patched_ctx) == []


@pytest.mark.parametrize("case", REFUSED)
def test_refusal(case):
    _ctx, diags = run(case)
    assert len(diags) == 1
    diag = diags[0]
    m = meta(case)
    assert diag.fix is None
    assert diag.severity == m["severity"]
    assert m["refuse"] in said(diag)


@pytest.mark.parametrize("case", CLEAN)
def test_left_alone(case):
    _ctx, diags = run(case)
    assert diags == []


# --------------------------------------------------------------------------- detection details


def test_message_names_line_module_and_why_in_one_sentence():
    _ctx, diags = run("seed-hoist")
    msg = diags[0].message
    assert diags[0].file == "lib/seed_hoist.ex" and diags[0].line == 6
    assert "`use Opt.JS` (line 7)" in msg
    assert "Fixture.SmartCell.TrainData" in msg
    assert ". " not in msg and not msg.endswith("."), msg
    assert "is not loaded and could not be found" in diags[0].detail
    assert "tests whether Opt.SmartCell is available" in diags[0].detail


def test_problem_lists_every_directive_and_the_tested_module():
    src = (FIXTURES / "nested-conditional" / "before.ex").read_bytes()
    (problem,) = find_problems(src)
    assert [(d.kind, d.module, d.line) for d in problem.directives] == [("import", "Opt.Helpers", 8)]
    assert problem.tested == ["Opt.Helpers"]
    assert problem.module.name == "Fixture.Nested"


def test_aliases_expand_in_directives():
    src = b"""defmodule A do
  alias Opt.{Helpers, Type}
  alias Opt.JS, as: J

  if Code.ensure_loaded?(Type) do
    use Type
    require Helpers
    use J, assets_path: "x"
  end
end
"""
    (problem,) = find_problems(src)
    assert [d.module for d in problem.directives] == ["Opt.Type", "Opt.Helpers", "Opt.JS"]


class _Project:
    def __init__(self, root, deps):
        self.root = root
        self.deps = deps
        self.deps_dir = Path(root) / "deps"


def _severity(src: bytes, deps: dict, tmp_path: Path, extra: dict | None = None, dep_files: dict | None = None):
    for rel, text in (dep_files or {}).items():
        (tmp_path / "deps" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "deps" / rel).write_text(text)
    sources = {"lib/a.ex": src, **(extra or {})}
    ctx = RuleContext(_Project(tmp_path, deps), None, sources, {"strategy": "hoist"})
    (diag,) = HoistConditionalUse().check(ctx)
    return diag


CONFIG_IF = b"""defmodule A do
  if Mix.env() == :prod do
    use Kino.JS
  end
end
"""


class _Dep:  # the shape of refactor.project.Dep
    def __init__(self, name, optional=False):
        self.name, self.optional, self.path = name, optional, None


def test_severity_error_for_optional_dependency(tmp_path):
    diag = _severity(CONFIG_IF, {"kino": _Dep("kino", optional=True), "jason": _Dep("jason")}, tmp_path,
                     dep_files={"kino/lib/kino/js.ex": "defmodule Kino.JS do\nend\n"})
    assert diag.severity == "error"
    assert ":kino, an optional dependency" in said(diag)


def test_optional_dependency_found_by_name_without_deps_dir(tmp_path):
    diag = _severity(CONFIG_IF, {"kino": {"optional": True}}, tmp_path)
    assert diag.severity == "error"
    assert ":kino, an optional dependency" in said(diag)


def test_severity_error_for_unknown_module(tmp_path):
    diag = _severity(CONFIG_IF, {}, tmp_path)
    assert diag.severity == "error"
    assert "neither in the project nor in its dependencies" in said(diag)


def test_nothing_to_say_for_a_dependency_every_build_has(tmp_path):
    # the branch cannot fail for want of a module every build fetches
    for rel, text in {"kino/lib/kino/js.ex": "defmodule Kino.JS do\nend\n"}.items():
        (tmp_path / "deps" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "deps" / rel).write_text(text)
    ctx = RuleContext(_Project(tmp_path, {"kino": {"optional": False}}), None, {"lib/a.ex": CONFIG_IF},
                      {"strategy": "hoist"})
    assert HoistConditionalUse().check(ctx) == []


def test_severity_warning_for_a_dependency_fetched_only_in_some_envs(tmp_path):
    diag = _severity(CONFIG_IF, {"kino": {"optional": False, "only": ["dev", "test"]}}, tmp_path,
                     dep_files={"kino/lib/kino/js.ex": "defmodule Kino.JS do\nend\n"})
    assert diag.severity == "warning"
    assert "comes from :kino, which mix.exs fetches only for :dev, :test" in said(diag)
    assert diag.fix is not None


def test_severity_from_mix_exs_without_project_object():
    mix = b'defp deps, do: [{:kino, "~> 0.8", optional: true}, {:jason, "~> 1.0"}]\n'
    ctx = RuleContext(None, None, {"mix.exs": mix, "lib/a.ex": CONFIG_IF}, {})
    (diag,) = HoistConditionalUse().check(ctx)
    assert diag.severity == "error" and ":kino, an optional dependency" in said(diag)


def test_analysis_seam_is_used_when_present():
    # a module the analysis places in the project is always there: nothing to say; without
    # the analysis it would be "defined neither in the project nor in its dependencies"
    class Analysis:
        module_file = {"Kino.JS": "lib/kino_js.ex"}

    assert HoistConditionalUse().check(RuleContext(None, Analysis(), {"lib/a.ex": CONFIG_IF}, {})) == []
    (diag,) = HoistConditionalUse().check(RuleContext(None, None, {"lib/a.ex": CONFIG_IF}, {}))
    assert diag.severity == "error" and "defined neither in the project" in said(diag)


def test_body_level_only():
    src = b"""defmodule A do
  def f do
    if true do
      require Opt.Helpers
    end
  end

  defmacro m do
    quote do
      if true, do: import(Opt.Helpers)
    end
  end
end
"""
    assert find_problems(src) == []


# --------------------------------------------------------------------------- rewrite details


def test_condition_with_dunder_module_is_written_in_full():
    src = b"""defmodule Outer.Mod do
  if Code.ensure_loaded?(__MODULE__.Backend) do
    use __MODULE__.Backend
  end
end
"""
    ctx = RuleContext(None, None, {"lib/a.ex": src}, {"strategy": "hoist"})
    (diag,) = HoistConditionalUse().check(ctx)
    after = apply_edits(src, diag.fix.edits)
    assert after.startswith(b"if Code.ensure_loaded?(Outer.Mod.Backend) do\n  defmodule Outer.Mod do\n")
    assert b"use __MODULE__.Backend" in after


def test_multiline_strings_are_not_reindented():
    src = b'''defmodule A do
  @text "line one
line two"

  if Code.ensure_loaded?(Opt.Type) do
    use Opt.Type
  end
end
'''
    ctx = RuleContext(None, None, {"lib/a.ex": src}, {"strategy": "hoist"})
    (diag,) = HoistConditionalUse().check(ctx)
    after = apply_edits(src, diag.fix.edits)
    assert after.count(b'    @text "line one\nline two"') == 2


def test_code_around_the_module_is_kept_byte_for_byte():
    head = b"# header comment\n\nalias Foo.Bar\n\n"
    tail = b"\n\ndefmodule Untouched do\n  def x,   do: 1\nend\n"
    body = (FIXTURES / "seed-hoist" / "before.ex").read_bytes()
    src = head + body + tail
    ctx = RuleContext(None, None, {"lib/a.ex": src}, {"strategy": "hoist"})
    (diag,) = HoistConditionalUse().check(ctx)
    after = apply_edits(src, diag.fix.edits)
    assert after.startswith(head) and after.endswith(tail)
    assert after[len(head) : len(after) - len(tail)] == (FIXTURES / "seed-hoist" / "after.ex").read_bytes()


def test_two_modules_in_one_file_give_two_diagnostics():
    one = (FIXTURES / "seed-hoist" / "before.ex").read_bytes()
    two = (FIXTURES / "unless" / "before.ex").read_bytes()
    src = one + b"\n" + two
    ctx = RuleContext(None, None, {"lib/a.ex": src}, {"strategy": "hoist"})
    diags = HoistConditionalUse().check(ctx)
    assert [d.line for d in diags] == [6, one.count(b"\n") + 1 + 4]
    patched_src = apply_edits(src, [e for d in diags for e in d.fix.edits])
    assert find_problems(patched_src) == []
    assert defined_modules(patched_src) == defined_modules(src)


def test_guard_form_refuses_unless_and_auto_hoists_it():
    (diag,) = HoistConditionalUse().check(context("unless", strategy="guard"))
    assert diag.fix is None
    assert "the guard form needs `if Code.ensure_loaded?(Mod) do`" in said(diag)
    (diag,) = HoistConditionalUse().check(context("unless", strategy="auto", hoist_max_lines=0))
    assert "it adds 6 lines, over the limit of 0, but the guard form does not apply" in said(diag)
    after = apply_edits(context("unless").sources["lib/unless.ex"], diag.fix.edits)
    assert after.decode() == (FIXTURES / "unless" / "after.ex").read_text()


def test_guard_form_edits_only_the_changed_lines():
    ctx, diag, _p, _after = patched("many-blocks-auto")
    assert len(diag.fix.edits) == 4
    assert all(e.text.count(b"if_loaded") == 1 for e in diag.fix.edits)


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError):
        HoistConditionalUse().check(context("seed-hoist", strategy="copy"))


def test_auto_limit_is_an_option():
    _ctx, (diag,) = None, HoistConditionalUse().check(context("seed-auto", hoist_max_lines=2))
    assert "strategy auto chose the guard form" in said(diag)
    assert diag.fix.new_files


def test_guard_module_option_and_existing_helper():
    ctx = context("seed-guard", guard_module="My.Guards", guard_path="lib/my/guards.ex")
    (diag,) = HoistConditionalUse().check(ctx)
    assert set(diag.fix.new_files) == {"lib/my/guards.ex"}
    assert b"defmodule My.Guards do" in diag.fix.new_files["lib/my/guards.ex"]
    # once the helper exists in the project, it is reused and not created again
    ctx.sources["lib/my/guards.ex"] = diag.fix.new_files["lib/my/guards.ex"]
    ctx.options.pop("guard_path")
    (diag,) = HoistConditionalUse().check(ctx)
    assert diag.fix.new_files == {}
    assert b"My.Guards.if_loaded Opt.SmartCell do" in apply_edits(
        ctx.sources["lib/seed_guard.ex"], diag.fix.edits
    )
    assert "defined in lib/my/guards.ex" in said(diag)


def test_an_existing_helper_without_else_is_used_only_where_it_fits():
    helper = b"""defmodule My.Opt do
  defmacro if_loaded(mod, do: block) do
    if Code.ensure_loaded?(Macro.expand(mod, __CALLER__)), do: block
  end
end
"""
    ctx = context("seed-guard")
    ctx.sources["lib/my/opt.ex"] = helper
    (diag,) = HoistConditionalUse().check(ctx)
    assert diag.fix is None and "My.Opt.if_loaded has no `else:` clause" in said(diag)
    ctx = context("large-auto")
    ctx.sources["lib/my/opt.ex"] = helper
    (diag,) = HoistConditionalUse().check(ctx)
    assert diag.fix.new_files == {}
    assert b"My.Opt.if_loaded Opt.Type do" in apply_edits(ctx.sources["lib/large_auto.ex"], diag.fix.edits)


def test_verify_rejects_broken_or_incomplete_patches():
    ctx, diag, patched_ctx, after = patched("seed-hoist")
    rule = HoistConditionalUse()
    path = source_path("seed-hoist")
    bad = dict(patched_ctx.sources)
    bad[path] = after.rstrip()[: -len(b"end")]  # the last `end` missing
    assert rule.verify(ctx, diag, RuleContext(None, None, bad, {}))
    bad[path] = ctx.sources[path]  # the problem is still there
    assert any("still has" in r for r in rule.verify(ctx, diag, RuleContext(None, None, bad, {})))
    bad[path] = after.replace(b"defmodule Fixture.SmartCell.TrainData", b"defmodule Other", 1)
    assert any("defines" in r for r in rule.verify(ctx, diag, RuleContext(None, None, bad, {})))


def test_verify_rejects_a_helper_that_depends_on_the_project():
    ctx, diag, patched_ctx, _after = patched("seed-guard")
    (rel,) = diag.fix.new_files
    bad_helper = guard_helper_source("Fixture.Optional").replace(
        b"@moduledoc false", b"@moduledoc false\n  @x Fixture.SmartCell.TrainData"
    )
    fix = Fix(diag.fix.edits, new_files={rel: bad_helper})
    bad_diag = Diagnostic(diag.rule, diag.file, diag.line, diag.severity, diag.message, fix)
    sources = {**patched_ctx.sources, rel: bad_helper}
    reasons = HoistConditionalUse().verify(ctx, bad_diag, RuleContext(None, None, sources, {}))
    assert any("must depend on nothing in the project" in r for r in reasons)


def test_helper_depends_on_nothing_in_the_project():
    helper = guard_helper_source("Fixture.Optional")
    tree = parse(helper)
    assert first_error(tree) is None
    aliases, stack = set(), [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "alias":
            aliases.add(node.text.decode())
        stack.extend(node.named_children)
    assert aliases == {"Fixture.Optional", "Code", "Macro"}
    assert defined_modules(helper) == {"Fixture.Optional"}
    assert b"defmacro if_loaded(module, do: block) do" in helper


# --------------------------------------------------------------------------- through the engine


@pytest.mark.parametrize("case", ["seed-hoist", "seed-guard", "large-auto", "nested-module", "multiple-blocks"])
def test_engine_verifies_and_patches(case, tmp_path):
    engine = pytest.importorskip("refactor.engine")
    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    shutil.copy(PROJECT / "mix.exs", app / "mix.exs")
    path = source_path(case)
    (app / path).write_bytes((FIXTURES / case / "before.ex").read_bytes())
    opts = engine.Options(rules=[HoistConditionalUse], rule_options={"strategy": meta(case)["strategy"]})
    result = engine.run_project(app, opts)
    (sug,) = result.suggestions
    assert sug.verified, sug.reasons
    patches = {p.file: p for p in result.patches}
    assert patches[path].after.decode() == (FIXTURES / case / "after.ex").read_text()
    new_files = FIXTURES / case / "new_files"
    expected = {p.relative_to(new_files).as_posix() for p in new_files.rglob("*") if p.is_file()}
    assert set(patches) - {path} == expected


# --------------------------------------------------------------------------- the compiler

NOT_LOADED = "is not loaded and could not be found"


def _fresh_scratch(tc) -> None:
    """Recreate the toolchain's scratch area if it was cleaned since the session began."""
    for sub in ("home", "tmp", "work"):
        try:
            (tc.base / sub).mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            pass


def _workdir(tc, name: str) -> Path:
    return tc.workdir(name)


def _project(tc, name: str, files: dict[str, bytes]) -> Path:
    work = _workdir(tc, name)
    shutil.copytree(PROJECT / "optdep", work / "optdep")
    app = work / "app"
    (app / "lib").mkdir(parents=True)
    shutil.copy(PROJECT / "mix.exs", app / "mix.exs")
    for rel, data in files.items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_bytes(data)
    return app


def _exports(tc, app: Path, modules: list[str]):
    script = (
        "for m <- [" + ", ".join(modules) + "], "
        'do: IO.puts("EXPORTS " <> inspect({m, Enum.sort(m.__info__(:functions))}))'
    )
    proc = tc.run(app, ["mix", "run", "-e", script], env={"WITH_OPTDEP": "1"}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if line.startswith("EXPORTS ")]


def _fails_without_dependency(tc, case: str) -> list[str]:
    ctx = context(case)
    path = source_path(case)
    app = _project(tc, f"{case}-before-absent", {path: ctx.sources[path]})
    proc = tc.run(app, ["mix", "compile"], check=False)
    if proc.returncode == 0 or NOT_LOADED not in proc.stdout + proc.stderr:
        return [f"{case}: the original compiled without the optional dependency:\n{proc.stdout}{proc.stderr}"]
    return []


def test_compile_cases_define_distinct_modules():
    """The patched files of all compile cases share one project, so their modules must differ."""
    seen: dict[str, str] = {}
    for case in COMPILED:
        for module in defined_modules((FIXTURES / case / "before.ex").read_bytes()):
            assert module not in seen, f"{module} is defined by {case} and {seen[module]}"
            seen[module] = case


@pytest.mark.oracle
def test_compiler_agrees(toolchain):
    """For every compile case, on one Elixir version:

    without the optional dependency the original fails ("is not loaded and could not be
    found") and the patched version compiles; with it, both compile and export the same
    functions. Each original fails on its own project; the patched files, and the originals
    with the dependency present, compile together (one project each) to keep the time modest.
    """
    tc = toolchain
    _fresh_scratch(tc)
    befores: dict[str, bytes] = {}
    afters: dict[str, bytes] = {}
    modules: list[str] = []
    for case in COMPILED:
        ctx, diag, _patched_ctx, after = patched(case)
        path = source_path(case)
        befores[path] = ctx.sources[path]
        afters[path] = after
        for rel, data in diag.fix.new_files.items():
            assert afters.setdefault(rel, data) == data
        modules += sorted(defined_modules(ctx.sources[path]))
    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = [e for r in pool.map(lambda c: _fails_without_dependency(tc, c), COMPILED) for e in r]
    app = _project(tc, "after-absent", afters)
    proc = tc.run(app, ["mix", "compile"], check=False)
    if proc.returncode != 0:
        errors.append(f"the patched files fail without the dependency:\n{proc.stdout}{proc.stderr}")
    exports = {}
    for label, files in (("before", befores), ("after", afters)):
        app = _project(tc, f"{label}-present", files)
        try:
            exports[label] = _exports(tc, app, modules)
        except AssertionError as exc:
            errors.append(f"the {label} files fail with the dependency: {exc}")
    if len(exports) == 2:
        if len(exports["before"]) != len(modules):
            errors.append(f"missing exports: {exports['before']}")
        for b, a in zip(exports["before"], exports["after"]):
            if a != b:
                errors.append(f"exports differ: {b} vs {a}")
    assert not errors, "\n\n".join(errors)


@pytest.mark.oracle
def test_patched_fixtures_are_mix_formatted(toolchain):
    """The inputs are formatted, so the patched files (and the helper) must be too."""
    tc = toolchain
    _fresh_scratch(tc)
    work = _workdir(tc, "format")
    files = []
    for case in CASES:
        for src in [FIXTURES / case / "before.ex", FIXTURES / case / "after.ex",
                    *sorted((FIXTURES / case / "new_files").rglob("*.ex"))]:
            if src.exists():
                dest = work / case / src.relative_to(FIXTURES / case)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest)
                files.append(dest.relative_to(work).as_posix())
    proc = tc.run(work, ["mix", "format", "--check-formatted", *files], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compile_cases_include_the_seed_and_a_large_guarded_module():
    assert {"seed-hoist", "seed-guard", "large-auto"} <= set(COMPILED)
    large = (FIXTURES / "large-auto" / "before.ex").read_text()
    assert large.count("\n") > 300
    assert "if_loaded Opt.Type do" in (FIXTURES / "large-auto" / "after.ex").read_text()
    assert "use Opt.JS, assets_path:" in (FIXTURES / "seed-hoist" / "before.ex").read_text()
    assert "raise RuntimeError" in (FIXTURES / "seed-hoist" / "before.ex").read_text()
