"""Compare `exfix graph` with the graph `mix xref graph` recorded on a real application.

    python bench/apps.py APP_DIR RECORDED_DIR [--env test|prod|dev ...] [--elixir 1.18]
                         [--misses] [--json]

APP_DIR is the application as a user has it after `mix deps.get` (its sources plus
`deps/`); RECORDED_DIR holds what mix printed for it, one `<env>.dot` per MIX_ENV
(`mix xref graph --format dot`), as under bench/apps/<name>/ (see bench/README.md).
For every env given (default: every recorded one), exfix runs on APP_DIR for that env
and the two labelled edge sets are compared:

- per label (compile, export, runtime): an edge counts for a label when both graphs
  have it with that label; P = |both| / |exfix|, R = |both| / |mix|. The "any" row
  compares the edges whatever their label.
- recompile sets: for every file of mix's graph, the files mix recompiles when it
  changes (an edit that keeps its exports, ``refactor.recompile.recompiles``),
  computed from each graph; how many agree exactly, and the mean fan-out of each.

`--misses` lists the edges mix has and exfix lacks (or labels otherwise) and the
edges only exfix has, by source file. `--json` prints everything as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from refactor.recompile import FileDeps, recompiles  # noqa: E402
from refactor.xref_format import parse_dot  # noqa: E402

LABELS = ("compile", "export", "runtime")
ENVS = ("test", "prod", "dev")


def read_graph(text: str) -> tuple[list[str], dict[tuple[str, str], str]]:
    """Files and {(source, sink): label} of a dot graph as mix writes it (runtime edges
    carry no label)."""
    g = parse_dot(text)
    edges = {(a, b): label for a, sinks in g.edges.items() for b, label in sinks.items()}
    return g.files, edges


def exfix_supports_env(exfix: list[str]) -> bool:
    out = subprocess.run(exfix + ["graph", "--help"], capture_output=True, text=True)
    return "--env" in out.stdout


def run_exfix(exfix: list[str], app: Path, env: str, elixir: str, with_env_option: bool) -> str:
    cmd = exfix + ["graph", str(app), "--format", "dot", "--output", "-", "--elixir", elixir]
    environ = dict(os.environ)
    if with_env_option:
        cmd += ["--env", env]
    else:
        environ["MIX_ENV"] = env
    out = subprocess.run(cmd, capture_output=True, text=True, env=environ)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def file_deps(files: list[str], edges: dict[tuple[str, str], str]) -> dict[str, FileDeps]:
    """The graph as ``refactor.recompile`` input: every file defines one module named
    after itself and references the modules of the files it has edges to."""
    deps = {f: FileDeps(modules={f}) for f in files}
    for (a, b), label in edges.items():
        deps.setdefault(a, FileDeps(modules={a}))
        deps.setdefault(b, FileDeps(modules={b}))
        getattr(deps[a], label).add(b)
    return deps


def recompile_sets(deps: dict[str, FileDeps], files: list[str], elixir: str,
                   export_implies_runtime: bool | None) -> dict[str, frozenset[str]]:
    return {
        f: frozenset(recompiles(deps, f, False, elixir, export_implies_runtime=export_implies_runtime))
        if f in deps else frozenset()
        for f in files
    }


def compare(mix_text: str, exfix_text: str, elixir: str,
            export_implies_runtime: bool | None = None) -> dict:
    mix_files, mix_edges = read_graph(mix_text)
    ex_files, ex_edges = read_graph(exfix_text)
    rows = {}
    for label in LABELS:
        m = {e for e, lab in mix_edges.items() if lab == label}
        x = {e for e, lab in ex_edges.items() if lab == label}
        rows[label] = _row(m, x)
    rows["any"] = _row(set(mix_edges), set(ex_edges))

    mix_rc = recompile_sets(file_deps(mix_files, mix_edges), mix_files, elixir, export_implies_runtime)
    ex_rc = recompile_sets(file_deps(ex_files, ex_edges), mix_files, elixir, export_implies_runtime)
    same = [f for f in mix_files if mix_rc[f] == ex_rc[f]]
    n = len(mix_files) or 1
    recompile = {
        "files": len(mix_files),
        "identical": len(same),
        "mean_fanout_mix": sum(len(s) for s in mix_rc.values()) / n,
        "mean_fanout_exfix": sum(len(s) for s in ex_rc.values()) / n,
        "differing": {
            f: {"missing": sorted(mix_rc[f] - ex_rc[f]), "extra": sorted(ex_rc[f] - mix_rc[f])}
            for f in mix_files if mix_rc[f] != ex_rc[f]
        },
    }

    missing, extra = {}, {}
    for (a, b), label in sorted(mix_edges.items()):
        other = ex_edges.get((a, b))
        if other != label:
            missing.setdefault(a, []).append({"sink": b, "label": label, "exfix": other})
    for (a, b), label in sorted(ex_edges.items()):
        if (a, b) not in mix_edges:
            extra.setdefault(a, []).append({"sink": b, "label": label})
    return {
        "files": {"mix": len(mix_files), "exfix": len(ex_files),
                  "only_mix": sorted(set(mix_files) - set(ex_files)),
                  "only_exfix": sorted(set(ex_files) - set(mix_files))},
        "labels": rows,
        "recompile": recompile,
        "missing": missing,
        "extra": extra,
    }


def _row(m: set, x: set) -> dict:
    both = len(m & x)
    return {
        "mix": len(m), "exfix": len(x), "both": both,
        "precision": both / len(x) if x else (1.0 if not m else 0.0),
        "recall": both / len(m) if m else 1.0,
    }


def print_table(env: str, res: dict) -> None:
    f = res["files"]
    print(f"== MIX_ENV={env}: {f['mix']} files in mix's graph, {f['exfix']} in exfix's")
    if f["only_mix"]:
        print(f"   only in mix's graph: {', '.join(f['only_mix'])}")
    if f["only_exfix"]:
        print(f"   only in exfix's graph: {', '.join(f['only_exfix'])}")
    print(f"   {'label':<8} {'mix':>6} {'exfix':>6} {'both':>6} {'P':>7} {'R':>7}")
    for label, r in res["labels"].items():
        print(f"   {label:<8} {r['mix']:>6} {r['exfix']:>6} {r['both']:>6} "
              f"{r['precision']:>7.1%} {r['recall']:>7.1%}")
    rc = res["recompile"]
    print(f"   recompile sets identical: {rc['identical']}/{rc['files']}; mean fan-out "
          f"mix {rc['mean_fanout_mix']:.2f}, exfix {rc['mean_fanout_exfix']:.2f}")


def print_misses(res: dict) -> None:
    if res["missing"]:
        print("   missing (mix's edge, and exfix's label if it has the edge otherwise):")
        for src, items in res["missing"].items():
            print(f"     {src}")
            for it in items:
                got = f"  (exfix: {it['exfix']})" if it["exfix"] else ""
                print(f"       -> {it['sink']} {it['label']}{got}")
    if res["extra"]:
        print("   extra (only exfix's):")
        for src, items in res["extra"].items():
            print(f"     {src}")
            for it in items:
                print(f"       -> {it['sink']} {it['label']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("app_dir", type=Path)
    ap.add_argument("recorded_dir", type=Path)
    ap.add_argument("--env", action="append", choices=ENVS,
                    help="MIX_ENV to compare (repeatable; default: every recorded one)")
    ap.add_argument("--elixir", default="1.18", help="Elixir version of the recording (default 1.18)")
    ap.add_argument("--misses", action="store_true", help="list missing and extra edges")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--exfix", default="exfix", help="exfix command (default: exfix on PATH)")
    ap.add_argument("--export-not-runtime", action="store_true",
                    help="recompile sets: export edges do not pass staleness on (the manifest's "
                         "reading) instead of recompile.py's default for xref's one-label view")
    args = ap.parse_args(argv)

    envs = args.env or [e for e in ENVS if (args.recorded_dir / f"{e}.dot").exists()]
    if not envs:
        ap.error(f"no <env>.dot in {args.recorded_dir}")
    exfix = args.exfix.split()
    env_option = exfix_supports_env(exfix)
    eir = False if args.export_not_runtime else None
    results = {}
    for env in envs:
        recorded = args.recorded_dir / f"{env}.dot"
        if not recorded.exists():
            ap.error(f"no recording {recorded}")
        mine = run_exfix(exfix, args.app_dir, env, args.elixir, env_option)
        results[env] = compare(recorded.read_text(), mine, args.elixir, eir)
    if args.json:
        if not args.misses:
            for r in results.values():
                r.pop("missing"), r.pop("extra")
                r["recompile"].pop("differing")
        json.dump({"app": str(args.app_dir), "elixir": args.elixir,
                   "env_via": "--env" if env_option else "MIX_ENV", "envs": results}, sys.stdout, indent=1)
        print()
        return 0
    for env, res in results.items():
        print_table(env, res)
        if args.misses:
            print_misses(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
