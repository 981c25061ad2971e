"""`exfix baseline` and `--baseline FILE`: a gate on new findings only."""

from __future__ import annotations

import json

import pytest

from gate_helpers import NEW_FINDING, copy_example, exfix, findings


@pytest.fixture
def example(tmp_path):
    return copy_example(tmp_path / "example")


def test_a_baseline_hides_what_it_lists_and_only_that(example):
    res = exfix("baseline", cwd=example)
    assert res.exit_code == 0
    assert "exfix: wrote .exfix-baseline.json (5 findings)" in res.stderr
    doc = json.loads((example / ".exfix-baseline.json").read_text())
    assert doc["version"] == 1
    assert {(f["file"], f["rule"]) for f in doc["findings"]} >= {
        ("lib/bookshelf/catalog.ex", "attribute-to-function"), ("lib/bookshelf/query.ex", "module-concat")}
    entry = next(f for f in doc["findings"] if f["rule"] == "attribute-to-function")
    assert entry["code"] == "@default_shelf Config.default_shelf()" and entry["count"] == 1
    res = exfix("suggest", "--check", "--fail-on", "info", "--baseline", ".exfix-baseline.json", cwd=example)
    assert res.exit_code == 0 and findings(res) == []
    # a baselined fix is not made either
    res = exfix("apply", "--baseline", ".exfix-baseline.json", cwd=example)
    assert "wrote 0 files" in res.stderr
    (example / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    res = exfix("suggest", "--check", "--baseline", ".exfix-baseline.json", cwd=example)
    assert res.exit_code == 1 and findings(res) == ["attribute-to-function lib/bookshelf/summary.ex:2"]


def test_lines_moving_do_not_bring_an_entry_back_but_editing_it_does(example):
    exfix("baseline", cwd=example)
    catalog = example / "lib/bookshelf/catalog.ex"
    text = catalog.read_text()
    catalog.write_text("# a comment\n\n\n" + text.replace("  alias", "  @moduledoc false\n\n  alias"))
    res = exfix("suggest", "--check", "--fail-on", "info", "--baseline", ".exfix-baseline.json", cwd=example)
    assert res.exit_code == 0 and findings(res) == []
    catalog.write_text(text.replace("@default_shelf Config.default_shelf()",
                                    "@default_shelf Config.default_shelf() || :main"))
    res = exfix("suggest", "--check", "--baseline", ".exfix-baseline.json", cwd=example)
    assert res.exit_code == 1
    assert [f.split(":")[0] for f in findings(res)] == ["attribute-to-function lib/bookshelf/catalog.ex"]


def test_a_second_identical_finding_is_new(example):
    summary = example / "lib/bookshelf/summary.ex"
    summary.write_text(NEW_FINDING)
    exfix("baseline", cwd=example)
    summary.write_text(NEW_FINDING.replace("end\n", "end\n\n") + NEW_FINDING.replace("Summary", "Summary2"))
    # --all: the second fix alone saves no recompile (the first keeps the file's compile
    # dependency), so it is hidden by default; here it is the finding that matters
    res = exfix("suggest", "--check", "--all", "--baseline", ".exfix-baseline.json", cwd=example)
    assert res.exit_code == 1
    assert [f for f in findings(res) if "summary.ex" in f] == ["attribute-to-function lib/bookshelf/summary.ex:8"]


def test_paths_are_relative_to_the_baseline_so_any_working_folder_works(example, tmp_path):
    out = tmp_path / "ci" / "exfix-baseline.json"
    out.parent.mkdir()
    exfix("baseline", "--output", str(out), cwd=example)
    files = {f["file"] for f in json.loads(out.read_text())["findings"]}
    assert "../example/lib/bookshelf/catalog.ex" in files
    res = exfix("suggest", "--check", "--fail-on", "info", "--baseline", "ci/exfix-baseline.json",
                "example", cwd=tmp_path)
    assert res.exit_code == 0 and findings(res) == []


def test_a_file_that_is_not_a_baseline_is_an_input_error(example):
    (example / "b.json").write_text('{"version": 7}')
    res = exfix("suggest", "--baseline", "b.json", cwd=example)
    assert res.exit_code == 2 and "b.json: not an exfix baseline" in res.stderr
    res = exfix("suggest", "--baseline", "missing.json", cwd=example)
    assert res.exit_code == 2 and "missing.json: cannot read" in res.stderr
    res = exfix("baseline", "--baseline", "b.json", cwd=example)
    assert res.exit_code == 2 and "No such option '--baseline'" in res.stderr


def test_the_baseline_is_written_atomically_and_not_on_errors(example):
    (example / "lib/bookshelf/broken.ex").write_text("defmodule Broken do\n  def f(\nend\n")
    res = exfix("baseline", cwd=example)
    assert res.exit_code == 2 and not (example / ".exfix-baseline.json").exists()
    (example / "lib/bookshelf/broken.ex").unlink()
    target = example / ".exfix-baseline.json"
    target.write_text("old")
    assert exfix("baseline", cwd=example).exit_code == 0
    assert json.loads(target.read_text())["version"] == 1
    assert [p.name for p in example.iterdir() if p.name.startswith(".exfix-baseline")] == [target.name]
