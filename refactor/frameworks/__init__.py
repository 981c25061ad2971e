"""What frameworks' macros do to the graph, as data: one TOML file per framework.

Some macros are too deep to follow from their source (Plug.Builder compiles its pipeline
in a @before_compile callback from values computed at macro time), and their source is not
there before ``mix deps.get``. For the modules a file here names, the expander applies the
file's description instead of expanding the source, so the graph is the same with or
without ``deps/``. Each file says which versions it was checked against.

A file holds:

* ``[[using]]`` entries: what ``use MODULE, opts`` does in the caller: ``imports``, each
  ``"Mod"`` or ``"Mod: name/arity name/arity"`` (an ``only:`` list), and ``init_mode``, how
  the module's plugs are initialised: ``"option"`` (the ``init_mode:`` option, else at
  compile time) or ``"config APP KEY"`` (that configuration value, else at compile time);
  ``option_aliases``, the options whose modules are referenced at run time, and
  ``option_code``, those whose value is code run in the caller's module body; ``defines``,
  the macros the caller gets (``name/arity``; the index adds them to the caller's module),
  unless ``use`` is given the option ``defines_unless_option``; ``defines_modules``, the
  modules it defines under the caller's name, unless the option ``defines_modules_unless``
  is ``false``; and ``effect``, a function of ``effects.USING_EFFECTS`` for the rest;
* ``[[macro]]`` entries: a macro (``module``, ``names`` as ``name/arity``) and the
  ``effect`` that stands for its expansion (see ``effects.py``); with ``when = "dep >= X.Y"``
  (or ``<``) it applies only where mix.lock locks such a version, and the first entry of a
  macro that applies is taken.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Using:
    module: str
    imports: tuple  # (module, frozenset of (name, arity) or None)
    init_mode: str | None
    source: str  # the file it comes from
    option_aliases: tuple = ()  # options whose modules are referenced at run time
    option_code: tuple = ()  # options whose value is code run in the module body
    defines: tuple = ()  # macros (name, arity) the use defines in the caller
    defines_unless_option: str | None = None  # ... unless `use` is given this option
    effect: str | None = None  # what else the use does (effects.USING_EFFECTS)
    # modules the use defines, named after the caller (`Helpers`: MyAppWeb.Router.Helpers),
    # unless the option defines_modules_unless is given `false`
    defines_modules: tuple = ()
    defines_modules_unless: str | None = None


@dataclass(frozen=True)
class Macro:
    module: str
    name: str
    arity: int
    effect: str
    options: tuple  # (key, value) pairs of the entry's other fields
    source: str
    when: str | None = None  # a locked version it needs: "phoenix_live_view >= 1.1"

    def option(self, key: str, default=None):
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class Registry:
    using: dict
    macros: dict  # (module, name, arity) -> [Macro], the first that holds applies
    by_module: dict  # module -> {(name, arity)}

    def macro(self, module: str, name: str, arity: int, build=None) -> Macro | None:
        for m in self.macros.get((module, name, arity), ()):
            if m.when is None or (build is not None and build.holds(m.when)):
                return m
        return None

    def macros_of(self, module: str) -> frozenset:
        return self.by_module.get(module, frozenset())


def _name_arity(spec: str) -> tuple[str, int]:
    name, _, arity = spec.partition("/")
    return name.strip(), int(arity)


def _import(spec: str) -> tuple[str, frozenset | None]:
    module, _, only = spec.partition(":")
    names = frozenset(_name_arity(s) for s in only.split()) if only.strip() else None
    return module.strip(), names


def parse(name: str, data: dict) -> tuple[list[Using], list[Macro]]:
    usings = [Using(u["module"], tuple(_import(s) for s in u.get("imports", [])), u.get("init_mode"), name,
                    tuple(u.get("option_aliases", ())), tuple(u.get("option_code", ())),
                    tuple(_name_arity(d) for d in u.get("defines", ())), u.get("defines_unless_option"),
                    u.get("effect"), tuple(u.get("defines_modules", ())), u.get("defines_modules_unless"))
              for u in data.get("using", [])]
    macros = []
    for m in data.get("macro", []):
        extra = tuple(sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in m.items()
                             if k not in ("module", "names", "effect", "when")))
        for spec in m["names"]:
            fname, arity = _name_arity(spec)
            macros.append(Macro(m["module"], fname, arity, m["effect"], extra, name, m.get("when")))
    return usings, macros


@lru_cache(maxsize=1)
def registry() -> Registry:
    using: dict[str, Using] = {}
    macros: dict[tuple, Macro] = {}
    by_module: dict[str, set] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        usings, found = parse(entry.name, tomllib.loads(entry.read_text(encoding="utf-8")))
        for u in usings:
            using[u.module] = u
        for m in found:
            macros.setdefault((m.module, m.name, m.arity), []).append(m)
            by_module.setdefault(m.module, set()).add((m.name, m.arity))
    return Registry(using, macros, {k: frozenset(v) for k, v in by_module.items()})
