"""`exfix suggest` and `exfix apply` over a monorepo: discovery, outputs, exit codes, idempotence."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import engine_rules as R
import refactor.commands.suggest as cmd
from refactor.discover import find_projects

HERE = Path(__file__).resolve().parent
MONOREPO = HERE.parent / "fixtures" / "monorepo"
SARIF_SCHEMA = json.loads((HERE / "data" / "sarif-2.1.0-rtm.5.json").read_text())

FIXED = {
    "billing/lib/billing/invoice.ex",
    "catalog/lib/catalog/search.ex",
    "shop/apps/core/lib/core/cart.ex",
    "shop/apps/web/lib/web/page.ex",
    "broken/lib/broken/good.ex",
}


@pytest.fixture
def mono(tmp_path, monkeypatch):
    """A copy of the fixture monorepo as the working folder, run with drop-unused-require."""
    dst = tmp_path / "mono"
    shutil.copytree(MONOREPO, dst)
    monkeypatch.chdir(dst)
    use_rules(monkeypatch, R.DropUnusedRequire)
    return dst


def use_rules(monkeypatch, *rules):
    from refactor.rules import get_rules

    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: get_rules(select, skip, list(rules)))


def invoke(command, *args):
    """Run a command in-process; one job unless the test asks (worker start-up costs seconds).
    With ``--all`` unless the test sets ``--min-gain``: the fixture's fixes (unused requires)
    save no recompile, and these tests are about what a batch does with fixes; which fixes
    are worth making is tested in test_gain.py and by test_fixes_without_gain_are_counted."""
    jobs = [] if ("--jobs" in args or "-j" in args) else ["--jobs", "1"]
    every = [] if "--min-gain" in args else ["--all"]
    return CliRunner().invoke(command, [*args, "--elixir", "1.18", *jobs, *every], catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, but exfix's caches (_build/exfix): not a change to the projects."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "_build" not in p.relative_to(root).parts}


# --------------------------------------------------------------------------- discovery


def test_discovery_of_the_fixture_monorepo():
    found, errors = find_projects([MONOREPO])
    assert errors == []
    roots = [str(f.root.relative_to(MONOREPO)) for f in found]
    assert roots == ["billing", "broken", "catalog", "services/ledger", "shop"]
    shop = found[-1]
    assert shop.umbrella and [a.name for a in shop.apps] == ["core", "web"]


def test_discovery_skips_ignored_and_build_folders(tmp_path):
    for rel in ["a", "gen/b", "deps/c", "_build/d", "node_modules/e", ".git/f", "keep/g", "x/vendor/h"]:
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "mix.exs").write_text("defmodule M do\nend\n")
    (tmp_path / ".gitignore").write_text("gen/\n")
    (tmp_path / "x" / ".gitignore").write_text("vendor\n")
    found, errors = find_projects([tmp_path])
    assert [str(f.root.relative_to(tmp_path)) for f in found] == ["a", "keep/g"]
    assert errors == []


def test_discovery_of_a_single_app_and_of_nothing(tmp_path):
    found, _ = find_projects([MONOREPO / "shop" / "apps" / "web"])
    assert [f.root.name for f in found] == ["web"] and not found[0].umbrella
    found, errors = find_projects([tmp_path, tmp_path / "missing"])
    assert found == []
    assert [e.message for e in errors] == ["no mix.exs found here or below", "no such file or folder"]


def test_same_project_named_twice_runs_once():
    found, _ = find_projects([MONOREPO / "billing", MONOREPO / "billing" / "mix.exs", MONOREPO])
    assert [f.root.name for f in found].count("billing") == 1


def test_files_as_arguments_map_to_their_projects(mono, monkeypatch):
    """As pre-commit calls it: source files, each reported within its own project."""
    res = invoke(cmd.suggest, "--format", "json", "billing/lib/billing/invoice.ex",
                 "shop/apps/web/lib/web/page.ex", "broken/lib/broken/good.ex", "billing/lib/billing.ex")
    doc = json.loads(res.stdout)
    got = sorted((s["project"], s["file"]) for s in doc["suggestions"])
    assert got == [("billing", "lib/billing/invoice.ex"), ("broken", "lib/broken/good.ex"),
                   ("shop/apps/web", "lib/web/page.ex")]
    assert doc["errors"] == []  # broken/lib/broken/bad.ex was not named
    assert res.exit_code == 0
    res = invoke(cmd.suggest, "--check", "catalog/lib/catalog/product.ex")
    assert res.exit_code == 0 and res.stdout == ""
    monkeypatch.chdir(mono / "shop" / "apps" / "web" / "lib")
    res = invoke(cmd.apply, "web/page.ex")
    assert res.exit_code == 0 and "wrote 1 file" in res.stderr
    assert "diff --git a/web/page.ex b/web/page.ex" in res.stdout
    (mono / "README.md").write_text("x")
    monkeypatch.chdir(mono)
    res = invoke(cmd.suggest, "README.md")
    assert res.exit_code == 2 and "README.md: error: not inside a mix project" in res.stderr


# --------------------------------------------------------------------------- suggest


def test_suggest_over_the_monorepo(mono):
    before = snapshot(mono)
    res = invoke(cmd.suggest, ".")
    assert res.exit_code == 2  # broken/ has a file that does not parse
    assert "broken/lib/broken/bad.ex:9: error: syntax error" in res.stderr
    out = res.stdout
    diffed = {line.split(" b/")[1] for line in out.splitlines() if line.startswith("diff --git")}
    assert diffed == FIXED
    assert "# drop-unused-require billing/lib/billing/invoice.ex:3 warning:" in out
    assert "#   verified" in out
    assert all(line.startswith(("#", "diff ", "--- ", "+++ ", "@@", "+", "-", " ")) for line in out.splitlines())
    assert "bad.ex:2 warning" in out and "does not parse cleanly (line 9)" in out
    assert snapshot(mono) == before, "suggest wrote something"
    for name in ("billing", "catalog", "services/ledger", "shop/apps/core", "shop/apps/web", "broken"):
        assert name in res.stderr  # the per-project table


def test_suggest_diff_applies_with_git_and_equals_what_apply_writes(mono, tmp_path):
    res = invoke(cmd.suggest, ".", "--jobs", "2")
    patch = tmp_path / "fix.patch"
    patch.write_text(res.stdout)
    # a second copy, as a git repository, gets the printed patch
    other = tmp_path / "other"
    shutil.copytree(MONOREPO, other)
    subprocess.run(["git", "init", "-q"], cwd=other, check=True)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=other, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=other, check=True)
    # the first copy gets `exfix apply`
    res = invoke(cmd.apply, ".", "--jobs", "2")
    assert res.exit_code == 2  # still the broken project
    assert "wrote 5 files" in res.stderr
    assert res.stdout.count("#   verified, written") == 5
    cmp = filecmp.dircmp(mono, other, ignore=[".git", "_build"])
    assert _all_same(cmp), "git apply of the suggest output differs from exfix apply"
    written = {rel for rel, data in snapshot(mono).items() if (MONOREPO / rel).read_bytes() != data}
    assert written == FIXED


def _all_same(cmp: filecmp.dircmp) -> bool:
    if cmp.diff_files or cmp.left_only or cmp.right_only:
        return False
    for f in cmp.common_files:  # dircmp compares shallowly; compare bytes
        if Path(cmp.left, f).read_bytes() != Path(cmp.right, f).read_bytes():
            return False
    return all(_all_same(sub) for sub in cmp.subdirs.values())


def test_apply_twice_changes_nothing_the_second_time(mono):
    invoke(cmd.apply, ".")
    once = snapshot(mono)
    res = invoke(cmd.apply, ".")
    assert "wrote 0 files" in res.stderr
    assert snapshot(mono) == once
    res = invoke(cmd.suggest, ".", "--check")
    assert "diff --git" not in res.stdout


def test_suggest_and_apply_without_the_cache(mono):
    invoke(cmd.suggest, "billing", "--no-cache")
    assert not (mono / "billing" / "_build").exists()
    invoke(cmd.apply, "billing", "--no-cache")
    assert not (mono / "billing" / "_build").exists()
    assert b"require" not in (mono / "billing/lib/billing/invoice.ex").read_bytes()
    invoke(cmd.suggest, "billing")
    assert (mono / "billing" / "_build" / "exfix" / "cache").is_dir()


def test_check_exit_codes(mono):
    assert invoke(cmd.suggest, "billing", "--check").exit_code == 1
    assert invoke(cmd.suggest, "billing").exit_code == 0
    assert invoke(cmd.suggest, "services/ledger", "--check").exit_code == 0
    invoke(cmd.apply, "billing")
    assert invoke(cmd.suggest, "billing", "--check").exit_code == 0


def test_usage_and_input_errors_exit_2(mono):
    res = invoke(cmd.suggest, ".", "--rule", "no-such-rule")
    assert res.exit_code == 2 and "unknown rule no-such-rule" in res.stderr
    res = invoke(cmd.suggest, "nowhere")
    assert res.exit_code == 2 and "nowhere: error: no such file or folder" in res.stderr
    res = invoke(cmd.suggest, ".", "--format", "xml")
    assert res.exit_code == 2
    res = CliRunner().invoke(cmd.suggest, [".", "--elixir", "0.9"])
    assert res.exit_code == 2 and "--elixir" in res.stderr


def test_rule_selection(mono, monkeypatch):
    use_rules(monkeypatch, R.DropUnusedRequire, R.NoFix)
    res = invoke(cmd.suggest, "billing", "--format", "json", "--skip-rule", "drop-unused-require")
    assert {s["rule"] for s in json.loads(res.stdout)["suggestions"]} == {"no-fix"}
    res = invoke(cmd.suggest, "billing", "--format", "json", "--rule", "drop-unused-require")
    assert {s["rule"] for s in json.loads(res.stdout)["suggestions"]} == {"drop-unused-require"}


def test_broken_mix_exs_is_reported_and_the_rest_still_run(mono):
    (mono / "catalog" / "mix.exs").write_text("defmodule Catalog.MixProject do\n  def project do\n    [app:\n  end\nend\n")
    res = invoke(cmd.apply, ".")
    assert res.exit_code == 2
    assert "catalog/mix.exs:" in res.stderr
    assert b"require Catalog.Product" in (mono / "catalog/lib/catalog/search.ex").read_bytes()
    assert b"require" not in (mono / "billing/lib/billing/invoice.ex").read_bytes()


def test_broken_umbrella_root_is_reported_and_its_apps_still_run(mono):
    (mono / "shop" / "mix.exs").write_text("defmodule Shop.MixProject do\n  def project do\n    [apps_path:\n  end\nend\n")
    res = invoke(cmd.apply, "shop")
    assert res.exit_code == 2 and "shop/mix.exs:" in res.stderr
    assert b"require" not in (mono / "shop/apps/web/lib/web/page.ex").read_bytes()


def test_colour_and_progress_on_a_terminal(mono):
    """Run under a pseudo-terminal: the diff is coloured; piped runs are plain (above)."""
    import pty
    import select
    import sys

    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "import engine_rules, refactor.commands.suggest as cmd\n"
        "cmd.get_rules = lambda s, k: [engine_rules.DropUnusedRequire]\n"
        "cmd.suggest.main(['.', '--elixir', '1.18', '-j', '2', '--all'])\n" % str(HERE)
    )
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.chdir(mono)
        os.execve(sys.executable, [sys.executable, "-c", script], env)
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in out  # ANSI colour
    assert "-  require Billing.Money" in out
    assert "analysing projects" in out  # the progress bar, on stderr


def test_unreadable_and_looping_sources_are_reported_once(mono):
    lib = mono / "billing" / "lib"
    (lib / "loop_a.ex").symlink_to(lib / "loop_b.ex")
    (lib / "loop_b.ex").symlink_to(lib / "loop_a.ex")
    res = invoke(cmd.apply, "billing")
    assert res.exit_code == 2
    assert res.stderr.count("billing/lib/loop_a.ex: error: cannot read") == 1
    assert b"require" not in (lib / "billing" / "invoice.ex").read_bytes()  # the rest is fixed
    assert (lib / "loop_a.ex").is_symlink() and (lib / "loop_b.ex").is_symlink()


def test_non_utf8_crlf_source_is_fixed_byte_for_byte(mono, tmp_path):
    inv = mono / "billing" / "lib" / "billing" / "invoice.ex"
    data = inv.read_bytes().replace(b"\n", b"\r\n").replace(b"runtime only", b"runtime \xe9t\xe9")
    inv.write_bytes(data)
    res = invoke(cmd.suggest, "billing")
    patch = tmp_path / "p.diff"
    patch.write_bytes(res.stdout_bytes)
    other = tmp_path / "other"
    shutil.copytree(mono / "billing", other / "billing")
    subprocess.run(["git", "init", "-q"], cwd=other, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=other, check=True)
    invoke(cmd.apply, "billing")
    expected = data.replace(b"  require Billing.Money\r\n", b"")
    assert inv.read_bytes() == expected
    assert (other / "billing/lib/billing/invoice.ex").read_bytes() == expected


def test_bom_tabs_and_empty_files_are_kept(mono):
    inv = mono / "billing" / "lib" / "billing" / "invoice.ex"
    data = b"\xef\xbb\xbf" + inv.read_bytes().replace(b"  def total", b"\tdef total")
    inv.write_bytes(data)
    (mono / "billing" / "lib" / "empty.ex").write_bytes(b"")
    res = invoke(cmd.apply, "billing")
    assert res.exit_code == 0, res.stderr
    assert inv.read_bytes() == data.replace(b"  require Billing.Money\n", b"")
    assert (mono / "billing" / "lib" / "empty.ex").read_bytes() == b""


def test_workers_are_forked_before_the_progress_bar_thread_starts(mono, monkeypatch):
    import threading

    threads_at_fork = []
    real_fork = os.fork

    def fork():
        threads_at_fork.append(threading.active_count())
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal: progress bar on
    res = invoke(cmd.suggest, ".", "--jobs", "2")
    assert res.exit_code == 2 and "diff --git" in res.stdout
    assert "analysing projects" in res.stderr  # the bar ran
    assert threads_at_fork and set(threads_at_fork) == {1}


def test_parallel_run_gives_the_same_output(mono):
    one = invoke(cmd.suggest, ".", "--format", "json", "--jobs", "1")
    two = invoke(cmd.suggest, ".", "--format", "json", "--jobs", "2")
    assert one.stdout == two.stdout and one.exit_code == two.exit_code == 2


def test_unsafe_fixes_are_gated(mono, monkeypatch):
    use_rules(monkeypatch, R.Unsafe)
    res = invoke(cmd.apply, "billing")
    assert "wrote 0 files" in res.stderr and "diff --git" not in res.stdout
    res = invoke(cmd.apply, "billing", "--allow-concat")
    assert "wrote 1 file" in res.stderr and "unsafe fix" in res.stdout


def test_strategy_reaches_rules(mono, monkeypatch):
    seen = []

    class Spy(R.NoFix):
        id = "spy"

        def check(self, ctx):
            seen.append(ctx.options.get("strategy"))
            return []

    use_rules(monkeypatch, Spy)
    invoke(cmd.suggest, "billing", "--strategy", "guard", "-j", "1")
    assert seen == ["guard"]


# --------------------------------------------------------------------------- JSON and SARIF


def test_json_shape(mono):
    res = invoke(cmd.suggest, ".", "--format", "json")
    doc = json.loads(res.stdout)
    assert doc["version"] == 1
    assert set(doc) >= {"version", "suggestions", "errors"}
    by_file = {(s["project"], s["file"]): s for s in doc["suggestions"]}
    inv = by_file[("billing", "lib/billing/invoice.ex")]
    assert set(inv) >= {"rule", "project", "file", "line", "severity", "message", "diff",
                        "verified", "fanout_before", "fanout_after", "warnings"}
    assert inv["rule"] == "drop-unused-require" and inv["line"] == 3
    assert inv["severity"] == "warning" and inv["verified"] is True
    assert inv["diff"].startswith("diff --git a/billing/lib/billing/invoice.ex b/billing/lib/billing/invoice.ex\n")
    assert isinstance(inv["warnings"], list)
    assert isinstance(inv["fanout_before"], float) and isinstance(inv["fanout_after"], float)
    assert inv["gain"] == 0 and inv["gain_measured_with"] == 1  # shown with --all
    web = by_file[("shop/apps/web", "lib/web/page.ex")]
    assert web["verified"] is True
    bad = by_file[("broken", "lib/broken/bad.ex")]
    assert bad["verified"] is False and bad["diff"] is None
    projects = {p["project"]: p for p in doc["projects"]}
    assert sorted(projects) == ["billing", "broken", "catalog", "services/ledger",
                                "shop/apps/core", "shop/apps/web"]
    assert projects["billing"]["files"] == 3 and projects["billing"]["suggestions"] == 1
    assert projects["broken"]["errors"] == 1 and projects["broken"]["analysed"] is True
    assert doc["errors"] == [{"file": "broken/lib/broken/bad.ex", "line": 9,
                              "message": "syntax error; exfix rewrites nothing in this file",
                              "project": "broken"}]


def test_fixes_without_gain_are_counted_not_shown_nor_written(mono):
    before = snapshot(mono)
    res = invoke(cmd.suggest, ".", "--format", "json", "--min-gain", "1", "--check")
    doc = json.loads(res.stdout)
    assert not [s for s in doc["suggestions"] if s["verified"]] and not doc["patches"]
    assert res.exit_code == 2  # the broken project; no fix left to fail --check on
    hidden = {p["project"]: p["hidden_no_gain"] for p in doc["projects"]}
    assert sum(hidden.values()) == len(FIXED) and hidden["billing"] == 1
    assert (f"exfix: {len(FIXED)} verified fixes not shown (drop-unused-require {len(FIXED)}): "
            "each saves no recompile; --all shows them") in res.stderr
    res = invoke(cmd.apply, ".", "--min-gain", "1")
    assert "exfix: wrote 0 files" in res.stderr and "not written (drop-unused-require" in res.stderr
    assert snapshot(mono) == before


def test_apply_json_lists_what_was_written(mono):
    res = invoke(cmd.apply, ".", "--format", "json")
    doc = json.loads(res.stdout)
    assert set(doc["written"]) == FIXED and doc["refused"] == []


def test_sarif_is_valid_against_the_2_1_0_schema(mono, monkeypatch):
    use_rules(monkeypatch, R.DropUnusedRequire, R.NoFix, R.NewFile)
    res = invoke(cmd.suggest, ".", "--format", "sarif")
    doc = json.loads(res.stdout)
    jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["drop-unused-require", "no-fix", "new-file"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "billing/lib/billing/invoice.ex" in uris
    fixed = [r for r in run["results"] if "fixes" in r]
    assert fixed and all(r["properties"]["verified"] for r in fixed)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("syntax error" in n["message"]["text"] for n in notes)
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_fix_replacements_rebuild_the_patched_file(mono):
    res = invoke(cmd.suggest, "billing", "--format", "sarif")
    [result] = json.loads(res.stdout)["runs"][0]["results"]
    [change] = result["fixes"][0]["artifactChanges"]
    data = (mono / change["artifactLocation"]["uri"]).read_bytes()
    for rep in sorted(change["replacements"], key=lambda r: -r["deletedRegion"]["byteOffset"]):
        start, length = rep["deletedRegion"]["byteOffset"], rep["deletedRegion"]["byteLength"]
        data = data[:start] + rep["insertedContent"]["text"].encode() + data[start + length:]
    assert data == (MONOREPO / "billing/lib/billing/invoice.ex").read_bytes().replace(
        b"  require Billing.Money\n", b"")


def test_stats_table(mono):
    res = invoke(cmd.suggest, "billing", "--stats")
    assert "Suggestions by rule" in res.stderr and "drop-unused-require" in res.stderr


def test_plain_output_when_piped(mono):
    res = invoke(cmd.suggest, "billing")
    assert "\x1b[" not in res.stdout and "\x1b[" not in res.stderr


def test_output_paths_follow_the_working_folder(mono, monkeypatch):
    monkeypatch.chdir(mono / "shop")
    res = invoke(cmd.suggest, "apps/web")
    assert "diff --git a/apps/web/lib/web/page.ex b/apps/web/lib/web/page.ex" in res.stdout
