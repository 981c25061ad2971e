"""The ranking of breakable compile references (refactor/breakable.py)."""

from __future__ import annotations

from pathlib import Path

from refactor.analysis import analyze
from refactor.breakable import candidate_edges, format_ranking, rank, without_compile
from refactor.recompile import fanout

REPO = Path(__file__).resolve().parent.parent
CHAINS = REPO / "fixtures" / "projects" / "10_cycles_chains"


def test_cycle_and_compile_connected_edges_are_found():
    a = analyze(CHAINS, version="1.18")
    assert candidate_edges(a) == [
        ("lib/ch/a.ex", "lib/ch/b.ex", "compile-connected"),
        ("lib/cy/a.ex", "lib/cy/b.ex", "cycle"),
    ]


def test_ranking_lists_the_references_and_scores_them():
    a = analyze(CHAINS, version="1.18")
    edges = rank(a)
    assert [(e.source, e.target) for e in edges] == [("lib/ch/a.ex", "Ch.B"), ("lib/cy/a.ex", "Cy.B")]
    top = edges[0]
    assert top.gain > 0
    assert [(c.line, c.kind) for c in top.culprits] == [(4, "call")]
    cy = edges[1]
    assert {(c.line, c.kind, c.context) for c in cy.culprits} == {
        (3, "alias", "attribute"),
        (3, "call", "attribute"),
    }
    # one expression (alias + call on one line): each reference carries the whole drop
    assert all(c.score == cy.gain for c in cy.culprits)
    text = format_ranking(edges)
    assert "lib/cy/a.ex:3: call Cy.B.value/0 in a module attribute" in text


def test_score_is_the_fanout_with_the_module_moved_to_runtime():
    a = analyze(CHAINS, version="1.18")
    deps = a.file_deps()
    before = fanout(deps, "1.18", export_implies_runtime=False)
    moved = without_compile(deps["lib/cy/a.ex"], "Cy.B")
    after = fanout({**deps, "lib/cy/a.ex": moved}, "1.18", export_implies_runtime=False)
    edge = [e for e in rank(a) if e.target == "Cy.B"][0]
    assert edge.fanout_before == sum(before.values()) / len(before)
    assert edge.fanout_after == sum(after.values()) / len(after)
    assert deps["lib/cy/a.ex"].compile == {"Cy.B"}  # the copy left the original alone


def test_no_candidates_without_compile_edges(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "mix.exs").write_text(
        'defmodule P.MixProject do\n  use Mix.Project\n  def project, do: [app: :p, version: "0.1.0"]\nend\n'
    )
    (tmp_path / "lib" / "a.ex").write_text("defmodule A do\n  def f, do: B.g()\nend\n")
    (tmp_path / "lib" / "b.ex").write_text("defmodule B do\n  def g, do: :ok\nend\n")
    assert rank(analyze(tmp_path, version="1.18")) == []
