"""A mix project as exfix sees it: its root, the source files mix compiles, its dependencies.

``mix.exs`` is read with tree-sitter, never evaluated. ``elixirc_paths`` is taken from the
project keyword list when it is a plain list of strings, or from a local function
``elixirc_paths(env)`` whose clause for the environment analysed (``--env``, else ``MIX_ENV``,
else ``dev``; or the catch-all) returns such a list;
anything else falls back to mix's default ``["lib"]`` with a note saying so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from pathlib import Path

from .files import read_bytes
from .mixconfig import BuildEnv, mix_env, read_config, read_lock
from .parse import first_error, parse
from .syntax import (
    atom_value,
    call_arguments,
    call_name,
    do_body,
    keyword_pairs,
    named_children,
    text,
    unwrap_block,
)

DEFAULT_PATHS = ["lib"]


class ProjectError(Exception):
    """A project exfix cannot read: names the file and, when known, the line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        return where + self.message


@dataclass
class Dep:
    name: str
    optional: bool = False
    path: str | None = None
    in_umbrella: bool = False
    only: list[str] = field(default_factory=list)


@dataclass
class Project:
    root: Path
    name: str
    elixirc_paths: list[str]
    source_files: list[str]  # relative to root, sorted as mix sorts them
    deps: dict[str, Dep] = field(default_factory=dict)
    apps_path: str | None = None  # set for an umbrella root
    notes: list[str] = field(default_factory=list)
    build: BuildEnv = field(default_factory=BuildEnv)  # MIX_ENV and the config it reads

    @property
    def env(self) -> str:
        return self.build.env

    @property
    def is_umbrella(self) -> bool:
        return self.apps_path is not None

    @property
    def deps_dir(self) -> Path:
        return self.root / "deps"

    def read(self, rel: str) -> bytes:
        """A project file's bytes: a regular file within the size limit (files.py)."""
        return read_bytes(self.root / rel)

    def glob(self, pattern: str) -> list[str]:
        """The regular files under the root a glob (``*``, ``?``, ``**``) matches, relative
        and sorted (templates). Links to folders are not followed, so a link loop cannot
        make it walk forever; a pattern that leaves the root matches nothing."""
        parts = pattern.split("/")
        if pattern.startswith("/") or ".." in parts:
            return []
        fixed = []
        for part in parts[:-1]:
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        regex = _glob_regex(pattern)
        out = []
        for dirpath, _dirs, names in os.walk(self.root.joinpath(*fixed), followlinks=False):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in names:
                path = name if rel == "." else f"{rel}/{name}"
                if regex.fullmatch(path) and os.path.isfile(os.path.join(dirpath, name)):
                    out.append(path)
        return sorted(out)

    def children(self) -> list["Project"]:
        """The apps of an umbrella, each as its own project."""
        if not self.is_umbrella:
            return []
        base = self.root / self.apps_path
        out = []
        for entry in sorted(base.iterdir()) if base.is_dir() else []:
            if (entry / "mix.exs").is_file():
                out.append(load_project(entry, self.env))
        return out

    def dependency_source_dirs(self) -> list[Path]:
        """Folders holding the source of dependencies: deps/NAME, path deps, umbrella siblings."""
        dirs: list[Path] = []
        seen: set[Path] = set()

        def add(p: Path) -> None:
            p = p.resolve()
            if p not in seen and p.is_dir() and p != self.root.resolve():
                seen.add(p)
                dirs.append(p)

        for dep in self.deps.values():
            if dep.path:
                add(self.root / dep.path)
            elif dep.in_umbrella:
                add(self.root.parent / dep.name)
        if self.deps_dir.is_dir():
            for entry in sorted(self.deps_dir.iterdir()):
                add(entry)
        return dirs


def _glob_regex(pattern: str) -> "re.Pattern":
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def load_project(path: str | os.PathLike, env: str | None = None) -> Project:
    """The project at ``path``, for the environment ``env`` (default: ``mixconfig.mix_env``)."""
    root = Path(path)
    env = mix_env(env)
    mix_exs = root / "mix.exs"
    if not mix_exs.is_file():
        raise ProjectError("no mix.exs here: not a mix project", str(root))
    try:
        source = read_bytes(mix_exs)
    except OSError as exc:
        raise ProjectError(f"cannot read: {exc.strerror}", str(mix_exs)) from exc
    tree = parse(source)
    err = first_error(tree)
    if err is not None:
        raise ProjectError("syntax error", str(mix_exs), err.start_point[0] + 1)
    project_kw, functions = _project_keywords(tree.root_node)
    notes: list[str] = []
    name = root.resolve().name
    paths = list(DEFAULT_PATHS)
    apps_path = None
    deps: dict[str, Dep] = {}
    if project_kw is None:
        notes.append("mix.exs: project/0 is not a plain keyword list; using defaults")
    else:
        for key, value in project_kw:
            if key == "app":
                name = atom_value(value) or name
            elif key == "apps_path" and value.type == "string":
                apps_path = _string(value)
            elif key == "elixirc_paths":
                found = _string_list(value, functions, env)
                if found is None:
                    notes.append(
                        f"mix.exs:{value.start_point[0] + 1}: elixirc_paths is computed in a way "
                        "exfix cannot read; using [\"lib\"]"
                    )
                else:
                    paths = found
            elif key == "deps":
                deps = _deps(value, functions)
    if apps_path is not None:
        files: list[str] = []
    else:
        files = source_files(root, paths, notes)
    locked, lock_read = read_lock(root)
    build = dataclass_replace(read_config(_config_root(root), env), deps_fetched=(root / "deps").is_dir(),
                              locked=locked, lock_read=lock_read)
    notes.extend(build.notes)
    return Project(root, name, paths, files, deps, apps_path, notes, build)


def declared_apps_path(root: Path) -> str | None:
    """The ``apps_path`` an umbrella's mix.exs declares (None: not an umbrella). A mix.exs
    that cannot be read or parsed gives ``apps`` when that folder holds apps, so the apps of
    an umbrella whose root is broken still run (the root is reported on its own)."""
    try:
        tree = parse(read_bytes(root / "mix.exs"))
    except OSError:
        tree = None
    if tree is None or first_error(tree) is not None:
        apps = root / "apps"
        return "apps" if apps.is_dir() and any((c / "mix.exs").is_file() for c in apps.iterdir()
                                                if c.is_dir()) else None
    project_kw, _functions = _project_keywords(tree.root_node)
    for key, value in project_kw or ():
        if key == "apps_path" and value.type == "string":
            return _string(value)
    return None


def _config_root(root: Path) -> Path:
    """Where config/config.exs is: the project's own, else its umbrella's (apps/NAME)."""
    if (root / "config" / "config.exs").is_file():
        return root
    umbrella = root.parent.parent
    if (umbrella / "config" / "config.exs").is_file() and (umbrella / "mix.exs").is_file():
        return umbrella
    return root


def source_files(root: Path, paths: list[str], notes: list[str] | None = None) -> list[str]:
    """The .ex files under the given folders, relative to root, in mix's order.

    As mix's ``Path.wildcard("lib/**/*.ex")``: links to folders are followed, and every name
    ending in ``.ex`` counts, even a folder, a dangling link or a link loop (mix fails on
    those; exfix reports them as unreadable). A folder link back to a folder it is in would
    loop (mix stops at :eloop and fails): it is not followed, and a note says so.
    """
    found: set[str] = set()
    prefix = os.path.join(str(root), "")
    for rel in paths:
        base = root / rel
        if base.is_file() and base.suffix == ".ex":
            found.add(os.path.relpath(base, root))
            continue
        if not base.is_dir():
            continue
        # under a plain folder (no "", "." or ".." in it) the path relative to root is the
        # rest of the string, as relpath would compute it, only faster
        plain = all(part not in ("", ".", "..") for part in rel.replace(os.sep, "/").split("/"))

        def relative(full: str) -> str:
            if plain and full.startswith(prefix):
                return full[len(prefix):]
            return os.path.relpath(full, root)

        # folders reached through a link: only there, or at a link, can a folder lead back
        # to one above it (the real path of any other folder is below theirs)
        linked = {str(base): os.path.islink(base)}
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            dirnames.sort()
            above = None
            keep = []
            for d in dirnames:
                full = os.path.join(dirpath, d)
                if d.endswith(".ex"):
                    found.add(relative(full))
                through_link = linked[dirpath] or os.path.islink(full)
                linked[full] = through_link
                if not through_link:
                    keep.append(d)
                    continue
                if above is None:
                    above = _real_chain(dirpath, str(base))
                if os.path.realpath(full) in above:
                    if notes is not None:
                        notes.append(
                            f"{os.path.relpath(full, root)}: a link to a folder it is in; not followed "
                            "(mix fails on it with :eloop)"
                        )
                    continue
                keep.append(d)
            dirnames[:] = keep
            for fn in filenames:
                if fn.endswith(".ex"):
                    found.add(relative(os.path.join(dirpath, fn)))
    return sorted(p.replace(os.sep, "/") for p in found)


def _real_chain(dirpath: str, base: str) -> set[str]:
    """Real paths of ``dirpath`` and of every folder between it and ``base``."""
    out = set()
    path = dirpath
    while True:
        out.add(os.path.realpath(path))
        if os.path.normpath(path) == os.path.normpath(base):
            break
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return out


def _project_keywords(root):
    """(keyword pairs of `def project`, {function name: [clauses]}) from mix.exs."""
    functions: dict[str, list] = {}
    project = None
    for module in named_children(root):
        if call_name(module) != "defmodule":
            continue
        for node in do_body(module):
            if call_name(node) not in ("def", "defp"):
                continue
            args = call_arguments(node)
            if not args:
                continue
            head = args[0]
            fname = call_name(head) if head.type == "call" else text(head) if head.type == "identifier" else None
            if fname is None:
                continue
            params = call_arguments(head) if head.type == "call" else []
            body = do_body(node)
            functions.setdefault(fname, []).append((params, body))
            if fname == "project" and body:
                value = unwrap_block(body[-1])
                if value.type == "list":
                    project = keyword_pairs(value)
    return project, functions


def _string(node) -> str | None:
    if node.type != "string":
        return None
    if any(c.type == "interpolation" for c in node.named_children):
        return None
    return "".join(text(c) for c in node.named_children if c.type == "quoted_content")


def _string_list(node, functions, env: str = "dev") -> list[str] | None:
    node = unwrap_block(node)
    if node.type == "list":
        out = []
        for item in named_children(node):
            s = _string(item)
            if s is None:
                return None
            out.append(s)
        return out
    if node.type == "call" and call_name(node) in functions:
        # elixirc_paths(Mix.env()): take the clause for the environment, else the catch-all
        clauses = functions[call_name(node)]
        chosen = None
        for params, body in clauses:
            if len(params) == 1 and atom_value(params[0]) == env:
                chosen = body
                break
        if chosen is None:
            for params, body in clauses:
                if len(params) == 1 and params[0].type == "identifier":
                    chosen = body
                    break
        if chosen:
            return _string_list(chosen[-1], {}, env)
    return None


def _deps(node, functions) -> dict[str, Dep]:
    node = unwrap_block(node)
    if node.type == "call" and call_name(node) in functions:
        clauses = functions[call_name(node)]
        if not clauses or not clauses[0][1]:
            return {}
        node = unwrap_block(clauses[0][1][-1])
    if node.type != "list":
        return {}
    out: dict[str, Dep] = {}
    for item in named_children(node):
        if item.type != "tuple":
            continue
        parts = named_children(item)
        if not parts:
            continue
        name = atom_value(parts[0])
        if name is None:
            continue
        dep = Dep(name)
        for part in parts[1:]:
            for key, value in keyword_pairs(part) if part.type == "keywords" else []:
                if key == "optional":
                    dep.optional = text(value) == "true"
                elif key == "path":
                    dep.path = _string(value)
                elif key == "in_umbrella":
                    dep.in_umbrella = text(value) == "true"
                elif key == "only":
                    envs = named_children(value) if value.type == "list" else [value]
                    dep.only = [atom_value(e) for e in envs if atom_value(e) is not None]
        out[name] = dep
    return out
