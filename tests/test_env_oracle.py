"""--env against the real compiler: a project compiled by mix in dev, test and prod has the
graph exfix gives for that environment (elixirc_paths, Mix.env() conditions, config)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from oracle import REPO_ROOT
from refactor.cli import main

PROJECT = REPO_ROOT / "fixtures" / "projects" / "23_mix_env"


def exfix_dot(env: str, version: str) -> str:
    result = CliRunner().invoke(main, ["graph", str(PROJECT), "--format", "dot", "--output", "-",
                                       "--elixir", version, "--env", env, "--no-cache"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.oracle
@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_graph_matches_mix_in_each_env(env, elixir_version, toolchain):
    work = toolchain.workdir(f"{PROJECT.name}-{env}") / PROJECT.name
    shutil.copytree(PROJECT, work, ignore=shutil.ignore_patterns("_build", "xref_graph.dot"))
    toolchain.run(work, ["mix", "compile"], env={"MIX_ENV": env})
    toolchain.run(work, ["mix", "xref", "graph", "--format", "dot"], env={"MIX_ENV": env})
    expected = (work / "xref_graph.dot").read_text()
    assert "->" in expected
    assert exfix_dot(env, elixir_version) == expected


def test_the_environments_differ():
    # the fixture would prove nothing if every environment had the same graph
    graphs = {env: exfix_dot(env, "1.18") for env in ("dev", "test", "prod")}
    assert len(set(graphs.values())) == 3
    assert "test/support/helper.ex" in graphs["test"] and "test/support" not in graphs["dev"]
    assert "dev_tools.ex" in graphs["dev"] and "dev_tools.ex" not in graphs["prod"]


def test_mix_env_is_the_default(monkeypatch):
    monkeypatch.setenv("MIX_ENV", "test")
    result = CliRunner().invoke(main, ["graph", str(PROJECT), "--format", "dot", "--output", "-",
                                       "--elixir", "1.18", "--no-cache"], catch_exceptions=False)
    assert result.stdout == exfix_dot("test", "1.18")


def test_a_bad_env_name_is_an_input_error():
    result = CliRunner().invoke(main, ["graph", str(PROJECT), "--env", "no such"])
    assert result.exit_code == 2
    assert "not an environment name" in result.output
