"""The README's transcripts (``$ exfix ...`` and what follows, up to the block's end or the
next ``$``) are what exfix prints, on every supported Elixir version. A line ``...`` stands
for any lines. The commands of one block run in order on one copy of the example project
(``exfix apply`` then ``exfix suggest`` shows what is left); a command ending in
``; echo "exit $?"`` is followed by its exit code, as a shell prints it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refactor.semantics import SUPPORTED

ROOT = Path(__file__).resolve().parent.parent


def blocks() -> list[tuple[int, list[tuple[int, str, str]], tuple[str, ...]]]:
    """(line, [(line, command, expected output)], Elixir versions) of every code block of the
    README holding transcripts, run on every supported version or on those a
    ``<!-- transcript: elixir X -->`` line before it names."""
    out = []
    lines = (ROOT / "README.md").read_text().splitlines()
    in_block = False
    versions = SUPPORTED
    start = 0
    steps: list[tuple[int, str, list[str]]] = []
    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"<!-- transcript: elixir ([\d. ]+) -->", line)
        if m:
            versions = tuple(m.group(1).split())
            continue
        if line.startswith("```"):
            if in_block:
                if steps:
                    out.append((start, [(ln, cmd, "\n".join(text).strip("\n")) for ln, cmd, text in steps],
                                versions))
                versions = SUPPORTED
            in_block, start, steps = not in_block, n, []
            continue
        if in_block and line.startswith("$ "):
            steps.append((n, line[2:], []))
        elif steps:
            steps[-1][2].append(line)
    return out


def transcripts() -> list[tuple[int, str, str, str]]:
    """(line, command, expected output, Elixir version) of every transcript."""
    return [(ln, cmd, expected, v) for _, steps, versions in blocks() for v in versions
            for ln, cmd, expected in steps]


EXIT = '; echo "exit $?"'


def run(command: str, cwd: Path, version: str) -> str:
    folder = cwd
    m = re.match(r"cd (\S+) && (.*)", command)
    if m:
        folder, command = cwd / m.group(1), m.group(2)
    show_exit = command.endswith(EXIT)
    argv = shlex.split(command.removesuffix(EXIT))
    assert argv[0] == "exfix", command
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "refactor", *argv[1:], "--elixir", version],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    printed = (proc.stdout + proc.stderr).strip("\n")
    return printed + (f"\nexit {proc.returncode}" if show_exit else "")


def matches(expected: str, actual: str) -> bool:
    """Whether actual is expected, each ``...`` line standing for any lines."""
    chunks = re.split(r"(?m)^\.\.\.$\n?", expected)
    if len(chunks) == 1:
        return expected == actual
    if not (actual.startswith(chunks[0]) and actual.endswith(chunks[-1])):
        return False
    at = len(chunks[0])
    for chunk in chunks[1:-1]:
        at = actual.find(chunk, at)
        if at < 0:
            return False
        at += len(chunk)
    return at <= len(actual) - len(chunks[-1])


def test_the_readme_has_transcripts():
    found = transcripts()
    assert len({t[:3] for t in found}) >= 6
    assert {v for *_, v in found} == set(SUPPORTED)
    assert [v for line, command, _, v in found if "--format cycles" in command] == ["1.18"]


@pytest.mark.parametrize("line,steps,version",
                         [(line, steps, v) for line, steps, versions in blocks() for v in versions],
                         ids=lambda v: v[0][1][:40] if isinstance(v, list) else str(v))
def test_a_readme_transcript_is_what_exfix_prints(tmp_path, line, steps, version):
    shutil.copytree(ROOT / "fixtures/example", tmp_path / "fixtures/example",
                    ignore=shutil.ignore_patterns("_build"))
    for at, command, expected in steps:
        actual = run(command, tmp_path, version)
        assert matches(expected, actual), f"README.md:{at}: `{command}` printed:\n{actual}"


def test_an_elision_does_not_match_everything():
    assert matches("a\n...\nz", "a\nb\nc\nz")
    assert not matches("a\n...\nz", "a\nb\nc\ny")
    assert not matches("a\n...\nm\n...\nz", "a\nb\nz")


def yaml_blocks(heading: str) -> list:
    """The ```yaml blocks of the README section under ``heading``, parsed."""
    import yaml

    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n### {heading}\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_the_ci_job_fails_on_new_findings_and_uploads_sarif_always(tmp_path):
    """The README's GitHub Actions job: its exfix step, run as written on the example with
    a baseline of today's findings, passes; one new finding fails it; the SARIF it writes
    is what the upload step, which runs always, uploads."""
    import json

    import jsonschema

    (job,) = yaml_blocks("CI: a gate that can go green")[0]["jobs"].values()
    steps = job["steps"]
    assert job["permissions"]["security-events"] == "write"
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()"
    (step,) = [s for s in steps if s.get("run", "").startswith("exfix ")]
    assert "--check" in step["run"] and f"> {upload['with']['sarif_file']}" in step["run"]
    assert any("pipx install" in s.get("run", "") for s in steps)

    project = tmp_path / "project"
    shutil.copytree(ROOT / "fixtures/example", project, ignore=shutil.ignore_patterns("_build"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "exfix").write_text(f'#!/bin/sh\ncmd="$1"; shift\nexec "{sys.executable}" -m refactor '
                                   f'"$cmd" --elixir 1.18 --jobs 1 "$@"\n')
    (bin_dir / "exfix").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT))

    def run_step():
        proc = subprocess.run(["bash", "-c", step["run"]], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300)
        return proc.returncode, json.loads((project / upload["with"]["sarif_file"]).read_text())

    schema = json.loads((ROOT / "tests/data/sarif-2.1.0-rtm.5.json").read_text())
    subprocess.run(["bash", "-c", "exfix baseline --output .exfix-baseline.json"], cwd=project, env=env,
                   check=True, capture_output=True)
    code, sarif = run_step()
    jsonschema.validate(sarif, schema)
    assert code == 0 and sarif["runs"][0]["results"] == []
    (project / "lib/bookshelf/summary.ex").write_text(
        "defmodule Bookshelf.Summary do\n  @shelf Bookshelf.Config.default_shelf()\n\n"
        "  def title, do: \"Books on #{@shelf}\"\nend\n")
    code, sarif = run_step()
    jsonschema.validate(sarif, schema)
    assert code == 1
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in sarif["runs"][0]["results"]] == [("attribute-to-function", "lib/bookshelf/summary.ex")]


def test_the_pre_commit_snippet_names_shipped_hooks():
    import yaml

    shipped = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    (config,) = yaml_blocks("pre-commit")
    named = {h["id"] for repo in config["repos"] for h in repo["hooks"]}
    assert named and named <= shipped
