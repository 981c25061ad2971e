"""``exfix trace FILE``: the references of one file, printed as ``mix xref trace`` prints them."""

from __future__ import annotations

from .analysis import Analysis
from .facts import Reference
from .semantics import semantics

# Erlang term order of the atoms mix sorts by
_MODE_ORDER = {"compile": 0, "export": 1, "runtime": 2}
_KIND_ORDER = {"alias": 0, "call": 1, "import": 2, "require": 3, "struct": 4}


def trace_entries(analysis: Analysis, path: str, label: str | None = None) -> list[Reference]:
    """The references mix's tracer reports for ``path``: to modules of the project only."""
    facts = analysis.files[path]
    out = []
    seen = set()
    for ref in facts.references:
        if ref.target not in analysis.module_file:
            continue
        if label is not None and ref.mode != label:
            continue
        key = (ref.origin, ref.line, ref.target, ref.function, ref.mode, ref.kind)
        if key in seen:
            continue
        seen.add(key)
        out.append(ref)
    out.sort(key=_sort_key)
    # like mix: an alias is not shown when another entry names the same module with that mode
    non_alias = {(r.target, r.mode) for r in out if r.kind != "alias"}
    return [r for r in out if r.kind != "alias" or (r.target, r.mode) not in non_alias]


def _sort_key(ref: Reference):
    # mix sorts {file, line, module | {m, f, a}, mode, type}: a module atom before an mfa tuple
    if ref.function:
        name, _, arity = ref.function.rpartition("/")
        subject = (1, "Elixir." + ref.target, name, int(arity))
    else:
        subject = (0, "Elixir." + ref.target, "", 0)
    # mix sorts by the absolute file path: "/..." comes before "@attr" and "nofile"
    return (ref.origin, ref.line, subject, _MODE_ORDER[ref.mode], _KIND_ORDER.get(ref.kind, 9))


def format_entry(path: str, ref: Reference, version: str) -> str:
    subject = ref.target
    if ref.function:
        name, _, arity = ref.function.rpartition("/")
        subject = f"{ref.target}.{_format_fun(name)}/{arity}"
    kind = ref.kind
    if kind == "import":
        kind = semantics(version).import_kind
    return f"{ref.origin or path}:{ref.line}: {kind} {subject} ({ref.mode})"


def _format_fun(name: str) -> str:
    if name.replace("_", "a").isalnum() and not name[0].isdigit() or name.rstrip("?!").isidentifier():
        return name
    return '"' + name + '"'
