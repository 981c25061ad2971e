"""The kept copy apply's compile check builds in (refactor/shadow.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from refactor.shadow import build_copy, update


def tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_update_copies_what_differs_removes_what_is_gone_and_keeps_the_build(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree(src, {"mix.exs": "m", "lib/a.ex": "a2", "lib/new.ex": "n", "deps/d/lib/d.ex": "d"})
    tree(dst, {"mix.exs": "m", "lib/a.ex": "a1", "lib/gone.ex": "g", "deps/d/lib/d.ex": "d",
               "_build/dev/lib/x/ebin/x.beam": "beam"})
    os.utime(src / "lib/a.ex", (1, 1))  # older than anything the copy's build wrote
    same_before = os.stat(dst / "mix.exs").st_mtime_ns
    changed = update(src, dst)
    assert sorted(changed) == ["lib/a.ex", "lib/gone.ex", "lib/new.ex"]
    assert (dst / "lib/a.ex").read_text() == "a2" and not (dst / "lib/gone.ex").exists()
    assert os.stat(dst / "lib/a.ex").st_mtime > 1  # a new time: mix compiles it again
    assert os.stat(dst / "mix.exs").st_mtime_ns == same_before  # untouched
    assert (dst / "_build/dev/lib/x/ebin/x.beam").read_text() == "beam"
    assert update(src, dst) == []


def test_the_copy_is_kept_under_build_and_a_second_run_at_once_gets_its_own(tmp_path):
    home = tmp_path / "proj"
    tree(home, {"mix.exs": "m", "lib/a.ex": "a", "_build/dev/x": "b", ".git/HEAD": "h"})
    held = threading.Event()
    with build_copy(home, "dev") as kept:
        assert kept == home / "_build/exfix/shadow/dev/proj"
        assert (kept / "lib/a.ex").read_text() == "a" and not (kept / ".git").exists()
        assert not (kept / "_build/exfix").exists()  # the copy does not copy itself
        with build_copy(home, "dev", workdir=tmp_path) as other:
            assert other != kept and (other / "lib/a.ex").read_text() == "a"
            held.set()
        assert not other.exists()
    assert held.is_set()
    (home / "lib/a.ex").write_text("a2")
    with build_copy(home, "dev") as again:
        assert again == kept and (again / "lib/a.ex").read_text() == "a2"
