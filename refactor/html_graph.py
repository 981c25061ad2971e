"""``exfix graph --format html``: one self-contained page to look at instead of reading.

The page (template ``html_graph.html`` and script ``html_graph.js``, shipped with the
package) draws the compile-connected chains and the cycles that hold a compile edge, lists
the files by fan-out (how many files recompile when one changes), and for a clicked file
shows its trace (``mix xref trace``) and its recompile set. Everything it needs is inlined:
the data as JSON, the style and the script; its Content-Security-Policy forbids any fetch,
so it opens offline and from a file.

The recompile set of a clicked file is computed in the page from two dependents lists (the
files with a compile or run-time reference to a file's modules, and those with a compile
reference), by the first pass of ``recompile.recompiles`` with unchanged exports: the sets
of every file together can be quadratic in size, the lists are linear.
"""

from __future__ import annotations

import json
from importlib import resources

from .analysis import Analysis
from .recompile import dependents
from .trace import format_entry, trace_entries

LABELS = ("compile", "export", "runtime")


def page_data(parts: list[tuple[str, Analysis]], version: str, title: str) -> dict:
    """What the page shows, as plain JSON: files by index, edges, fan-out, trace, and the
    dependents lists the page's recompile set walks. ``parts``: (path prefix, analysis),
    one for a project, one per app for an umbrella (each app compiles on its own: no edge
    between apps, as mix's per-app manifests)."""
    data: dict = {"title": title, "elixir": version, "files": [], "tracked": [], "modules": [],
                  "fanout": [], "edges": [], "dependents": [], "compileDependents": [], "trace": []}
    for prefix, analysis in parts:
        base = len(data["files"])
        names, has_modules, deps_of, compile_deps_of = dependents(analysis.file_deps())
        index = {n: base + i for i, n in enumerate(names)}
        tracked = set(analysis.tracked_files)
        counts = analysis.fanout()
        data["files"] += [prefix + n for n in names]
        data["tracked"] += [index[n] for n in names if n in tracked]
        data["modules"] += has_modules
        data["fanout"] += [counts.get(n, 0) for n in names]
        data["dependents"] += [[base + j for j in js] for js in deps_of]
        data["compileDependents"] += [[base + j for j in js] for js in compile_deps_of]
        data["trace"] += [[format_entry(prefix + n, ref, version) for ref in trace_entries(analysis, n)]
                          if n in analysis.files else [] for n in names]
        for src, sinks in analysis.edges().items():
            for sink, label in sinks.items():
                if src in index and sink in index:
                    data["edges"].append([index[src], index[sink], LABELS.index(label)])
    data["edges"].sort()
    return data


def render_page(data: dict) -> str:
    """The page: the template with its script and data inlined."""
    folder = resources.files(__package__)
    template = folder.joinpath("html_graph.html").read_text(encoding="utf-8")
    script = folder.joinpath("html_graph.js").read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    # inside <script>, "</" could end the element early; "\/" reads back as "/"
    payload = payload.replace("</", "<\\/")
    page = template.replace("{{TITLE}}", _escape(data["title"]))
    page = page.replace("{{SCRIPT}}", script)  # holds no "</" (tests/test_html_graph.py)
    return page.replace("{{DATA}}", payload)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
