"""exfix apply with mix on PATH (Debian's Elixir 1.14 on the host): the compiler judges the
patches before anything is written, and a file mix format found clean stays clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

FILES = {
    "mix.exs": """defmodule Judged.MixProject do
  use Mix.Project

  def project, do: [app: :judged, version: "0.1.0", elixir: "~> 1.14", deps: []]
end
""",
    ".formatter.exs": '[inputs: ["{mix,.formatter}.exs", "{config,lib,test}/**/*.{ex,exs}"]]\n',
    "lib/cfg.ex": 'defmodule Cfg do\n  def greeting, do: "hello"\nend\n',
    # Echo reads a module-body variable by a name exfix sees only as a string
    "lib/echo.ex": """defmodule Echo do
  defmacro echo(name) do
    var = Macro.var(String.to_atom(name), nil)
    quote(do: @echoed(unquote(var)))
  end
end
""",
    "lib/greeter.ex": """defmodule Greeter do
  require Echo
  greeting = Cfg.greeting()
  Echo.echo("greeting")

  def hello(name), do: unquote(greeting) <> " " <> name
  def echoed, do: @echoed
end
""",
    "lib/shop_format.ex": """defmodule Shop.Format do
  def pad(s, n), do: String.pad_leading(s, n)
  def trim(s), do: String.trim(s)
end
""",
    # 97 columns: the remote calls import-to-alias writes take it past the formatter's 98
    "lib/label.ex": """defmodule Label do
  import Shop.Format

  def label(first, second), do: first |> trim() |> pad(10) |> Kernel.<>(second) |> String.trim()
end
""",
}


@pytest.fixture
def project(tmp_path):
    oracle.toolchain("1.14")  # mix on the host, or fail naming scripts/setup-tests
    root = tmp_path / "judged"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def mix(root: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {"PATH": oracle.STD_PATH, "HOME": str(root.parent), "LANG": "C.UTF-8", "MIX_ENV": "dev"}
    return subprocess.run(["mix", *argv], cwd=root, env=env, capture_output=True, text=True)


def exfix(root: Path, *argv: str) -> subprocess.CompletedProcess:
    """``exfix ARGV`` in a child process; ``apply`` with --all: label.ex's import-to-alias
    saves no recompile (hidden by default), and it is the formatting case."""
    if argv[0] == "apply":
        argv = (*argv, "--all")
    env = {**os.environ, "PATH": oracle.STD_PATH + os.pathsep + os.environ.get("PATH", ""),
           "PYTHONPATH": str(REPO), "MIX_ENV": "dev", "HOME": str(root.parent)}
    return subprocess.run([sys.executable, "-m", "refactor", *argv], cwd=root, env=env,
                          capture_output=True, text=True)


@pytest.mark.oracle
def test_apply_reverts_what_breaks_the_build_and_formats_what_was_clean(project):
    assert mix(project, "format", "--check-formatted").returncode == 0
    assert mix(project, "compile").returncode == 0
    greeter = (project / "lib/greeter.ex").read_text()
    res = exfix(project, "apply", ".")
    assert res.returncode == 0, res.stderr
    assert "mix: lib/greeter.ex: reverted, not written: the patched file does not compile" in res.stderr
    assert "1 patched file compiles with no new warning, 1 reverted, 1 formatted by mix format" in res.stderr
    assert (project / "lib/greeter.ex").read_text() == greeter
    label = (project / "lib/label.ex").read_text()
    assert "import Shop.Format" not in label and "Shop.Format.trim()" in label
    assert mix(project, "format", "--check-formatted").returncode == 0
    compiled = mix(project, "compile", "--force")
    assert compiled.returncode == 0 and "warning" not in compiled.stderr + compiled.stdout


@pytest.mark.oracle
def test_no_verify_with_mix_writes_what_exfix_verified(project):
    assert mix(project, "compile").returncode == 0
    res = exfix(project, "apply", "--no-verify-with-mix", ".")
    assert "mix:" not in res.stderr and "wrote 2 files" in res.stderr
    # exfix's graph alone could not see Echo's use of the variable: the build breaks
    assert mix(project, "compile").returncode != 0


@pytest.mark.oracle
def test_without_a_build_apply_says_what_checked_the_patches(project):
    res = exfix(project, "apply", ".")
    assert "patches checked against exfix's graph only: the project has no _build/dev" in res.stderr
