"""Time and peak memory of `exfix suggest` on adversarial inputs (issue 17): it must grow
linearly, or better, with each.

    python bench/limits.py                        # every series, default sizes
    python bench/limits.py --series depth --sizes 10,100,1000
    python bench/limits.py --series fixes --sizes 1,300,3000 --timeout 600

Series (one project each, in a temporary folder):

- ``depth``: one file of N nested ``defmodule``s, the innermost holding ``use`` under
  ``if Code.ensure_loaded?`` (rule hoist-conditional-use);
- ``fixes``: one file of N/2 modules, each with an unused ``require`` and an unused
  ``import`` (rules drop-unused-require and drop-unused-import): N fixes in one file;
- ``size``: one file of N MB of ordinary modules (every rule); files over the documented
  limit (``refactor.files.MAX_SOURCE_BYTES``) are refused with one line, so their time and
  memory are those of the refusal.

Each run is ``python -m refactor suggest`` from this checkout in a fresh process, with
``--no-cache``, ``-j 1`` and ``--all`` (every verified fix, whatever it saves); time is
wall time, peak is that process' maximum resident set (through ``/usr/bin/time``, whose
own small size is what the child starts from; ``wait4`` alone would count the memory of
this script, which the child is forked from). The last column is the first error line, else the summary. Each series ends with the growth of time
and peak from its first size to its last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MIX = """defmodule Bench.MixProject do
  use Mix.Project

  def project do
    [app: :bench, version: "0.1.0"]
  end
end
"""
HELPER = "defmodule Bench.B do\n  defmacro m(x), do: x\n  def h, do: 2\nend\n"

SERIES = {
    "depth": [10, 100, 300, 1000],
    "fixes": [1, 300, 1000, 3000],
    "size": [1, 2, 4, 8, 16, 64],
}
RULES = {
    "depth": ["--rule", "hoist-conditional-use"],
    "fixes": ["--rule", "drop-unused-require", "--rule", "drop-unused-import"],
    "size": [],
}


def nested(depth: int) -> str:
    lines = [f"{'  ' * i}defmodule {'Bench.Deep' if i == 0 else f'M{i}'} do" for i in range(depth)]
    inner = "  " * depth
    lines += [f"{inner}if Code.ensure_loaded?(Opt.Thing) do", f"{inner}  use Opt.Thing",
              f"{inner}  def f, do: 1", f"{inner}end"]
    lines += [f"{'  ' * i}end" for i in reversed(range(depth))]
    return "\n".join(lines) + "\n"


def many_fixes(n: int) -> str:
    parts = []
    for i in range(max(1, n // 2)):
        parts.append(f"defmodule Bench.M{i} do\n  require Bench.B\n  import Bench.B\n"
                     f"  def f{i}(x), do: x + {i}\nend\n\n")
    if n == 1:
        parts = ["defmodule Bench.M0 do\n  require Bench.B\n  def f0(x), do: x\nend\n"]
    return "".join(parts)


def sized(megabytes: int) -> str:
    target = megabytes * (1 << 20)
    parts = []
    size = 0
    i = 0
    while True:
        part = (f"defmodule Bench.Gen{i} do\n  @moduledoc \"Generated module {i}.\"\n"
                f"  alias Bench.B\n\n  def f(x) when is_integer(x), do: B.h() + x * {i}\n"
                f"  def g(%{{a: a}}), do: [a, \"{'x' * 40}\", :atom_{i}]\n\n"
                f"  defp h(list), do: Enum.map(list, fn y -> y * 2 end)\nend\n\n")
        if size + len(part) > target:  # whole modules, at most the size asked
            break
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)


def project(series: str, n: int, base: Path) -> Path:
    root = base / f"{series}-{n}"
    if root.exists():
        shutil.rmtree(root)
    (root / "lib").mkdir(parents=True)
    (root / "mix.exs").write_text(MIX)
    (root / "lib/b.ex").write_text(HELPER)
    text = {"depth": nested, "fixes": many_fixes, "size": sized}[series](n)
    (root / "lib/big.ex").write_bytes(text.encode())
    return root


def measure(root: Path, series: str, timeout: float) -> tuple[float, float, int, str]:
    """(seconds, peak MiB, exit code, last stderr line) of one `exfix suggest`."""
    env = dict(os.environ, PYTHONPATH=str(REPO), EXFIX_NO_CACHE="1")
    # --all: every verified fix is verified, merged and printed, whatever it saves
    cmd = [sys.executable, "-m", "refactor", "suggest", str(root), "--elixir", "1.18", "-j", "1",
           "--no-cache", "--all", *RULES[series]]
    peak_file = None
    if os.path.exists("/usr/bin/time"):
        peak_file = tempfile.NamedTemporaryFile(suffix=".peak", delete=False).name
        cmd = ["/usr/bin/time", "-q", "-f", "%M", "-o", peak_file, *cmd]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                return float("inf"), usage.ru_maxrss / 1024, -9, "timed out"
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss / 1024
    if peak_file:
        with open(peak_file) as f:
            peak = int(f.read().split()[-1]) / 1024
        os.unlink(peak_file)
    errors = [line for line in lines if ": error: " in line]
    return elapsed, peak, code, (errors or lines or [""])[0 if errors else -1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", action="append", choices=sorted(SERIES))
    ap.add_argument("--sizes", help="comma-separated N for the series given (default: each series' own)")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "exfix-limits"))
    args = ap.parse_args(argv)
    base = Path(args.workdir)
    base.mkdir(parents=True, exist_ok=True)
    unit = {"depth": "levels", "fixes": "fixes", "size": "MB"}
    print(f"{'series':<7} {'N':>6} {'file MB':>8} {'time s':>9} {'peak MiB':>9} {'exit':>5}  last line")
    for series in args.series or list(SERIES):
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else SERIES[series]
        rows = []
        for n in sizes:
            root = project(series, n, base)
            mb = (root / "lib/big.ex").stat().st_size / (1 << 20)
            secs, peak, code, last = measure(root, series, args.timeout)
            rows.append((n, secs, peak))
            print(f"{series:<7} {n:>6} {mb:>8.2f} {secs:>9.2f} {peak:>9.0f} {code:>5}  {last[:90]}",
                  flush=True)
            shutil.rmtree(root, ignore_errors=True)
        timed = [r for r in rows if r[1] != float("inf")]
        if len(timed) >= 2:
            (n0, t0, m0), (n1, t1, m1) = timed[0], timed[-1]
            growth = n1 / n0
            print(f"        {unit[series]} x{growth:g}: time x{t1 / t0:.1f}, peak x{m1 / m0:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
