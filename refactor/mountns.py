"""Run mix in the build copy as if it were the project: the copy is bind-mounted over the
project's own path in a private mount namespace (``unshare``), which only that process sees.

mix 1.15 and later key a build on the project's absolute path, so a copy compiled where it
lies builds everything again, its dependencies included (pinchflat on 1.18: 347 s, where a
compile with nothing to do takes 10 s). Seen at the project's path, the copy's ``_build``
is the project's and mix compiles only what changed. Nothing is written to the project:
inside the namespace its path shows the copy, outside it nothing changes, and the mount
ends with the process.

Where the kernel or ``unshare`` does not allow it (no user namespaces, another system),
mix runs in the copy where it lies, as before: slower the first time, as correct.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from .mixcheck import Runner, run_on_path

# mount the copy ($1) over the project ($2), go to the folder ($3) in it, run the rest
_SCRIPT = 'mount --bind "$1" "$2" && cd "$2/$3" && shift 3 && exec "$@"'


def _unshare() -> list[str]:
    # as root a mount namespace is enough; otherwise a user namespace maps us to its root
    return ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])


@functools.cache
def available() -> bool:
    """Whether this machine lets an unprivileged process bind-mount in its own namespace."""
    if not (shutil.which("unshare") and shutil.which("mount")) or not hasattr(os, "geteuid"):
        return False
    try:
        probe = subprocess.run([*_unshare(), "--", "sh", "-c", 'mount --bind "$1" "$1"', "sh", "/"],
                               capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def seen_at(copy: Path, home: Path, run: Runner = run_on_path) -> Runner:
    """A runner that runs each command with ``copy`` seen at ``home``'s path (falls back to
    ``run`` in the copy when namespaces are not available)."""
    if not available():
        return run

    def runner(argv: list[str], cwd: Path, env: dict[str, str] | None = None):
        rel = Path(os.path.relpath(cwd, copy))
        if rel.parts[:1] == ("..",):  # not inside the copy: nothing to map
            return run(argv, cwd, env)
        wrapped = [*_unshare(), "--", "sh", "-c", _SCRIPT, "sh", str(copy), str(home), rel.as_posix(), *argv]
        return run(wrapped, copy, env)

    return runner
