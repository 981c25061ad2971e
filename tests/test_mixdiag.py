"""Reading what mix compile printed (refactor/mixdiag.py), on output recorded from Elixir 1.14
(the host) and 1.18 (the trixie chroot)."""

from __future__ import annotations

from refactor.mixdiag import files_named, parse

MIX_1_14 = """Compiling 1 file (.ex)

== Compilation error in file lib/greeter.ex ==
** (CompileError) lib/greeter.ex:3: undefined function greeting/0 (there is no such import)
    (elixir 1.14.0) expanding macro: Kernel.@/1
    lib/greeter.ex:3: Greeter (module)
    expanding macro: Echo.echo/1
    lib/greeter.ex:3: Greeter (module)
warning: variable "greeting" does not exist and is being expanded to "greeting()", please use parentheses to remove the ambiguity or change the variable name
  lib/greeter.ex:3: Greeter

"""

MIX_1_18 = """Compiled lib/bookshelf/config.ex
Compiled lib/bookshelf/catalog.ex
    warning: unused import Bookshelf.Format
    │
  3 │   import Bookshelf.Format
    │   ~
    │
    └─ lib/bookshelf/report.ex:3:3

Generated bookshelf app
"""


def test_1_14_error_and_warning_name_their_file():
    found = parse(MIX_1_14)
    assert [(d.kind, d.file, d.line) for d in found] == [
        ("error", "lib/greeter.ex", 0),
        ("error", "lib/greeter.ex", 3),
        ("warning", "lib/greeter.ex", 3),
    ]
    assert found[1].message.startswith("(CompileError) lib/greeter.ex: undefined function greeting/0")
    assert "lib/greeter.ex" in files_named(MIX_1_14)


def test_1_18_boxed_warning_names_its_file_and_the_key_ignores_lines():
    [warning] = parse(MIX_1_18)
    assert (warning.kind, warning.file, warning.line) == ("warning", "lib/bookshelf/report.ex", 3)
    assert warning.message == "unused import Bookshelf.Format"
    moved = parse(MIX_1_18.replace("report.ex:3:3", "report.ex:9:3"))[0]
    assert moved.key == warning.key and moved.line == 9
