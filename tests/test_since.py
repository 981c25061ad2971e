"""`--since GIT_REF` on real git repositories: findings in the files changed since REF only."""

from __future__ import annotations

import shutil

import pytest

from gate_helpers import NEW_FINDING, ROOT, copy_example, exfix, findings, git


@pytest.fixture
def repo(tmp_path):
    """The example project, committed, with its fixes applied in a second commit."""
    root = copy_example(tmp_path / "repo")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


def test_only_changed_files_are_reported(repo):
    # 5 findings, one of them a fix that saves no recompile (shown with --all)
    assert len(findings(exfix("suggest", cwd=repo))) == 4
    assert len(findings(exfix("suggest", "--all", cwd=repo))) == 5
    assert findings(exfix("suggest", "--since", "HEAD", cwd=repo)) == []
    # modified in the work tree
    catalog = repo / "lib/bookshelf/catalog.ex"
    catalog.write_text(catalog.read_text() + "\n")
    res = exfix("suggest", "--since", "HEAD", cwd=repo)
    assert findings(res) == ["attribute-to-function lib/bookshelf/catalog.ex:5"]
    # a new file git does not ignore, and a staged one
    (repo / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    res = exfix("suggest", "--check", "--since", "HEAD", cwd=repo)
    assert sorted(findings(res)) == ["attribute-to-function lib/bookshelf/catalog.ex:5",
                                     "attribute-to-function lib/bookshelf/summary.ex:2"]
    assert res.exit_code == 1
    git(repo, "add", "lib/bookshelf/summary.ex")
    git(repo, "checkout", "lib/bookshelf/catalog.ex")
    res = exfix("suggest", "--since", "HEAD", cwd=repo)
    assert findings(res) == ["attribute-to-function lib/bookshelf/summary.ex:2"]


def test_committed_changes_since_a_branch_point(repo):
    git(repo, "checkout", "-qb", "feature")
    (repo / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "report")
    res = exfix("suggest", "--check", "--since", "main", cwd=repo)
    assert findings(res) == ["attribute-to-function lib/bookshelf/summary.ex:2"] and res.exit_code == 1
    assert findings(exfix("suggest", "--since", "HEAD", cwd=repo)) == []
    # ignored files are not new files
    (repo / ".gitignore").write_text("lib/bookshelf/scratch.ex\n")
    (repo / "lib/bookshelf/scratch.ex").write_text(NEW_FINDING.replace("Summary", "Scratch"))
    assert findings(exfix("suggest", "--since", "HEAD", cwd=repo)) == []


def test_a_project_in_a_subfolder_of_the_repository(tmp_path):
    top = tmp_path / "mono"
    top.mkdir()
    root = copy_example(top / "apps" / "shelf")
    shutil.copytree(ROOT / "fixtures" / "monorepo" / "billing", top / "billing")
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-qm", "start")
    (root / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    res = exfix("suggest", "--since", "HEAD", ".", cwd=top)
    assert findings(res) == ["attribute-to-function apps/shelf/lib/bookshelf/summary.ex:2"]
    assert "in 1 project" in res.stderr  # billing changed nothing: not analysed


def test_a_ref_that_names_no_commit_or_no_repository_is_an_input_error(repo, tmp_path):
    res = exfix("suggest", "--since", "no-such-branch", cwd=repo)
    assert res.exit_code == 2 and "--since no-such-branch: not a commit" in res.stderr
    plain = copy_example(tmp_path / "plain")
    res = exfix("suggest", "--since", "HEAD", cwd=plain)
    assert res.exit_code == 2 and "is not in a git work tree" in res.stderr


def test_named_files_and_since_both_narrow(repo):
    catalog = repo / "lib/bookshelf/catalog.ex"
    catalog.write_text(catalog.read_text() + "\n")
    (repo / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    res = exfix("suggest", "--since", "HEAD", "lib/bookshelf/summary.ex", "lib/bookshelf/query.ex", cwd=repo)
    assert findings(res) == ["attribute-to-function lib/bookshelf/summary.ex:2"]
