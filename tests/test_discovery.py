"""Finding projects as git, mix and ruff users expect: an umbrella's declared apps_path,
.git/info/exclude, the project enclosing the working folder, and what a path-less run says."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from refactor.cli import main
from refactor.discover import find_projects

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "fixtures" / "example"
MONOREPO = HERE.parent / "fixtures" / "monorepo"


def run(*args):
    return CliRunner().invoke(main, [*args], catch_exceptions=False)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def app(root: Path, name: str, body: str = "") -> None:
    module = name.capitalize()
    write(root / "mix.exs", f"defmodule {module}.MixProject do\n  use Mix.Project\n"
                            f"  def project, do: [app: :{name}, version: \"0.1.0\"]\nend\n")
    write(root / "lib" / f"{name}.ex", f"defmodule {module} do\n{body}end\n")


def test_an_umbrella_whose_apps_path_is_not_apps(tmp_path):
    root = tmp_path / "umb"
    write(root / "mix.exs", 'defmodule Umb.MixProject do\n  use Mix.Project\n'
                            '  def project, do: [apps_path: "components", version: "0.1.0"]\nend\n')
    app(root / "components" / "core", "core")
    app(root / "components" / "web", "web", "  require Web.Layout\n  def f, do: :ok\n")
    write(root / "components" / "web" / "lib" / "web" / "layout.ex", "defmodule Web.Layout do\nend\n")
    found, errors = find_projects([root])
    assert errors == []
    assert [(f.root, f.umbrella) for f in found] == [(root, True)]
    assert [a.name for a in found[0].apps] == ["core", "web"]
    # and from above it, as one project among others
    found, _ = find_projects([tmp_path])
    assert [(f.root.name, f.umbrella, len(f.apps)) for f in found] == [("umb", True, 2)]
    # --all: the unused require's fix saves no recompile (hidden by default)
    res = run("suggest", str(root), "--format", "json", "--jobs", "1", "--elixir", "1.18", "--all")
    doc = json.loads(res.stdout)
    assert sorted((p["name"], p["files"]) for p in doc["projects"]) == [("core", 1), ("web", 2)]
    assert [(s["rule"], s["file"]) for s in doc["suggestions"]] == [("drop-unused-require", "lib/web.ex")]
    # fanout takes the umbrella root as graph does: one report per app
    res = run("fanout", str(root), "--elixir", "1.18")
    assert res.exit_code == 0, res.output
    assert [line for line in res.stdout.splitlines() if line.startswith("==>")] == ["==> core", "==> web"]
    res = run("fanout", str(root), "--format", "json", "--elixir", "1.18")
    assert [a["app"] for a in json.loads(res.stdout)["apps"]] == ["core", "web"]


def test_an_apps_folder_is_no_umbrella_unless_mix_exs_says_so(tmp_path):
    """A project with an ``apps/`` folder of its own (say, sample apps) is one project."""
    app(tmp_path / "p", "p")
    app(tmp_path / "p" / "apps" / "sample", "sample")
    found, _ = find_projects([tmp_path / "p"])
    assert [(f.root.name, f.umbrella) for f in found] == [("p", False)]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_git_info_exclude_is_honoured_like_gitignore(tmp_path):
    repo = tmp_path / "repo"
    app(repo / "kept", "kept")
    app(repo / "scratch" / "old", "old")
    app(repo / "vendor" / "fork", "fork")
    git(repo, "init", "-q")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("# local\nscratch/\n")
    write(repo / ".gitignore", "vendor/\n")
    found, _ = find_projects([repo])
    assert [f.root.name for f in found] == ["kept"]
    # from a folder above the repository, its excludes apply inside it
    found, _ = find_projects([tmp_path])
    assert [f.root.name for f in found] == ["kept"]
    # from a folder inside the repository, the excludes of the repository above still apply
    found, errors = find_projects([repo / "scratch"])
    assert found == [] and [e.message for e in errors] == ["no mix.exs found here or below"]
    found, _ = find_projects([repo / "vendor"])
    assert found == []


def test_running_from_a_subfolder_finds_the_enclosing_project(tmp_path, monkeypatch):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    monkeypatch.chdir(project / "lib" / "bookshelf")
    res = run("graph", "--label", "compile-connected", "--elixir", "1.18")
    assert res.exit_code == 0, res.output
    here = run("graph", str(project), "--label", "compile-connected", "--elixir", "1.18")
    assert res.stdout == here.stdout and "lib/bookshelf/query.ex (compile)" in res.stdout
    res = run("trace", "search.ex", "--elixir", "1.18")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("lib/bookshelf/search.ex:")
    res = run("recompiles", "config.ex", "--elixir", "1.18")
    assert res.stdout.split() == ["lib/bookshelf/catalog.ex"]
    res = run("suggest", "--format", "json", "--jobs", "1", "--elixir", "1.18")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [p["project"] for p in doc["projects"]] == ["../.."]
    assert "looking for projects" not in res.stderr


def test_trace_and_recompiles_at_an_umbrella_root_find_the_app(tmp_path, monkeypatch):
    shutil.copytree(MONOREPO / "shop", tmp_path / "shop")
    monkeypatch.chdir(tmp_path / "shop")
    res = run("trace", "apps/web/lib/web/page.ex", "--elixir", "1.18")
    assert res.exit_code == 0, res.output
    assert res.stdout == "lib/web/page.ex:2: require Web.Layout (export)\n"
    res = run("recompiles", "lib/core/cart.ex", "--elixir", "1.18")
    assert res.exit_code == 2 and "not inside an app of the umbrella" in res.stderr


def test_a_pathless_run_with_no_project_above_says_what_it_scans(tmp_path, monkeypatch):
    app(tmp_path / "a", "a", "  require B\n  def f, do: :ok\n")
    app(tmp_path / "b", "b")
    monkeypatch.chdir(tmp_path)
    res = run("suggest", "--jobs", "1", "--elixir", "1.18")
    lines = res.stderr.splitlines()
    assert lines[0] == f"exfix: no mix.exs here or above; looking for projects below {tmp_path}"
    assert lines[1] == f"exfix: 2 projects found below {tmp_path}"


@pytest.mark.parametrize("fmt", ["pretty", "plain"])
def test_fail_above_prints_what_is_shown_then_the_error(fmt):
    res = run("graph", str(EXAMPLE), "--no-cache", "--label", "compile-connected", "--format", fmt,
              "--fail-above", "1", "--elixir", "1.18")
    assert res.exit_code == 1
    assert "lib/bookshelf/query.ex (compile)" in res.stdout
    assert res.stderr == "** (Mix) Too many references (found: 2, permitted: 1)\n"
    res = run("graph", str(EXAMPLE), "--no-cache", "--label", "compile-connected", "--format", fmt,
              "--fail-above", "2", "--elixir", "1.18")
    assert res.exit_code == 0 and res.stderr == ""


def test_fail_above_with_stats_warns_that_it_cannot_fail():
    res = run("graph", str(EXAMPLE), "--no-cache", "--label", "compile-connected", "--format", "stats",
              "--fail-above", "0", "--elixir", "1.18")
    assert res.exit_code == 0  # as mix: stats count nothing
    assert "Tracked files:" in res.stdout
    assert res.stderr.startswith("warning: --fail-above counts nothing with --format stats")


def test_apply_help_documents_only_what_apply_has():
    text = run("apply", "--help").stdout
    assert "--check" not in text.replace("exfix suggest --check", "")
    assert "Exit codes: 0 done" in text
    assert "--check" in run("suggest", "--help").stdout


def test_the_readme_ci_graph_line_can_fail(tmp_path, monkeypatch):
    """The README's CI line for the graph exits 1 on the example (it has compile-connected
    edges) and 0 once there are none."""
    readme = (HERE.parent / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("exfix graph") and "--fail-above" in l)
    argv = shlex.split(line.split("#")[0])[1:]
    shutil.copytree(EXAMPLE, tmp_path / "example")
    monkeypatch.chdir(tmp_path / "example")
    res = run(*argv, "--no-cache", "--elixir", "1.18")
    assert res.exit_code == 1 and "Too many references" in res.stderr
    assert "warning" not in res.stderr
    # cut both chains: catalog.ex no longer reads Config at compile time, search.ex no
    # longer calls the query macro
    catalog = tmp_path / "example/lib/bookshelf/catalog.ex"
    catalog.write_text(catalog.read_text().replace("@default_shelf Config.default_shelf()", "@default_shelf :main"))
    search = tmp_path / "example/lib/bookshelf/search.ex"
    search.write_text("defmodule Bookshelf.Search do\n  def by_title(t), do: t\nend\n")
    res = run(*argv, "--no-cache", "--elixir", "1.18")
    assert res.exit_code == 0, res.output
