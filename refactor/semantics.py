"""How each supported Elixir version labels what the lexical tracker sees.

Each flag is a difference measured between versions (see the oracle tests that compare with
``mix xref`` on 1.14, 1.18 and 1.20); everything not listed here behaves the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ("1.14", "1.18", "1.20")
NEWEST = SUPPORTED[-1]


@dataclass(frozen=True)
class Semantics:
    version: str
    # 1.18+: aliases inside a function's patterns and guards are not dependencies at all
    skip_aliases_in_patterns: bool
    # 1.14: @behaviour makes a compile-time dependency (the behaviour is loaded to check it)
    behaviour_compile: bool
    # 1.18+: @derive runs the protocol's deriving at compile time
    derive_compile: bool
    # label of the protocol for `defimpl P` (compile up to 1.19, export since 1.20)
    defimpl_mode: str
    # how mix xref trace names that reference (require, alias on 1.18, require on 1.20)
    defimpl_kind: str
    # 1.14 traces an imported function call both as an import and as a remote call
    imported_call_also_remote: bool
    # 1.18+ traces the call to an @after_compile callback
    after_compile_traced: bool
    # 1.18+ names replayed attribute traces "@attr" and uses the reading line
    attribute_trace_origin: bool
    # 1.18+: Application.compile_env's default argument is expanded as a literal (runtime)
    compile_env_default_runtime: bool
    # 1.18+: attribute values expand their literal parts (Macro.expand_literals); before,
    # only a value that is a literal as a whole had its aliases made runtime
    attribute_literals_partial: bool
    # 1.18+: structs named in typespecs are expanded (export references)
    typespec_structs: bool
    # a protocol depends on its Any implementation at compile time (up to 1.19)
    protocol_any_compile: bool
    # 1.14: a protocol's impl_for references the implementations for built-in types
    protocol_builtins_runtime: bool

    def remote_special(self, module: str, function: str) -> str | None:
        if module == "Application" and function in ("compile_env", "compile_env!"):
            return "compile_env"
        return None


def semantics(version: str) -> Semantics:
    key = normalize(version)
    major_minor = tuple(int(x) for x in key.split("."))
    new = major_minor >= (1, 18)
    return Semantics(
        version=key,
        skip_aliases_in_patterns=new,
        behaviour_compile=not new,
        derive_compile=new,
        defimpl_mode="export" if major_minor >= (1, 20) else "compile",
        defimpl_kind="alias" if (1, 18) <= major_minor < (1, 20) else "require",
        imported_call_also_remote=not new,
        attribute_trace_origin=new,
        after_compile_traced=new,
        compile_env_default_runtime=new,
        attribute_literals_partial=new,
        typespec_structs=new,
        protocol_any_compile=major_minor < (1, 20),
        protocol_builtins_runtime=not new,
    )


def normalize(version: str) -> str:
    """'1.18.3' -> '1.18'; a version between two modelled ones -> the modelled one at or below
    it (``approximation`` says so); raises ValueError outside 1.14 to 1.20."""
    m = re.match(r"^\s*(\d+)\.(\d+)", version or "")
    if not m:
        raise ValueError(f"not an Elixir version: {version!r}")
    key = f"{m.group(1)}.{m.group(2)}"
    if key in SUPPORTED:
        return key
    numbers = (int(m.group(1)), int(m.group(2)))
    if not _number(SUPPORTED[0]) <= numbers <= _number(SUPPORTED[-1]):
        raise ValueError(f"Elixir {key} is not modelled: exfix models {SUPPORTED[0]} to {SUPPORTED[-1]}")
    return [v for v in SUPPORTED if _number(v) <= numbers][-1]


def _number(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def approximation(version: str) -> str | None:
    """A one-line warning when ``version`` is analysed with another version's rules."""
    m = re.match(r"^\s*(\d+)\.(\d+)", version or "")
    if not m or f"{m.group(1)}.{m.group(2)}" in SUPPORTED:
        return None
    return (f"Elixir {m.group(1)}.{m.group(2)} is analysed with {normalize(version)}'s rules "
            f"(exfix models {', '.join(SUPPORTED)}); labels that changed in between may differ from mix's")


def installed_version() -> str | None:
    """The version of ``elixir`` on PATH, or None.

    An Elixir install keeps its version in ``lib/elixir/ebin/elixir.app`` beside ``bin/elixir``,
    which is where the ``elixir`` script loads the compiler from once its links are resolved;
    reading it costs a file read where ``elixir --version`` starts a BEAM (about 0.15 s). A
    launcher that is not inside an install (a version manager's shim) is asked instead."""
    exe = shutil.which("elixir")
    return launcher_version(exe) if exe else None


def launcher_version(exe: str) -> str | None:
    """The version of Elixir the launcher ``exe`` runs (see ``installed_version``), or None."""
    found = _app_version(Path(os.path.realpath(exe)).parent.parent / "lib/elixir/ebin/elixir.app")
    if found:
        return found
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Elixir (\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


def _app_version(app: Path) -> str | None:
    """The ``{vsn, "X.Y.Z"}`` of an OTP application resource file, or None."""
    try:
        text = app.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r'\{\s*vsn\s*,\s*"(\d+\.\d+\.\d+)', text)
    return m.group(1) if m else None


def default_version() -> str:
    return resolve(None)[0]


def resolve(value: str | None) -> tuple[str, str | None]:
    """The modelled version for ``--elixir VALUE`` (else the installed elixir, else the
    newest), and a warning when another version's rules stand in for it. ValueError for a
    version given outside the modelled range; an installed one outside it falls back to the
    nearest end of the range, with a warning."""
    if value:
        return normalize(value), approximation(value)
    found = installed_version()
    if not found:
        return NEWEST, None
    try:
        return normalize(found), approximation(found)
    except ValueError:
        m = re.match(r"^\s*(\d+)\.(\d+)", found)
        key = SUPPORTED[0] if m and (int(m.group(1)), int(m.group(2))) < _number(SUPPORTED[0]) else NEWEST
        return key, f"the installed Elixir {found} is not modelled; analysed with {key}'s rules"
