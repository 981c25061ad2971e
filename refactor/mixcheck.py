"""``exfix suggest --verify-with-mix``: hold the patches against the real compiler.

The project is copied to a temporary folder (without ``_build``), the patches are applied
there, and mix compiles the copy with ``--warnings-as-errors``; then ``mix xref graph`` on
the copy must equal the graph exfix predicts for the patched sources. The project itself is
never touched.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .analysis import analyze
from .xref_format import parse_dot

SKIP = shutil.ignore_patterns("_build", ".git", "node_modules", ".elixir_ls", "xref_graph.dot")

# runs argv in a folder, with extra environment variables (MIX_ENV), and returns the
# completed process (replaceable for chroot toolchains)
Runner = Callable[..., subprocess.CompletedProcess]


def run_on_path(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=1800,
                          stdin=subprocess.DEVNULL, env=full)


@dataclass
class MixVerdict:
    project: str
    compiled: bool
    graph_equal: bool = False
    output: str = ""  # what mix printed when the compile failed
    differences: list[str] = field(default_factory=list)  # mix vs exfix, as diff lines

    @property
    def ok(self) -> bool:
        return self.compiled and self.graph_equal

    def describe(self) -> str:
        if not self.compiled:
            return f"{self.project}: the patched copy does not compile with --warnings-as-errors:\n{self.output}"
        if not self.graph_equal:
            return (f"{self.project}: compiles, but mix xref graph differs from exfix's prediction:\n"
                    + "\n".join(self.differences))
        return f"{self.project}: the patched copy compiles with --warnings-as-errors and mix xref graph equals exfix's"


def verify_with_mix(root: Path, patches, version: str, display: str, workdir: Path | None = None,
                    run: Runner = run_on_path) -> MixVerdict:
    """Apply ``patches`` (engine FilePatch objects) to a copy of ``root`` and ask mix."""
    base = Path(tempfile.mkdtemp(prefix="exfix-mix-", dir=workdir))
    try:
        copy = base / root.name
        shutil.copytree(root, copy, symlinks=True, ignore=SKIP)
        for patch in patches:
            target = copy / patch.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(patch.after)
        compiled = run(["mix", "compile", "--warnings-as-errors"], copy)
        if compiled.returncode != 0:
            tail = (compiled.stdout + compiled.stderr).strip().splitlines()[-30:]
            return MixVerdict(display, False, output="\n".join(tail))
        graph = run(["mix", "xref", "graph", "--format", "dot"], copy)
        dot = copy / "xref_graph.dot"
        if graph.returncode != 0 or not dot.exists():
            return MixVerdict(display, True, output=graph.stdout + graph.stderr,
                              differences=["mix xref graph failed"])
        expected = edge_lines(parse_dot(dot.read_text()).edges)
        predicted = edge_lines(analyze(copy, version).edges())
        diff = list(difflib.unified_diff(expected, predicted, "mix", "exfix", lineterm="", n=0))
        return MixVerdict(display, True, graph_equal=not diff, differences=diff[2:])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def edge_lines(edges: dict[str, dict[str, str]]) -> list[str]:
    return sorted(f"{a} -> {b} ({label})" for a, sinks in edges.items() for b, label in sinks.items())
