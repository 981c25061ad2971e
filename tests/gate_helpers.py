"""What the gate, config, suppression, baseline and --since tests share: a copy of the bundled
example project and the real commands run in-process."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "example"

# a module attribute computed from another module, read only in a function: a finding of
# attribute-to-function (severity warning) with a verified fix
NEW_FINDING = """defmodule Bookshelf.Summary do
  @shelf Bookshelf.Config.default_shelf()

  def title, do: "Books on #{@shelf}"
end
"""


def copy_example(dst: Path) -> Path:
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("_build"))
    return dst


def exfix(*args: str, cwd: Path | None = None):
    """``exfix ARGS`` in-process (Elixir 1.18, one job); the click Result."""
    from refactor.cli import main

    argv = [*args]
    if args[0] in ("suggest", "apply", "baseline"):
        argv += ["--elixir", "1.18", "--jobs", "1"]
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, argv, catch_exceptions=False)
    with contextlib.chdir(cwd):
        return runner.invoke(main, argv, catch_exceptions=False)


def findings(result) -> list[str]:
    """``rule file:line`` of every finding header a diff report printed."""
    out = []
    for line in result.stdout.splitlines():
        if line.startswith("# ") and not line.startswith("#  "):
            rule, where = line[2:].split(" ")[:2]
            out.append(f"{rule} {where}")
    return out


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True)
    return proc.stdout
