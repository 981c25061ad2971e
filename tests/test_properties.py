"""Property tests: generated Elixir modules through every rule, ``suggest`` and ``apply``.

Hypothesis writes a small project: three library modules (a function, a macro, a struct, a
``__using__``) and a few modules built from the constructs exfix reads and rewrites: ``use``,
``import``, ``alias``, ``require`` (used or not), module attributes computed by calls, functions
calling other modules, structs, nested modules, ``if Code.ensure_loaded?(...)`` blocks with
``use``/``import`` inside a ``defmodule``, and some dynamic code (``Module.concat``,
``__MODULE__``, ``quote``/``unquote``, a macro defining ``defmodule unquote(name)``, sigils);
with LF or CRLF line ends. For each project:

- the analysis and every rule run without crashing;
- every fix a rule proposes applies cleanly with ``apply_edits``, and what ``suggest`` offers
  is exactly that (with and without ``--allow-concat``);
- every patched file parses with no ERROR or MISSING node and keeps its line ends;
- the patched project defines the same modules, file by file, and has no new compile edge
  (except into a new leaf helper file);
- ``exfix apply`` twice leaves the project as ``apply`` once does.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import refactor.commands.suggest as cmd
from refactor.analysis import analyze
from refactor.engine import Options, compile_edges, keep_line_ends, run_project
from refactor.parse import first_error, parse
from refactor.project import load_project
from refactor.rules import ALL_RULES
from refactor.rules.base import RuleContext, apply_edits

MIX = """defmodule Gen.MixProject do
  use Mix.Project

  def project do
    [app: :gen, version: "0.1.0", deps: []]
  end
end
"""

LIBRARY = """defmodule Lib.{n} do
  defstruct [:a]

  defmacro __using__(_opts) do
    quote do
      def used_{low}, do: :ok
    end
  end

  defmacro m{low}(x), do: x
  def f{low}(x), do: x
end
"""
LIBS = ["L0", "L1", "L2"]

lib = st.sampled_from(LIBS)
name = st.sampled_from(["a", "b", "c", "d"])
external = st.sampled_from(["Opt.JS", "Opt.Type", "Jason.Encoder", "Lib.Missing"])


def low(n: str) -> str:
    return n.lower()


# one statement of a module body (two-space indent, newline-terminated)
STATEMENT = st.one_of(
    lib.map(lambda n: f"  use Lib.{n}\n"),
    lib.map(lambda n: f"  require Lib.{n}\n"),
    lib.map(lambda n: f"  import Lib.{n}\n"),
    st.tuples(lib, name).map(lambda t: f"  import Lib.{t[0]}, only: [f{low(t[0])}: 1]\n"),
    lib.map(lambda n: f"  alias Lib.{n}\n"),
    st.tuples(lib, name).map(lambda t: f"  alias Lib.{t[0]}, as: {t[1].upper()}x\n"),
    st.tuples(name, lib).map(lambda t: f"  @{t[0]} Lib.{t[1]}.f{low(t[1])}(1)\n  def get_{t[0]}, do: @{t[0]}\n"),
    st.tuples(name, lib).map(lambda t: f"  @{t[0]}_m Lib.{t[1]}.m{low(t[1])}(2)\n"),
    st.tuples(name, lib).map(lambda t: f"  def call_{t[0]}(x), do: Lib.{t[1]}.f{low(t[1])}(x)\n"),
    st.tuples(name, lib).map(lambda t: f"  def macro_{t[0]}(x) do\n    require Lib.{t[1]}\n    Lib.{t[1]}.m{low(t[1])}(x)\n  end\n"),
    st.tuples(name, lib).map(lambda t: f"  def struct_{t[0]}, do: %Lib.{t[1]}{{a: 1}}\n"),
    st.tuples(name, lib).map(lambda t: f"  def match_{t[0]}(%Lib.{t[1]}{{}} = s), do: s\n"),
    lib.map(lambda n: f"  def imported(x), do: f{low(n)}(x)\n"),
    st.just('  @moduledoc """\n  Lib.L0.fl0(1) in a heredoc\n  """\n'),
    st.just("  @doc false\n"),
    # other generated modules: at compile time (an attribute) and at run time, so compile-
    # connected chains form for module-concat
    st.tuples(name, st.integers(0, 2)).map(lambda t: f"  @{t[0]}_g Gen.M{t[1]}.module_info(:module)\n"),
    st.tuples(name, st.integers(0, 2)).map(lambda t: f"  def run_{t[0]}(x), do: Gen.M{t[1]}.run_a(x)\n"),
    # dynamic code the rules must leave alone or keep working around
    lib.map(lambda n: f"  def dyn(x), do: Module.concat(Lib, {n}).f{low(n)}(x)\n"),
    st.just("  @me __MODULE__\n  def me, do: @me.module_info(:module)\n"),
    lib.map(lambda n: f"  def quoted, do: quote(do: Lib.{n}.f{low(n)}(unquote(1)))\n"),
    st.just("  defmacro make(name) do\n    quote do\n      defmodule unquote(name) do\n"
            "      end\n    end\n  end\n"),
    lib.map(lambda n: f"  @s ~s|Lib.{n}.f{low(n)}(1)|\n  def s, do: @s\n"),
    st.just("  # a comment naming Lib.L1\n"),
    st.just("\n"),
    st.tuples(external, st.sampled_from(["use", "import", "require"]), st.booleans()).map(
        lambda t: (
            f"  if Code.ensure_loaded?({t[0]}) do\n    {t[1]} {t[0]}\n    def has, do: true\n"
            + ("  else\n    def has, do: false\n" if t[2] else "")
            + "  end\n"
        )
    ),
)


def module_text(index: int, body: list[str], nested: list[str] | None) -> str:
    text = f"defmodule Gen.M{index} do\n" + "".join(body)
    if nested is not None:
        inner = "".join("  " + line if line.strip() else line for line in "".join(nested).splitlines(True))
        text += "  defmodule Inner do\n" + inner + "  end\n"
    return text + "end\n"


modules = st.lists(
    st.tuples(st.lists(STATEMENT, max_size=7), st.none() | st.lists(STATEMENT, max_size=3)),
    min_size=1,
    max_size=3,
)


def write_project(root: Path, mods, crlf: bool) -> dict[str, bytes]:
    def enc(text: str) -> bytes:
        return (text.replace("\n", "\r\n") if crlf else text).encode()

    (root / "lib").mkdir(parents=True)
    (root / "mix.exs").write_bytes(enc(MIX))
    files = {}
    for n in LIBS:
        files[f"lib/lib/{low(n)}.ex"] = enc(LIBRARY.format(n=n, low=low(n)))
    for i, (body, nested) in enumerate(mods):
        files[f"lib/gen/m{i}.ex"] = enc(module_text(i, body, nested))
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def disk(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath, n)
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def modules_by_file(analysis) -> dict[str, set[str]]:
    return {f: {m.name for m in facts.modules} for f, facts in analysis.files.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(mods=modules, crlf=st.booleans(), unsafe=st.booleans())
def test_rules_on_generated_modules(tmp_path_factory, mods, crlf, unsafe):
    root = tmp_path_factory.mktemp("gen")
    files = write_project(root, mods, crlf)
    project = load_project(root)
    before = analyze(project, version="1.18")
    for path, facts in before.files.items():
        assert facts.errors == [], f"generated {path} does not parse:\n{files[path].decode()}"

    # every fix each rule proposes applies cleanly
    ctx = RuleContext(project, before, dict(files), {})
    proposed = {}
    for rule_cls in ALL_RULES:
        for diag in rule_cls().check(ctx):
            if diag.fix is None:
                continue
            # raises on a bad edit; the engine keeps the file's line ends in what a fix adds
            after = apply_edits(files[diag.file], keep_line_ends(diag.fix, files[diag.file]).edits)
            proposed[(diag.rule or rule_cls.id, diag.file, diag.line)] = after

    opts = Options(rules=list(ALL_RULES), version="1.18", cwd=str(root), allow_unsafe=unsafe)
    result = run_project(root, opts)
    assert result.stats is not None and result.errors == [], [str(e) for e in result.errors]
    for sug in result.suggestions:
        state = "in patch" if sug.in_patch else "offered" if sug.offered else "not offered"
        event(f"{sug.rule}: {state}" + (" (--allow-concat)" if sug.rule == "module-concat" and unsafe else ""))
        if sug.offered:
            assert sug.before == files[sug.file]
            if sug.found_in_pass == 1:
                assert sug.after == proposed[(sug.rule, sug.file, sug.line)], "suggest shows another patch"
            else:  # made on the text earlier passes left: its diff carries them too
                assert first_error(parse(sug.after)) is None, sug.after.decode()

    # what apply writes parses, keeps line ends, defines the same modules, adds no compile edge
    for patch in result.patches:
        assert patch.before is None or patch.before == files[patch.file]
        assert first_error(parse(patch.after)) is None, patch.after.decode()
        if crlf and patch.before is not None:
            assert patch.after.count(b"\n") == patch.after.count(b"\r\n"), "a LF crept into a CRLF file"
    patched = {**files, **{p.file: p.after for p in result.patches}}
    after = analyze(project, version="1.18", sources=patched)
    mods_before, mods_after = modules_by_file(before), modules_by_file(after)
    for path in files:
        if path.endswith(".ex"):
            assert mods_after[path] == mods_before[path], path
    new = {p.file for p in result.patches if p.before is None}
    for a, b in compile_edges(after) - compile_edges(before):
        assert b in new and after.file_graph.out_degree(b) == 0, f"new compile edge {a} -> {b}"

    # two files whose fixes each create the same helper (the guard form of hoist-conditional-use
    # in two modules): apply writes it once and refuses the copy (test_two_files_sharing_a_new_helper)
    if len({p.file for p in result.patches}) < len(result.patches):
        event("known: two patches create the same new file")
        shutil.rmtree(root, ignore_errors=True)
        return

    # apply twice == apply once, and apply writes what suggest showed
    try:
        runs = apply_until_stable(root, limit=2, unsafe=unsafe)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert {rel: runs[0].get(rel) for rel in patched} == patched, "apply wrote other bytes than suggest showed"
    assert len(runs) == 2, "a second apply changed something"


def apply_until_stable(root: Path, limit: int, unsafe: bool = False) -> list[dict[str, bytes]]:
    """Run ``exfix apply --all`` until it changes nothing (at most ``limit`` + 1 times); the
    project after each run. Every run must exit 0. ``--all``: every verified fix, as
    ``run_project`` offers them by default, whatever recompiles it saves (the fixes these
    projects get, unused requires and imports, save none)."""
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(root)
    try:
        states: list[dict[str, bytes]] = []
        for _ in range(limit + 1):
            args = [".", "--elixir", "1.18", "-j", "1", "--all"] + (["--allow-concat"] if unsafe else [])
            res = runner.invoke(cmd.apply, args, catch_exceptions=False)
            assert res.exit_code == 0, res.stderr
            states.append(disk(root))
            if len(states) >= 2 and states[-1] == states[-2]:
                return states
        raise AssertionError(f"apply still changes the project after {limit + 1} runs")
    finally:
        os.chdir(old)


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_a_known_project_gets_fixes(tmp_path, crlf):
    """The grammar reaches the rules: a module with an unused require, an attribute computed by
    a project module, and a use inside if Code.ensure_loaded? is fixed by each rule."""
    mods = [([
        "  require Lib.L0\n",
        "  @a Lib.L1.fl1(1)\n  def get_a, do: @a\n",
        "  if Code.ensure_loaded?(Opt.JS) do\n    use Opt.JS\n    def has, do: true\n  end\n",
    ], None)]
    write_project(tmp_path / "p", mods, crlf)
    result = run_project(tmp_path / "p", Options(rules=list(ALL_RULES), version="1.18", cwd=str(tmp_path)))
    offered = sorted({s.rule for s in result.suggestions if s.offered})
    assert offered == ["attribute-to-function", "drop-unused-require", "hoist-conditional-use"], [
        (s.rule, s.reasons) for s in result.suggestions]


HOIST_AND_REQUIRE = [([
    "  require Lib.L0\n",
    "  if Code.ensure_loaded?(Opt.JS) do\n    use Opt.JS\n    def has, do: true\n  end\n",
], None)]


def test_apply_twice_equals_once_when_fixes_overlap(tmp_path):
    write_project(tmp_path / "p", HOIST_AND_REQUIRE, crlf=False)
    runs = apply_until_stable(tmp_path / "p", limit=3)
    assert len(runs) == 2, f"apply changed the project {len(runs) - 1} times"


def test_hoist_keeps_crlf_line_ends(tmp_path):
    mods = [(["  if Code.ensure_loaded?(Opt.JS) do\n    use Opt.JS\n    def has, do: true\n  end\n"], None)]
    write_project(tmp_path / "p", mods, crlf=True)
    result = run_project(tmp_path / "p", Options(rules=list(ALL_RULES), version="1.18", cwd=str(tmp_path)))
    [patch] = result.patches
    assert patch.after.count(b"\n") == patch.after.count(b"\r\n"), patch.after


def test_unused_imports_of_one_module_go_in_one_apply(tmp_path):
    write_project(tmp_path / "p", [(["  import Lib.L0\n", "  import Lib.L0, only: [fl0: 1]\n"], None)], crlf=False)
    runs = apply_until_stable(tmp_path / "p", limit=3)
    assert runs[0]["lib/gen/m0.ex"] == b"defmodule Gen.M0 do\nend\n"


def test_a_fix_enabled_by_another_is_made_in_the_same_apply(tmp_path):
    mods = [(["  require Lib.L2\n", "  import Lib.L2\n", "  def imported(x), do: fl2(x)\n"], None)]
    write_project(tmp_path / "p", mods, crlf=False)
    runs = apply_until_stable(tmp_path / "p", limit=3)
    assert len(runs) == 2, f"apply changed the project {len(runs) - 1} times"


def test_concat_of_a_call_import_to_alias_writes_is_made_in_the_same_apply(tmp_path):
    mods = [(["  import Lib.L0\n", "  def imported(x), do: fl0(x)\n"], None),
            (["  @a_g Gen.M0.module_info(:module)\n"], None)]
    write_project(tmp_path / "p", mods, crlf=False)
    runs = apply_until_stable(tmp_path / "p", limit=3, unsafe=True)
    assert len(runs) == 2, f"apply changed the project {len(runs) - 1} times"


def test_two_files_sharing_a_new_helper(tmp_path):
    block = "  if Code.ensure_loaded?(Opt.JS) do\n    use Opt.JS\n    def has, do: true\n  end\n"
    root = tmp_path / "p"
    write_project(root, [([block], None), ([block], None)], crlf=False)
    old = os.getcwd()
    os.chdir(root)
    try:
        res = CliRunner().invoke(cmd.apply, [".", "--elixir", "1.18", "-j", "1", "--strategy", "guard"])
    finally:
        os.chdir(old)
    assert res.exit_code == 0, res.stderr
