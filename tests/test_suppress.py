"""Inline suppressions: `# exfix:ignore RULE` (line before, or line end) and
`# exfix:ignore-file RULE`."""

from __future__ import annotations

import pytest

from gate_helpers import NEW_FINDING, copy_example, exfix, findings
from refactor.suppress import read

KNOWN = frozenset({"attribute-to-function", "module-concat", "import-to-alias"})


def test_the_line_before_and_the_line_end():
    src = (b"defmodule A do\n"
           b"  # exfix:ignore attribute-to-function\n"
           b"  @a B.c()\n"
           b"  @b B.d() # exfix:ignore module-concat, import-to-alias\n"
           b"end\n")
    sup = read(src, KNOWN)
    assert sup.hides("attribute-to-function", 3)
    assert not sup.hides("attribute-to-function", 2) and not sup.hides("attribute-to-function", 4)
    assert sup.hides("module-concat", 4) and sup.hides("import-to-alias", 4)
    assert not sup.hides("attribute-to-function", 4)
    assert sup.problems == []


def test_file_wide():
    src = b"defmodule A do\n  @a B.c()\nend\n# exfix:ignore-file module-concat\n"
    sup = read(src, KNOWN)
    assert sup.hides("module-concat", 1) and sup.hides("module-concat", 2)
    assert not sup.hides("attribute-to-function", 2)


def test_words_in_a_string_or_heredoc_are_not_comments():
    src = (b'defmodule A do\n  @doc """\n  # exfix:ignore-file module-concat\n  """\n'
           b'  def f, do: "# exfix:ignore module-concat"\nend\n')
    sup = read(src, KNOWN)
    assert not sup.file and not sup.lines and not sup.problems


def test_a_comment_naming_no_rule_or_an_unknown_one_is_a_problem_at_its_line():
    src = b"defmodule A do\n  # exfix:ignore\n  @a 1\n  @b 2 # exfix:ignore nope, module-concat\nend\n"
    sup = read(src, KNOWN)
    assert [line for line, _ in sup.problems] == [2, 4]
    assert "names no rule" in sup.problems[0][1]
    assert "unknown rule nope" in sup.problems[1][1]
    assert sup.hides("module-concat", 4)  # the rule it does name still counts


@pytest.fixture
def with_new_finding(tmp_path):
    example = copy_example(tmp_path / "example")
    exfix("apply", cwd=example)
    (example / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    assert exfix("suggest", "--check", cwd=example).exit_code == 1
    return example


@pytest.mark.parametrize("how", ["line before", "line end", "file"])
def test_suppressing_the_new_finding_makes_the_gate_green_and_apply_leave_it(with_new_finding, how):
    example = with_new_finding
    summary = example / "lib/bookshelf/summary.ex"
    attr = "  @shelf Bookshelf.Config.default_shelf()\n"
    text = {
        "line before": NEW_FINDING.replace(attr, "  # exfix:ignore attribute-to-function\n" + attr),
        "line end": NEW_FINDING.replace(attr, attr.rstrip("\n") + "  # exfix:ignore attribute-to-function\n"),
        "file": "# exfix:ignore-file attribute-to-function\n" + NEW_FINDING,
    }[how]
    summary.write_text(text)
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 0, res.stderr
    assert not [f for f in findings(res) if "summary.ex" in f]
    res = exfix("apply", cwd=example)
    assert "wrote 0 files" in res.stderr and summary.read_text() == text


def test_a_suppression_of_another_rule_hides_nothing(with_new_finding):
    example = with_new_finding
    summary = example / "lib/bookshelf/summary.ex"
    summary.write_text("# exfix:ignore-file module-concat\n" + NEW_FINDING)
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 1 and "attribute-to-function lib/bookshelf/summary.ex:3" in findings(res)


def test_a_misspelt_rule_is_an_error_naming_file_and_line(with_new_finding):
    example = with_new_finding
    (example / "lib/bookshelf/summary.ex").write_text(
        NEW_FINDING.replace("  @shelf", "  # exfix:ignore attribute-to-functoin\n  @shelf"))
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 2
    assert ("lib/bookshelf/summary.ex:2: error: exfix:ignore names unknown rule attribute-to-functoin"
            in res.stderr)
