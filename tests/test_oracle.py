"""Tests of the oracle harness itself, against the real compilers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import oracle

FILES = {
    "mix.exs": """\
defmodule Tiny.MixProject do
  use Mix.Project
  def project, do: [app: :tiny, version: "0.1.0", deps: [{:helper, path: "../helper"}]]
end
""",
    # lib/b.ex -> lib/a.ex is a compile edge (macro), lib/c.ex -> lib/a.ex a runtime one
    "lib/a.ex": """\
defmodule Tiny.A do
  defmacro twice(x), do: quote(do: unquote(x) * 2)
  def one, do: 1
end
""",
    "lib/b.ex": """\
defmodule Tiny.B do
  require Tiny.A
  def four, do: Tiny.A.twice(2)
end
""",
    "lib/c.ex": """\
defmodule Tiny.C do
  def one, do: Tiny.A.one()
end
""",
    # a path dep outside the project: lib/d.ex needs it at compile time
    "lib/d.ex": """\
defmodule Tiny.D do
  require Helper
  def six, do: Helper.triple(2)
end
""",
    "../helper/mix.exs": """\
defmodule Helper.MixProject do
  use Mix.Project
  def project, do: [app: :helper, version: "0.1.0"]
end
""",
    "../helper/lib/helper.ex": """\
defmodule Helper do
  defmacro triple(x), do: quote(do: unquote(x) * 3)
end
""",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("oracle") / "tiny"
    for rel, text in FILES.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project


pytestmark = pytest.mark.oracle


def test_toolchain_answers(toolchain, elixir_version):
    assert toolchain.version == elixir_version
    assert toolchain.full_version.startswith(elixir_version + ".")
    assert (toolchain.chroot is None) == (elixir_version == "1.14" or (
        toolchain.bin_dir is not None and oracle.built_elixirs()[elixir_version][0] is None))
    work = toolchain.workdir("probe")
    assert work.is_dir() and not any(work.iterdir())
    out = toolchain.run(work, ["elixir", "-e", "IO.puts(System.version())"]).stdout
    assert out.strip() == toolchain.full_version


def test_graph_has_compile_edge(compile_project, tiny):
    c = compile_project(tiny)
    graph = c.xref_graph()
    assert "lib/b.ex\n└── lib/a.ex (compile)\n" in graph
    assert "lib/c.ex\n└── lib/a.ex\n" in graph
    assert c.xref_graph("--label", "compile").strip()
    assert "lib/c.ex" not in c.xref_graph("--label", "compile", "--only-direct")


def test_graph_dot_is_the_file(compile_project, tiny):
    c = compile_project(tiny)
    dot = c.xref_graph("--format", "dot")
    assert dot.startswith("digraph")
    assert '"lib/b.ex" -> "lib/a.ex" [label="(compile)"]' in dot
    assert not (c.path / "xref_graph.dot").exists()
    assert c.xref_graph("--format", "dot") == dot


def test_graph_json_since_1_19(compile_project, tiny, elixir_version):
    c = compile_project(tiny)
    if tuple(map(int, elixir_version.split("."))) < (1, 19):
        # --format json came with 1.19; the harness reports mix's failure
        with pytest.raises(oracle.MixFailed):
            c.xref_graph("--format", "json")
        return
    graph = json.loads(c.xref_graph("--format", "json"))
    assert graph["lib/b.ex"] == {"lib/a.ex": "compile"}


def test_trace(compile_project, tiny):
    trace = compile_project(tiny).xref_trace("lib/b.ex")
    assert "lib/b.ex:3: call Tiny.A.twice/1 (compile)" in trace


def test_unedited_copy_recompiles_nothing(compile_project, tiny):
    c = compile_project(tiny)
    assert c.recompile_after({}) == []
    assert c.recompile_after({}) == []


def test_recompile_after_editing_a_dependency(compile_project, tiny):
    c = compile_project(tiny)
    a = FILES["lib/a.ex"].replace("def one, do: 1", "def one, do: 1\n  def two, do: 2")
    assert c.recompile_after({"lib/a.ex": a}) == ["lib/a.ex", "lib/b.ex"]
    # calls do not interfere: the cached copy is untouched
    assert (c.path / "lib/a.ex").read_text() == FILES["lib/a.ex"]
    assert c.recompile_after({"lib/c.ex": FILES["lib/c.ex"] + "\n"}) == ["lib/c.ex"]


def test_recompile_after_new_and_deleted_files(compile_project, tiny):
    c = compile_project(tiny)
    new = "defmodule Tiny.E do\n  def e, do: :e\nend\n"
    assert c.recompile_after({"lib/e.ex": new}) == ["lib/e.ex"]
    assert c.recompile_after({"lib/c.ex": None}) == []


def test_recompile_after_editing_a_path_dep(compile_project, tiny):
    c = compile_project(tiny)
    helper = FILES["../helper/lib/helper.ex"].replace("* 3", "* 3 + 0")
    rec = c.recompile({"../helper/lib/helper.ex": helper})
    assert rec.files == ["lib/d.ex"]
    assert "==> helper" in rec.result.stdout
    # the edited copy still answers mix without recompiling everything
    assert "lib/d.ex" in rec.xref_graph()
    assert oracle.parse_compiled(rec.mix("compile", "--verbose").stdout, "tiny") == []


def test_parse_compiled_outputs():
    out_1_14 = """==> helper
Compiling 1 file (.ex)
Generated helper app
==> tiny
Compiling 2 files (.ex)
Compiled lib/a.ex
hello from the module body
Compiled lib/b.ex
Generated tiny app
Consolidated Inspect
"""
    assert oracle.parse_compiled(out_1_14, "tiny") == ["lib/a.ex", "lib/b.ex"]
    assert oracle.parse_compiled("Compiling 1 file (.ex)\nCompiled lib/x.ex\n") == ["lib/x.ex"]
    umbrella = "==> app_a\nCompiled lib/a.ex\n==> app_b\nCompiled lib/b.ex\n"
    assert oracle.parse_compiled(umbrella, None, {"app_a", "app_b"}) == [
        "apps/app_a/lib/a.ex", "apps/app_b/lib/b.ex"]
    assert oracle.parse_compiled("", "tiny") == []

