"""The last analysis of a project for one Elixir version, kept beside the cache's segments.

A run that finds a snapshot does not read, hash or expand the files whose size, modification
time and inode are those the snapshot recorded: it takes their edges, notes and errors from
the snapshot, and their facts and summaries from the cache only when something asks for them.
A changed file is parsed and expanded again, with the files whose expansion consulted one of
its modules when what they consulted changed (see ``analysis._Run.from_snapshot``).

A file modified less than ``RACY_NS`` before the snapshot's run began is hashed again even
when its stat matches: its timestamp cannot tell an edit made during that run apart. The
snapshot is written atomically (a temporary file renamed over the old one) with a checksum;
one that cannot be read, or another exfix's, is ignored. Any copy is a right one: it
describes the files as they were read, and stat tells the next run what changed since.
"""

from __future__ import annotations

import marshal
import os
from dataclasses import dataclass, fields
from pathlib import Path

from .cache import cache_dir, code_version, frame, unframe, write_atomically
from .files import MAX_CACHE_BYTES, read_bytes

MAGIC = b"EXFIXS"
FORMAT = 1
SUFFIX = ".snap"
RACY_NS = 2_000_000_000  # 2 s: the coarsest timestamps in common use (FAT)


# what a run needs only when a file changed: kept marshalled, decoded when first asked for
SECTIONS = ("where", "module_file", "consulted", "modules")


@dataclass
class Snapshot:
    version: str  # the Elixir semantics
    begun: int  # time.time_ns() before the run read any file
    files: list[str]  # project files, in the analysis' order
    deps: list[str]  # dependency files (absolute paths), in order
    stats: dict[str, tuple]  # path -> (size, mtime_ns, inode, content hash), every file read
    too_deep: list[str]  # project files whose indexing stopped too deep
    dep_notes: list[str]
    # per project file
    edges: dict[str, list]  # [(sink file, label)], first seen first
    notes: dict[str, list[str]]  # only files with notes
    errors: dict[str, list[tuple[int, str]]]  # only files with errors
    # the cache segments holding every entry it refers to: (name, size, mtime_ns, inode)
    segments: list[tuple]
    # SECTIONS, marshalled:
    #   where: module -> indexes in deps + files of the summaries naming it
    #   module_file: module -> the project file defining it
    #   consulted: project file -> the modules its expansion consulted
    #   modules: project file -> the modules its facts define
    sections: dict[str, bytes]

    def __post_init__(self) -> None:
        self._decoded: dict[str, object] = {}

    def section(self, name: str):
        got = self._decoded.get(name)
        if got is None:
            got = self._decoded[name] = marshal.loads(self.sections[name])
        return got


def pack(values: dict) -> dict[str, bytes]:
    return {name: marshal.dumps(value) for name, value in values.items()}


def snapshot_path(root: Path, version: str) -> Path:
    return cache_dir(root) / f"{code_version()}-{version}{SUFFIX}"


def file_stat(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def segments_stat(folder: Path, names: list[str]) -> list[tuple] | None:
    """(name, size, mtime_ns, inode) of each segment; None when one cannot be seen."""
    out = []
    for name in names:
        try:
            out.append((name, *file_stat(os.stat(folder / name))))
        except OSError:
            return None
    return out


def load_snapshot(root: Path, version: str) -> Snapshot | None:
    """The project's snapshot for ``version``, or None (absent, damaged, another format)."""
    try:
        data = read_bytes(snapshot_path(root, version), MAX_CACHE_BYTES)
    except OSError:
        return None
    values = unframe(data, MAGIC, FORMAT)
    if type(values) is not tuple or len(values) != len(fields(Snapshot)):
        return None
    snap = Snapshot(*values)
    if snap.version != version or type(snap.sections) is not dict or set(snap.sections) != set(SECTIONS):
        return None
    return snap


def drop_snapshot(root: Path, version: str) -> None:
    try:
        snapshot_path(root, version).unlink()
    except OSError:
        pass


def save_snapshot(root: Path, snap: Snapshot) -> None:
    """Write ``snap`` atomically, and remove snapshots of other exfix versions. Raises OSError."""
    target = snapshot_path(root, snap.version)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, frame(tuple(getattr(snap, f.name) for f in fields(Snapshot)), MAGIC, FORMAT))
    prefix = code_version() + "-"
    for other in target.parent.iterdir():
        if other.suffix == SUFFIX and not other.name.startswith((prefix, ".tmp-")):
            try:
                other.unlink()
            except OSError:
                pass

