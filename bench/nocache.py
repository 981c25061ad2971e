"""`exfix suggest --no-cache` against a cold run with the cache, in pairs (issue 14).

    python bench/nocache.py --generate 5000 --runs 5      # generated project (bench/generate.py)
    python bench/nocache.py path/to/project --runs 3      # any mix project

Each pair runs, one after the other on the same files:

- cold: ``_build/exfix`` removed, then ``exfix suggest PATH`` (the cache is written as it goes);
- no cache: ``exfix suggest PATH --no-cache`` (nothing read from or written to ``_build/exfix``).

For each, the wall time and the CPU time (user + system of the process and the workers it
forked) of the whole process; then the median of each and the median of the per-pair ratios
no-cache/cold (a ratio taken within a pair holds when the machine's speed drifts between
pairs). Target: the ratio at most 2. Both runs must print the same diffs: the script says
whether they did.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import exfix_argv, exfix_env  # noqa: E402


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (with waited-for descendants) and the hash of stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=exfix_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} exited {code}: {err.read().decode(errors='replace')[-600:]}")
        out.seek(0)
        digest = hashlib.sha256(out.read()).hexdigest()
    return wall, usage.ru_utime + usage.ru_stime, digest


def pair(path: Path, elixir: str) -> dict:
    base = [*exfix_argv(), "suggest", str(path), "--elixir", elixir]
    shutil.rmtree(path / "_build" / "exfix", ignore_errors=True)
    cold = timed(base)
    bare = timed([*base, "--no-cache"])
    return {"cold": cold, "bare": bare}


def report(path: Path, pairs: list[dict]) -> str:
    def med(key: str, i: int) -> float:
        return statistics.median(p[key][i] for p in pairs)

    def ratio(i: int) -> float:
        return statistics.median(p["bare"][i] / p["cold"][i] for p in pairs)

    same = all(p["cold"][2] == p["bare"][2] for p in pairs)
    walls = ", ".join(f"{p['cold'][0]:.1f}/{p['bare'][0]:.1f}" for p in pairs)
    return (f"| {path.name} | {len(pairs)} | {med('cold', 0):.1f} | {med('bare', 0):.1f} | {ratio(0):.2f}x "
            f"| {med('cold', 1):.1f} | {med('bare', 1):.1f} | {ratio(1):.2f}x | {'yes' if same else 'NO'} |"
            f" {walls} |")


HEADER = ("| project | pairs | cold wall s | no-cache wall s | wall ratio | cold CPU s | no-cache CPU s "
          "| CPU ratio | same diffs | wall per pair (cold/no-cache) |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="mix projects to measure")
    ap.add_argument("--generate", metavar="N,N,...", help="also generate projects of these file counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "exfix-bench"),
                    help="where generated projects go (reused when already there)")
    ap.add_argument("--runs", type=int, default=3, help="pairs of runs per project")
    ap.add_argument("--elixir", default="1.18", help="Elixir version exfix labels as")
    args = ap.parse_args(argv)
    paths = [Path(p).resolve() for p in args.paths]
    if args.generate:
        from generate import generate

        for n in [int(x) for x in args.generate.split(",") if x.strip()]:
            out = Path(args.workdir) / f"gen{n}-s{args.seed}"
            stamp = out / ".generated"
            if not stamp.exists():
                count = generate(n, out, args.seed)
                stamp.write_text(str(count))
            paths.append(out.resolve())
    if not paths:
        ap.error("give project paths or --generate")
    print(f"exfix suggest --elixir {args.elixir}; cpus: {os.cpu_count()}; python {sys.version.split()[0]}")
    print(HEADER)
    for path in paths:
        pairs = []
        for _ in range(args.runs):
            pairs.append(pair(path, args.elixir))
            print(f"  {path.name}: cold {pairs[-1]['cold'][0]:.1f} s, no cache {pairs[-1]['bare'][0]:.1f} s",
                  file=sys.stderr, flush=True)
        print(report(path, pairs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
