"""``--since GIT_REF``: the files changed since a git commit, as ``mix credo diff
--from-git-ref`` takes them: committed since REF, changed in the work tree or the index, and
new files git does not ignore. Findings are reported in those files only; the whole project
is still analysed, since an unchanged file's edges make the changed ones' findings.
"""

from __future__ import annotations

import os
import subprocess


class SinceError(Exception):
    pass


def _git(cwd: str, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", cwd, *args], capture_output=True, timeout=120)
    except FileNotFoundError as exc:
        raise SinceError("--since needs git on PATH") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SinceError(f"git {' '.join(args[:2])}: {message[0] if message else 'failed'}")
    return proc.stdout


def changed_files(folder: str, ref: str) -> tuple[str, set[str]]:
    """The git work tree holding ``folder`` and the real paths of its files that changed
    since ``ref`` (a commit, branch or tag); SinceError when it is no git work tree or
    ``ref`` names no commit."""
    try:
        top = _git(folder, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape").strip()
    except SinceError as exc:
        raise SinceError(f"{folder} is not in a git work tree ({exc})") from exc
    try:
        _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}")
    except SinceError as exc:
        raise SinceError(f"--since {ref}: not a commit in {top}") from exc
    names = _git(top, "diff", "--name-only", "-z", "--no-renames", ref, "--")
    names += _git(top, "ls-files", "-z", "--others", "--exclude-standard")
    top = os.path.realpath(top)
    return top, {os.path.join(top, n.decode("utf-8", "surrogateescape")) for n in names.split(b"\0") if n}


def restrict(found: list, ref: str) -> list:
    """``found`` (discover.Found) narrowed to the files changed since ``ref``: each project's
    ``only`` is those of its files (within what it already was); projects with none are left
    out."""
    tops: dict[str, set[str]] = {}
    out = []
    for f in found:
        root = os.path.realpath(f.root)
        key = next((t for t in tops if root == t or root.startswith(t + os.sep)), None)
        if key is None:
            key, changed = changed_files(str(f.root), ref)
            tops[key] = changed
        mine = sorted(os.path.relpath(p, root).replace(os.sep, "/") for p in tops[key]
                      if p.startswith(root + os.sep))
        if f.only is not None:
            named = set(f.only)
            mine = [p for p in mine if p in named]
        if mine:
            f.only = mine
            out.append(f)
    return out
