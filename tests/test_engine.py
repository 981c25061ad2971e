"""The engine: rules run on a project, every fix verified in memory before it is offered."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine_rules as R
from refactor.engine import Options, run_project
from refactor.udiff import DiffError, unified_diff
from refactor.rules import get_rules
from refactor.rules.base import Diagnostic, Rule

MONOREPO = Path(__file__).resolve().parent.parent / "fixtures" / "monorepo"


@pytest.fixture
def billing(tmp_path):
    dst = tmp_path / "billing"
    shutil.copytree(MONOREPO / "billing", dst)
    return dst


def run(root, *rules, **kw):
    opts = Options(rules=list(rules), version="1.18", cwd=str(kw.pop("cwd", root)), **kw)
    return run_project(root, opts)


def by_file(result):
    return {s.file: s for s in result.suggestions}


def test_verified_fix_is_offered_and_patched(billing):
    r = run(billing, R.DropUnusedRequire)
    assert r.errors == []
    [sug] = r.suggestions
    assert (sug.file, sug.line, sug.rule) == ("lib/billing/invoice.ex", 3, "drop-unused-require")
    assert sug.verified and sug.in_patch and sug.reasons == []
    [patch] = r.patches
    assert patch.file == "lib/billing/invoice.ex"
    assert patch.before == (billing / patch.file).read_bytes()
    assert b"require" not in patch.after
    assert r.stats.files == 3 and r.stats.edges == 2


@pytest.mark.parametrize(
    "rule, reason",
    [
        (R.BreakSyntax, "does not parse (line"),
        (R.RenameModule, "would define ['BillingRenamed'] instead of ['Billing']"),
        (R.AddCompileEdge, "would add a compile edge lib/billing.ex ->"),
        (R.Vetoed, "the rule's own check says no"),
    ],
)
def test_failed_verification_is_a_diagnostic_never_a_fix(billing, rule, reason):
    r = run(billing, rule)
    assert r.suggestions, "the rule reported nothing"
    assert r.patches == []
    for sug in r.suggestions:
        assert not sug.verified and not sug.in_patch and not sug.offered
    assert any(reason in why for s in r.suggestions for why in s.reasons)


def test_new_compile_cycle_is_refused(billing):
    r = run(billing, R.AddCompileEdge)
    money = by_file(r)["lib/billing/money.ex"]
    assert any("compile cycle" in why for why in money.reasons)


def test_file_that_does_not_parse_is_never_rewritten(tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(MONOREPO / "broken", root)
    r = run(root, R.DropUnusedRequire)
    bad = by_file(r)["lib/broken/bad.ex"]
    assert not bad.offered and "does not parse cleanly (line 9)" in bad.reasons[0]
    assert [p.file for p in r.patches] == ["lib/broken/good.ex"]
    [err] = r.errors
    assert (err.file, err.line) == ("lib/broken/bad.ex", 9)


def test_diagnostic_without_fix(billing):
    r = run(billing, R.NoFix)
    [sug] = r.suggestions
    assert not sug.has_fix and sug.reasons == [] and r.patches == []


def test_unsafe_fix_needs_allow(billing):
    r = run(billing, R.Unsafe)
    [sug] = r.suggestions
    assert not sug.in_patch and "--allow-concat" in sug.reasons[0] and r.patches == []
    r = run(billing, R.Unsafe, allow_unsafe=True)
    [sug] = r.suggestions
    assert sug.in_patch and not sug.safe and len(r.patches) == 1


def test_fixes_in_one_file_are_merged(billing):
    r = run(billing, R.TwoInOneFile)
    assert all(s.in_patch for s in r.suggestions)
    patch = {p.file: p for p in r.patches}["lib/billing.ex"]
    assert patch.after.count(b"# one\n") == 1 and patch.after.endswith(b"# two\n")


def test_overlapping_fixes_hold_back_the_later_one_for_the_next_pass(billing):
    r = run(billing, R.Overlapping, passes=1)
    a, b = [s for s in r.suggestions if s.file == "lib/billing.ex"]
    assert a.in_patch and not b.in_patch and "held back" in b.reasons[0]
    patch = {p.file: p for p in r.patches}["lib/billing.ex"]
    assert patch.after.startswith(b"defmodule Billing do # a\n")


def test_a_later_pass_makes_the_held_back_fix(billing):
    r = run(billing, R.Overlapping)
    a, b = [s for s in r.suggestions if s.file == "lib/billing.ex"]
    assert (a.in_patch, a.found_in_pass, b.in_patch, b.found_in_pass) == (True, 1, True, 2)
    patch = {p.file: p for p in r.patches}["lib/billing.ex"]
    assert patch.before == (billing / "lib/billing.ex").read_bytes()
    assert patch.after.startswith(b"defmodule Billing do # a # b\n")
    # the second fix's own diff starts from the file on disk too
    assert b.before == patch.before and b.after == patch.after
    assert len(r.suggestions) == len([s for s in r.suggestions if s.in_patch]) == 2 * 3


def test_fixes_that_never_settle_stop_after_the_last_pass(billing):
    r = run(billing, R.Restless, passes=3)
    patch = {p.file: p for p in r.patches}["lib/billing.ex"]
    assert patch.after.count(b"# again\n") == 3
    assert any("after 3 passes" in n for n in r.notes)


def test_fix_creating_a_file(billing):
    r = run(billing, R.NewFile)
    [sug] = r.suggestions
    assert sug.in_patch, sug.reasons
    files = {p.file: p for p in r.patches}
    assert files["lib/billing/helper.ex"].before is None
    (billing / "lib/billing/helper.ex").write_text("defmodule Other do\nend\n")
    r = run(billing, R.NewFile)
    assert "already exists" in r.suggestions[0].reasons[0]


def test_compile_edge_into_a_new_leaf_helper_is_allowed(billing):
    r = run(billing, R.GuardHelper)
    [sug] = r.suggestions
    assert sug.in_patch, sug.reasons
    assert sorted(p.file for p in r.patches) == ["lib/billing/guard.ex", "lib/billing/invoice.ex"]


def test_compile_edge_into_a_new_helper_with_dependencies_is_refused(billing):
    r = run(billing, R.GuardHelperWithDeps)
    [sug] = r.suggestions
    assert not sug.offered
    assert "it would add a compile edge lib/billing/invoice.ex -> lib/billing/guard.ex" in sug.reasons


def test_crashing_rule_is_reported_and_others_run(billing):
    r = run(billing, R.Crashing, R.DropUnusedRequire)
    assert any("rule crashing failed" in e.message for e in r.errors)
    assert len(r.patches) == 1


def test_bad_mix_exs_is_reported_with_file_and_line(billing):
    (billing / "mix.exs").write_text("defmodule X.MixProject do\n  def project do\n    [app: :x\n  end\nend\n")
    r = run(billing, R.DropUnusedRequire)
    [err] = r.errors
    assert err.file.endswith("mix.exs") and err.line and r.stats is None


class RecordOptions(Rule):
    id = "record-options"
    seen: list = []

    def check(self, ctx):
        RecordOptions.seen.append(dict(ctx.options))
        return []


def test_options_reach_the_rules(billing):
    RecordOptions.seen.clear()
    run(billing, RecordOptions, rule_options={"strategy": "guard"})
    assert RecordOptions.seen == [{"strategy": "guard"}]


class PatchedContext(Rule):
    """verify() gets the original and the patched context."""

    id = "patched-context"
    got: list = []

    def check(self, ctx):
        return R.DropUnusedRequire().check(ctx)

    def verify(self, ctx, diagnostic: Diagnostic, patched):
        PatchedContext.got.append((ctx.sources[diagnostic.file], patched.sources[diagnostic.file],
                                   patched.analysis.file_graph.number_of_edges()))
        return []


def test_rule_verify_sees_patched_project(billing):
    PatchedContext.got.clear()
    run(billing, PatchedContext)
    before, after, edges = PatchedContext.got[0]
    assert b"require Billing.Money" in before and b"require" not in after
    assert edges == 1  # the export edge invoice -> money is gone


def test_registry_selection():
    rules = [R.DropUnusedRequire, R.NoFix]
    assert get_rules(None, None, rules) == rules
    assert get_rules(["no-fix"], None, rules) == [R.NoFix]
    assert get_rules(None, ["no-fix"], rules) == [R.DropUnusedRequire]
    with pytest.raises(ValueError, match="unknown rule nope"):
        get_rules(["nope"], None, rules)


# --------------------------------------------------------------------------- diffs


def git_apply(tmp_path: Path, name: str, before: bytes | None, diff: str) -> bytes:
    repo = tmp_path / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    if before is not None:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(before)
    patch = repo.parent / "p.diff"
    patch.write_bytes(diff.encode("utf-8", "surrogateescape"))
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True, capture_output=True)
    return (repo / name).read_bytes()


CASES = {
    "lf": (b"a\nb\nc\n", b"a\nB\nc\n"),
    "crlf kept": (b"a\r\nb\r\nc\r\n", b"a\r\nc\r\n"),
    "no final newline": (b"a\nb", b"a\nb\nc"),
    "add final newline": (b"a\nb", b"a\nb\n"),
    "not utf-8": (b"x = \xff\xfe\ny\n", b"x = \xff\xfe\n"),
    "bom": (b"\xef\xbb\xbfdefmodule A do\nend\n", b"\xef\xbb\xbfdefmodule A do\n  # x\nend\n"),
    "tabs and form feed": (b"\tq\x0cr\n", b"\tq\x0cs\n"),
    "to empty": (b"a\n", b""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_diff_applies_with_git_and_gives_exactly_the_new_bytes(tmp_path, name):
    before, after = CASES[name]
    diff = unified_diff("lib/x.ex", before, after)
    assert diff.startswith("diff --git a/lib/x.ex b/lib/x.ex\n--- a/lib/x.ex\n+++ b/lib/x.ex\n")
    assert git_apply(tmp_path, "lib/x.ex", before, diff) == after


def test_new_file_diff(tmp_path):
    diff = unified_diff("lib/new.ex", None, b"defmodule N do\nend\n")
    assert "--- /dev/null\n+++ b/lib/new.ex\n" in diff
    assert git_apply(tmp_path, "lib/new.ex", None, diff) == b"defmodule N do\nend\n"


def test_unchanged_file_has_no_diff():
    assert unified_diff("x.ex", b"a\n", b"a\n") == ""


def test_diff_read_back_mismatch_is_caught():
    from refactor.udiff import _check

    good = unified_diff("x.ex", b"a\nq\n", b"b\nq\n")
    _check(good, "x.ex", 1, 1, False)
    with pytest.raises(DiffError, match="reads back as x.ex"):
        _check(good, "x.ex", 2, 1, False)
    with pytest.raises(DiffError, match="does not parse"):
        _check(good.replace("@@ -1,2 +1,2 @@", "@@ -1,9 +1,2 @@"), "x.ex", 1, 1, False)


LINES = st.lists(st.sampled_from(["a", "b", "é", "\t", "x\r", "", "end", "\xff"]), max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=LINES, new=LINES, old_nl=st.booleans(), new_nl=st.booleans())
def test_any_diff_round_trips_through_git_apply(tmp_path, old, new, old_nl, new_nl):
    def enc(lines, nl):
        text = "\n".join(lines) + ("\n" if nl and lines else "")
        return text.encode("utf-8").replace("\xff".encode(), b"\xff")

    before, after = enc(old, old_nl), enc(new, new_nl)
    diff = unified_diff("f.ex", before, after)
    if before == after:
        assert diff == ""
        return
    assert git_apply(tmp_path, "f.ex", before, diff) == after


def test_engine_diff_paths_are_relative_to_where_exfix_runs(billing, tmp_path):
    from refactor.report import patch_diff

    r = run(billing, R.DropUnusedRequire, cwd=tmp_path)
    diff = patch_diff(r, r.patches[0], str(tmp_path))
    assert "a/billing/lib/billing/invoice.ex b/billing/lib/billing/invoice.ex" in diff
    assert os.path.relpath(billing, tmp_path) == "billing"


def test_diff_of_a_large_repetitive_file_is_fast_and_exact(tmp_path):
    import time

    before = b"".join(b"defmodule G%d do\n  def f, do: %d\nend\n" % (i, i) for i in range(60_000))
    after = before.replace(b"  def f, do: 30000\n", b"").replace(b"defmodule G1 do\n", b"defmodule G1 do # x\n")
    start = time.monotonic()
    diff = unified_diff("gen.ex", before, after)
    assert time.monotonic() - start < 5
    assert git_apply(tmp_path, "gen.ex", before, diff) == after


def test_paths_with_spaces_and_non_ascii_apply(tmp_path):
    name = "my dir/é/x.ex"
    diff = unified_diff(name, b"a\nb\n", b"a\nc\n")
    assert git_apply(tmp_path, name, b"a\nb\n", diff) == b"a\nc\n"


# --------------------------------------------------------------------------- property

NAMES = st.sampled_from(["A", "B", "C", "D"])
STATEMENT = st.one_of(
    NAMES.map(lambda n: f"  require P.{n}\n"),
    NAMES.map(lambda n: f"  def f_{n.lower()}(x), do: P.{n}.g(x)\n"),
    NAMES.map(lambda n: f"  @doc \"uses {n}\"\n"),
    st.just("  # a comment\n"),
    st.just("\n"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(st.lists(STATEMENT, max_size=6), min_size=1, max_size=3),
       crlf=st.booleans())
def test_apply_is_verified_and_idempotent_on_generated_modules(tmp_path_factory, bodies, crlf):
    from refactor.parse import first_error, parse

    root = tmp_path_factory.mktemp("gen")
    shutil.copy(MONOREPO / "billing" / "mix.exs", root / "mix.exs")
    (root / "lib").mkdir()
    for name in "ABCD":
        (root / "lib" / f"{name.lower()}.ex").write_text(f"defmodule P.{name} do\n  def g(x), do: x\nend\n")
    for i, body in enumerate(bodies):
        text = f"defmodule Gen{i} do\n" + "".join(body) + "end\n"
        data = text.replace("\n", "\r\n").encode() if crlf else text.encode()
        (root / "lib" / f"gen{i}.ex").write_bytes(data)
    first = run(root, R.DropUnusedRequire)
    assert first.errors == []
    for patch in first.patches:
        assert first_error(parse(patch.after)) is None
        assert patch.after.count(b"\r\n") == (patch.after.count(b"\n") if crlf else 0)
        (root / patch.file).write_bytes(patch.after)
    for sug in first.suggestions:
        assert sug.in_patch, sug.reasons  # dropping an unused require always verifies
    second = run(root, R.DropUnusedRequire)
    assert second.patches == [] and second.suggestions == []


def test_fixes_are_verified_on_derived_analyses(tmp_path, monkeypatch):
    """Each pass analyses the project once; every fix is verified on an analysis derived
    from it (only what the fix touches is expanded again), with the same answers as a
    project analysed from scratch would give (tests/test_derive.py)."""
    import refactor.analysis as analysis_mod

    root = tmp_path / "example"
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "example", root)
    full, derived = [], []
    real_analyze, real_derive = analysis_mod.analyze, analysis_mod.Analysis.derive

    def analyze(*args, **kw):
        full.append(1)
        return real_analyze(*args, **kw)

    def derive(self, changes):
        got = real_derive(self, changes)
        derived.append(got is not None)
        return got

    monkeypatch.setattr(analysis_mod, "analyze", analyze)
    monkeypatch.setattr(analysis_mod.Analysis, "derive", derive)
    opts = Options(rules=get_rules(), version="1.18", cwd=str(root))
    result = run_project(root, opts)
    verified = [s for s in result.suggestions if s.verified]
    assert verified and all(derived)
    assert len(derived) >= len(verified)
    assert len(full) <= opts.passes  # one analysis per pass, none per fix


def test_advice_found_on_patched_text_names_the_lines_on_disk(billing):
    """Once a fix removes a line above it, later passes see the text shifted; what they
    report points at the file on disk, in its words too."""
    r = run(billing, R.DropUnusedRequire, R.FirstDefLine)
    disk = (billing / "lib/billing/invoice.ex").read_bytes()
    line = disk[: disk.find(b"  def ")].count(b"\n") + 1
    [advice] = [s for s in r.suggestions if s.rule == "first-def-line" and s.file == "lib/billing/invoice.ex"]
    assert any(s.in_patch and s.file == "lib/billing/invoice.ex" for s in r.suggestions)
    assert advice.line == line
    assert advice.message == f"the first def is on line {line}"
    assert advice.detail == f"see line {line}; line 1 opens the module"
