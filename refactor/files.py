"""Reading a file exfix did not write: only a regular file, and only up to a limit.

A name in ``lib/`` (or in ``_build/exfix/cache``) may be a FIFO, which blocks the reader
until someone writes to it, or a link to ``/dev/zero``, which never ends. Each is refused
before it is opened (opening some devices acts on them), and checked again once open (it may
have been swapped meanwhile; a FIFO is opened without blocking). A regular file larger than
the limit is refused too: the analysis holds a parse tree and facts of several hundred bytes
per source byte, so one huge generated file could exhaust the memory of the machine.
"""

from __future__ import annotations

import errno
import os
import stat

MB = 1 << 20
# one source file; README's "Limits" says the same (bench/ measures the peak per size)
MAX_SOURCE_BYTES = 8 * MB
# exfix's own cache and snapshot files, which hold a whole project
MAX_CACHE_BYTES = 1024 * MB

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def _refuse_kind(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):  # what reading one says (mix: :eisdir)
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise OSError(errno.EINVAL, f"not a regular file ({kind}); only regular files are read")


def _refuse_size(size: int, limit: int) -> None:
    if size > limit:
        raise OSError(errno.EFBIG, f"larger than {describe(limit)}, the limit for one file; "
                                   "not read")


def describe(size: int) -> str:
    return f"{size // MB} MB" if size % MB == 0 else f"{size} bytes"


def read_regular(path: str | os.PathLike, limit: int = MAX_SOURCE_BYTES) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at ``path`` (links followed) and its stat; OSError when
    it is not a regular file or holds more than ``limit`` bytes."""
    _refuse_kind(os.stat(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        _refuse_kind(st)
        _refuse_size(st.st_size, limit)
        chunks = []
        got = 0
        while True:  # the file may grow while it is read: never past the limit
            chunk = os.read(fd, min(limit + 1 - got, 1 << 24) or 1)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            _refuse_size(got, limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def read_bytes(path: str | os.PathLike, limit: int = MAX_SOURCE_BYTES) -> bytes:
    return read_regular(path, limit)[0]
