"""Shared pytest setup: the Elixir oracle (see tests/oracle.py).

Tests marked ``@pytest.mark.oracle`` compare exfix with the real compiler. They ask
for one of these fixtures:

    elixir_version   "1.14", "1.18", "1.20" (the test runs once per version), and the
                     releases built from source when EXFIX_ORACLE_BUILT=1 (tests/oracle.py)
    toolchain        oracle.Toolchain for that version
    compile_project  compile_project(path) -> oracle.Compiled (cached per session)

A missing toolchain makes the test FAIL (never skip) with a message naming
``bash scripts/setup-tests``; a skip inside an oracle test is reported as a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle  # noqa: E402
from oracle import VERSIONS, OracleUnavailable, fixture_projects, live_versions  # noqa: E402,F401


def _toolchain_or_fail(version: str) -> oracle.Toolchain:
    try:
        return oracle.toolchain(version)
    except OracleUnavailable as e:
        message = str(e)
    pytest.fail(f"Elixir oracle unavailable: {message}", pytrace=False)


@pytest.fixture(params=live_versions(), ids=lambda v: f"elixir-{v}")
def elixir_version(request) -> str:
    return request.param


@pytest.fixture
def toolchain(elixir_version) -> oracle.Toolchain:
    return _toolchain_or_fail(elixir_version)


@pytest.fixture
def compile_project(elixir_version, toolchain):
    """compile_project(project_dir) -> oracle.Compiled for this test's version."""
    def compile_(project) -> oracle.Compiled:
        return oracle.compiled(elixir_version, Path(project))
    return compile_


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and item.get_closest_marker("oracle") is not None
            and not hasattr(report, "wasxfail")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"oracle tests must not be skipped: {reason}"
