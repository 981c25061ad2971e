"""Safe in-place writes: each file is replaced whole, atomically, or not at all.

A file is written only when it still holds exactly the bytes exfix analysed. The new content
goes to a temporary file in the same folder, is flushed to disk, gets the old file's mode,
and then replaces the old file with one ``os.replace`` (a rename, atomic on POSIX): a reader,
or a crash or ``kill -9`` at any moment, sees either the old file or the new one, never a
half-written one. What cannot be written safely is left alone and reported with the reason:

- the file changed (or vanished, or appeared) on disk since it was analysed;
- the file is read-only (even where rename would succeed, as it does for root);
- the path is a symbolic link (a link is never replaced by a plain file);
- the path is not a regular file, or has other hard links (a rename would split them);
- the file's folder lies outside the folders the change must stay in (a folder link, or an
  ``elixirc_paths`` entry, leading out of the project): a cloned repository must not be able
  to aim a write at any file the user can write.

A change whose new files (a helper module) cannot be written is not written either: see
``commands/suggest.py``, which writes a fix that spans files whole or not at all.

Temporary files carry the writer's process id; one whose process is gone (``kill -9``) is
removed by ``sweep`` on a later run.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TMP_SUFFIX = ".exfix-tmp"
# .NAME.PID.RANDOM.exfix-tmp (PID: the writer's process; absent in older versions' names)
TMP_NAME = re.compile(r"\..+?(?:\.(\d+))?\.[A-Za-z0-9_]+" + re.escape(TMP_SUFFIX) + r"\Z", re.S)
# a temporary file this old is stale even if a process with its PID runs (PIDs are reused)
STALE_AFTER = 3600.0


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FileChange:
    """Replace ``path`` holding ``expected`` (``None``: must not exist yet) with ``new``."""

    path: Path
    expected: bytes | None
    new: bytes
    display: str = ""  # how reports name the file; defaults to the path
    # real paths of folders the file must lie in (after following links); () = anywhere
    inside: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.display or str(self.path)


@dataclass
class Refused:
    path: str
    reason: str


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class WriteRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def write_changes(changes: list[FileChange]) -> WriteResult:
    """Write each change on its own: one refused file does not stop the others."""
    result = WriteResult()
    for change in changes:
        if change.expected is not None and change.expected == change.new:
            result.unchanged.append(change.name)
            continue
        try:
            write_one(change)
        except WriteRefused as exc:
            result.refused.append(Refused(change.name, exc.reason))
        else:
            result.written.append(change.name)
    return result


def is_inside(folder: str | os.PathLike, roots: tuple[str, ...]) -> bool:
    """Whether ``folder``, links followed (its nearest existing ancestor when it does not
    exist yet), lies in one of the real paths ``roots``."""
    here = os.path.abspath(folder)
    while not os.path.isdir(here):
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    real = os.path.realpath(here)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


OUTSIDE = ("lies outside the project (a folder link or elixirc_paths leads there); "
           "left alone: name it on the command line to write it")


def check_writable(change: FileChange) -> os.stat_result | None:
    """Raise WriteRefused unless ``change`` may be written now; return the file's stat."""
    path = change.path
    if change.inside and not is_inside(path.parent, change.inside):
        raise WriteRefused(OUTSIDE)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if change.expected is not None:
            raise WriteRefused("deleted on disk since it was analysed; left alone") from None
        return None
    except OSError as exc:
        raise WriteRefused(f"cannot stat: {exc.strerror}") from None
    if change.expected is None:
        raise WriteRefused("created on disk since it was analysed; left alone")
    if stat.S_ISLNK(st.st_mode):
        raise WriteRefused("is a symbolic link; exfix never replaces a link, edit its target")
    if not stat.S_ISREG(st.st_mode):
        raise WriteRefused("is not a regular file; left alone")
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise WriteRefused("is read-only; left alone")
    if st.st_nlink > 1:
        raise WriteRefused(f"has {st.st_nlink} hard links; replacing it would split them")
    try:
        with open(path, "rb") as fh:
            current = fh.read()
    except OSError as exc:
        raise WriteRefused(f"cannot read: {exc.strerror}") from None
    if digest(current) != digest(change.expected):
        raise WriteRefused("changed on disk since it was analysed; left alone")
    return st


def write_one(change: FileChange) -> None:
    """Atomically replace (or create) one file, or raise WriteRefused and leave it as it was."""
    st = check_writable(change)
    path = change.path
    folder = path.parent
    if st is None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteRefused(f"cannot create folder {folder}: {exc.strerror}") from None
        if change.inside and not is_inside(folder, change.inside):  # a link made meanwhile
            raise WriteRefused(OUTSIDE)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX)
    except OSError as exc:
        raise WriteRefused(f"cannot write in {folder}: {exc.strerror}") from None
    try:
        try:
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                if hasattr(os, "fchown"):
                    try:
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except OSError:
                        pass  # only root may give a file away; the mode is what matters
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
            view = memoryview(change.new)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if st is None:
            # link() fails if the name exists: never clobber a file created meanwhile
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise WriteRefused("created on disk since it was analysed; left alone") from None
            os.unlink(tmp)
        else:
            # last look just before the rename: the window left is the rename itself
            check_writable(change)
            os.replace(tmp, path)
        tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        raise WriteRefused(f"write failed: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def sweep(folders, inside: tuple[str, ...] = ()) -> list[str]:
    """Remove the temporary files a writer killed mid-write (``kill -9``) left in ``folders``:
    those whose process is gone, or older than an hour. Another run's live ones stay."""
    removed = []
    now = time.time()
    for folder in sorted(set(map(str, folders))):
        if inside and not is_inside(folder, inside):
            continue
        try:
            names = [n for n in os.listdir(folder) if n.endswith(TMP_SUFFIX)]
        except OSError:
            continue
        for name in names:
            m = TMP_NAME.match(name)
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if m is None or not stat.S_ISREG(st.st_mode):
                continue
            pid = int(m.group(1)) if m.group(1) else None
            if now - st.st_mtime < STALE_AFTER and (pid is None or _alive(pid)):
                continue
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def take_back(change: FileChange) -> bool:
    """Remove a file ``write_one`` created for ``change``, if it still holds what was written."""
    try:
        st = os.lstat(change.path)
        if not stat.S_ISREG(st.st_mode):
            return False
        with open(change.path, "rb") as fh:
            if fh.read() != change.new:
                return False
        os.unlink(change.path)
    except OSError:
        return False
    _fsync_dir(change.path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on folders
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)
