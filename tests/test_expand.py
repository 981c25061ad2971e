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
