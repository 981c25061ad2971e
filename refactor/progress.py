"""A progress bar on stderr for a run that takes over a second, also on one large project.

``files_bar()`` follows the files of one project as the analysis parses and expands them
(``analysis.DEFAULTS["progress"]``). It draws only on a terminal, only once AFTER seconds
have passed, only from the process that opened it (forked workers inherit the hook), and
from the calling thread: no refresh thread runs while the analysis forks its workers. It
goes away when the work is done (transient), so the output that follows is unchanged.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

AFTER = 1.0  # seconds of silence before the bar shows
REFRESH = 0.1  # seconds between two draws


class FilesBar:
    def __init__(self, console: Console, label: str):
        self.console = console
        self.label = label
        self.pid = os.getpid()
        self.start = time.monotonic()
        self.last = 0.0
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if os.getpid() != self.pid:
            return
        now = time.monotonic()
        if now - self.start < AFTER or now - self.last < REFRESH and done and done != total:
            return
        self.last = now
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.console, transient=True, auto_refresh=False,
                redirect_stdout=False, redirect_stderr=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=total)
        where = f"{self.label}: {phase}" if total is not None else f"{self.label}: {phase} in worker processes"
        self.progress.update(self.task, description=where, completed=done, total=total)
        self.progress.refresh()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def files_bar(label: str):
    """Show the analysis' progress on stderr while the block runs (on a terminal)."""
    from . import analysis

    if not (sys.stderr and sys.stderr.isatty()) or analysis.DEFAULTS.get("progress") is not None:
        yield
        return
    bar = FilesBar(Console(stderr=True), label)
    analysis.DEFAULTS["progress"] = bar
    try:
        yield
    finally:
        analysis.DEFAULTS["progress"] = None
        bar.close()
