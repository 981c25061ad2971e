"""The build environment of a project: ``MIX_ENV`` and what ``config/*.exs`` sets for it.

Mix compiles a project for one environment (``dev`` unless ``MIX_ENV`` says otherwise), and
some of what the compiler records depends on it: ``elixirc_paths(:test)`` adds
``test/support``, ``if Mix.env() == :dev do ... end`` in a module body defines what it holds
in one environment only, and Phoenix reads ``config :phoenix, :plug_init_mode, :runtime``
(set by every ``mix phx.new`` app in dev and test) to initialise plugs at run time instead
of at compile time.

``config/config.exs`` is read with tree-sitter, never evaluated: ``config :app, :key,
value``, ``config :app, key: value`` and ``config :app, Module, opts`` are recorded, an
``import_config "#{config_env()}.exs"`` is followed for the environment, and ``if
config_env() == :prod do ... end`` takes the branch the environment takes. A condition or a
file name exfix cannot evaluate is reported in the notes, and what it guards is not read.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from .clauses import combine
from .files import read_bytes
from .parse import parse
from .syntax import (atom_value, branch_body, call_arguments, call_name, keyword_pairs, named_children, text,
                     unwrap_block)

# set by the command line's --env (see commands/graph.py), read by load_project
DEFAULTS: dict[str, str | None] = {"env": None}
MAX_IMPORTS = 32


def mix_env(value: str | None = None) -> str:
    """The environment to analyse for: the one asked for, else ``MIX_ENV``, else ``dev``."""
    return value or DEFAULTS.get("env") or os.environ.get("MIX_ENV") or "dev"


# Elixir's own applications and the top-level names of their modules: always loadable
STDLIB = frozenset("""
Access Agent Application Atom Base Behaviour Bitwise Calendar Code Collectable Config Date
DateTime Dict Duration DynamicSupervisor EEx Enum Enumerable Exception ExUnit File Float Function
GenEvent GenServer HashDict HashSet IEx IO Inspect Integer JSON Kernel Keyword List Logger Macro
Map MapSet Mix Module NaiveDateTime Node OptionParser PartitionSupervisor Path Port Process
Protocol Range Record Regex Registry Set Stream String StringIO Supervisor System Task Time
Tuple URI Version""".split())


@dataclass(frozen=True)
class BuildEnv:
    env: str = "dev"
    # (app, key) -> the value's source text, as the last `config` call for it wrote it
    settings: dict = field(default_factory=dict, hash=False, compare=False)
    notes: tuple = ()
    # deps/ is there (after `mix deps.get`): a module found neither in the project nor in
    # deps/ nor in Elixir is absent from the build, as an optional dependency not fetched
    deps_fetched: bool = False
    # (dep, version) of every hex package in mix.lock: which framework models apply
    locked: tuple = ()
    lock_read: bool = False  # `locked` is mix.lock's (every dependency, transitive too)

    def absent(self, module: str) -> bool:
        """Whether ``Code.ensure_loaded?(module)`` is false in this build, for a module that
        is neither in the project nor in its dependencies' sources: with deps/ fetched, any
        such module; before, one whose name matches no package mix.lock locks
        (``Meilisearch``: ``meilisearch``)."""
        top = module.split(".", 1)[0]
        if top in STDLIB or top.endswith(("Error", "Exception")):
            return False
        if self.deps_fetched:
            return True
        # compared without underscores: HTTPoison is the package httpoison
        return self.lock_read and underscore(top).replace("_", "") not in {
            name.replace("_", "") for name, _ in self.locked}

    def get(self, app: str, key: str) -> str | None:
        return self.settings.get((app, key))

    @property
    def key(self) -> str:
        """What an analysis depends on: the environment and the settings (cache keys)."""
        digest = hashlib.blake2b(repr((sorted(self.settings.items()), self.locked)).encode(),
                                 digest_size=6).hexdigest()
        return f"{self.env}-{int(self.deps_fetched)}-{digest}"

    def version_of(self, dep: str) -> tuple[int, ...] | None:
        """The locked version of a hex dependency, as numbers, or None."""
        for name, version in self.locked:
            if name == dep:
                return _numbers(version)
        return None

    def holds(self, requirement: str | None) -> bool:
        """Whether ``"dep >= 1.1"`` (or ``<``) holds for the locked version; a dependency
        that is not locked (a git or path dependency, no mix.lock) does not satisfy it."""
        if not requirement:
            return True
        dep, op, version = requirement.split()
        have = self.version_of(dep)
        if have is None:
            return False
        want = _numbers(version)
        return have >= want if op == ">=" else have < want


def _numbers(version: str) -> tuple[int, ...]:
    out = []
    for part in version.split("-")[0].split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


_LOCKED = re.compile(r'"(\w+)":\s*\{:hex,\s*:\w+,\s*"([^"]+)"')


# `{:phoenix_live_view, "~> 1.1.0"}` in mix.exs: the least version the requirement admits
_REQUIRED = re.compile(r'\{:(\w+),\s*"(?:~>|>=|==)\s*(\d+(?:\.\d+)*)')


def underscore(name: str) -> str:
    """Macro.underscore of one alias segment: ``PlusPlus`` -> ``plus_plus``, ``HTTPApi`` ->
    ``http_api``."""
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0 and (name[i - 1].islower() or name[i - 1].isdigit()
                                      or (i + 1 < len(name) and name[i + 1].islower() and name[i - 1].isupper())):
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def read_lock(root: Path) -> tuple[tuple, bool]:
    """(dep, version) of the hex packages in the project's mix.lock (an umbrella app's is
    two folders up); for a dependency mix.lock does not name (no lock yet), the least
    version its requirement in mix.exs admits. Second: whether a mix.lock was read."""
    found: dict[str, str] = {}
    read = False
    try:
        found.update(_REQUIRED.findall(read_bytes(root / "mix.exs").decode("utf-8", "replace")))
    except OSError:
        pass
    for lock in (root / "mix.lock", root.parent.parent / "mix.lock"):
        try:
            found.update(_LOCKED.findall(read_bytes(lock).decode("utf-8", "replace")))
            read = True
            break
        except OSError:
            continue
    return tuple(sorted(found.items())), read


def env_condition(node: Node, env: str) -> bool | None:
    """Whether a condition on the environment holds (``Mix.env() == :dev``, ``config_env()
    in [:dev, :test]``, ``!=``, ``not in``, ``and``, ``or``, ``not``); None for any other."""
    node = unwrap_block(node)
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) in ("not", "!"):
        inner = [c for c in node.children_by_field_name("operand") if c.is_named]
        got = env_condition(inner[0], env) if inner else None
        return None if got is None else not got
    if node.type != "binary_operator":
        return None
    op = text(node.child_by_field_name("operator"))
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if op in ("and", "&&", "or", "||"):
        return combine(op, env_condition(left, env), env_condition(right, env))
    if not _is_env_call(left):
        left, right = right, left
        if not _is_env_call(left) or op not in ("==", "!=", "===", "!=="):
            return None
    if op in ("==", "==="):
        value = atom_value(unwrap_block(right))
        return None if value is None else env == value
    if op in ("!=", "!=="):
        value = atom_value(unwrap_block(right))
        return None if value is None else env != value
    if op in ("in", "not in") and unwrap_block(right).type == "list":
        values = [atom_value(v) for v in named_children(unwrap_block(right))]
        if None in values:
            return None
        return (env in values) == (op == "in")
    return None


def _is_env_call(node: Node | None) -> bool:
    """``Mix.env()``, ``Mix.env`` or ``config_env()``."""
    if node is None:
        return False
    node = unwrap_block(node)
    if node.type == "call" and call_name(node) == "config_env" and not call_arguments(node):
        return True
    source = text(node).replace(" ", "")
    return source in ("Mix.env()", "Mix.env")


def read_config(root: Path, env: str) -> BuildEnv:
    """The settings ``config/config.exs`` (and what it imports) makes for ``env``."""
    config = root / "config" / "config.exs"
    if not config.is_file():
        return BuildEnv(env)
    reader = _Reader(root, env)
    reader.read(config)
    return BuildEnv(env, reader.settings, tuple(reader.notes))


class _Reader:
    def __init__(self, root: Path, env: str):
        self.root = root
        self.env = env
        self.settings: dict[tuple[str, str], str] = {}
        self.notes: list[str] = []
        self.imports = 0

    def where(self, path: Path, node: Node) -> str:
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            rel = path
        return f"{rel}:{node.start_point[0] + 1}"

    def read(self, path: Path) -> None:
        try:
            data = read_bytes(path)
        except OSError as exc:
            self.notes.append(f"{path}: cannot read: {exc.strerror}")
            return
        self.statements(named_children(parse(data).root_node), path)

    def statements(self, nodes: list[Node], path: Path) -> None:
        for node in nodes:
            if node.type != "call":
                continue
            name = call_name(node)
            args = call_arguments(node)
            if name == "config" and len(args) >= 2:
                self.config(args, path, node)
            elif name == "import_config" and len(args) == 1:
                self.import_config(args[0], path, node)
            elif name in ("if", "unless") and args:
                truth = env_condition(args[0], self.env)
                if truth is None:
                    if _mentions_config(node):
                        self.notes.append(f"{self.where(path, node)}: a condition exfix cannot evaluate; "
                                          "the configuration under it is not read")
                    continue
                self.statements(branch_body(node, truth if name == "if" else not truth), path)

    def config(self, args: list[Node], path: Path, node: Node) -> None:
        app = atom_value(args[0])
        if app is None:
            self.notes.append(f"{self.where(path, node)}: config of a computed application; not read")
            return
        if len(args) == 2:
            for key, value in keyword_pairs(args[1]):
                self.settings[(app, key)] = text(value)
            return
        key = atom_value(args[1]) or text(args[1])
        self.settings[(app, key)] = text(args[2])

    def import_config(self, arg: Node, path: Path, node: Node) -> None:
        name = _file_name(arg, self.env)
        if name is None:
            self.notes.append(f"{self.where(path, node)}: import_config of a file name exfix cannot "
                              "evaluate; not read")
            return
        self.imports += 1
        if self.imports > MAX_IMPORTS:
            self.notes.append(f"{self.where(path, node)}: more than {MAX_IMPORTS} import_config; stopped")
            return
        target = path.parent / name
        if target.is_file():
            self.read(target)
        else:
            self.notes.append(f"{self.where(path, node)}: import_config {name}: no such file")


def _file_name(node: Node, env: str) -> str | None:
    """The file of ``import_config "#{config_env()}.exs"`` and the like."""
    if node.type != "string":
        return None
    out = []
    for part in named_children(node):
        if part.type == "quoted_content":
            out.append(text(part))
        elif part.type == "interpolation" and _is_env_call(named_children(part)[0] if named_children(part) else None):
            out.append(env)
        else:
            return None
    return "".join(out)


def _mentions_config(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "call" and call_name(n) in ("config", "import_config"):
            return True
        stack.extend(n.named_children)
    return False
