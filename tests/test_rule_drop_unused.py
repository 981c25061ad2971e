"""drop-unused-import and drop-unused-require: what is particular to them (the shared cases run
in test_rule_cases.py): the blank lines their deletions leave, and directives of modules that
are not the project's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from refactor.engine import Options, run_project
from refactor.rules.base import Edit, apply_edits
from refactor.rules.drop_unused_import import DropUnusedImport
from refactor.rules.drop_unused_require import DropUnusedRequire

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "fixtures" / "rules" / "drop-unused-import" / "_project"


def engine(tmp_path: Path, files: dict[str, str], deps: dict[str, str] | None = None):
    root = tmp_path / "proj"
    shutil.copytree(PROJECT, root)
    for rel, data in {**files, **(deps or {})}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(data)
    if deps:
        mix = (root / "mix.exs").read_text()
        names = sorted({rel.split("/")[1] for rel in deps})
        listed = ", ".join(f'{{:{n}, path: "deps/{n}"}}' for n in names)
        mix = mix.replace('version: "0.1.0"', f'version: "0.1.0", deps: [{listed}]')
        assert "deps:" in mix
        (root / "mix.exs").write_text(mix)
    opts = Options(rules=[DropUnusedImport, DropUnusedRequire], version="1.18")
    return run_project(root, opts)


def test_adjacent_directives_of_both_rules_leave_no_blank_line_after_do(tmp_path):
    result = engine(tmp_path, {"lib/both.ex": (
        "defmodule Both do\n  import Fmt\n  require Money\n\n  def total(items), do: Enum.sum(items)\nend\n"
    )})
    assert sorted(s.rule for s in result.suggestions if s.offered) == ["drop-unused-import", "drop-unused-require"]
    (patch,) = result.patches
    assert patch.after == b"defmodule Both do\n  def total(items), do: Enum.sum(items)\nend\n"


@pytest.mark.parametrize("before, deleted, after", [
    # the last statement of a block: no blank line is left before `end`
    ("defmodule A do\n  def f, do: 1\n\n  require B\nend\n", ["  require B\n"],
     "defmodule A do\n  def f, do: 1\nend\n"),
    # between two blank lines: one is left
    ("defmodule A do\n  alias C\n\n  require B\n\n  def f, do: 1\nend\n", ["  require B\n"],
     "defmodule A do\n  alias C\n\n  def f, do: 1\nend\n"),
    # a run of deletions after `do` followed by a blank line
    ("defmodule A do\n  import C\n  require B\n\n  def f, do: 1\nend\n", ["  import C\n", "  require B\n"],
     "defmodule A do\n  def f, do: 1\nend\n"),
    # only one of the run: the blank line between the rest and the code stays
    ("defmodule A do\n  import C\n  require B\n\n  def f, do: 1\nend\n", ["  require B\n"],
     "defmodule A do\n  import C\n\n  def f, do: 1\nend\n"),
    # a blank line the author put elsewhere is not touched
    ("defmodule A do\n\n  require B\n  def f, do: 1\n\n\n  def g, do: 2\nend\n", ["  require B\n"],
     "defmodule A do\n\n  def f, do: 1\n\n\n  def g, do: 2\nend\n"),
    # CRLF line ends
    ("defmodule A do\r\n  require B\r\n\r\n  def f, do: 1\r\nend\r\n", ["  require B\r\n"],
     "defmodule A do\r\n  def f, do: 1\r\nend\r\n"),
])
def test_tidy_deletions(before, deleted, after):
    source = before.encode()
    edits = []
    for line in deleted:
        start = source.index(line.encode())
        edits.append(Edit(start, start + len(line), b"", tidy=True))
    assert apply_edits(source, edits).decode() == after


def test_edits_that_are_not_tidy_are_applied_as_they_are():
    source = b"defmodule A do\n  require B\n\n  def f, do: 1\nend\n"
    start = source.index(b"  require B")
    assert apply_edits(source, [Edit(start, start + 12, b"")]) == b"defmodule A do\n\n  def f, do: 1\nend\n"


DEP = {
    "deps/dep_lib/mix.exs": (
        "defmodule DepLib.MixProject do\n  use Mix.Project\n\n"
        "  def project, do: [app: :dep_lib, version: \"0.1.0\"]\nend\n"
    ),
    "deps/dep_lib/lib/dep_lib.ex": (
        "defmodule DepLib do\n  defmacro twice(x), do: quote(do: {unquote(x), unquote(x)})\n"
        "  def upper(s), do: String.upcase(s)\nend\n"
    ),
}


def test_directives_of_modules_outside_the_project_are_not_reported(tmp_path):
    """Stdlib and dependency modules are left alone: they make no edge between project files,
    so removing the line would not change what recompiles (see the rules' docstrings)."""
    result = engine(tmp_path, {"lib/outside.ex": (
        "defmodule Outside do\n  require Logger\n  require DepLib\n  import DepLib\n  import Bitwise\n\n"
        "  def f(x), do: x\nend\n"
    )}, deps=DEP)
    assert result.errors == []
    assert [s for s in result.suggestions if s.file == "lib/outside.ex"] == []


def test_a_used_require_of_a_dependency_is_kept_next_to_an_unused_project_one(tmp_path):
    result = engine(tmp_path, {"lib/mixed.ex": (
        "defmodule Mixed do\n  require Logger\n  require Money\n\n"
        "  def f(x) do\n    Logger.debug(\"x\")\n    x\n  end\nend\n"
    )}, deps=DEP)
    (sug,) = [s for s in result.suggestions if s.file == "lib/mixed.ex"]
    assert (sug.rule, sug.offered) == ("drop-unused-require", True)
    (patch,) = result.patches
    assert patch.after.decode() == (
        "defmodule Mixed do\n  require Logger\n\n  def f(x) do\n    Logger.debug(\"x\")\n    x\n  end\nend\n"
    )


def test_an_import_used_by_a_function_plug_is_kept(tmp_path):
    # `plug :fetch_user` calls the imported fetch_user/2 from the compiled pipeline, traced at
    # the defmodule line, above the import: removing it would break the build
    from click.testing import CliRunner

    from refactor.cli import main

    (tmp_path / "lib").mkdir()
    (tmp_path / "mix.exs").write_text(
        'defmodule Rp.MixProject do\n  use Mix.Project\n  def project, do: [app: :rp, version: "0.1.0"]\nend\n')
    (tmp_path / "lib" / "auth.ex").write_text(
        "defmodule Rp.Auth do\n  def fetch_user(conn, _opts), do: conn\nend\n")
    (tmp_path / "lib" / "pipeline.ex").write_text(
        "defmodule Rp.Pipeline do\n  use Plug.Builder\n  import Rp.Auth, only: [fetch_user: 2]\n"
        "  plug :fetch_user\nend\n")
    (tmp_path / "lib" / "unused.ex").write_text(
        "defmodule Rp.Unused do\n  import Rp.Auth, only: [fetch_user: 2]\n  def x, do: 1\nend\n")
    # --all: an unused import saves no recompile (hidden by default): seen here all the same
    result = CliRunner().invoke(main, ["suggest", str(tmp_path), "--elixir", "1.18", "--no-cache",
                                       "--rule", "drop-unused-import", "--all"])
    assert "unused.ex:2" in result.output  # the rule still finds a real one
    assert "pipeline.ex" not in result.output
