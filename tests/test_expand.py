"""Expander cases found on real projects, pinned without a compiler (the oracle suite holds
the fixtures against mix)."""

from __future__ import annotations

from refactor.analysis import analyze

MIX_EXS = 'defmodule P.MixProject do\n  use Mix.Project\n  def project, do: [app: :p, version: "0.1.0"]\nend\n'
TOY = "defmodule Toy.B do\n  def go(x), do: x\nend\ndefmodule Toy.C do\n  def go(x), do: x\nend\n"


def project(tmp_path, files: dict[str, str]):
    (tmp_path / "lib").mkdir()
    (tmp_path / "mix.exs").write_text(MIX_EXS)
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_references_inside_a_parenthesised_capture(tmp_path):
    # &(expr): tree-sitter gives the operand field to the "(" token first
    root = project(tmp_path, {"lib/toy.ex": TOY, "lib/a.ex": (
        "defmodule A do\n"
        "  def f(l), do: Enum.map(l, &(Toy.C.go(&1)))\n"
        "  def g(l), do: Enum.filter(l, &(&1 != Toy.B))\n"
        "end\n")})
    refs = {(r.line, r.kind, r.target, r.mode) for r in analyze(root, "1.18").files["lib/a.ex"].references}
    assert (2, "call", "Toy.C", "runtime") in refs
    assert (3, "alias", "Toy.B", "runtime") in refs


def test_quoted_fragments_in_macro_variables_are_injected(tmp_path):
    # a __using__ that builds quotes in variables (under `if opts[:k]`) and unquotes them
    root = project(tmp_path, {"lib/toy.ex": TOY, "lib/base.ex": (
        "defmodule Base do\n"
        "  defmacro __using__(opts) do\n"
        "    id =\n"
        "      if opts[:id] do\n"
        "        quote do\n"
        "          def id, do: unquote(opts[:id])\n"
        "        end\n"
        "      else\n"
        "        quote do\n"
        "          def id, do: Toy.C.go(__MODULE__)\n"
        "        end\n"
        "      end\n"
        "    quote do\n"
        "      unquote(id)\n"
        "    end\n"
        "  end\n"
        "end\n"), "lib/user.ex": "defmodule User do\n  use Base\nend\n",
        "lib/named.ex": "defmodule Named do\n  use Base, id: :named\nend\n"})
    edges = analyze(root, "1.18").edges()
    assert edges["lib/user.ex"] == {"lib/base.ex": "compile", "lib/toy.ex": "runtime"}
    assert edges["lib/named.ex"] == {"lib/base.ex": "compile"}


def test_defdelegate_to_an_attribute_reads_it_at_compile_time(tmp_path):
    # mix (1.14, 1.18, 1.20): ui.ex -> toy.ex (compile), the attribute's alias replayed
    root = project(tmp_path, {"lib/toy.ex": TOY, "lib/ui.ex": (
        "defmodule Toy.UI do\n  @shell Toy.B\n\n  defdelegate go(x), to: @shell\nend\n")})
    analysis = analyze(root, "1.18")
    assert analysis.edges()["lib/ui.ex"] == {"lib/toy.ex": "compile"}
    refs = {(r.kind, r.target, r.mode, r.function) for r in analysis.files["lib/ui.ex"].references}
    assert ("call", "Toy.B", "runtime", "go/1") in refs


def test_unquote_fragments_of_a_def_run_in_the_module_body(tmp_path):
    # mix (1.14, 1.18, 1.20): every unquote below is a compile call, B.j/0 in the body runtime
    toy = ("defmodule B do\n  def g, do: 1\n  def h, do: :x\n  def i(_), do: 2\n  def j, do: 3\n"
           "  def pat, do: 4\nend\n")
    root = project(tmp_path, {"lib/b.ex": toy, "lib/a.ex": (
        "defmodule A do\n"
        "  def f, do: unquote(B.g())\n"
        "  def unquote(:\"name_#{B.h()}\")(), do: :ok\n"
        "  def k(x) do\n"
        "    alias Nope, as: B\n"
        "    {unquote(B.i(1)), x}\n"
        "  end\n"
        "  def m(unquote(B.pat()) = v) when v != unquote(B.g()), do: {v, B.j()}\n"
        "  def q, do: quote(do: unquote(B.j()))\n"
        "end\n")})
    analysis = analyze(root, "1.18")
    calls = {(r.line, r.target, r.function, r.mode)
             for r in analysis.files["lib/a.ex"].references if r.kind == "call"}
    assert calls == {
        (2, "B", "g/0", "compile"),
        (3, "B", "h/0", "compile"),
        # the fragment sees the module body's aliases, not the function's
        (6, "B", "i/1", "compile"),
        (8, "B", "pat/0", "compile"),
        (8, "B", "g/0", "compile"),
        (8, "B", "j/0", "runtime"),
        # an unquote inside a quote belongs to the quote
        (9, "B", "j/0", "runtime"),
    }
    assert analysis.edges()["lib/a.ex"] == {"lib/b.ex": "compile"}


def test_a_framework_module_the_project_defines_is_expanded_not_modelled(tmp_path):
    # Ecto.Query has a model for applications (refactor/frameworks/ecto.toml), which only
    # takes the arguments as run-time code; in a project that defines Ecto.Query itself
    # (Ecto's own repository) its macros are expanded from the source: the helper module
    # its quote calls is a run-time reference of the caller
    root = project(tmp_path, {
        "lib/query.ex": (
            "defmodule Ecto.Query do\n"
            "  defmacro where(query, expr) do\n"
            "    Ecto.Query.Builder.Filter.build(query, expr)\n"
            "  end\n"
            "end\n"),
        "lib/filter.ex": (
            "defmodule Ecto.Query.Builder.Filter do\n"
            "  def build(query, expr) do\n"
            "    quote do: Ecto.Query.Builder.Filter.filter!(unquote(query), unquote(expr))\n"
            "  end\n"
            "  def filter!(query, expr), do: {query, expr}\n"
            "end\n"),
        "lib/user.ex": (
            "defmodule User do\n"
            "  import Ecto.Query, only: [where: 2]\n"
            "  def f(q), do: where(q, true)\n"
            "end\n"),
    })
    analysis = analyze(root, "1.18")
    refs = {(r.line, r.kind, r.target, r.mode) for r in analysis.files["lib/user.ex"].references}
    assert (3, "call", "Ecto.Query.Builder.Filter", "runtime") in refs
    assert not any("Ecto.Query" in note for note in analysis.notes)
