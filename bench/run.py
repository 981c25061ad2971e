"""Benchmark exfix on mix projects: parse floor, analysis, cache, fan-out, memory, and mix.

    python bench/run.py PATH...                       # any mix projects
    python bench/run.py --generate 1000,5000,20000    # generated projects (bench/generate.py)
    python bench/run.py --generate 1000 --elixir-chroot /opt/exfix-chroots/trixie --elixir 1.18

For each project, in one run on the same files:

- parse: raw tree-sitter parse of every source file mix compiles, single-threaded, files
  already read into memory (the floor);
- visit: one Python walk over every named node of those trees, doing nothing else (the least
  any analysis written in Python that looks at every node costs on top of the parse);
- analyze: ``refactor.analysis.analyze()`` without cache in a fresh process, in one process
  (``jobs=1``) and with every core, and its peak memory (max RSS of that process, and the
  tracemalloc peak of a second, traced analysis);
- fanout: ``Analysis.fanout()`` (recompile-set size of every file);
- graph: wall time of ``exfix graph PATH --format dot`` as a subprocess (start-up included):
  cold (``_build/exfix`` removed first) with ``--jobs 1`` and with every core, warm (run
  again, nothing changed), and warm after an edit (one function added to one module of the
  project; the file is restored afterwards);
- mix: where Elixir is available (host ``mix``, or ``--elixir-chroot DIR``), wall time of
  ``mix compile --force`` plus ``mix xref graph --format dot`` on a copy of the project,
  after one untimed ``mix compile`` so dependencies are built (``--no-warmup`` skips it).

exfix runs from this checkout (``python -m refactor``), with byte-code caching on even when
``PYTHONDONTWRITEBYTECODE`` is set, as an installed exfix would. With ``--repeat N`` the
parse, analyze, fan-out and graph times are the best of N runs. Ratios: analyze/parse and
graph/parse (target <= 2 on 5k files, one core), edit/cold and edit/cold 1 (warm after an edit
against cold with every core and with one; target < 10%), mix/graph (aim >= 50).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --------------------------------------------------------------------------- worker

def worker(path: str, version: str, trace_memory: bool) -> dict:
    """Measurements made inside one fresh process for one project (printed as JSON)."""
    from refactor.analysis import analyze
    from refactor.parse import parse
    from refactor.project import load_project

    t0 = time.perf_counter()
    project = load_project(path)
    load_s = time.perf_counter() - t0
    data = [project.read(f) for f in project.source_files]
    nbytes = sum(len(d) for d in data)

    # parse floor: one parser, every file, single-threaded
    from tree_sitter import Parser

    from refactor.parse import LANGUAGE

    parser = Parser(LANGUAGE)
    t0 = time.perf_counter()
    trees = [parser.parse(d) for d in data]
    parse_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for tree in trees:
        stack = [tree.root_node]
        while stack:
            stack.extend(stack.pop().named_children)
    visit_s = time.perf_counter() - t0
    del data, trees
    parse(b"")  # queries and language loaded before timing analyze

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    a = analyze(path, version, cache=False, jobs=1)
    analyze_s = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del a
    t0 = time.perf_counter()
    a = analyze(path, version, cache=False)
    analyze_all_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    fan = a.fanout()
    fanout_s = time.perf_counter() - t0
    rss_fanout = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    labels: dict[str, int] = {}
    for _, _, lab in a.file_graph.edges(data="label"):
        labels[lab] = labels.get(lab, 0) + 1
    out = {
        "files": len(project.source_files),
        "bytes": nbytes,
        "modules": len(a.module_file),
        "edges": labels,
        "max_fanout": max(fan.values(), default=0),
        "load_s": load_s,
        "parse_s": parse_s,
        "visit_s": visit_s,
        "analyze_s": analyze_s,
        "analyze_all_s": analyze_all_s,
        "cpus": _cpus(),
        "fanout_s": fanout_s,
        "rss_mib": rss_fanout / 1024,
        "rss_analyze_growth_mib": (rss_after - rss_before) / 1024,
    }
    if trace_memory:
        import tracemalloc

        del a, fan
        tracemalloc.start()
        b = analyze(path, version, cache=False, jobs=1)
        b.fanout()
        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- helpers

def timed_child(argv: list[str], **kw) -> tuple[float, int, subprocess.CompletedProcess | None]:
    """Wall seconds, max RSS (KiB) and return code of one child process."""
    t0 = time.perf_counter()
    kw.setdefault("env", exfix_env())
    # stderr to a file, not a pipe: a child filling a pipe nobody reads until it exits hangs
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errfile, **kw)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        errfile.seek(0)
        err = errfile.read().decode(errors="replace")
    if proc.returncode != 0:
        print(f"  ! {' '.join(argv[:4])}... exited {proc.returncode}: {err[-400:]}", file=sys.stderr)
    return wall, usage.ru_maxrss, proc.returncode


def exfix_argv() -> list[str]:
    return [sys.executable, "-m", "refactor"]


def exfix_env() -> dict[str, str]:
    """This checkout first on the path; byte-code cached as for an installed exfix."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "EXFIX_NO_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def edit_target(path: Path) -> Path | None:
    """The project file the warm-after-edit run changes: a service (or any file) in the middle."""
    from refactor.project import load_project

    files = load_project(path).source_files
    services = [f for f in files if "service" in f.rsplit("/", 1)[-1]] or files
    return path / services[len(services) // 2] if services else None


def add_function(data: bytes, n: int) -> bytes:
    """One more public function in the file's last module (before its last `end`)."""
    at = data.rstrip().rfind(b"end")
    if at < 0:
        return data + b"\n# edited %d\n" % n
    return data[:at] + b"  def bench_edit_%d, do: %d\n" % (n, n) + data[at:]


def run_worker(path: str, version: str, trace_memory: bool) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", path, "--elixir", version]
    if trace_memory:
        argv.append("--tracemalloc")
    proc = subprocess.run(argv, capture_output=True, text=True, env=exfix_env())
    if proc.returncode != 0:
        raise SystemExit(f"worker failed on {path}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mix_time(path: Path, chroot: str | None, mix_env: str, warmup: bool = True) -> dict:
    """`mix compile --force && mix xref graph --format dot` wall time on a copy of path."""
    if chroot:
        base = Path(tempfile.mkdtemp(prefix="exfix-bench-", dir=Path(chroot) / "tmp"))
    else:
        base = Path(tempfile.mkdtemp(prefix="exfix-bench-"))
    work = base / path.name
    try:
        shutil.copytree(path, work, symlinks=True,
                        ignore=shutil.ignore_patterns("_build", ".git", "xref_graph.*"))
        (base / "home").mkdir()
        inner = lambda p: "/" + str(p.relative_to(chroot)) if chroot else str(p)  # noqa: E731
        env = {"PATH": STD_PATH, "HOME": inner(base / "home"), "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "MIX_ENV": mix_env, "TERM": "dumb"}

        def mix(*args):
            cd = ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", inner(work), "mix", *args]
            if chroot:
                argv = ["chroot", chroot, "/usr/bin/env", "-i",
                        *(f"{k}={v}" for k, v in env.items()), *cd]
                return timed_child(argv, env={"PATH": STD_PATH, "LANG": "C.UTF-8"})
            return timed_child(cd, env=env)

        first = None
        if warmup:
            first, _, rc = mix("compile")
            if rc != 0:
                return {"error": "mix compile failed"}
        compile_s, compile_rss, rc1 = mix("compile", "--force")
        xref_s, _, rc2 = mix("xref", "graph", "--format", "dot")
        if rc1 or rc2:
            return {"error": "mix failed"}
        return {"first_compile_s": first, "compile_s": compile_s, "xref_s": xref_s,
                "mix_s": compile_s + xref_s, "mix_rss_mib": compile_rss / 1024}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def mix_version(chroot: str | None) -> str | None:
    argv = ["elixir", "--short-version"]
    if chroot:
        argv = ["chroot", chroot, "/usr/bin/env", "-i", f"PATH={STD_PATH}", "HOME=/tmp", *argv]
    elif not shutil.which("elixir"):
        return None
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def bench_one(path: Path, args) -> dict:
    print(f"== {path}", file=sys.stderr, flush=True)
    row = {"project": str(path)}
    runs = [run_worker(str(path), args.elixir, args.tracemalloc and i == 0)
            for i in range(args.repeat)]
    row.update(runs[0])
    for key in ("parse_s", "visit_s", "analyze_s", "analyze_all_s", "fanout_s"):  # best of --repeat
        row[key] = min(r[key] for r in runs)
    graph = [*exfix_argv(), "graph", str(path), "--format", "dot", "--output", "-",
             "--elixir", args.elixir]
    best: dict[str, float] = {}
    rss = 0
    target = edit_target(path)
    original = target.read_bytes() if target is not None else None
    try:
        for i in range(args.repeat):
            for key, extra in (("graph_cold1_s", ["--jobs", "1"]), ("graph_cold_s", [])):
                shutil.rmtree(path / "_build" / "exfix", ignore_errors=True)
                wall, peak, _ = timed_child(graph + extra)
                best[key] = min(best.get(key, wall), wall)
                rss = max(rss, peak)
            wall, _, _ = timed_child(graph)
            best["graph_warm_s"] = min(best.get("graph_warm_s", wall), wall)
            if target is not None:
                target.write_bytes(add_function(original, i + 1))
                wall, _, _ = timed_child(graph)
                best["graph_edit_s"] = min(best.get("graph_edit_s", wall), wall)
                target.write_bytes(original)
                timed_child(graph)  # the cache back in step with the files
    finally:
        if target is not None:
            target.write_bytes(original)
    row.update(best)
    row["edited"] = str(target.relative_to(path)) if target is not None else None
    row["graph_rss_mib"] = rss / 1024
    if args.suggest:
        row["suggest_s"], _, _ = timed_child([*exfix_argv(), "suggest", str(path),
                                              "--elixir", args.elixir])
    if not args.no_mix and args.mix_version:
        if row["files"] > args.mix_max_files:
            row["mix_note"] = f"skipped: over --mix-max-files {args.mix_max_files}"
        else:
            row.update(mix_time(path, args.elixir_chroot, args.mix_env, not args.no_warmup))
    return row


def fmt_table(rows: list[dict]) -> str:
    def ratio(a, b):
        return lambda r: f"{r[a] / r[b]:.1f}x" if r.get(b) and a in r else "-"

    def pct(a, b):
        return lambda r: f"{100 * r[a] / r[b]:.0f}%" if r.get(b) and a in r else "-"

    def secs(key, digits=2):
        return lambda r: f"{r[key]:.{digits}f}" if key in r else "-"

    cols = [
        ("project", lambda r: Path(r["project"]).name, "<"),
        ("files", lambda r: str(r["files"]), ">"),
        ("MiB src", lambda r: f"{r['bytes'] / 2**20:.1f}", ">"),
        ("edges c/e/r", lambda r: "/".join(str(r["edges"].get(k, 0)) for k in ("compile", "export", "runtime")), ">"),
        ("parse s", secs("parse_s"), ">"),
        ("visit s", secs("visit_s"), ">"),
        ("analyze 1 s", secs("analyze_s"), ">"),
        ("analyze/parse", ratio("analyze_s", "parse_s"), ">"),
        ("analyze all s", secs("analyze_all_s"), ">"),
        ("graph cold 1 s", secs("graph_cold1_s"), ">"),
        ("graph cold s", secs("graph_cold_s"), ">"),
        ("graph/parse", ratio("graph_cold_s", "parse_s"), ">"),
        ("graph warm s", secs("graph_warm_s"), ">"),
        ("warm edit s", secs("graph_edit_s"), ">"),
        ("edit/cold", pct("graph_edit_s", "graph_cold_s"), ">"),
        ("edit/cold 1", pct("graph_edit_s", "graph_cold1_s"), ">"),
        ("fanout s", secs("fanout_s"), ">"),
        ("peak MiB", lambda r: f"{max(r['rss_mib'], r['graph_rss_mib']):.0f}", ">"),
        ("tracemalloc MiB", lambda r: f"{r['tracemalloc_peak_mib']:.0f}" if "tracemalloc_peak_mib" in r else "-", ">"),
        ("mix s", lambda r: f"{r['mix_s']:.1f}" if "mix_s" in r else r.get("mix_note", r.get("error", "-")), ">"),
        ("mix/graph", lambda r: f"{r['mix_s'] / r['graph_cold_s']:.1f}x" if "mix_s" in r else "-", ">"),
    ]
    if any("suggest_s" in r for r in rows):
        cols.insert(16, ("suggest s", lambda r: f"{r['suggest_s']:.2f}" if "suggest_s" in r else "-", ">"))
    cells = [[c[0] for c in cols]] + [[c[1](r) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if c[2] == "<" else v.rjust(w)
                               for v, w, c in zip(row, widths, cols)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="mix projects to measure")
    ap.add_argument("--generate", metavar="N,N,...",
                    help="also generate projects of these file counts (bench/generate.py)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "exfix-bench"),
                    help="where generated projects go (reused when already there)")
    ap.add_argument("--elixir", default="1.18", help="Elixir version exfix labels as")
    ap.add_argument("--elixir-chroot", metavar="DIR",
                    help="run mix inside this chroot instead of the host")
    ap.add_argument("--mix-env", default="dev")
    ap.add_argument("--no-mix", action="store_true", help="do not time mix")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed first mix compile (projects without dependencies)")
    ap.add_argument("--mix-max-files", type=int, default=10**9,
                    help="skip mix on projects with more files than this")
    ap.add_argument("--suggest", action="store_true", help="also time `exfix suggest PATH`")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also report the tracemalloc peak (one more, slower, analysis)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run parse, analyze, fanout and the graph runs N times, keep the best")
    ap.add_argument("--json", metavar="FILE", help="write the rows as JSON too")
    ap.add_argument("--worker", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.elixir, args.tracemalloc)))
        return 0

    paths = [Path(p).resolve() for p in args.paths]
    if args.generate:
        from generate import generate

        for n in [int(x) for x in args.generate.split(",") if x.strip()]:
            out = Path(args.workdir) / f"gen{n}-s{args.seed}"
            stamp = out / ".generated"
            if not stamp.exists():
                t0 = time.perf_counter()
                count = generate(n, out, args.seed)
                stamp.write_text(str(count))
                print(f"generated {count} files in {out} ({time.perf_counter() - t0:.1f}s)",
                      file=sys.stderr)
            paths.append(out.resolve())
    if not paths:
        ap.error("give project paths or --generate")

    args.mix_version = None if args.no_mix else mix_version(args.elixir_chroot)
    rows = []
    for p in paths:
        rows.append(bench_one(p, args))
        print(fmt_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    where = f"chroot {args.elixir_chroot}" if args.elixir_chroot else "host"
    print(f"exfix --elixir {args.elixir}; mix: "
          + (f"elixir {args.mix_version} ({where}, MIX_ENV={args.mix_env})" if args.mix_version
             else "not run"))
    print(f"cpus: {os.cpu_count()}; python {sys.version.split()[0]}")
    print(fmt_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
