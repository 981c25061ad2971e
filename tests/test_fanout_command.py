"""exfix fanout: the per-file recompile counts and the ranking of edges worth breaking."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from refactor.analysis import analyze
from refactor.cli import main
from refactor.recompile import recompiles

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"


def test_fanout_agrees_with_recompiles_and_ranks_the_attribute_first():
    res = CliRunner().invoke(main, ["fanout", str(EXAMPLE), "--format", "json", "--elixir", "1.18"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    analysis = analyze(EXAMPLE, "1.18")
    deps = analysis.file_deps()
    counts = {f: len(recompiles(deps, f, False, "1.18", export_implies_runtime=False)) for f in deps}
    assert doc["files"] == len(counts)
    assert doc["mean"] == round(sum(counts.values()) / len(counts), 3)
    assert doc["max"] == max(counts.values())
    assert doc["top"][0] == {"file": "lib/bookshelf/model.ex", "recompiles": counts["lib/bookshelf/model.ex"]}
    first = doc["breakable"][0]
    assert (first["source"], first["sink"], first["why"]) == (
        "lib/bookshelf/catalog.ex", "lib/bookshelf/config.ex", "compile-connected")
    assert first["fanout_after"] < first["fanout_before"]
    assert {"file": "lib/bookshelf/catalog.ex", "line": 5} == {k: first["references"][0][k] for k in ("file", "line")}
