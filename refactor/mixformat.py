"""The project's own formatter (``mix format`` with its ``.formatter.exs``) on patched files.

A file is formatted after patching only when it was formatted before: ``mix format`` run on
the file as it is leaves it byte for byte (what ``mix format --check-formatted FILE`` checks,
for many files in one run of mix). A file that was not clean keeps the rules' own layout, so
a patch never reformats code it does not touch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Mix = Callable[..., object]  # mix(*argv) -> CompletedProcess, run in the copy


class Formatter:
    def __init__(self, mix: Mix, copy: Path):
        self.mix = mix
        self.copy = copy
        self.usable = (copy / ".formatter.exs").is_file()

    def clean(self, files: list[str]) -> set[str]:
        """The Elixir files of ``files`` (relative to the copy) that ``mix format`` leaves as
        they are. Their text is put back whatever mix did."""
        files = [f for f in files if f.endswith((".ex", ".exs"))]
        if not self.usable or not files:
            return set()
        before = {f: (self.copy / f).read_bytes() for f in files}
        proc = self.mix("format", *files)
        clean = set()
        for f, data in before.items():
            if proc.returncode == 0 and (self.copy / f).read_bytes() == data:
                clean.add(f)
            (self.copy / f).write_bytes(data)
        return clean

    def format(self, files: list[str]) -> dict[str, bytes]:
        """Format ``files`` in the copy; their text afterwards ({} when mix format fails)."""
        if not self.usable or not files:
            return {}
        proc = self.mix("format", *files)
        if proc.returncode != 0:
            return {}
        return {f: (self.copy / f).read_bytes() for f in files}
