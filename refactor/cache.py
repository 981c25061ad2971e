"""A content-addressed cache of per-file facts, under ``<project>/_build/exfix/cache/``.

What is kept (see ``analysis.analyze``): for every source file, keyed by the hash of its
bytes, the summary the index needs (modules, functions, macros; no syntax trees); for every
project file, keyed by its bytes, its path and the Elixir semantics, the facts the expander
found, with the fingerprints of the modules it consulted (valid only while those match).

Entries live in segment files, ``<code>-<time>-<pid>-<random>-<kind>.seg``, each holding
entries of one kind (summaries or facts): a run that computed new entries writes one new
segment per kind (through a temporary file renamed into place, so a reader never sees half
of one), and from time to time one compacted segment holding only the entries it used,
deleting the segments it read. ``<code>`` is a hash of exfix's analysing code, the parser
and the format: a segment of another version is never read. Concurrent runs are safe: each
writes its own segments, and every entry is either a pure function of its key or checked
against fingerprints before use, so any copy of an entry is a right one. A
segment that cannot be read (truncated, garbage, vanished) is ignored and its entries are
computed again; a folder that cannot be written is left alone. A few segment files per run
instead of one file per entry: creating thousands of small files costs more than the
analysis they save.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

from .files import MAX_CACHE_BYTES, read_bytes

FORMAT = 3
MAGIC = b"EXFIXC"
DIGEST = 16
SUFFIX = ".seg"
# compact when a run read this many segments, or when most loaded entries went unused
MAX_SEGMENTS = 8
CACHE_SUBDIR = ("_build", "exfix", "cache")

# the modules whose code decides what is cached: a change to any of them is a new cache
_CODE_MODULES = ("analysis", "cache", "clauses", "env", "expand", "facts", "index", "mixconfig", "parse",
                 "quoting", "semantics", "snapshot", "syntax", "templates")


@lru_cache(maxsize=None)
def code_version() -> str:
    """Hash of the code and parser that produce cached entries, and of the format (the
    rules' queries play no part in what is cached)."""
    h = hashlib.sha256()
    h.update(f"format {FORMAT} python {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
    here = Path(__file__).resolve().parent
    for name in _CODE_MODULES:
        try:
            h.update((here / f"{name}.py").read_bytes())
        except OSError:
            h.update(f"missing {name}".encode())
    # the framework models and the code that applies them
    for p in sorted((here / "frameworks").iterdir()):
        if p.suffix in (".py", ".toml"):
            h.update(p.name.encode() + p.read_bytes())
    # the parser: tree-sitter's version and the grammar's compiled binding
    import tree_sitter
    import tree_sitter_elixir

    h.update(f"tree-sitter {getattr(tree_sitter, '__version__', '?')}".encode())
    binding = Path(tree_sitter_elixir.__file__).resolve().parent
    for p in sorted(binding.iterdir()):
        if p.suffix in (".so", ".pyd", ".dylib"):
            st = p.stat()
            h.update(f"{p.name} {st.st_size} {st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_dir(root: Path) -> Path:
    return root.joinpath(*CACHE_SUBDIR)


# segments already read in this process: (path, size, mtime_ns, inode) -> entries
_SEGMENTS: dict[tuple, dict[str, bytes]] = {}


_GONE: dict[str, bytes] = {}  # a segment deleted (compacted) by another run meanwhile


def _read_segment(path: Path) -> dict[str, bytes] | None:
    """The entries of one segment, ``_GONE`` if it vanished, None when it is unreadable or
    damaged."""
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
        if key in _SEGMENTS:
            return _SEGMENTS[key]
        data = read_bytes(path, MAX_CACHE_BYTES)  # a FIFO or a device put there: refused
    except FileNotFoundError:
        return _GONE
    except OSError:
        return None
    entries = unframe(data, MAGIC, FORMAT)
    if type(entries) is not dict:
        return None
    if len(_SEGMENTS) >= 16:
        _SEGMENTS.clear()
    _SEGMENTS[key] = entries
    return entries


def frame(value, magic: bytes, fmt: int) -> bytes:
    """``value`` marshalled behind a header: magic, format byte, checksum of the payload."""
    payload = marshal.dumps(value)
    return magic + bytes([fmt]) + hashlib.blake2b(payload, digest_size=DIGEST).digest() + payload


def unframe(data: bytes, magic: bytes, fmt: int):
    """What ``frame`` wrapped, or None when the header, the checksum or the payload is off."""
    head = len(magic) + 1 + DIGEST
    if len(data) < head or not data.startswith(magic) or data[len(magic)] != fmt:
        return None
    payload = memoryview(data)[head:]  # not a copy of a segment's megabytes
    if hashlib.blake2b(payload, digest_size=DIGEST).digest() != data[len(magic) + 1 : head]:
        return None
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None


def write_atomically(target: Path, data: bytes) -> None:
    """Write through a ``.tmp-`` file in the same folder renamed over ``target``: a reader sees
    the old file or the new one, never half of one. Raises OSError."""
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


class Store:
    """The cache of one project for one run: listed at start, its segments read when an entry
    is first asked for (a run answered from a snapshot may need none), written once at the
    end.

    Each segment holds entries of one kind, the first letter of their keys ("s" summaries,
    "f" expansion facts), named in the segment's last part: a run that needs only summaries
    (one file edited) reads the small summary segments and leaves the facts unread."""

    def __init__(self, root: Path):
        self.dir = cache_dir(root)
        self.write_enabled = True
        self.entries: dict[str, bytes] = {}
        self.new: dict[str, bytes] = {}
        self.used: set[str] = set()
        self.read_segments: dict[str, list[Path]] = {}  # kind -> segments read; loaded kinds
        self.other_versions: list[Path] = []
        self.bad_segments: list[Path] = []
        self.temporary: list[Path] = []  # .tmp- files: a run writing, or one that was killed
        self.note: str | None = None
        self.segments: dict[str, list[str]] = {}  # kind -> this version's segments, oldest first
        # after flush(): the segments holding every entry of this run (None: some not written)
        self.live: list[str] | None = None
        self._list()

    @property
    def loaded(self) -> bool:
        """Whether a segment was read (a compaction may then drop entries not kept)."""
        return bool(self.read_segments)

    def _list(self) -> None:
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        prefix = code_version() + "-"
        mine: dict[str, list[str]] = {}
        for name in names:
            if name.startswith(".tmp-"):
                self.temporary.append(self.dir / name)
                continue
            if not name.endswith(SUFFIX):
                continue
            if name.startswith(prefix):
                mine.setdefault(_segment_kind(name), []).append(name)
            else:
                self.other_versions.append(self.dir / name)
        # oldest first, so a later segment's copy of an entry is the one kept
        self.segments = {kind: sorted(names, key=_segment_order) for kind, names in mine.items()}

    def _load(self, kind: str) -> None:
        read = self.read_segments[kind] = []
        for name in self.segments.get(kind, ()):
            path = self.dir / name
            entries = _read_segment(path)
            if entries is _GONE:
                continue
            if entries is None:
                self.bad_segments.append(path)
                continue
            read.append(path)
            self.entries.update(entries)

    # ------------------------------------------------------------------ entries

    def _ensure(self, key: str) -> None:
        """The segments of the key's kind read, once."""
        if key[:1] not in self.read_segments:
            self._load(key[:1])

    def get(self, key: str):
        """The value stored under key, or None (absent or undecodable)."""
        self._ensure(key)
        raw = self.new.get(key)
        if raw is None:
            raw = self.entries.get(key)
        if raw is None:
            return None
        try:
            value = marshal.loads(raw)
        except (EOFError, ValueError, TypeError):
            self.entries.pop(key, None)
            return None
        self.used.add(key)
        return value

    def has(self, key: str) -> bool:
        self._ensure(key)
        return key in self.new or key in self.entries

    def keep(self, keys) -> None:
        """Count these entries as used by this run (a compaction keeps them)."""
        self.used.update(keys)

    def put(self, key: str, value) -> None:
        self.new[key] = marshal.dumps(value)
        self.used.add(key)

    def put_raw(self, key: str, raw: bytes) -> None:
        self.new[key] = raw
        self.used.add(key)

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Write what this run computed; compact the kinds whose segments pile up. Never
        raises."""
        if not self.write_enabled:
            return
        live: list[str] = []
        stale = list(self.other_versions) + list(self.bad_segments)
        damaged = {_segment_kind(p.name) for p in self.bad_segments}
        payloads: list[tuple[str, dict[str, bytes]]] = []
        for kind in sorted(set(self.segments) | {key[:1] for key in self.new}):
            new = {k: v for k, v in self.new.items() if k[:1] == kind}
            read = self.read_segments.get(kind)
            if read is None:  # never read: its segments stay as they are
                live += self.segments.get(kind, ())
                payloads.append((kind, new))
                continue
            held = sum(1 for k in self.entries if k[:1] == kind)
            used = sum(1 for k in self.used if k[:1] == kind)
            if len(read) >= MAX_SEGMENTS or (len(read) > 1 and held > 2 * used + 256) or kind in damaged:
                kept = {}
                for key in self.used:
                    if key[:1] == kind:
                        raw = self.new.get(key)
                        if raw is None:
                            raw = self.entries.get(key)
                        if raw is not None:
                            kept[key] = raw
                payloads.append((kind, kept))
                stale += read
            else:
                live += [p.name for p in read]
                payloads.append((kind, new))
        if not any(payload for _, payload in payloads) and not stale:
            self.live = live
            return
        try:
            for kind, payload in payloads:
                if payload:
                    live.append(self._write(kind, payload))
        except OSError as exc:
            self.note = f"{self.dir}: cache not written ({exc.strerror or exc})"
            self.live = None
            return
        self.live = live
        now = time.time()
        for path in self.temporary:  # left by a run killed while writing (an hour is plenty)
            try:
                if now - path.stat().st_mtime > 3600:
                    stale.append(path)
            except OSError:
                pass
        for path in stale:
            try:
                path.unlink()
            except OSError:
                pass

    def _write(self, kind: str, entries: dict[str, bytes]) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        # the name is unique to this run: the rename cannot replace another segment
        name = f"{code_version()}-{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}-{kind}{SUFFIX}"
        write_atomically(self.dir / name, frame(entries, MAGIC, FORMAT))
        return name


def _segment_kind(name: str) -> str:
    """The kind of entries a segment holds: the last part of its name."""
    return name[: -len(SUFFIX)].rsplit("-", 1)[-1]


def _segment_order(name: str):
    parts = name.split("-")
    return (parts[1] if len(parts) > 1 else "", name)
