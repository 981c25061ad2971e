"""Where output goes: colour or not, and when standard output cannot be written.

When standard output cannot be written: one line on stderr and exit 2, no traceback.

``exfix graph > /dev/full`` fails on the write (or on the last flush, at exit), and
``exfix graph >&-`` has no stdout at all: click would print nothing and exit 0, so a script
would take an empty graph for the real one. A reader that stops early (``| head``) is not
an error and stays quiet, as click makes it.
"""

from __future__ import annotations

import errno
import os
import sys


def stdout_name() -> str:
    """What stdout is (``/dev/full``, a file's path), for the message; else its usual name."""
    try:
        name = os.readlink(f"/proc/self/fd/{sys.__stdout__.fileno() if sys.__stdout__ else 1}")
    except (OSError, ValueError, AttributeError):
        return "standard output"
    return name if name.startswith("/") else "standard output"


def silence_stdout() -> None:
    """Send what is left to /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    sys.stdout = open(os.devnull, "w")


def is_broken_pipe(exc: OSError) -> bool:
    return exc.errno == errno.EPIPE


def failure_line(exc: OSError) -> str:
    """The one line that says stdout could not be written."""
    return f"{stdout_name()}: error: cannot write the output: {exc.strerror or exc}"


def use_colour(choice: str, stream) -> bool:
    """``--color always|never|auto``; auto: NO_COLOR (set, not empty) turns colour off,
    FORCE_COLOR (set, not empty, not 0) on, else a terminal gets colour
    (https://no-color.org, https://force-color.org)."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force and force != "0":
        return True
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def closed_line() -> str:
    return "standard output: error: it is closed; nothing can be printed (exfix ... >&- ?)"
