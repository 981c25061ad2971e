"""Which Elixir the default semantics follow: the ``elixir`` on PATH, read without starting it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from refactor import semantics

APP = """{application,elixir,
    [{description,"elixir"},
     {vsn,"%s"},
     {modules,['Elixir.Access']}]}.
"""


def _install(root, version):
    """A tree shaped like an Elixir install whose launcher fails if it is run."""
    (root / "bin").mkdir(parents=True)
    launcher = root / "bin" / "elixir"
    launcher.write_text("#!/bin/sh\necho run >&2\nexit 3\n")
    launcher.chmod(0o755)
    ebin = root / "lib" / "elixir" / "ebin"
    ebin.mkdir(parents=True)
    (ebin / "elixir.app").write_text(APP % version)
    return launcher


def _on_path(monkeypatch, folder):
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def _never_run(*args, **kwargs):
    raise AssertionError(f"the launcher was started: {args}")


def test_the_version_is_read_from_the_install_behind_a_link(tmp_path, monkeypatch):
    launcher = _install(tmp_path / "elixir-1.16.3", "1.16.3")
    shown = tmp_path / "bin"
    shown.mkdir()
    (shown / "elixir").symlink_to(os.path.relpath(launcher, shown))
    _on_path(monkeypatch, shown)
    monkeypatch.setattr(semantics.subprocess, "run", _never_run)
    assert semantics.installed_version() == "1.16.3"
    assert semantics.default_version() == "1.14"  # the nearest supported at or below


def test_a_launcher_outside_an_install_is_asked(tmp_path, monkeypatch):
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "elixir"
    shim.write_text('#!/bin/sh\necho "Erlang/OTP 27 [erts-15.2]"\necho\n'
                    'echo "Elixir 1.18.3 (compiled with Erlang/OTP 27)"\n')
    shim.chmod(0o755)
    _on_path(monkeypatch, shims)
    assert semantics.installed_version() == "1.18.3"
    assert semantics.default_version() == "1.18"


@pytest.mark.parametrize("app", ["", "{application,elixir,[{vsn,\"main\"}]}.", "\xff\xfe"])
def test_an_unreadable_app_file_falls_back_on_asking(tmp_path, monkeypatch, app):
    launcher = _install(tmp_path, "0.0.0")
    (tmp_path / "lib/elixir/ebin/elixir.app").write_text(app, encoding="latin-1")
    launcher.write_text('#!/bin/sh\necho "Elixir 1.20.4 (compiled with Erlang/OTP 28)"\n')
    _on_path(monkeypatch, launcher.parent)
    assert semantics.installed_version() == "1.20.4"


def test_no_elixir_means_the_newest(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert semantics.installed_version() is None
    assert semantics.default_version() == semantics.NEWEST


def test_a_launcher_that_fails_gives_no_version(tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "elixir").write_text("#!/bin/sh\nexit 1\n")
    (broken / "elixir").chmod(0o755)
    _on_path(monkeypatch, broken)
    assert semantics.installed_version() is None
    assert semantics.default_version() == semantics.NEWEST


@pytest.mark.oracle
def test_the_version_read_is_the_one_elixir_reports(toolchain, monkeypatch):
    """On every real install (Debian's, and those in the chroots) the file read gives what
    ``System.version()`` prints, without starting the launcher."""
    if toolchain.chroot is None:
        asked = subprocess.run(["elixir", "--version"], capture_output=True, text=True).stdout
        assert f"Elixir {toolchain.full_version} " in asked
    root = toolchain.chroot or "/"
    monkeypatch.setattr(semantics.subprocess, "run", _never_run)
    assert semantics.launcher_version(os.path.join(root, "usr/bin/elixir")) == toolchain.full_version


def test_a_version_between_the_modelled_ones_is_analysed_with_a_warning():
    from click.testing import CliRunner

    from refactor.cli import main

    example = str(Path(__file__).resolve().parent.parent / "fixtures" / "example")
    result = CliRunner().invoke(main, ["graph", example, "--elixir", "1.16.2", "--format", "stats"])
    assert result.exit_code == 0
    assert "Elixir 1.16 is analysed with 1.14's rules" in result.stderr
    exact = CliRunner().invoke(main, ["graph", example, "--elixir", "1.18.3", "--format", "stats"])
    assert exact.exit_code == 0 and "warning" not in exact.stderr
    outside = CliRunner().invoke(main, ["graph", example, "--elixir", "1.99"])
    assert outside.exit_code == 2 and "Elixir 1.99 is not modelled" in outside.output
