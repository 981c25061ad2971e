"""Facts extracted from one Elixir file: the modules it defines and the references it makes.

A reference is what the compiler's lexical tracker would record: a target module, the line,
what kind of construct made it (the kinds ``mix xref trace`` prints: ``alias``, ``call``,
``import``, ``require``, ``struct``) and its mode, ``compile``, ``export`` or ``runtime``.
Between two files mix keeps the strongest mode of all references.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRENGTH = {"compile": 3, "export": 2, "runtime": 1}


@dataclass(frozen=True, order=True)
class Reference:
    line: int
    target: str  # module name without the "Elixir." prefix, e.g. "Foo.Bar"
    kind: str  # alias | call | import | require | struct (as mix xref trace names them)
    mode: str  # compile | export | runtime
    function: str = ""  # "f/1" for call and import kinds
    module: str = ""  # the module whose body or functions hold the reference ("" = file level)
    context: str = ""  # body | def | match | guard | attribute
    via: str = ""  # "use X" / "X.m/1" when the reference was injected by a macro expansion
    origin: str = ""  # where mix's tracer says it happened when not this file ("@attr", "nofile")


@dataclass(frozen=True)
class ModuleDef:
    name: str
    line: int
    start_byte: int = 0
    end_byte: int = 0


@dataclass
class ParseIssue:
    line: int
    message: str


@dataclass
class FileFacts:
    path: str
    modules: list[ModuleDef] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    errors: list[ParseIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be resolved (shown in --verbose)
