"""Property: on any tree of odd names, links, FIFOs and nested modules, `apply` writes only
inside the project, each file whole (old, or fixed as `suggest` showed it), and exactly
what `suggest | git apply` writes; no command prints a traceback.

Hypothesis draws a tree: source files with odd names (a space and ` b/`, a tab, a newline,
a carriage return, quotes, a backslash, non-UTF-8 bytes, unicode), nested modules with an
unused `require` (drop-unused-require) or a `use` under `if Code.ensure_loaded?`
(hoist-conditional-use), a NUL in a string; a FIFO or a link to /dev/zero named `x.ex`; a
dangling link; links to a file or a folder outside the project, or to a folder inside it;
and `elixirc_paths` that reach outside. The tree is built twice: `apply` runs on one,
`suggest` piped to `git apply` on the other, and both must end the same.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refactor.cli import main
from refactor.parse import first_error, parse
from refactor.writer import TMP_SUFFIX

NAMES = ["plain", "a b", "plan b", "t\tx", "n\nx", "c\rx", 'q"x', "b\\s", "café", "caf\udce9",
         "x.y", "-dash", "#hash%", " lead"]
RULES = ["--rule", "drop-unused-require", "--rule", "hoist-conditional-use"]
KINDS = ["fixable", "fixable", "fixable", "fifo", "devzero", "dangling", "file_link_out",
         "dir_link_out", "dir_link_in"]
PATHS = [["lib"], ["lib", "../outside"], ["lib", "shared"]]


def mix(paths: list[str]) -> bytes:
    quoted = ", ".join(f'"{p}"' for p in paths)
    return (b"defmodule P.MixProject do\n  use Mix.Project\n\n  def project do\n"
            b"    [app: :p, version: \"0.1.0\", elixirc_paths: [%s]]\n  end\nend\n" % quoted.encode())


def module(name: str, depth: int, conditional: bool, nul: bool) -> bytes:
    lines = [f"{'  ' * i}defmodule {name if i == 0 else f'N{i}'} do" for i in range(depth + 1)]
    inner = "  " * (depth + 1)
    lines.append(f"{inner}require P.B")
    if conditional:
        lines += [f"{inner}if Code.ensure_loaded?(Opt.Thing) do", f"{inner}  use Opt.Thing",
                  f"{inner}end"]
    lines.append(f'{inner}def f, do: "{chr(0) if nul else "s"}"')
    lines += [f"{'  ' * i}end" for i in reversed(range(depth + 1))]
    return ("\n".join(lines) + "\n").encode()


entry = st.tuples(st.sampled_from(KINDS), st.sampled_from(NAMES), st.integers(0, 4),
                  st.booleans(), st.booleans())
trees = st.tuples(st.sampled_from(PATHS), st.lists(entry, min_size=1, max_size=6))


def raw(name: str) -> str:
    return os.fsencode(name).decode("utf-8", "surrogateescape")


def build(base: Path, spec) -> None:
    paths, entries = spec
    root, outside, shared = base / "p", base / "outside", base / "p" / "shared"
    for d in (root / "lib", outside, shared):
        d.mkdir(parents=True, exist_ok=True)
    (root / "mix.exs").write_bytes(mix(paths))
    (root / "lib/b.ex").write_bytes(b"defmodule P.B do\n  def h, do: 2\nend\n")
    (outside / "o.ex").write_bytes(module("P.Outside", 0, False, False))
    (shared / "s.ex").write_bytes(module("P.Shared", 1, False, False))
    for n, (kind, name, depth, conditional, nul) in enumerate(entries):
        stem = raw(f"{name}{n}")
        target = root / "lib" / f"{stem}.ex"
        if kind == "fixable":
            sub = root / "lib" / raw(f"d {name}{n}")
            sub.mkdir(exist_ok=True)
            (sub / f"{stem}.ex").write_bytes(module(f"P.M{n}", depth, conditional, nul))
        elif kind == "fifo":
            os.mkfifo(target)
        elif kind == "devzero":
            target.symlink_to("/dev/zero")
        elif kind == "dangling":
            target.symlink_to("nowhere.ex")
        elif kind == "file_link_out":
            (outside / f"f{n}.ex").write_bytes(module(f"P.F{n}", depth, False, nul))
            target.symlink_to(os.path.relpath(outside / f"f{n}.ex", target.parent))
        elif kind == "dir_link_out":
            far = outside / f"dir{n}"
            far.mkdir()
            (far / "x.ex").write_bytes(module(f"P.D{n}", depth, conditional, False))
            (root / "lib" / stem).symlink_to(os.path.relpath(far, root / "lib"))
        else:  # dir_link_in
            (root / "lib" / stem).symlink_to("../shared")


def state(base: Path) -> dict[str, object]:
    """Every entry under base (no file is opened but regular ones; the cache is left out)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = os.path.relpath(p, base)
            if "_build" in Path(rel).parts or ".git" in Path(rel).parts or rel == "fix.patch":
                continue
            st_ = p.lstat()
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st_.st_mode):
                out[rel] = p.read_bytes()
            else:
                out[rel] = stat.S_IFMT(st_.st_mode)
    return out


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, [*args, "--elixir", "1.18", "-j", "1", "--no-cache", "--all", *RULES],
                                 catch_exceptions=False)
    finally:
        os.chdir(old)
    assert res.exit_code in (0, 2), (res.exit_code, res.stderr)
    for line in res.stderr.splitlines():
        assert "Traceback" not in line
    return res


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(spec=trees)
def test_apply_writes_inside_the_project_whole_files_and_what_suggest_shows(spec):
    work = Path(tempfile.mkdtemp(prefix="exfix-fuzz-"))
    try:
        a, b = work / "a", work / "b"
        build(a, spec)
        build(b, spec)
        before = state(a)
        assert before == state(b)

        shown = run(b, "suggest", "p")
        patch = b / "fix.patch"
        patch.write_bytes(shown.stdout_bytes)
        subprocess.run(["git", "init", "-q"], cwd=b, check=True)
        git = subprocess.run(["git", "apply", "--allow-empty", "fix.patch"], cwd=b, capture_output=True)
        assert git.returncode == 0, git.stderr.decode(errors="replace")

        run(a, "apply", "p")
        after = state(a)
        changed = {k for k in after if after.get(k) != before.get(k)} | (before.keys() - after.keys())
        for rel in changed:
            assert rel.startswith("p" + os.sep), f"written outside the project: {rel!r}"
            assert not Path(rel).name.endswith(TMP_SUFFIX)
            data = after.get(rel)
            assert isinstance(data, bytes), f"{rel!r} is no longer a regular file"
            assert first_error(parse(data)) is None, f"{rel!r} written half-fixed"
        shown_state = state(b)
        for rel in changed:  # fully fixed: what suggest showed for it, whole
            assert after.get(rel) == shown_state.get(rel), f"{rel!r}: apply wrote other than suggest showed"
        assert after == shown_state, "apply and suggest | git apply differ"
    finally:
        shutil.rmtree(work, ignore_errors=True)
