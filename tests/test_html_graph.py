"""``exfix graph --format html``: a self-contained page, checked in a real headless Chromium
(Debian's, installed by scripts/setup-tests; a missing browser fails, never skips)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from browser import Browser, chromium
from refactor.analysis import analyze
from refactor.cli import main
from refactor.recompile import recompiles
from refactor.trace import format_entry, trace_entries

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "fixtures" / "example"
SHOP = HERE.parent / "fixtures" / "monorepo" / "shop"
SCREENSHOT = Path("/tmp/exfix-html-graph.png")  # kept for a person to look at


def make_page(project: Path, target: Path) -> str:
    res = CliRunner().invoke(main, ["graph", str(project), "--format", "html", "--output", str(target),
                                    "--no-cache", "--elixir", "1.18"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.stdout == f'Generated "{target}": open it in a browser (it needs no network).\n'
    return target.read_text()


@pytest.fixture(scope="module")
def browser():
    if chromium() is None:
        pytest.fail("chromium is missing: run `bash scripts/setup-tests` (as root)", pytrace=False)
    with Browser() as b:
        yield b


def expected_drawing(analysis):
    """The edges the page must draw: compile-connected ones (a compile edge to a file with
    dependencies of its own, as mix's --label compile-connected) and those inside a cycle
    that holds a compile edge; and the files of those cycles."""
    edges = analysis.edges()
    g = nx.DiGraph()
    for a, sinks in edges.items():
        for b, label in sinks.items():
            g.add_edge(a, b, label=label)
    cycles = [c for c in nx.strongly_connected_components(g) if len(c) > 1
              and any(g.edges[a, b]["label"] == "compile" for a, b in g.subgraph(c).edges)]
    in_cycle = {f: i for i, c in enumerate(cycles) for f in c}
    drawn = {(a, b) for a, sinks in edges.items() for b, label in sinks.items()
             if label == "compile" and edges.get(b)
             or a in in_cycle and in_cycle.get(b) == in_cycle[a]}
    return drawn, {f for c in cycles for f in c}


def test_the_page_needs_nothing_from_outside(tmp_path):
    page = make_page(EXAMPLE, tmp_path / "g.html")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\bsrc\s*=", page)
    # the one URL in it is the SVG namespace, which is a name, not a fetch
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    script = (HERE.parent / "refactor" / "html_graph.js").read_text()
    assert "</" not in script  # it is inlined in a <script> element as it is
    data = json.loads(re.search(r'<script type="application/json" id="exfix-data">(.*?)</script>',
                                page, re.S).group(1))
    assert "lib/bookshelf/query.ex" in data["files"]


def test_the_example_page_in_chromium(tmp_path, browser):
    page_path = tmp_path / "example.html"
    make_page(EXAMPLE, page_path)
    browser.open(page_path.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "1"
    analysis = analyze(EXAMPLE, "1.18", cache=False)
    drawn, cycle_files = expected_drawing(analysis)
    assert cycle_files == {"lib/bookshelf/index.ex", "lib/bookshelf/search.ex", "lib/bookshelf/query.ex"}
    # the cycle is drawn: its files marked, its edges there
    assert set(browser.evaluate("[...document.querySelectorAll('g.node.cycle')].map(g => g.dataset.file)")) == cycle_files
    shown = browser.evaluate("[...document.querySelectorAll('path.edge')].map(p => [p.dataset.from, p.dataset.to])")
    assert {tuple(e) for e in shown} == drawn
    assert browser.evaluate("document.body.dataset.cycles") == "1"
    # the list: every file, largest fan-out first
    counts = analysis.fanout()
    listed = browser.evaluate("[...document.querySelectorAll('#files li')].map(li => [li.dataset.file, +li.querySelector('.n').textContent])")
    assert [f for f, _ in listed] == sorted(analysis.tracked_files, key=lambda f: (-counts[f], f))
    assert all(n == counts[f] for f, n in listed)
    # clicking a file shows its trace and its recompile set, as `exfix trace` and `recompiles` do
    deps = analysis.file_deps()
    for file in analysis.tracked_files:
        browser.evaluate(f"document.querySelector('#files li[data-file={json.dumps(file)}]').click()")
        assert browser.evaluate("document.getElementById('picked').textContent") == file
        shown = browser.evaluate("[...document.querySelectorAll('#recompile-set li')].map(li => li.textContent)")
        assert shown == recompiles(deps, file, False, "1.18", export_implies_runtime=False), file
        trace = browser.evaluate("document.getElementById('trace').textContent")
        assert trace == "\n".join(format_entry(file, r, "1.18") for r in trace_entries(analysis, file))
    # a click in the drawing does the same, and marks the recompile set there
    browser.evaluate("document.querySelector('g.node[data-file=\"lib/bookshelf/index.ex\"]')"
                     ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    assert browser.evaluate("document.getElementById('picked').textContent") == "lib/bookshelf/index.ex"
    assert browser.evaluate("[...document.querySelectorAll('g.node.hit')].map(g => g.dataset.file)") == ["lib/bookshelf/search.ex"]
    assert browser.errors() == []
    browser.screenshot(str(SCREENSHOT))
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_umbrella_page_in_chromium(tmp_path, browser):
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    page_path = tmp_path / "shop.html"
    make_page(shop, page_path)
    browser.open(page_path.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "1"
    listed = browser.evaluate("[...document.querySelectorAll('#files li')].map(li => li.dataset.file)")
    assert sorted(listed) == ["apps/core/lib/core/cart.ex", "apps/core/lib/core/price.ex",
                              "apps/web/lib/web/layout.ex", "apps/web/lib/web/page.ex"]
    # nothing to draw: the page says so rather than showing an empty frame
    assert "No compile-connected chain" in browser.evaluate("document.getElementById('drawing').textContent")
    browser.evaluate("document.querySelector('#files li[data-file=\"apps/web/lib/web/page.ex\"]').click()")
    assert browser.evaluate("document.getElementById('trace').textContent") == \
        "apps/web/lib/web/page.ex:2: require Web.Layout (export)"
    assert browser.errors() == []


def test_html_takes_no_filters_and_writes_stdout_with_dash(tmp_path):
    res = CliRunner().invoke(main, ["graph", str(EXAMPLE), "--format", "html", "--label", "compile",
                                    "--no-cache", "--elixir", "1.18"])
    assert res.exit_code == 2 and "takes no --label" in res.output
    res = CliRunner().invoke(main, ["graph", str(EXAMPLE), "--format", "html", "--output", "-",
                                    "--no-cache", "--elixir", "1.18"])
    assert res.exit_code == 0 and res.stdout.startswith("<!DOCTYPE html>")


def test_a_generated_project_page_in_chromium(tmp_path, browser):
    """400 files with routers in compile cycles with their controllers: every edge to draw is
    drawn once, the cycles are those of the graph, the recompile sets of the costliest files
    are exfix's."""
    project = tmp_path / "p400"
    subprocess.run([sys.executable, str(HERE.parent / "bench" / "generate.py"), "400", str(project)],
                   check=True, capture_output=True)
    page_path = tmp_path / "p400.html"
    make_page(project, page_path)
    browser.open(page_path.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "1"
    analysis = analyze(project, "1.18", cache=False)
    drawn, cycle_files = expected_drawing(analysis)
    assert cycle_files and drawn
    shown = browser.evaluate("[...document.querySelectorAll('path.edge')].map(p => [p.dataset.from, p.dataset.to])")
    assert sorted(map(tuple, shown)) == sorted(drawn)
    assert set(browser.evaluate("[...document.querySelectorAll('g.node.cycle')].map(g => g.dataset.file)")) == cycle_files
    # no two boxes overlap
    boxes = browser.evaluate("[...document.querySelectorAll('g.node rect')].map(r => [+r.getAttribute('x'), "
                             "+r.getAttribute('y'), +r.getAttribute('width')])")
    for i, (x, y, w) in enumerate(boxes):
        for x2, y2, w2 in boxes[i + 1:]:
            assert y != y2 or x + w <= x2 or x2 + w2 <= x
    deps = analysis.file_deps()
    counts = analysis.fanout()
    for file in sorted(counts, key=lambda f: (-counts[f], f))[:10]:
        browser.evaluate(f"document.querySelector('#files li[data-file={json.dumps(file)}]').click()")
        shown = browser.evaluate("[...document.querySelectorAll('#recompile-set li')].map(li => li.textContent)")
        assert shown == recompiles(deps, file, False, "1.18", export_implies_runtime=False), file
    assert browser.errors() == []
