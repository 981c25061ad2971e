"""Fuzz the parser-to-graph path: arbitrary bytes as one source file of a small mix project.

    python tests/fuzz/fuzz_graph.py --seconds 600            # atheris (libFuzzer), if installed
    python tests/fuzz/fuzz_graph.py --seconds 60 --engine hypothesis

Each input is written as ``lib/fuzz.ex`` of a temporary project that also holds two small
modules (a macro, a struct, a ``__using__``), and ``refactor.analysis.analyze`` is run on it.
A crash is any exception; a hang is an input slower than ``--timeout`` seconds (libFuzzer's
``-timeout``; with Hypothesis, a SIGALRM). Besides not crashing, every analysis must hold:

- the fuzzed file is a node of the graph, and every edge joins two files of the project;
- a file with an ERROR or MISSING node has a parse issue naming a line inside the file;
- an edge from the fuzzed file to a helper is justified by the text (the helper's short name
  appears in it, or the other helper, whose ``__using__`` refers to it, is reached).

The seed corpus is every ``.ex`` file under ``fixtures/`` (libFuzzer mutates those bytes).
Crashing inputs are saved by libFuzzer as ``crash-<sha1>`` in the working folder (replay one
with ``--reproduce FILE``); with Hypothesis the failing bytes are printed. At the end libFuzzer
prints ``Done N runs in S second(s)``, Hypothesis ``N inputs tried``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MIX_EXS = b"""defmodule Fz.MixProject do
  use Mix.Project
  def project, do: [app: :fz, version: "0.1.0", elixirc_paths: ["lib"], deps: []]
end
"""
HELPER_A = b"""defmodule Fz.Alpha do
  defstruct [:x]
  defmacro twice(x), do: quote(do: unquote(x) * 2)
  def f(x), do: x
end
"""
HELPER_B = b"""defmodule Fz.Beta do
  defmacro __using__(_opts) do
    quote do
      require Fz.Alpha
      def from_beta, do: Fz.Alpha.f(1)
    end
  end
end
"""
FUZZ = "lib/fuzz.ex"
A, B = "lib/alpha.ex", "lib/beta.ex"


class Harness:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="exfix-fuzz-"))
        (self.dir / "lib").mkdir()
        (self.dir / "mix.exs").write_bytes(MIX_EXS)
        (self.dir / A).write_bytes(HELPER_A)
        (self.dir / B).write_bytes(HELPER_B)
        (self.dir / FUZZ).write_bytes(b"")
        from refactor.project import load_project

        self.project = load_project(self.dir)
        self.count = 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def one(self, data: bytes) -> None:
        from refactor.analysis import analyze
        from refactor.parse import first_error, parse

        self.count += 1
        (self.dir / FUZZ).write_bytes(data)
        an = analyze(self.project, version="1.18")
        files = set(an.file_graph.nodes)
        assert files == {A, B, FUZZ}, files
        for a, b in an.file_graph.edges:
            assert a in files and b in files
        err = first_error(parse(data))
        issues = an.files[FUZZ].errors
        if err is not None:
            assert issues, "a file with a syntax error has no parse issue"
            assert 1 <= issues[0].line <= data.count(b"\n") + 1, issues[0]
        edges = an.edges().get(FUZZ, {})  # a file that defines no module is no node of mix's graph
        if A in edges:
            assert b"Alpha" in data or B in edges or b"Elixir" in data, (
                f"edge {FUZZ} -> {A} ({edges[A]}) with no mention of Alpha")
        if B in edges:
            assert b"Beta" in data or b"Elixir" in data, (
                f"edge {FUZZ} -> {B} ({edges[B]}) with no mention of Beta")


# inputs that once broke the path (kept as seeds so mutations start near them)
EXTRA_SEEDS = [
    b"defmodule Fz.U do\n  def g, do: (1 + )\n  @x Fz.Alpha.f(1)\nend\n",
    b"defmodule Fz.U do\n  def f, do: " + b" + ".join([b"Fz.Alpha.f(1)"] * 500) + b"\nend\n",
    b"defmodule Fz.U do\n  def f, do: " + b"fn -> " * 450 + b"%Fz.Alpha{}" + b" end" * 450 + b"\nend\n",
    b"defmodule Fz.U do\n" + b"defmodule M do\n" * 250 + b"use Fz.Beta\n" + b"end\n" * 251,
]


def seeds() -> list[bytes]:
    out = list(EXTRA_SEEDS)
    for p in sorted((ROOT / "fixtures").rglob("*.ex")):
        if p.is_file() and p.stat().st_size < 20_000:
            out.append(p.read_bytes())
    return out


def run_atheris(args, harness: Harness) -> int:
    import atheris

    corpus = Path(args.corpus or tempfile.mkdtemp(prefix="exfix-fuzz-corpus-"))
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, data in enumerate(seeds()):
            (corpus / f"seed-{i:04d}.ex").write_bytes(data)
    def test_one(data: bytes) -> None:
        harness.one(data)

    # libFuzzer ends the process itself (no atexit): its last lines give the count,
    # "Done N runs in S second(s)"; the temporary project is left in $TMPDIR (exfix-fuzz-*)
    print(f"fuzz_graph: project {harness.dir}, corpus {corpus}", flush=True)
    argv = [sys.argv[0], str(corpus), f"-max_total_time={int(args.seconds)}",
            f"-timeout={int(args.timeout)}", f"-max_len={args.max_len}", "-rss_limit_mb=4096",
            "-print_final_stats=1", *args.libfuzzer]
    atheris.Setup(argv, test_one)
    atheris.Fuzz()
    return 0


def run_hypothesis(args, harness: Harness) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seed_list = seeds()
    deadline = time.time() + args.seconds

    def alarm(signum, frame):
        raise TimeoutError(f"an input took longer than {args.timeout} s")

    signal.signal(signal.SIGALRM, alarm)

    # mutate real files: splice, flip and insert bytes, so inputs stay close to Elixir
    def mutate(base: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
        out = bytearray(base)
        for pos, length, ins in cuts:
            pos %= len(out) + 1
            out[pos:pos + length] = ins
        return bytes(out)

    inputs = st.one_of(
        st.binary(max_size=args.max_len),
        st.builds(mutate, st.sampled_from(seed_list),
                  st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 16),
                                     st.binary(max_size=16)), max_size=8)),
    )

    @settings(max_examples=500, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def check(data: bytes) -> None:
        if time.time() > deadline:
            return
        signal.alarm(int(args.timeout))
        try:
            harness.one(data)
        finally:
            signal.alarm(0)

    start = time.time()
    try:
        while time.time() < deadline:
            check()
    except Exception as exc:  # Hypothesis has shrunk it; the input is in the output
        print(f"fuzz_graph: FAILED after {harness.count} inputs: {exc!r}", flush=True)
        return 1
    print(f"fuzz_graph: {harness.count} inputs tried in {time.time() - start:.0f} s, no failure",
          flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--timeout", type=float, default=10, help="seconds for one input: a hang")
    ap.add_argument("--max-len", type=int, default=8192)
    ap.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    ap.add_argument("--corpus", help="libFuzzer corpus folder (default: a fresh one, seeded)")
    ap.add_argument("--reproduce", nargs="*", default=[], help="run these input files once")
    ap.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags after --")
    args = ap.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    if engine == "atheris" and not args.reproduce:
        import atheris

        with atheris.instrument_imports(include=["refactor"]):  # coverage guides libFuzzer
            import refactor.analysis  # noqa: F401
            import refactor.project  # noqa: F401
    harness = Harness()
    try:
        if args.reproduce:
            for p in args.reproduce:
                harness.one(Path(p).read_bytes())
                print(f"{p}: ok")
            return 0
        if engine == "atheris":
            return run_atheris(args, harness)
        return run_hypothesis(args, harness)
    finally:
        harness.close()


if __name__ == "__main__":
    sys.exit(main())
