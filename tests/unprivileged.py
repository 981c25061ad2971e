"""Run the ``exfix`` command line in a child process, as root or as a throwaway user.

The suite runs as root on CI, where every permission check passes: the write-safety tests
run each case a second time as an unprivileged user, so a refusal that only root's rights
hid (or a write only root could make) shows. The child imports exfix as the caller (the
interpreter may live where the user cannot read, such as /root) and then drops to the user
with setresgid/setresuid before it runs the command. Trees the user works on are made under
a world-readable temporary folder and given to the user with ``give``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USER = "exfixtest"

CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[1])
    # everything the commands import lazily, imported while the interpreter is readable
    import click, difflib, json, tempfile, hashlib, multiprocessing, concurrent.futures
    import rich.console, rich.table, rich.progress, networkx, pathspec
    import refactor.cli, refactor.commands.suggest, refactor.commands.graph, refactor.rules
    import refactor.report, refactor.analysis, refactor.expand, refactor.writer, refactor.trace
    import refactor.xref_format, refactor.recompile, refactor.breakable, refactor.mixcheck
    import refactor.engine, refactor.cache, refactor.snapshot, refactor.semantics
    from refactor.rules import ALL_RULES
    uid, gid = int(sys.argv[2]), int(sys.argv[3])
    race = os.environ.get("EXFIX_TEST_CREATE_BEFORE_WRITE")
    if race:  # a file appears where apply is about to create one
        real = refactor.commands.suggest.write_changes
        def racing(changes, _real=real):
            if not os.path.lexists(race):
                open(race, "wb").write(b"# someone else's file\\n")
            return _real(changes)
        refactor.commands.suggest.write_changes = racing
    if uid != os.getuid():
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    refactor.cli.main(sys.argv[4:], prog_name="exfix")
    """
)


def is_root() -> bool:
    return os.geteuid() == 0


def user_ids() -> tuple[int, int]:
    """The uid and gid of the throwaway user (created as root if missing), or our own."""
    if not is_root():
        return os.getuid(), os.getgid()
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", USER], check=True)
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


def workdir() -> Path:
    """A fresh folder every user can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="exfix-safety-"))
    base.chmod(0o755)
    return base


def give(path: Path, as_user: bool) -> None:
    """Make ``path`` (recursively, links not followed) the user's, when running as it."""
    if not (as_user and is_root()):
        return
    uid, gid = user_ids()
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def run(args: list[str], cwd: Path, as_user: bool, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """``exfix ARGS`` in ``cwd``: text stdout/stderr and the exit code."""
    uid, gid = user_ids() if as_user else (os.getuid(), os.getgid())
    full_env = dict(os.environ, **(env or {}), EXFIX_NO_CACHE="1")
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), str(uid), str(gid), *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, errors="replace", timeout=timeout,
    )


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
