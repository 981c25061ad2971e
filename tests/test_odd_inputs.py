"""Odd names, special files, huge or broken input and failing output: one line, no traceback.

Each input here once crashed a command, hung it, or made it write what it must not. The
rule is the same for all: every error is one line naming the file, the exit code is 2, and
what `apply` writes is what `suggest | git apply` writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from refactor.cli import main

REPO = Path(__file__).resolve().parent.parent

MIX = b"""defmodule P.MixProject do
  use Mix.Project

  def project do
    [app: :p, version: "0.1.0"]
  end
end
"""
B = b"defmodule P.B do\n  def h, do: 2\nend\n"
UNUSED = b"defmodule P.%s do\n  require P.B\n  def f, do: 1\nend\n"
FIXED = b"defmodule P.%s do\n  def f, do: 1\nend\n"
DROP = ["--rule", "drop-unused-require", "--elixir", "1.18", "-j", "1", "--no-cache"]


def make(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in {"mix.exs": MIX, "lib/b.ex": B, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def exfix(*args: str, cwd: Path | None = None, input: bytes | None = None):
    """The command line in a child process: bytes out, bytes err, exit code."""
    return subprocess.run([sys.executable, "-m", "refactor", *args], cwd=cwd, input=input,
                          capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                          timeout=300)


def in_process(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def files_of(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            rel = os.path.relpath(p, root)
            if ".git" in Path(rel).parts or rel.startswith("_build"):
                continue
            if p.is_file() and not p.is_symlink():
                out[rel] = p.read_bytes()
    return out


def suggest_then_git_apply_equals_apply(tmp_path: Path, files: dict[str, bytes]) -> subprocess.CompletedProcess:
    """suggest | git apply on one copy, apply on another: the same files."""
    a = make(tmp_path / "a" / "p", files)
    b = tmp_path / "b" / "p"
    shutil.copytree(a, b, symlinks=True)
    subprocess.run(["git", "init", "-q"], cwd=b.parent, check=True)
    sug = exfix("suggest", "p", *DROP, cwd=b.parent)
    assert b"Traceback" not in sug.stderr, sug.stderr.decode(errors="replace")
    assert sug.returncode == 0, sug.stderr
    patch = b.parent / "fix.patch"
    patch.write_bytes(sug.stdout)
    subprocess.run(["git", "apply", str(patch)], cwd=b.parent, check=True, capture_output=True)
    app = exfix("apply", "p", *DROP, cwd=a.parent)
    assert b"Traceback" not in app.stderr and app.returncode == 0, app.stderr
    assert b"exfix: wrote" in app.stderr
    assert files_of(a) == files_of(b)
    return app


# --------------------------------------------------------------------------- 6. odd names

ODD_NAMES = {
    "space-b": "lib/plan b/w.ex",
    "tab": "lib/t\tx.ex",
    "newline": "lib/n\nx.ex",
    "carriage-return": "lib/c\rx.ex",
    "quote-backslash": 'lib/q"\\x.ex',
    "latin1": "lib/caf\udce9.ex",
    "unicode": "lib/café b/ü.ex",
}


@pytest.mark.parametrize("name", ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_odd_file_names_give_diffs_git_applies_as_apply_writes(tmp_path, name):
    raw = os.fsencode(name).decode("utf-8", "surrogateescape")
    suggest_then_git_apply_equals_apply(tmp_path, {raw: UNUSED % b"Odd", "lib/y.ex": UNUSED % b"Y"})


def test_odd_names_in_json_and_on_one_error_line(tmp_path):
    root = make(tmp_path / "p", {"lib/plan b/w.ex": UNUSED % b"W", "lib/n\nx.ex": b"defmodule (\n"})
    res = exfix("suggest", "p", *DROP, "--format", "json", cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert [s["file"] for s in doc["suggestions"]] == ["lib/plan b/w.ex"]
    errors = res.stderr.decode().splitlines()
    assert 'p/lib/n\\nx.ex:2: error: syntax error; exfix rewrites nothing in this file' in errors
    assert res.returncode == 2 and root.exists()
