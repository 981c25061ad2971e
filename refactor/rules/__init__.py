"""The rule registry: every ``Rule`` subclass defined in a module of this package.

Rule modules are found with ``pkgutil``, so a new rule is registered by adding its module;
``ALL_RULES`` is sorted by rule id.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Rule


def _discover() -> list[type[Rule]]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.id
                and value.__module__ == module.__name__
            ):
                found[value.id] = value
    return [found[k] for k in sorted(found)]


ALL_RULES: list[type[Rule]] = _discover()


def get_rules(
    select: list[str] | tuple[str, ...] | None = None,
    skip: list[str] | tuple[str, ...] | None = None,
    available: list[type[Rule]] | None = None,
) -> list[type[Rule]]:
    """The rules to run: ``select`` (all when empty) minus ``skip``; unknown ids raise ValueError."""
    rules = list(ALL_RULES if available is None else available)
    known = {r.id for r in rules}
    unknown = [r for r in list(select or []) + list(skip or []) if r not in known]
    if unknown:
        raise ValueError(
            f"unknown rule {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none yet'})"
        )
    if select:
        rules = [r for r in rules if r.id in set(select)]
    if skip:
        rules = [r for r in rules if r.id not in set(skip)]
    return rules
