"""The copy of a project that apply's compile check builds in, kept between runs.

mix 1.15 and later key a build on the project's absolute path: a copy in a fresh temporary
folder compiles everything again, its dependencies included (pinchflat, 57 dependencies,
Elixir 1.18: 347 s, where a compile with nothing to do takes 10 s). So the copy lives at one
place, ``_build/exfix/shadow/<env>/<name>`` (mix never reads ``_build/exfix``; exfix keeps
its cache beside it), and is brought up to date before each check: a file whose bytes
differ from the project's is copied with a new modification time (so mix compiles it
again), one the project no longer has is removed, the copy's own ``_build`` is kept. Where
the machine allows it, mix sees the copy at the project's own path (``mountns.py``) and the
first check compiles only what changed too; elsewhere the first check pays for one full
build. Two applies at once: the second builds in a temporary copy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GENERATED = (".git", "node_modules", ".elixir_ls", "xref_graph.dot", "xref_graph.json")


def skip(dirpath: str, names: list[str]) -> list[str]:
    """What a copy leaves out: version control, JavaScript packages, editor builds, exfix's
    own cache and copies."""
    skipped = [n for n in names if n in GENERATED]
    if os.path.basename(dirpath) == "_build" and "exfix" in names:
        skipped.append("exfix")
    return skipped


@contextmanager
def build_copy(home: Path, env: str, workdir: Path | None = None) -> Iterator[Path]:
    """A copy of the project at ``home`` (with ``_build`` and ``deps``) to compile in: the
    kept one, brought up to date, or a temporary one when another run holds it."""
    place = home / "_build" / "exfix" / "shadow" / env
    place.mkdir(parents=True, exist_ok=True)
    with open(place / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            with _temporary(home, workdir) as copy:
                yield copy
            return
        copy = place / home.name
        if copy.is_dir():
            update(home, copy)
        else:
            shutil.copytree(home, copy, symlinks=True, ignore=skip)
        yield copy


@contextmanager
def _temporary(home: Path, workdir: Path | None) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="exfix-build-", dir=workdir))
    try:
        copy = base / home.name
        shutil.copytree(home, copy, symlinks=True, ignore=skip)
        yield copy
    finally:
        shutil.rmtree(base, ignore_errors=True)


def update(src: Path, dst: Path) -> list[str]:
    """Make ``dst`` hold ``src``'s files (its top ``_build`` aside); returns what changed."""
    changed: list[str] = []
    seen: set[str] = set()
    stamped = False
    for dirpath, dirs, files in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        dirs[:] = [d for d in dirs if d not in skip(dirpath, dirs) and not (rel_dir == "." and d == "_build")]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            seen.add(rel)
            if name in GENERATED or _same(src / rel, dst / rel):
                continue
            if not stamped:  # mix compares whole seconds: copies land after its last build
                time.sleep(max(0.0, int(time.time()) + 1 - time.time()) + 0.01)
                stamped = True
            _copy(src / rel, dst / rel)
            changed.append(rel)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
    for dirpath, dirs, files in os.walk(dst):
        rel_dir = os.path.relpath(dirpath, dst)
        dirs[:] = [d for d in dirs if not (rel_dir == "." and d == "_build") and d not in GENERATED]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel not in seen:
                os.unlink(dst / rel)
                changed.append(rel)
    return changed


def _same(a: Path, b: Path) -> bool:
    try:
        if a.is_symlink() or b.is_symlink():
            return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        sa, sb = a.stat(), b.stat()
        return sa.st_size == sb.st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _copy(a: Path, b: Path) -> None:
    b.parent.mkdir(parents=True, exist_ok=True)
    if b.is_symlink() or b.is_file():
        b.unlink()
    elif b.is_dir():
        shutil.rmtree(b)
    if a.is_symlink():
        os.symlink(os.readlink(a), b)
    else:
        shutil.copyfile(a, b)
        shutil.copymode(a, b)
