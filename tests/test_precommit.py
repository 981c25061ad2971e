"""The hooks of .pre-commit-hooks.yaml, run by real pre-commit on staged changes in a real git
repository.

Each hook runs as this repository ships it (entry, files, pass_filenames, require_serial),
from a local repository with ``language: system``, so the run uses this checkout's exfix
instead of installing a released one into pre-commit's own virtualenv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gate_helpers import NEW_FINDING, ROOT, copy_example, git

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())


@dataclass
class Repo:
    root: Path
    env: dict

    def __truediv__(self, rel: str) -> Path:
        return self.root / rel


def hook(hook_id: str) -> dict:
    return next(h for h in HOOKS if h["id"] == hook_id)


def test_the_shipped_hooks_say_what_they_do_and_run_serially():
    check, apply = hook("exfix-check"), hook("exfix-apply")
    assert check["entry"] == "exfix suggest --check" and apply["entry"] == "exfix apply"
    assert check["require_serial"] is True and apply["require_serial"] is True
    assert "verified exfix fix left to apply" in check["description"]
    assert "--fail-on" in check["description"]


@pytest.fixture
def repo(tmp_path):
    """The example project in a git repository whose .pre-commit-config.yaml runs both
    hooks; ``exfix`` on PATH is this checkout's."""
    root = copy_example(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "exfix"
    shim.write_text(f'#!/bin/sh\ncmd="$1"; shift\nexec "{sys.executable}" -m refactor "$cmd" '
                    f'--elixir 1.18 --jobs 1 "$@"\n')
    shim.chmod(0o755)
    hooks = []
    for h in HOOKS:
        local = {k: v for k, v in h.items() if k != "description"}
        local["language"] = "system"
        hooks.append(local)
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / ".gitignore").write_text("_build/\n")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), HOME=str(tmp_path),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    env.pop("FORCE_COLOR", None)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return Repo(root, env)


def pre_commit(repo: Repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--color", "never", "--verbose", *args],
                          cwd=repo.root, env=repo.env, capture_output=True, text=True, timeout=600)


def headers(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("# ") and not line.startswith("#  ")]


def test_check_fails_on_a_staged_new_finding_and_apply_fixes_it(repo):
    subprocess.run([sys.executable, "-m", "refactor", "apply", "--elixir", "1.18", "--jobs", "1"],
                   cwd=repo.root, env=repo.env, check=True, capture_output=True)
    git(repo.root, "commit", "-qam", "fixes applied")
    (repo / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    git(repo.root, "add", "lib/bookshelf/summary.ex")
    res = pre_commit(repo, "exfix-check")
    assert res.returncode == 1
    assert headers(res.stdout) == [h for h in headers(res.stdout) if "summary.ex" in h]
    assert len(headers(res.stdout)) == 1 and "attribute-to-function lib/bookshelf/summary.ex:2" in res.stdout
    assert "check failed: 1 verified fix to apply" in res.stdout
    res = pre_commit(repo, "exfix-apply")
    assert res.returncode == 1 and "files were modified by this hook" in res.stdout
    assert "defp shelf" in (repo / "lib/bookshelf/summary.ex").read_text()
    git(repo.root, "add", "lib/bookshelf/summary.ex")
    assert pre_commit(repo, "exfix-check").returncode == 0
    assert pre_commit(repo, "exfix-apply").returncode == 0


def test_staging_only_mix_exs_reports_nothing_of_the_project(repo):
    mix = repo / "mix.exs"
    mix.write_text(mix.read_text() + "# a comment\n")
    git(repo.root, "add", "mix.exs")
    res = pre_commit(repo, "exfix-check")
    assert res.returncode == 0, res.stdout
    assert "Passed" in res.stdout and headers(res.stdout) == []
    assert "exfix: 0 suggestions (0 with a verified fix) in 1 project" in res.stdout


def test_all_files_prints_each_finding_once(repo):
    res = pre_commit(repo, "exfix-check", "--all-files")
    assert res.returncode == 1
    found = headers(res.stdout)
    # the example's 5 findings, but the unused import whose fix saves no recompile (hidden)
    assert len(found) == 4 and len(set(found)) == 4
    assert "exfix: 4 suggestions (1 with a verified fix)" in res.stdout
    assert "exfix: 1 verified fix not shown (drop-unused-import 1)" in res.stdout


def test_a_commit_is_stopped_by_the_installed_hook(repo):
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo.root, env=repo.env,
                   check=True, capture_output=True)
    catalog = repo / "lib/bookshelf/catalog.ex"
    catalog.write_text(catalog.read_text() + "\n")
    git(repo.root, "add", "-A")
    res = subprocess.run(["git", "commit", "-m", "touch"], cwd=repo.root, env=repo.env,
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert "attribute-to-function lib/bookshelf/catalog.ex:5" in res.stdout + res.stderr
    assert git(repo.root, "rev-list", "--count", "HEAD").strip() == "1"
    assert shutil.which("git")
