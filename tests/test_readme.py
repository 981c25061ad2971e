"""The README's transcripts (``$ exfix ...`` and what follows, up to the block's end or the
next ``$``) are what exfix prints, on every supported Elixir version. A line ``...`` stands
for any lines."""

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


def transcripts() -> list[tuple[int, str, str, str]]:
    """(line, command, expected output, Elixir version) of every transcript in the README, on
    every supported version, or on those a ``<!-- transcript: elixir X -->`` line before its
    block names."""
    out = []
    lines = (ROOT / "README.md").read_text().splitlines()
    in_block = False
    versions = SUPPORTED
    current: tuple[int, str, list[str]] | None = None

    def close():
        if current is not None:
            out.extend((current[0], current[1], "\n".join(current[2]).strip("\n"), v) for v in versions)

    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"<!-- transcript: elixir ([\d. ]+) -->", line)
        if m:
            versions = tuple(m.group(1).split())
            continue
        if line.startswith("```"):
            close()
            current = None
            if in_block:
                versions = SUPPORTED
            in_block = not in_block
            continue
        if in_block and line.startswith("$ "):
            close()
            current = (n, line[2:], [])
        elif current is not None:
            current[2].append(line)
    return out


def run(command: str, cwd: Path, version: str) -> str:
    folder = cwd
    m = re.match(r"cd (\S+) && (.*)", command)
    if m:
        folder, command = cwd / m.group(1), m.group(2)
    argv = shlex.split(command)
    assert argv[0] == "exfix", command
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "refactor", *argv[1:], "--elixir", version],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    return (proc.stdout + proc.stderr).strip("\n")


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


@pytest.mark.parametrize("line,command,expected,version", transcripts(),
                         ids=lambda v: str(v).split("\n")[0][:40])
def test_a_readme_transcript_is_what_exfix_prints(tmp_path, line, command, expected, version):
    shutil.copytree(ROOT / "fixtures/example", tmp_path / "fixtures/example",
                    ignore=shutil.ignore_patterns("_build"))
    actual = run(command, tmp_path, version)
    assert matches(expected, actual), f"README.md:{line}: `{command}` printed:\n{actual}"


def test_an_elision_does_not_match_everything():
    assert matches("a\n...\nz", "a\nb\nc\nz")
    assert not matches("a\n...\nz", "a\nb\nc\ny")
    assert not matches("a\n...\nm\n...\nz", "a\nb\nz")
