"""How each supported Elixir version labels what the lexical tracker sees.

Each flag is a difference measured between versions (the oracle tests compare with live
``mix xref`` on 1.14, 1.18 and 1.20, tests/test_versions_recorded.py with recordings of 1.15,
1.16, 1.17 and 1.19); everything not listed here behaves the same. A flag is computed from the
first release that changed it (SINCE), so every version from 1.14 to 1.20 gets its own rules.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ("1.14", "1.15", "1.16", "1.17", "1.18", "1.19", "1.20")
OLDEST, NEWEST = SUPPORTED[0], SUPPORTED[-1]

# The first release of each change (Semantics below says what each flag means), found by
# comparing mix's output on fixtures/projects across 1.14.0, 1.15.8, 1.16.3, 1.17.3, 1.18.3,
# 1.19.5 and 1.20.4 (tests/data/projects): with the change one release later or earlier,
# some recording disagrees (README, "Elixir versions", lists them per release).
SINCE = {
    "skip_aliases_in_patterns": (1, 15),
    "behaviour_runtime": (1, 15),
    "derive_compile": (1, 15),
    "derive_struct_traced": (1, 18),
    "defimpl_export": (1, 19),
    "defimpl_traced_as_alias": (1, 15),
    "defimpl_traced_as_require_again": (1, 19),
    "imported_call_traced_once": (1, 18),
    "import_call_kind": (1, 18),
    "after_compile_traced": (1, 15),
    "attribute_trace_origin": (1, 18),
    "compile_env_default_runtime": (1, 15),
    "attribute_literals_partial": (1, 15),
    "typespec_own_struct": (1, 18),
    "protocol_any_runtime": (1, 20),
    "protocol_builtins_untraced": (1, 16),
}


@dataclass(frozen=True)
class Semantics:
    version: str
    # 1.15+: aliases inside a function's patterns and guards are not dependencies at all
    skip_aliases_in_patterns: bool
    # up to 1.14: @behaviour makes a compile-time dependency (the behaviour is loaded to check it)
    behaviour_compile: bool
    # 1.15+: @derive runs the protocol's deriving at compile time
    derive_compile: bool
    # 1.18+: deriving also traces the struct it derives for (an export reference to itself)
    derive_struct_traced: bool
    # label of the protocol for `defimpl P` (compile up to 1.18, export since 1.19)
    defimpl_mode: str
    # how mix xref trace names that reference (require on 1.14, alias on 1.15 to 1.18,
    # require again since 1.19)
    defimpl_kind: str
    # up to 1.17 an imported function call is traced both as an import and as a remote call
    imported_call_also_remote: bool
    # how mix xref trace names an imported call ("import" up to 1.17, "import call" since)
    import_kind: str
    # 1.15+ traces the call to an @after_compile callback
    after_compile_traced: bool
    # 1.18+ names replayed attribute traces "@attr" and uses the reading line
    attribute_trace_origin: bool
    # 1.15+: Application.compile_env's default argument is expanded as a literal (runtime)
    compile_env_default_runtime: bool
    # 1.15+: attribute values expand their literal parts (Macro.expand_literals); before,
    # only a value that is a literal as a whole had its aliases made runtime
    attribute_literals_partial: bool
    # 1.18+: a typespec naming the module's own struct (%__MODULE__{}) traces it (another
    # module's struct in a typespec is an export reference in every version)
    typespec_own_struct: bool
    # a protocol depends on its Any implementation at compile time (up to 1.19)
    protocol_any_compile: bool
    # up to 1.15: a protocol's impl_for references the implementations for built-in types
    protocol_builtins_runtime: bool

    def remote_special(self, module: str, function: str) -> str | None:
        if module == "Application" and function in ("compile_env", "compile_env!"):
            return "compile_env"
        return None


@functools.lru_cache(maxsize=None)
def semantics(version: str) -> Semantics:
    """The rules of Elixir ``version`` ("1.17", "1.17.3"), which must be in SUPPORTED."""
    key = normalize(version)
    v = _number(key)

    def since(change: str) -> bool:
        return v >= SINCE[change]

    if since("defimpl_traced_as_require_again"):
        defimpl_kind = "require"
    else:
        defimpl_kind = "alias" if since("defimpl_traced_as_alias") else "require"
    return Semantics(
        version=key,
        skip_aliases_in_patterns=since("skip_aliases_in_patterns"),
        behaviour_compile=not since("behaviour_runtime"),
        derive_compile=since("derive_compile"),
        derive_struct_traced=since("derive_struct_traced"),
        defimpl_mode="export" if since("defimpl_export") else "compile",
        defimpl_kind=defimpl_kind,
        imported_call_also_remote=not since("imported_call_traced_once"),
        import_kind="import call" if since("import_call_kind") else "import",
        attribute_trace_origin=since("attribute_trace_origin"),
        after_compile_traced=since("after_compile_traced"),
        compile_env_default_runtime=since("compile_env_default_runtime"),
        attribute_literals_partial=since("attribute_literals_partial"),
        typespec_own_struct=since("typespec_own_struct"),
        protocol_any_compile=not since("protocol_any_runtime"),
        protocol_builtins_runtime=not since("protocol_builtins_untraced"),
    )


def normalize(version: str) -> str:
    """'1.18.3' -> '1.18' (a patch number, or a pre-release suffix, is accepted and ignored);
    raises ValueError for anything that is not a version from 1.14 to 1.20."""
    m = re.match(r"^\s*v?(\d+)\.(\d+)(\.\d+)?(-[0-9A-Za-z.-]+)?\s*$", version or "")
    if not m:
        raise ValueError(f"not an Elixir version: {version!r} (expected MAJOR.MINOR or MAJOR.MINOR.PATCH, "
                         f"e.g. 1.17 or 1.17.3)")
    key = f"{int(m.group(1))}.{int(m.group(2))}"
    if key not in SUPPORTED:
        raise ValueError(f"Elixir {key} is not modelled: exfix models {OLDEST} to {NEWEST} "
                         f"({', '.join(SUPPORTED)})")
    return key


def _number(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


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
    """The version whose rules apply for ``--elixir VALUE`` (else the installed elixir, else
    the newest), and a warning when another version's rules stand in for it. A version given
    outside 1.14-1.20 is a ValueError; an installed one outside it is analysed with the rules
    of the nearest end of the range, with a warning naming both."""
    if value is not None:
        return normalize(value), None
    found = installed_version()
    if not found:
        return NEWEST, None
    try:
        return normalize(found), None
    except ValueError:
        m = re.match(r"^\s*(\d+)\.(\d+)", found)
        key = OLDEST if m and (int(m.group(1)), int(m.group(2))) < _number(OLDEST) else NEWEST
        return key, (f"the installed Elixir {found} is not modelled (exfix models {OLDEST} to {NEWEST}); "
                     f"analysed with {key}'s rules")
