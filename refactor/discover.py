"""Find the mix projects under the paths a user names.

A path that is itself a project (it holds a ``mix.exs``) is taken whole: an umbrella with
the apps under the ``apps_path`` its mix.exs declares, or one project, even an app inside an
umbrella. A file, ``mix.exs`` included, is reported on alone, within the project that holds
it. Any other folder is searched at any depth for folders holding a ``mix.exs``, skipping
``deps/``, ``_build/``, ``node_modules/``, ``.git/`` (and ``.elixir_ls/``, ``cover/``) and
whatever git ignores there: the ``.gitignore`` files on the way and above, and the
repository's ``.git/info/exclude``, read with pathspec as git reads them. Projects do not
nest: the inside of a project found is not searched, so the apps of an umbrella belong to it
and are not listed again. ``enclosing_project`` looks upward instead, as git and mix users
expect from a subfolder (``cd lib && exfix graph``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from .files import read_bytes
from .project import declared_apps_path

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
    return bool(umbrella_apps(root))


def umbrella_apps(root: Path) -> list[Path]:
    """The apps under the ``apps_path`` mix.exs declares (none: not an umbrella)."""
    apps_path = declared_apps_path(root)
    if apps_path is None:
        return []
    return [child for child in _subdirs(root / apps_path) if (child / "mix.exs").is_file()]


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
        apps = umbrella_apps(root)
        if apps:
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


def enclosing_project(folder: str | os.PathLike) -> Path | None:
    """The nearest folder at or above ``folder`` holding a mix.exs, spelled relative to the
    working folder when ``folder`` is relative (``cd lib && exfix graph`` finds ``..``)."""
    start = Path(folder)
    for parent in (start.resolve(), *start.resolve().parents):
        if (parent / "mix.exs").is_file():
            return _as_given(start, parent)
    return None


def _git_specs(top: Path) -> list[tuple[str, GitIgnoreSpec]]:
    """What git ignores in ``top`` from outside it: ``.git/info/exclude`` of the enclosing
    repository and the ``.gitignore`` files from its root down to ``top``'s parent; ``top``
    itself and its insides are read by the walk. Each as (the folder it applies to, spec)."""
    here = os.path.abspath(top)
    chain = [here]
    while not os.path.exists(os.path.join(chain[-1], ".git")):
        parent = os.path.dirname(chain[-1])
        if parent == chain[-1]:
            return []  # not inside a git repository: only the walk's own .gitignore files
        chain.append(parent)
    repo = chain[-1]
    specs = []
    exclude = _spec(os.path.join(repo, ".git", "info", "exclude"))
    if exclude is not None:
        specs.append((repo, exclude))
    for folder in reversed(chain[1:]):
        spec = _spec(os.path.join(folder, ".gitignore"))
        if spec is not None:
            specs.append((folder, spec))
    return specs


def _spec(path: str) -> GitIgnoreSpec | None:
    try:
        data = read_bytes(path)
    except OSError:
        return None
    return GitIgnoreSpec.from_lines(data.decode("utf-8", "replace").splitlines())


def _walk(top: Path):
    """Project folders under ``top``, pruning skipped and ignored folders and project insides."""
    # (folder, spec of its .gitignore or of .git/info/exclude); specs from above ``top`` stay
    outside = _git_specs(top)
    specs: list[tuple[str, GitIgnoreSpec]] = list(outside)

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
        specs[:] = outside + [(b, s) for b, s in specs[len(outside):]
                              if dirpath == b or dirpath.startswith(b + os.sep)]
        if ".gitignore" in filenames:
            spec = _spec(os.path.join(dirpath, ".gitignore"))
            if spec is not None:
                specs.append((dirpath, spec))
        if ".git" in dirnames and dirpath != str(top):  # a repository below: its excludes
            # (the one at ``top`` or above is in ``outside``)
            spec = _spec(os.path.join(dirpath, ".git", "info", "exclude"))
            if spec is not None:
                specs.append((dirpath, spec))
        dirnames[:] = [
            d
            for d in sorted(dirnames)
            if d not in SKIP_DIRS and not ignored(os.path.join(dirpath, d))
        ]
