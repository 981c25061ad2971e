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
    assert semantics.default_version() == "1.16"


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
    bin_dir = (toolchain.bin_dir or "/usr/bin").lstrip("/")
    monkeypatch.setattr(semantics.subprocess, "run", _never_run)
    assert semantics.launcher_version(os.path.join(root, bin_dir, "elixir")) == toolchain.full_version


def _cli(*args):
    from click.testing import CliRunner

    from refactor.cli import main

    return CliRunner().invoke(main, list(args))


EXAMPLE = str(Path(__file__).resolve().parent.parent / "fixtures" / "example")


@pytest.mark.parametrize("given, used", [("1.15", "1.15"), ("1.16.2", "1.16"), ("1.17.3", "1.17"),
                                         ("1.19.0-rc.1", "1.19"), ("v1.20.4", "1.20"), ("1.14.0", "1.14")])
def test_every_version_from_1_14_to_1_20_is_used_exactly(given, used):
    result = _cli("graph", EXAMPLE, "--elixir", given, "--format", "stats", "--verbose")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert f"note: Elixir {used}'s rules (--elixir {given})" in result.stderr
    assert semantics.semantics(given).version == used


@pytest.mark.parametrize("given", ["1.13", "1.13.4", "1.21", "1.99", "2.0", "0.14"])
def test_a_version_outside_the_range_is_refused(given):
    result = _cli("graph", EXAMPLE, "--elixir", given)
    assert result.exit_code == 2
    assert f"Elixir {given.rsplit('.', given.count('.') - 1)[0]} is not modelled: exfix models 1.14 to 1.20" \
        in result.output


@pytest.mark.parametrize("given", ["latest", "1", "1.x", "1.17.3.1", ""])
def test_what_is_not_a_version_is_refused(given):
    result = _cli("graph", EXAMPLE, "--elixir", given)
    assert result.exit_code == 2
    assert "not an Elixir version" in result.output or "--elixir" in result.output


def test_verbose_names_the_installed_version(tmp_path, monkeypatch):
    launcher = _install(tmp_path / "elixir-1.17.3", "1.17.3")
    _on_path(monkeypatch, launcher.parent)
    monkeypatch.setattr(semantics.subprocess, "run", _never_run)
    result = _cli("graph", EXAMPLE, "--format", "stats", "--verbose")
    assert result.exit_code == 0, result.output
    assert f"note: Elixir 1.17's rules (the installed elixir ({launcher}) is 1.17.3)" in result.stderr


def test_an_installed_version_outside_the_range_is_used_with_the_nearest_rules_and_a_warning(
        tmp_path, monkeypatch):
    for found, used in (("1.13.4", "1.14"), ("1.21.0", "1.20")):
        launcher = _install(tmp_path / found, found)
        _on_path(monkeypatch, launcher.parent)
        monkeypatch.setattr(semantics.subprocess, "run", _never_run)
        assert semantics.resolve(None) == (used, f"the installed Elixir {found} is not modelled "
                                                 f"(exfix models 1.14 to 1.20); analysed with {used}'s rules")


def test_each_change_is_modelled_at_the_release_that_made_it():
    """Every flag flips once or twice across the range, at its SINCE release, never per
    supported version."""
    flags = [f for f in semantics.Semantics.__dataclass_fields__ if f != "version"]
    rules = {v: semantics.semantics(v) for v in semantics.SUPPORTED}
    for flag in flags:
        values = [getattr(rules[v], flag) for v in semantics.SUPPORTED]
        flips = [semantics.SUPPORTED[i] for i in range(1, len(values)) if values[i] != values[i - 1]]
        assert flips, f"{flag} never changes between 1.14 and 1.20"
        for v in flips:
            assert semantics._number(v) in semantics.SINCE.values(), (flag, v)
