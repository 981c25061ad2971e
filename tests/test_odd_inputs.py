"""Odd names, special files, huge or broken input and failing output: one line, no traceback.

Each input here once crashed a command, hung it, or made it write what it must not. The
rule is the same for all: every error is one line naming the file, the exit code is 2, and
what `apply` writes is what `suggest | git apply` writes.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from refactor.cli import main

REPO = Path(__file__).resolve().parent.parent

MIX = b"""defmodule P.MixProject do
  use Mix.Project

  def project do
    [app: :p, version: "0.1.0"]
  end
end
"""
B = b"defmodule P.B do\n  def h, do: 2\nend\n"
UNUSED = b"defmodule P.%s do\n  require P.B\n  def f, do: 1\nend\n"
FIXED = b"defmodule P.%s do\n  def f, do: 1\nend\n"
# --all: the unused requires these tests drop save no recompile (hidden by default, test_gain.py)
DROP = ["--rule", "drop-unused-require", "--elixir", "1.18", "-j", "1", "--no-cache", "--all"]


def make(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in {"mix.exs": MIX, "lib/b.ex": B, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def exfix(*args: str, cwd: Path | None = None, input: bytes | None = None):
    """The command line in a child process: bytes out, bytes err, exit code."""
    return subprocess.run([sys.executable, "-m", "refactor", *args], cwd=cwd, input=input,
                          capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                          timeout=300)


def in_process(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def files_of(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            rel = os.path.relpath(p, root)
            if ".git" in Path(rel).parts or rel.startswith("_build"):
                continue
            if p.is_file() and not p.is_symlink():
                out[rel] = p.read_bytes()
    return out


def suggest_then_git_apply_equals_apply(tmp_path: Path, files: dict[str, bytes]) -> subprocess.CompletedProcess:
    """suggest | git apply on one copy, apply on another: the same files."""
    a = make(tmp_path / "a" / "p", files)
    b = tmp_path / "b" / "p"
    shutil.copytree(a, b, symlinks=True)
    subprocess.run(["git", "init", "-q"], cwd=b.parent, check=True)
    sug = exfix("suggest", "p", *DROP, cwd=b.parent)
    assert b"Traceback" not in sug.stderr, sug.stderr.decode(errors="replace")
    assert sug.returncode == 0, sug.stderr
    patch = b.parent / "fix.patch"
    patch.write_bytes(sug.stdout)
    subprocess.run(["git", "apply", str(patch)], cwd=b.parent, check=True, capture_output=True)
    app = exfix("apply", "p", *DROP, cwd=a.parent)
    assert b"Traceback" not in app.stderr and app.returncode == 0, app.stderr
    assert b"exfix: wrote" in app.stderr
    assert files_of(a) == files_of(b)
    return app


# --------------------------------------------------------------------------- 6. odd names

ODD_NAMES = {
    "space-b": "lib/plan b/w.ex",
    "tab": "lib/t\tx.ex",
    "newline": "lib/n\nx.ex",
    "carriage-return": "lib/c\rx.ex",
    "quote-backslash": 'lib/q"\\x.ex',
    "latin1": "lib/caf\udce9.ex",
    "unicode": "lib/café b/ü.ex",
}


@pytest.mark.parametrize("name", ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_odd_file_names_give_diffs_git_applies_as_apply_writes(tmp_path, name):
    raw = os.fsencode(name).decode("utf-8", "surrogateescape")
    suggest_then_git_apply_equals_apply(tmp_path, {raw: UNUSED % b"Odd", "lib/y.ex": UNUSED % b"Y"})


def test_odd_names_in_json_and_on_one_error_line(tmp_path):
    root = make(tmp_path / "p", {"lib/plan b/w.ex": UNUSED % b"W", "lib/n\nx.ex": b"defmodule (\n"})
    res = exfix("suggest", "p", *DROP, "--format", "json", cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert [s["file"] for s in doc["suggestions"]] == ["lib/plan b/w.ex"]
    errors = res.stderr.decode().splitlines()
    assert 'p/lib/n\\nx.ex:2: error: syntax error; exfix rewrites nothing in this file' in errors
    assert res.returncode == 2 and root.exists()


# --------------------------------------------------------------------------- 7. special files

COMMANDS = {
    "suggest": ["suggest", "p", *DROP],
    "apply": ["apply", "p", *DROP],
    "graph": ["graph", "p", "--elixir", "1.18", "--no-cache"],
    "trace": ["trace", "lib/y.ex", "--project", "p", "--elixir", "1.18", "--no-cache"],
    "recompiles": ["recompiles", "lib/b.ex", "--exports-changed", "--project", "p", "--elixir", "1.18", "--no-cache"],
    "fanout": ["fanout", "p", "--elixir", "1.18", "--no-cache"],
}


def special(root: Path, kind: str, rel: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists() or p.is_symlink():
        p.unlink()
    if kind == "fifo":
        os.mkfifo(p)
    else:
        p.symlink_to(f"/dev/{kind}")


@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom"])
@pytest.mark.parametrize("command", COMMANDS)
def test_special_files_in_lib_are_refused_not_read(tmp_path, kind, command):
    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    special(root, kind, "lib/x.ex")
    res = exfix(*COMMANDS[command], cwd=tmp_path)  # a hang fails on the timeout
    err = res.stderr.decode()
    assert "Traceback" not in err
    assert "lib/x.ex" in err and "not a regular file" in err, err
    assert all(line.count("lib/x.ex") <= 1 for line in err.splitlines())
    if command in ("suggest", "apply"):
        assert res.returncode == 2
    else:
        assert res.returncode == 0, err
    if command == "apply":
        assert (root / "lib/y.ex").read_bytes() == FIXED % b"Y"


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_special_files_in_the_cache_are_not_read(tmp_path, kind):
    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    first = exfix("graph", "p", "--elixir", "1.18", cwd=tmp_path)
    assert first.returncode == 0
    cache = root / "_build" / "exfix"
    names = [p for p in cache.rglob("*") if p.is_file()]
    assert names
    for p in names:
        special(root, kind, os.path.relpath(p, root))
    res = exfix("graph", "p", "--elixir", "1.18", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == first.stdout, res.stderr
    assert b"Traceback" not in res.stderr


def test_a_file_over_the_size_limit_is_refused_with_one_line(tmp_path, monkeypatch):
    import refactor.files

    monkeypatch.setattr(refactor.files, "MAX_SOURCE_BYTES", 1000)
    monkeypatch.setattr(refactor.files.read_regular, "__defaults__", (1000,))
    monkeypatch.setattr(refactor.files.read_bytes, "__defaults__", (1000,))
    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y", "lib/big.ex": b"# x\n" * 300})
    res = in_process("apply", "p", *DROP, cwd=tmp_path)
    assert res.exit_code == 2
    [line] = [l for l in res.stderr.splitlines() if "big.ex" in l]
    assert line == "p/lib/big.ex: error: cannot read: larger than 1000 bytes, the limit for one file; not read"
    assert (root / "lib/y.ex").read_bytes() == FIXED % b"Y"


# --------------------------------------------------------------------------- 11. output errors


def full_device(tmp_path: Path) -> str:
    """A device where every write fails with ENOSPC: as root a private node (never the real
    /dev/full, which a buggy command run as root could rename), else /dev/full."""
    if os.geteuid() != 0:
        return "/dev/full"
    import stat

    path = tmp_path / "full"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return str(path)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_stdout_is_one_line_and_exit_2(tmp_path, command):
    make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    full = full_device(tmp_path)
    with open(full, "wb") as out:
        res = subprocess.run([sys.executable, "-m", "refactor", *COMMANDS[command]], cwd=tmp_path,
                             stdout=out, stderr=subprocess.PIPE, timeout=300,
                             env=dict(os.environ, PYTHONPATH=str(REPO)))
    err = res.stderr.decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert res.returncode == 2, err
    assert f"{full}: error: cannot write the output: No space left on device" in err.splitlines()
    if command == "apply":
        assert "exfix: wrote 1 file" in err  # the summary still comes


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_stdout_is_one_line_and_exit_2(tmp_path, command):
    make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    res = subprocess.run([sys.executable, "-m", "refactor", *COMMANDS[command]], cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(REPO)),
                         preexec_fn=lambda: os.close(1))
    err = res.stderr.decode()
    assert "Traceback" not in err, err
    assert res.returncode == 2
    assert err.splitlines() == ["standard output: error: it is closed; nothing can be printed "
                                "(exfix ... >&- ?)"]
    assert (tmp_path / "p/lib/y.ex").read_bytes() == UNUSED % b"Y"  # apply wrote nothing


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    make(tmp_path / "p", {f"lib/m{i}.ex": UNUSED % b"M%d" % i for i in range(40)})
    proc = subprocess.Popen([sys.executable, "-m", "refactor", *COMMANDS["suggest"]], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert "Traceback" not in err and "error" not in err, err


# --------------------------------------------------------------------------- 13. exit codes


@pytest.mark.parametrize("option", ["--source", "--sink", "--exclude"])
def test_graph_with_an_unknown_file_exits_2(tmp_path, option):
    make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    res = in_process("graph", "p", option, "lib/nope.ex", "--elixir", "1.18", "--no-cache", cwd=tmp_path)
    assert res.exit_code == 2
    [line] = res.stderr.strip().splitlines()
    assert "lib/nope.ex" in line


def test_graph_fail_above_still_exits_1(tmp_path):
    make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    res = in_process("graph", "p", "--fail-above", "0", "--elixir", "1.18",
                     "--no-cache", cwd=tmp_path)
    assert res.exit_code == 1 and "Too many" in res.stderr


# --------------------------------------------------------------------------- 12. NUL in a string


def test_a_nul_byte_in_a_string_is_no_syntax_error(tmp_path):
    src = b'defmodule P.Nul do\n  require P.B\n  def f, do: "a\x00b"\n  def g, do: P.B.h()\nend\n'
    make(tmp_path / "p", {"lib/nul.ex": src})
    res = in_process("graph", "p", "--elixir", "1.18", "--no-cache", cwd=tmp_path)
    assert res.exit_code == 0 and res.stderr == ""
    assert "lib/nul.ex\n└── lib/b.ex (export)\n" in res.stdout
    suggest_then_git_apply_equals_apply(tmp_path, {"lib/nul.ex": src})
    assert (tmp_path / "a/p/lib/nul.ex").read_bytes() == src.replace(b"  require P.B\n", b"")


@pytest.mark.parametrize("rule", ["attribute-to-function", "hoist-conditional-use"])
def test_a_fix_that_moves_a_string_with_nul_keeps_the_nul(tmp_path, rule):
    """Moved text is copied from the parse tree, where the parser saw a stand-in for NUL."""
    mix = (REPO / "fixtures/rules/hoist-conditional-use/_project/mix.exs").read_bytes()
    if rule == "hoist-conditional-use":
        src = (b"defmodule Fixture.Nul do\n  if Code.ensure_loaded?(Opt.SmartCell) do\n"
               b"    use Opt.JS, assets_path: \"a\x00b\"\n    def s, do: \"\x00\"\n  end\nend\n")
    else:
        src = (b"defmodule Fixture.Nul do\n  @x Fixture.B.h(\"a\x00b\")\n  def s, do: {@x, \"\x00\"}\nend\n")
    root = tmp_path / "p"
    (root / "lib").mkdir(parents=True)
    (root / "mix.exs").write_bytes(mix)
    (root / "lib/nul.ex").write_bytes(src)
    (root / "lib/b.ex").write_bytes(b"defmodule Fixture.B do\n  def h(x), do: x\nend\n")
    res = in_process("apply", "p", "--rule", rule, "--strategy", "hoist",
                     "--elixir", "1.18", "-j", "1", "--no-cache", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    after = (root / "lib/nul.ex").read_bytes()
    assert after != src and b'"a\x00b"' in after, after
    assert after.count(b"\x00") == src.count(b"\x00")
    from refactor.parse import STAND_INS

    assert not any(b in after for b in STAND_INS)


# --------------------------------------------------------------------------- 14. JSON and SARIF

URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
NAMES = {"lib/a b.ex": b"A", "lib/caf\udce9.ex": b"Cafe", "lib/t\tx#1%.ex": b"T", "lib/ü.ex": b"U"}


def uris(doc) -> list[str]:
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "uri" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(uris(v))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(uris(v))
    return out


def no_lone_surrogates(text: bytes) -> None:
    # strict UTF-8 and no \udcXX escape: any JSON reader takes it
    assert not re.search(rb"\\ud[c-f][0-9a-f]{2}", text, re.I), "a lone surrogate"
    text.decode("utf-8")


def test_sarif_uris_are_percent_encoded_and_names_recoverable(tmp_path):
    import jsonschema
    from urllib.parse import unquote_to_bytes

    make(tmp_path / "p", {os.fsencode(n).decode("utf-8", "surrogateescape"): UNUSED % m
                          for n, m in NAMES.items()} | {"lib/bad\udcff.ex": b"defmodule (\n"})
    res = exfix("suggest", "p", *DROP, "--format", "sarif", cwd=tmp_path)
    no_lone_surrogates(res.stdout)
    doc = json.loads(res.stdout)
    schema = json.loads((REPO / "tests/data/sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    found = uris(doc)
    assert found and all(URI_REFERENCE.fullmatch(u) for u in found), found
    names = {unquote_to_bytes(u) for u in found if u.startswith("p/")}
    assert names >= {b"p/" + os.fsencode(n) for n in NAMES} | {b"p/lib/bad\xff.ex"}


def test_json_names_that_are_not_utf8_are_recoverable(tmp_path):
    from urllib.parse import unquote_to_bytes

    make(tmp_path / "p", {"lib/caf\udce9.ex": UNUSED % b"Cafe", "lib/bad\udcff.ex": b"defmodule (\n"})
    res = exfix("apply", "p", *DROP, "--format", "json", cwd=tmp_path)
    no_lone_surrogates(res.stdout)
    doc = json.loads(res.stdout)
    [sug] = doc["suggestions"]
    assert sug["file"] == "lib/caf\ufffd.ex" and unquote_to_bytes(sug["file_bytes"]) == b"lib/caf\xe9.ex"
    [err] = doc["errors"]
    assert unquote_to_bytes(err["file_bytes"]) == b"p/lib/bad\xff.ex"
    assert [unquote_to_bytes(w) for w in doc["written_bytes"]] == [b"p/lib/caf\xe9.ex"]


# --------------------------------------------------------------------------- 15. stale temporaries

HANGS_MID_WRITE = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
import refactor.writer as writer
def hang(fd, data):
    print("writing", flush=True)
    time.sleep(600)
writer.os.write = hang
p = writer.Path(sys.argv[2])
writer.write_one(writer.FileChange(p, p.read_bytes(), b"new\\n"))
"""


def test_temporary_files_left_by_kill_9_are_removed_by_the_next_apply(tmp_path):
    import signal

    from refactor.writer import TMP_SUFFIX

    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y", "lib/sub/z.ex": UNUSED % b"Z"})
    proc = subprocess.Popen([sys.executable, "-c", HANGS_MID_WRITE, str(REPO), str(root / "lib/sub/z.ex")],
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [killed] = [p for p in (root / "lib/sub").iterdir() if p.name.endswith(TMP_SUFFIX)]
    old = root / "lib" / f".y.ex.abcd1234{TMP_SUFFIX}"  # an older version's name, 2 hours old
    old.write_bytes(b"x")
    os.utime(old, (old.stat().st_atime - 7200, old.stat().st_mtime - 7200))
    live = root / "lib" / f".y.ex.{os.getpid()}.abcd1234{TMP_SUFFIX}"  # a running writer's
    live.write_bytes(b"x")
    outside = tmp_path / f".q.ex.4194305.abcd1234{TMP_SUFFIX}"  # not a source folder
    outside.write_bytes(b"x")
    res = in_process("apply", "p", *DROP, cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    assert not killed.exists() and not old.exists()
    assert live.exists() and outside.exists()
    assert (root / "lib/sub/z.ex").read_bytes() == FIXED % b"Z"


# --------------------------------------------------------------------------- 8. deep nesting


def test_nested_modules_cost_linear_work_in_hoist_conditional_use(monkeypatch):
    """Each level asked its parent for its aliases twice, and walked up to the root: 2**depth
    calls (depth 25 took 74 s). Counted, not timed: at most a few calls per level."""
    import refactor.rules.hoist_conditional_use as H

    depth = 40
    lines = [f"{'  ' * i}defmodule {'Deep' if i == 0 else f'M{i}'} do" for i in range(depth)]
    inner = "  " * depth
    lines += [f"{inner}if Code.ensure_loaded?(Opt.Thing) do", f"{inner}  use Opt.Thing", f"{inner}end"]
    lines += [f"{'  ' * i}end" for i in reversed(range(depth))]
    calls = {"all_aliases": 0, "_call_name": 0}
    real_all, real_name = H.Module.all_aliases, H._call_name

    def counted_all(self, before):
        calls["all_aliases"] += 1
        assert calls["all_aliases"] < 20 * depth, "all_aliases grows faster than the depth"
        return real_all(self, before)

    def counted_name(node):
        calls["_call_name"] += 1
        assert calls["_call_name"] < 200 * depth, "_call_name grows faster than the depth"
        return real_name(node)

    monkeypatch.setattr(H.Module, "all_aliases", counted_all)
    monkeypatch.setattr(H, "_call_name", counted_name)
    [problem] = H.find_problems("\n".join(lines).encode() + b"\n")
    assert problem.module.name == "Deep." + ".".join(f"M{i}" for i in range(1, depth))


# --------------------------------------------------------------------------- 9. many fixes, one file


def test_many_fixes_in_one_file_are_verified_together(tmp_path, monkeypatch):
    """N fixes in one file were verified one by one (one analysis of the whole file each)
    and merged one by one again: N**2. Counted, not timed."""
    from refactor.engine import Options, _Runner, run_project
    from refactor.rules import get_rules

    n = 60
    body = "".join(f"defmodule P.M{i} do\n  require P.B\n  import P.B\n  def f, do: {i}\nend\n\n"
                   for i in range(n // 2))
    root = make(tmp_path / "p", {"lib/many.ex": body.encode()})
    calls = []
    real = _Runner.verify

    def counted(self, patched, changed, fixes):
        calls.append(len(fixes))
        return real(self, patched, changed, fixes)

    monkeypatch.setattr(_Runner, "verify", counted)
    rules = get_rules(["drop-unused-require", "drop-unused-import"], [])
    r = run_project(root, Options(rules=rules, version="1.18", cwd=str(tmp_path)))
    assert len(r.suggestions) == n and all(s.in_patch for s in r.suggestions)
    [patch] = r.patches
    assert patch.after == "".join(f"defmodule P.M{i} do\n  def f, do: {i}\nend\n\n"
                                  for i in range(n // 2)).encode()
    assert len(calls) <= 10, f"{len(calls)} verifications for {n} fixes in one file"


def test_a_diff_of_many_changes_does_linear_work(monkeypatch):
    """SequenceMatcher compares every line between the first change and the last: 3,000
    fixes over one file took most of a run. Its work (the lines each search spans) is
    counted."""
    import difflib

    from refactor.udiff import unified_diff

    old = b"".join(b"defmodule M%d do\n  require B\n  def f, do: %d\nend\n" % (i, i) for i in range(3000))
    new = old.replace(b"  require B\n", b"")
    work = []
    real = difflib.SequenceMatcher.find_longest_match

    def counted(self, alo=0, ahi=None, blo=0, bhi=None):
        work.append((ahi if ahi is not None else len(self.a)) - alo)
        return real(self, alo, ahi, blo, bhi)

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counted)
    diff = unified_diff("lib/x.ex", old, new)
    assert diff.count("\n-  require B\n") == 3000
    lines = old.count(b"\n")
    assert sum(work) <= 10 * lines, f"{sum(work)} lines searched for a {lines}-line file"


# --------------------------------------------------------------------------- 10. huge files


def test_a_64_mb_file_is_refused_at_once_with_one_line(tmp_path):
    """The analysis holds a few hundred bytes per source byte (bench/limits.py): a file over
    the documented limit is named on one line and not read (a sparse file: no disk used)."""
    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    with open(root / "lib/huge.ex", "wb") as f:
        f.truncate(64 << 20)
    res = exfix("suggest", "p", *DROP, cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 2 and "Traceback" not in err
    assert "p/lib/huge.ex: error: cannot read: larger than 8 MB, the limit for one file; not read" in err.splitlines()
    res = exfix("graph", "p", "--elixir", "1.18", "--no-cache", cwd=tmp_path)
    assert res.returncode == 0 and b"lib/huge.ex" in res.stderr and b"Traceback" not in res.stderr


def test_the_size_limit_is_the_one_the_readme_states():
    from refactor.files import MAX_SOURCE_BYTES, describe

    assert f"A\nsource file over {describe(MAX_SOURCE_BYTES)} is not read" in (REPO / "README.md").read_text()


def test_a_diff_that_does_not_read_back_is_one_line_after_apply_wrote(tmp_path, monkeypatch):
    """The report comes after the writes: a bug there must not hide apply's summary."""
    import refactor.report as report
    from refactor.udiff import DiffError

    def broken(*args, **kwargs):
        raise DiffError("diff for x does not parse: test")

    monkeypatch.setattr(report, "unified_diff", broken)
    root = make(tmp_path / "p", {"lib/y.ex": UNUSED % b"Y"})
    res = in_process("apply", "p", *DROP, cwd=tmp_path)
    assert res.exit_code == 2
    assert ".: error: internal error: diff for x does not parse: test" in res.stderr.splitlines()
    assert "exfix: wrote 1 file" in res.stderr and (root / "lib/y.ex").read_bytes() == FIXED % b"Y"


def test_rules_follow_nesting_as_deep_as_the_analysis(tmp_path):
    """700 nested modules: the analysis follows them; hoist-conditional-use, walking them in
    Python's default recursion limit, failed ("rule ... failed: RecursionError")."""
    depth = 700
    lines = [f"{'  ' * i}defmodule {'P.Deep' if i == 0 else f'M{i}'} do" for i in range(depth)]
    inner = "  " * depth
    lines += [f"{inner}if Code.ensure_loaded?(Opt.Thing) do", f"{inner}  use Opt.Thing", f"{inner}end"]
    lines += [f"{'  ' * i}end" for i in reversed(range(depth))]
    make(tmp_path / "p", {"lib/deep.ex": ("\n".join(lines) + "\n").encode()})
    res = in_process("suggest", "p", "--rule", "hoist-conditional-use", "--elixir", "1.18", "-j", "1",
                     "--no-cache", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    assert "exfix: 1 suggestion (1 with a verified fix)" in res.stderr
