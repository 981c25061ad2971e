"""Find the mix projects under the paths a user names.

A path that is itself a project (it holds a ``mix.exs``) is taken whole: an umbrella with
its apps, or one project, even an app inside an umbrella. A file, ``mix.exs`` included, is
reported on alone, within the project that holds it. Any other folder is searched at any
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

from .files import read_bytes

SKIP_DIRS = {"deps", "_build", "node_modules", ".git", ".elixir_ls", "cover"}


@dataclass
class Found:
    root: Path
    umbrella: bool = False
    apps: list[Path] = field(default_factory=list)  # for an umbrella: its apps, sorted
    # source files named on the command line (relative to root): report only on them;
    # None: the whole project
    only: list[str] | None = None


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
    seen: dict[Path, Found] = {}

    def add(root: Path, file: str | None = None) -> None:
        key = root.resolve()
        if key in seen:
            entry = seen[key]
            if file is None:
                entry.only = None
            elif entry.only is not None and file not in entry.only:
                entry.only.append(file)
            return
        if is_umbrella(root):
            apps = umbrella_apps(root)
            entry = Found(root, True, apps)
        else:
            entry = Found(root)
        entry.only = [file] if file is not None else None
        seen[key] = entry
        found.append(entry)

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(DiscoverError(str(raw), "no such file or folder"))
            continue
        if path.is_file():
            # a file (as pre-commit passes them, mix.exs too): its project, reporting on that
            # file alone, so files split over parallel runs are each reported once
            root = project_of(path)
            if root is None:
                errors.append(DiscoverError(str(raw), "not inside a mix project"))
            else:
                add(root, os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/"))
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


def project_of(file: Path) -> Path | None:
    """The nearest folder above ``file`` holding a mix.exs (an umbrella's app, not the root)."""
    for parent in file.resolve().parents:
        if (parent / "mix.exs").is_file():
            return _as_given(file, parent)
    return None


def _as_given(file: Path, root: Path) -> Path:
    """``root`` spelled relative to how ``file`` was given, so reports keep the user's paths."""
    if file.is_absolute():
        return root
    rel = os.path.relpath(root, Path.cwd().resolve())
    return Path(rel)


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
                data = read_bytes(os.path.join(dirpath, ".gitignore"))
                lines = data.decode("utf-8", "replace").splitlines()
                specs.append((dirpath, GitIgnoreSpec.from_lines(lines)))
            except OSError:
                pass
        dirnames[:] = [
            d
            for d in sorted(dirnames)
            if d not in SKIP_DIRS and not ignored(os.path.join(dirpath, d))
        ]
