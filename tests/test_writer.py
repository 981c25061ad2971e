"""Safe writes: atomic per file, nothing written over a change, a read-only file or a link."""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine_rules as R
import refactor.commands.suggest as cmd
from refactor.writer import TMP_SUFFIX, FileChange, write_changes

MONOREPO = Path(__file__).resolve().parent.parent / "fixtures" / "monorepo"


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(TMP_SUFFIX)]


def test_write_replaces_content_and_keeps_mode(tmp_path):
    f = tmp_path / "a.ex"
    f.write_bytes(b"old\n")
    f.chmod(0o640)
    res = write_changes([FileChange(f, b"old\n", b"new\n")])
    assert res.written == [str(f)] and res.refused == []
    assert f.read_bytes() == b"new\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_identical_content_is_not_rewritten(tmp_path):
    f = tmp_path / "a.ex"
    f.write_bytes(b"same\n")
    inode = f.stat().st_ino
    res = write_changes([FileChange(f, b"same\n", b"same\n")])
    assert res.unchanged == [str(f)] and f.stat().st_ino == inode


def test_file_changed_since_analysis_is_left_alone(tmp_path):
    f = tmp_path / "a.ex"
    f.write_bytes(b"edited by someone\n")
    res = write_changes([FileChange(f, b"old\n", b"new\n")])
    assert res.written == []
    assert "changed on disk since it was analysed" in res.refused[0].reason
    assert f.read_bytes() == b"edited by someone\n"


def test_deleted_and_created_files(tmp_path):
    gone = tmp_path / "gone.ex"
    res = write_changes([FileChange(gone, b"old\n", b"new\n")])
    assert "deleted" in res.refused[0].reason and not gone.exists()
    new = tmp_path / "sub" / "new.ex"
    res = write_changes([FileChange(new, None, b"fresh\n")])
    assert res.written and new.read_bytes() == b"fresh\n"
    res = write_changes([FileChange(new, None, b"other\n")])
    assert "created on disk" in res.refused[0].reason and new.read_bytes() == b"fresh\n"
    assert leftovers(new.parent) == []


def test_read_only_file_is_left_alone_even_when_rename_would_work(tmp_path):
    f = tmp_path / "ro.ex"
    f.write_bytes(b"old\n")
    f.chmod(0o444)
    # the folder stays writable: os.replace would succeed (and as root even open() would)
    res = write_changes([FileChange(f, b"old\n", b"new\n")])
    assert res.written == [] and "read-only" in res.refused[0].reason
    assert f.read_bytes() == b"old\n" and stat.S_IMODE(f.stat().st_mode) == 0o444


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_symlink_is_never_replaced_by_a_file(tmp_path, where):
    target_dir = tmp_path / ("proj" if where == "inside" else "elsewhere")
    target_dir.mkdir(exist_ok=True)
    target = target_dir / "real.ex"
    target.write_bytes(b"old\n")
    (tmp_path / "proj").mkdir(exist_ok=True)
    link = tmp_path / "proj" / "link.ex"
    link.symlink_to(target)
    res = write_changes([FileChange(link, b"old\n", b"new\n")])
    assert res.written == [] and "symbolic link" in res.refused[0].reason
    assert link.is_symlink() and target.read_bytes() == b"old\n"


def test_symlink_loop_is_refused(tmp_path):
    a, b = tmp_path / "a.ex", tmp_path / "b.ex"
    a.symlink_to(b)
    b.symlink_to(a)
    res = write_changes([FileChange(a, b"x", b"y")])
    assert res.written == [] and res.refused
    assert a.is_symlink() and b.is_symlink()


def test_hard_linked_file_is_refused(tmp_path):
    f = tmp_path / "a.ex"
    f.write_bytes(b"old\n")
    os.link(f, tmp_path / "b.ex")
    res = write_changes([FileChange(f, b"old\n", b"new\n")])
    assert "hard links" in res.refused[0].reason
    assert (tmp_path / "b.ex").read_bytes() == b"old\n"


def test_failure_mid_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    import refactor.writer as writer

    f = tmp_path / "a.ex"
    f.write_bytes(b"old\n" * 1000)
    real_write = os.write
    calls = []

    def failing_write(fd, data):
        if calls:
            raise OSError(28, "No space left on device")
        calls.append(1)
        return real_write(fd, bytes(data[:10]))

    monkeypatch.setattr(writer.os, "write", failing_write)
    res = write_changes([FileChange(f, b"old\n" * 1000, b"new\n" * 1000)])
    assert "No space left" in res.refused[0].reason
    assert f.read_bytes() == b"old\n" * 1000
    assert leftovers(tmp_path) == []


def test_one_refused_file_does_not_stop_the_others(tmp_path):
    a, b = tmp_path / "a.ex", tmp_path / "b.ex"
    a.write_bytes(b"a\n")
    b.write_bytes(b"b changed\n")
    res = write_changes([FileChange(b, b"b\n", b"B\n"), FileChange(a, b"a\n", b"A\n")])
    assert res.written == [str(a)] and [r.path for r in res.refused] == [str(b)]
    assert a.read_bytes() == b"A\n" and b.read_bytes() == b"b changed\n"


# --------------------------------------------------------------------------- kill -9

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import refactor.writer as writer
    real = os.write
    def slow(fd, data):  # small slow chunks, so the kill lands in the middle of a file
        time.sleep(0.002)
        return real(fd, bytes(data[:65536]))
    writer.os.write = slow
    paths = sys.argv[1:]
    changes = [writer.FileChange(writer.Path(p), open(p, "rb").read(),
                                 open(p, "rb").read().replace(b"old", b"new")) for p in paths]
    print("ready", flush=True)
    writer.write_changes(changes)
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6])
def test_kill_9_during_writes_leaves_each_file_old_or_new(tmp_path, delay):
    files = []
    for i in range(6):
        f = tmp_path / f"f{i}.ex"
        f.write_bytes(b"old line\n" * (60_000 + i))  # ~0.5 MB each
        files.append(f)
    old = {f: f.read_bytes() for f in files}
    new = {f: data.replace(b"old", b"new") for f, data in old.items()}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, files)],
                            stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    states = []
    for f in files:
        data = f.read_bytes()
        assert data in (old[f], new[f]), f"{f.name} is half-written"
        states.append("new" if data == new[f] else "old")
    # files are written in order: a prefix is new, the rest old
    assert states == sorted(states, key=lambda s: s != "new")


# --------------------------------------------------------------------------- through `exfix apply`
# (with --all: the fixture's unused requires save no recompile, and are hidden by default)


@pytest.fixture
def billing(tmp_path, monkeypatch):
    dst = tmp_path / "billing"
    shutil.copytree(MONOREPO / "billing", dst)
    monkeypatch.chdir(tmp_path)
    return dst


def use_rules(monkeypatch, *rules):
    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: list(rules))


class EditorRacesUs(R.DropUnusedRequire):
    """Finds the same fix, then someone saves invoice.ex before exfix writes."""

    id = "drop-unused-require"

    def check(self, ctx):
        out = super().check(ctx)
        path = ctx.project.root / "lib/billing/invoice.ex"
        path.write_bytes(path.read_bytes() + b"# saved meanwhile\n")
        return out


def test_apply_leaves_a_file_changed_since_analysis(billing, monkeypatch):
    use_rules(monkeypatch, EditorRacesUs)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 2
    assert "billing/lib/billing/invoice.ex: error: not written: changed on disk" in res.stderr
    data = (billing / "lib/billing/invoice.ex").read_bytes()
    assert b"require Billing.Money" in data and data.endswith(b"# saved meanwhile\n")


def test_apply_leaves_a_read_only_file(billing, monkeypatch):
    use_rules(monkeypatch, R.TwoInOneFile)
    ro = billing / "lib/billing/money.ex"
    before = ro.read_bytes()
    ro.chmod(0o444)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 2
    assert "money.ex: error: not written: is read-only" in res.stderr
    assert ro.read_bytes() == before
    assert (billing / "lib/billing.ex").read_bytes().endswith(b"# two\n")  # the others were written


def test_apply_does_not_replace_a_symlinked_source(billing, tmp_path, monkeypatch):
    use_rules(monkeypatch, R.DropUnusedRequire)
    outside = tmp_path / "shared_invoice.ex"
    inv = billing / "lib/billing/invoice.ex"
    outside.write_bytes(inv.read_bytes())
    inv.unlink()
    inv.symlink_to(outside)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 0  # shown as not fixed, as suggest shows it
    assert "not fixed: lib/billing/invoice.ex is a symbolic link" in res.stdout
    assert inv.is_symlink() and b"require Billing.Money" in outside.read_bytes()


@pytest.mark.parametrize("attempt", range(3))
def test_apply_killed_mid_run_leaves_every_file_old_or_new(tmp_path, attempt):
    """`exfix apply` in a subprocess, killed with SIGKILL while it writes many files."""
    root = tmp_path / "big"
    shutil.copytree(MONOREPO / "billing", root)
    for i in range(40):
        (root / f"lib/gen_{i}.ex").write_bytes(
            b"defmodule Gen%d do\n  require Billing.Money\n%s\nend\n" % (i, b"  # pad\n" * 500)
        )
    old = {p: p.read_bytes() for p in root.rglob("*.ex")}
    script = textwrap.dedent(
        """
        import os, sys, time
        sys.path.insert(0, sys.argv[1])
        import engine_rules, refactor.writer as writer
        import refactor.commands.suggest as cmd
        cmd.get_rules = lambda s, k: [engine_rules.DropUnusedRequire]
        real_replace, real_write = os.replace, os.write
        def announce(a, b):
            real_replace(a, b)
            print("wrote", flush=True)
            time.sleep(0.01)
        def slow_write(fd, data):
            time.sleep(0.005)
            return real_write(fd, bytes(data[:4096]))
        # the writer's own os, not the process' (the cache writes files atomically too)
        import types
        writer_os = types.ModuleType("os")
        writer_os.__dict__.update(os.__dict__)
        writer_os.replace, writer_os.write = announce, slow_write
        writer.os = writer_os
        cmd.apply.main(sys.argv[2:])
        """
    )
    tests = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=str(tests.parent))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tests), str(root), "--elixir", "1.18", "-j", "1", "--all"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )
    # wait for a few files to be written, then kill in the middle of the run
    seen = 0
    while seen < 2:
        line = proc.stdout.readline()
        assert line, "apply ended before writing two files"
        seen += line.strip() == b"wrote"
    time.sleep(random.uniform(0, 0.05))  # lands in a write, a rename or between files
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = 0
    for path, data in old.items():
        now = path.read_bytes()
        fixed = data.replace(b"  require Billing.Money\n", b"", 1)
        assert now in (data, fixed), f"{path.name} is neither old nor new"
        written += now == fixed and now != data
    assert 2 <= written < len([p for p, d in old.items() if b"require Billing.Money" in d])


def test_new_helper_is_taken_back_when_the_file_using_it_is_left_alone(billing, monkeypatch):
    use_rules(monkeypatch, R.GuardHelper)
    inv = billing / "lib/billing/invoice.ex"
    inv.chmod(0o444)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 2
    assert "invoice.ex: error: not written: is read-only" in res.stderr
    assert "guard.ex: error: not written: the file that uses it was left alone" in res.stderr
    assert not (billing / "lib/billing/guard.ex").exists()
    inv.chmod(0o644)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 0 and (billing / "lib/billing/guard.ex").exists()
    assert b"Billing.Guard.m()" in inv.read_bytes()


def test_apply_re_verifies_what_is_on_disk_after_writing(billing, monkeypatch):
    """If what lands on disk is not what was verified, apply says so (exit 2)."""
    use_rules(monkeypatch, R.DropUnusedRequire)
    real = cmd.write_changes

    def write_then_corrupt(changes):
        out = real(changes)
        inv = billing / "lib/billing/invoice.ex"
        inv.write_bytes(inv.read_bytes().replace(b"  def total", b"  @m Billing.Money.new(0)\n  def total"))
        return out

    monkeypatch.setattr(cmd, "write_changes", write_then_corrupt)
    res = CliRunner().invoke(cmd.apply, ["billing", "--elixir", "1.18", "-j", "1", "--all"])
    assert res.exit_code == 2
    assert "billing/lib/billing/invoice.ex: error: after writing: new compile edge to lib/billing/money.ex" in res.stderr


def test_writer_refuses_a_path_whose_folder_leads_out_of_the_project(tmp_path):
    """The last check before the rename, for a folder link made after the analysis."""
    root, outside = tmp_path / "proj", tmp_path / "outside"
    (root / "lib").mkdir(parents=True)
    outside.mkdir()
    (outside / "x.ex").write_bytes(b"old\n")
    (root / "lib" / "sub").symlink_to(outside)
    inside = (os.path.realpath(root),)
    res = write_changes([FileChange(root / "lib/sub/x.ex", b"old\n", b"new\n", inside=inside),
                         FileChange(root / "lib/sub/new/y.ex", None, b"new\n", inside=inside)])
    assert res.written == [] and all("lies outside the project" in r.reason for r in res.refused)
    assert (outside / "x.ex").read_bytes() == b"old\n" and not (outside / "new").exists()
