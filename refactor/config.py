"""A project's ``.exfix.exs``: which rules run, their severities and options, the paths
whose findings are not reported, and the Elixir version.

The file is found upward from the project (its own folder, then each parent: an umbrella's
apps share the one at its root) and is an Elixir literal, like ``.credo.exs``. It is read
with tree-sitter, never evaluated: only maps, keyword lists, lists, tuples, strings without
interpolation, atoms, numbers, booleans and nil are allowed, and anything else is an error
naming the file and line. So running exfix on a repository runs none of its code.

    # .exfix.exs
    [
      elixir: "1.18",
      exclude: ["lib/generated/**", "test/support/fixtures.ex"],
      rules: %{
        "module-concat" => false,
        "attribute-to-function" => [severity: :error],
        "hoist-conditional-use" => [strategy: :guard, hoist_max_lines: 60]
      }
    ]

``exclude`` holds git-style patterns relative to the folder of ``.exfix.exs``: those files
are still analysed (their edges are part of the graph) but no finding in them is reported
and no fix is made to them. A rule is ``false`` (off), ``true``, or a keyword list of
``enabled:``, ``severity:`` (``:error``, ``:warning`` or ``:info``) and the options the rule
documents (``exfix rule ID``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

NAME = ".exfix.exs"
SEVERITIES = ("error", "warning", "info")
KEYS = ("elixir", "exclude", "rules")


class ConfigError(Exception):
    def __init__(self, file: str, line: int | None, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


@dataclass
class Lit:
    """A literal value with the line it starts on; containers hold Lits."""

    value: object
    line: int


@dataclass
class Config:
    path: str  # the .exfix.exs file
    elixir: str | None = None
    elixir_line: int | None = None
    exclude: list[str] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    severities: dict[str, str] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)  # RuleContext.options

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))


def find(start: str | os.PathLike) -> Path | None:
    """The nearest ``.exfix.exs`` in ``start`` or a folder above it."""
    here = Path(os.path.abspath(start))
    for folder in (here, *here.parents):
        candidate = folder / NAME
        if candidate.is_file():
            return candidate
    return None


def load(path: str | os.PathLike, rules: list[type], shown: str | None = None) -> Config:
    """Read ``path``; ``rules``: every rule class (ids and the options each accepts);
    ``shown``: the file's name in messages."""
    from .files import read_bytes
    from .parse import first_error, parse

    name = shown or str(path)
    try:
        source = read_bytes(path)
    except OSError as exc:
        raise ConfigError(name, None, f"cannot read: {exc.strerror or exc}") from exc
    tree = parse(source)
    err = first_error(tree)
    if err is not None:
        raise ConfigError(name, err.start_point[0] + 1, "syntax error")
    body = [n for n in tree.root_node.named_children if n.type != "comment"]
    if len(body) != 1:
        raise ConfigError(name, body[1].start_point[0] + 1 if len(body) > 1 else 1,
                          "expected one keyword list or map, as in .credo.exs")
    top = _literal(body[0], name)
    return _config(top, name, {r.id: r for r in rules})


# --------------------------------------------------------------------------- literals


def _line(node) -> int:
    return node.start_point[0] + 1


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _literal(node, name: str) -> Lit:
    """The value of a literal node; ConfigError for anything that would need evaluating."""
    kind, line = node.type, _line(node)
    if kind in ("integer", "float"):
        raw = _text(node).replace("_", "")
        try:
            return Lit(int(raw, 0) if kind == "integer" else float(raw), line)
        except ValueError:
            pass
    elif kind == "boolean":
        return Lit(_text(node) == "true", line)
    elif kind == "nil":
        return Lit(None, line)
    elif kind == "atom":
        return Lit(_text(node)[1:], line)
    elif kind in ("string", "quoted_atom"):
        return Lit(_string(node, name), line)
    elif kind == "unary_operator" and _text(node).startswith("-"):
        inner = _literal(node.child_by_field_name("operand"), name)
        if isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
            return Lit(-inner.value, line)
    elif kind == "list":
        items = [c for c in node.named_children if c.type != "comment"]
        if len(items) == 1 and items[0].type == "keywords":
            return _keywords(items[0], name)
        out = []
        for item in items:
            if item.type == "keywords":  # [1, a: 2]: the keywords come last
                out.extend(Lit((k, v), v.line) for k, v in _keywords(item, name).value.items())
            else:
                out.append(_literal(item, name))
        return Lit(out, line)
    elif kind == "tuple":
        return Lit(tuple(_literal(c, name) for c in node.named_children if c.type != "comment"), line)
    elif kind == "map":
        return _map(node, name)
    elif kind == "keywords":
        return _keywords(node, name)
    raise ConfigError(name, line, f"not a literal: {_text(node).splitlines()[0][:60]} "
                                  f"({NAME} is read, never run: write the value itself)")


def _string(node, name: str) -> str:
    parts = []
    for child in node.named_children:
        if child.type == "quoted_content":
            parts.append(_text(child))
        elif child.type == "escape_sequence":
            parts.append(_text(child).encode("utf-8").decode("unicode_escape"))
        else:
            raise ConfigError(name, _line(child), "interpolation in a string: write the value itself")
    return "".join(parts)


def _key(node, name: str) -> str:
    """A keyword's key (``name:`` or ``"some name":``) or a map key (atom or string)."""
    if node.type == "keyword":
        return _text(node).strip()[:-1].strip()
    if node.type == "quoted_keyword":
        return _string(node, name)
    value = _literal(node, name).value
    if not isinstance(value, str):
        raise ConfigError(name, _line(node), "a key must be an atom or a string")
    return value


def _keywords(node, name: str) -> Lit:
    out: dict[str, Lit] = {}
    for pair in node.named_children:
        if pair.type != "pair":
            continue
        key = _key(pair.child_by_field_name("key"), name)
        if key in out:
            raise ConfigError(name, _line(pair), f"{key} is given twice")
        out[key] = _literal(pair.child_by_field_name("value"), name)
    return Lit(out, _line(node))


def _map(node, name: str) -> Lit:
    out: dict[str, Lit] = {}
    for content in node.named_children:
        if content.type != "map_content":
            if content.type != "comment":  # %Struct{}: not a plain map
                raise ConfigError(name, _line(content), "a struct is not a literal: use %{...}")
            continue
        for item in content.named_children:
            if item.type == "keywords":
                for key, value in _keywords(item, name).value.items():
                    if key in out:
                        raise ConfigError(name, value.line, f"{key} is given twice")
                    out[key] = value
            elif item.type == "binary_operator" and _text(item.child_by_field_name("operator") or item) == "=>":
                key = _key(item.child_by_field_name("left"), name)
                if key in out:
                    raise ConfigError(name, _line(item), f"{key} is given twice")
                out[key] = _literal(item.child_by_field_name("right"), name)
            elif item.type != "comment":
                raise ConfigError(name, _line(item), "expected key => value in a map")
    return Lit(out, _line(node))


# --------------------------------------------------------------------------- the settings


def _config(top: Lit, name: str, rules: dict[str, type]) -> Config:
    if not isinstance(top.value, dict):
        raise ConfigError(name, top.line, "expected a keyword list or a map, as in .credo.exs")
    config = Config(name)
    for key, lit in top.value.items():
        if key not in KEYS:
            raise ConfigError(name, lit.line, f"unknown setting {key} (known: {', '.join(KEYS)})")
    if "elixir" in top.value:
        lit = top.value["elixir"]
        if not isinstance(lit.value, str):
            raise ConfigError(name, lit.line, 'elixir: expected a version string, e.g. "1.18"')
        from .semantics import normalize

        try:
            normalize(lit.value)
        except ValueError as exc:
            raise ConfigError(name, lit.line, f"elixir: {exc}") from exc
        config.elixir, config.elixir_line = lit.value, lit.line
    if "exclude" in top.value:
        lit = top.value["exclude"]
        items = lit.value if isinstance(lit.value, list) else None
        if items is None or not all(isinstance(i.value, str) for i in items):
            raise ConfigError(name, lit.line, "exclude: expected a list of path patterns (strings)")
        config.exclude = [i.value for i in items]
    if "rules" in top.value:
        lit = top.value["rules"]
        if not isinstance(lit.value, dict):
            raise ConfigError(name, lit.line, 'rules: expected a map of rule id => settings')
        for rid, entry in lit.value.items():
            _rule(config, rid, entry, name, rules)
    return config


def _rule(config: Config, rid: str, entry: Lit, name: str, rules: dict[str, type]) -> None:
    if rid not in rules:
        raise ConfigError(name, entry.line, f"unknown rule {rid} (known: {', '.join(sorted(rules))})")
    if isinstance(entry.value, bool):
        if not entry.value:
            config.disabled.add(rid)
        return
    if not isinstance(entry.value, dict):
        raise ConfigError(name, entry.line, f"{rid}: expected true, false or a keyword list")
    accepted: dict = getattr(rules[rid], "config_options", {})
    for key, lit in entry.value.items():
        if key == "enabled":
            if not isinstance(lit.value, bool):
                raise ConfigError(name, lit.line, f"{rid}: enabled: expected true or false")
            if not lit.value:
                config.disabled.add(rid)
        elif key == "severity":
            if lit.value not in SEVERITIES:
                raise ConfigError(name, lit.line, f"{rid}: severity: expected :error, :warning or :info")
            config.severities[rid] = lit.value
        elif key in accepted:
            config.options[key] = _option(rid, key, lit, accepted[key], name)
        else:
            known = ", ".join(["enabled", "severity", *accepted])
            raise ConfigError(name, lit.line, f"{rid}: unknown option {key} (known: {known})")


def _option(rid: str, key: str, lit: Lit, kind, name: str):
    value = lit.value
    if isinstance(kind, tuple):  # one of these words
        if value in kind:
            return value
        raise ConfigError(name, lit.line, f"{rid}: {key}: expected one of :{', :'.join(kind)}")
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if kind is str and isinstance(value, str):
        return value
    raise ConfigError(name, lit.line, f"{rid}: {key}: expected {'a count' if kind is int else 'a string'}")


class ExcludeFilter:
    """The engine's filter for ``exclude``: no finding in a file the patterns match."""

    def __init__(self, folder: str, patterns: list[str]):
        self.folder = folder
        self.patterns = list(patterns)
        self._spec = None

    def __getstate__(self):  # the compiled spec is rebuilt in the worker
        return {"folder": self.folder, "patterns": self.patterns, "_spec": None}

    def excluded(self, path: str) -> bool:
        if self._spec is None:
            self._spec = GitIgnoreSpec.from_lines(self.patterns)
        rel = os.path.relpath(os.path.abspath(path), self.folder).replace(os.sep, "/")
        return not rel.startswith("../") and self._spec.match_file(rel)

    def keep(self, root, diagnostics: list, sources) -> list:
        return [d for d in diagnostics if not self.excluded(os.path.join(root, d.file))]

    def problems(self, sources, wanted) -> list:
        return []
