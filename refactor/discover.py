"""Find the mix projects under the paths a user names.

A path that is itself a project (it holds a ``mix.exs``) is taken whole: an umbrella with
its apps, or one project, even an app inside an umbrella. Any other folder is searched at any
depth for folders holding a ``mix.exs``, skipping ``deps/``, ``_build/``, ``node_modules/``,
``.git/`` (and ``.elixir_ls/``, ``cover/``) and whatever a ``.gitignore`` on the way ignores,
read with pathspec as git reads it. Projects do not nest: the inside of a project found is
not searched, so the apps of an umbrella belong to it and are not listed again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

SKIP_DIRS = {"deps", "_build", "node_modules", ".git", ".elixir_ls", "cover"}


@dataclass
class Found:
    root: Path
    umbrella: bool = False
    apps: list[Path] = field(default_factory=list)  # for an umbrella: its apps, sorted


@dataclass
class DiscoverError:
    path: str
    message: str


def is_umbrella(root: Path) -> bool:
    apps = root / "apps"
    if not apps.is_dir():
        return False
    return any((child / "mix.exs").is_file() for child in _subdirs(apps))


def umbrella_apps(root: Path) -> list[Path]:
    apps = root / "apps"
    return [child for child in _subdirs(apps) if (child / "mix.exs").is_file()]


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIP_DIRS)
    except OSError:
        return []


def find_projects(paths: list[str | os.PathLike]) -> tuple[list[Found], list[DiscoverError]]:
    """The projects under ``paths``, each once, in path order; plus paths that hold none."""
    found: list[Found] = []
    errors: list[DiscoverError] = []
    seen: set[Path] = set()

    def add(root: Path) -> None:
        key = root.resolve()
        if key in seen:
            return
        seen.add(key)
        if is_umbrella(root):
            apps = umbrella_apps(root)
            seen.update(a.resolve() for a in apps)
            found.append(Found(root, True, apps))
        else:
            found.append(Found(root))

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(DiscoverError(str(raw), "no such file or folder"))
            continue
        if path.is_file():
            if path.name == "mix.exs":
                add(path.parent)
            else:
                errors.append(DiscoverError(str(raw), "not a folder or a mix.exs"))
            continue
        if (path / "mix.exs").is_file():
            add(path)  # a project (or umbrella) is taken whole; projects do not nest
            continue
        roots = list(_walk(path))
        if not roots:
            errors.append(DiscoverError(str(raw), "no mix.exs found here or below"))
        for root in roots:
            add(root)
    return found, errors


def _walk(top: Path):
    """Project folders under ``top``, pruning skipped and ignored folders and project insides."""
    specs: list[tuple[str, GitIgnoreSpec]] = []  # (folder, spec of its .gitignore)

    def ignored(full: str) -> bool:
        for base, spec in specs:
            sub = os.path.relpath(full, base).replace(os.sep, "/")
            if spec.match_file(sub + "/"):
                return True
        return False

    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        if "mix.exs" in filenames and os.path.isfile(os.path.join(dirpath, "mix.exs")):
            dirnames[:] = []
            yield Path(dirpath)
            continue
        specs[:] = [(b, s) for b, s in specs if dirpath == b or dirpath.startswith(b + os.sep)]
        if ".gitignore" in filenames:
            try:
                lines = Path(dirpath, ".gitignore").read_text("utf-8", "replace").splitlines()
                specs.append((dirpath, GitIgnoreSpec.from_lines(lines)))
            except OSError:
                pass
        dirnames[:] = [
            d
            for d in sorted(dirnames)
            if d not in SKIP_DIRS and not ignored(os.path.join(dirpath, d))
        ]
