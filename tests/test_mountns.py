"""mix runs in the build copy as if it were the project (refactor/mountns.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from refactor import mountns
from refactor.mixcheck import run_on_path


def test_the_copy_is_seen_at_the_projects_path_and_the_project_is_untouched(tmp_path):
    home = tmp_path / "app"
    copy = tmp_path / "shadow" / "app"
    (home / "lib").mkdir(parents=True)
    (copy / "lib").mkdir(parents=True)
    (home / "lib" / "a.ex").write_text("project\n")
    (copy / "lib" / "a.ex").write_text("copy\n")
    run = mountns.seen_at(copy, home, run_on_path)
    if not mountns.available():  # no namespaces here: mix runs in the copy where it lies
        assert run is run_on_path
        return
    proc = run(["sh", "-c", 'pwd; cat a.ex; echo built > new.txt'], copy / "lib")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(home / "lib"), "copy"]
    assert (copy / "lib" / "new.txt").read_text() == "built\n"  # writes land in the copy
    assert sorted(p.name for p in (home / "lib").iterdir()) == ["a.ex"]
    assert (home / "lib" / "a.ex").read_text() == "project\n"


def test_a_folder_outside_the_copy_runs_as_it_is(tmp_path):
    calls = []

    def run(argv, cwd, env=None):
        calls.append((argv, cwd))
        return subprocess.CompletedProcess(argv, 0, "", "")

    copy, home = tmp_path / "copy", tmp_path / "home"
    runner = mountns.seen_at(copy, home, run)
    runner(["mix", "compile"], tmp_path / "elsewhere")
    assert calls == [(["mix", "compile"], tmp_path / "elsewhere")]
    if mountns.available():
        runner(["mix", "compile"], copy)
        argv, cwd = calls[-1]
        assert cwd == copy and argv[-2:] == ["mix", "compile"] and argv[0] == "unshare"
        assert [str(copy), str(home), "."] == argv[-5:-2]
