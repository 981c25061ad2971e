"""Snapshot cases of the dependency-cutting rules, shared by their test modules.

A rule's cases are the directories of ``fixtures/rules/<rule-id>/`` (``_project`` aside):
``before.ex``, ``case.json`` and, when the rule fixes it, ``after.ex`` (the exact patched
text). ``case.json`` keys: ``path`` (where the file goes in ``_project``, default
``lib/<case>.ex``), ``findings`` (how many diagnostics, default 1), ``refuse`` (a substring
of the message of a diagnostic without fix), ``message`` (a substring of the message),
``sources`` (more files: path -> text), ``fixes`` (how many fixes ``after.ex`` applies
together, default 1). The case is analysed as part of ``_project``.
"""

from __future__ import annotations

import json
from pathlib import Path

from refactor.analysis import analyze
from refactor.engine import Options, run_project
from refactor.parse import first_error, parse
from refactor.rules.base import RuleContext, apply_edits

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "fixtures" / "rules"
VERSION = "1.18"


class Cases:
    def __init__(self, rule_cls):
        self.rule_cls = rule_cls
        self.dir = RULES / rule_cls.id
        self.project = self.dir / "_project"
        self.names = sorted(p.name for p in self.dir.iterdir() if p.is_dir() and not p.name.startswith("_"))

    def meta(self, case: str) -> dict:
        return json.loads((self.dir / case / "case.json").read_text())

    def path(self, case: str) -> str:
        return self.meta(case).get("path", "lib/" + case.replace("-", "_") + ".ex")

    def sources(self, case: str) -> dict[str, bytes]:
        out = {self.path(case): (self.dir / case / "before.ex").read_bytes()}
        for rel, t in self.meta(case).get("sources", {}).items():
            out[rel] = t.encode()
        return out

    def context(self, case: str) -> RuleContext:
        from refactor.project import load_project

        project = load_project(self.project)
        extra = self.sources(case)
        analysis = analyze(project, version=VERSION, sources=extra)
        sources = {rel: (self.project / rel).read_bytes() for rel in project.source_files}
        sources.update(extra)
        return RuleContext(project, analysis, sources, {})

    def run(self, case: str):
        ctx = self.context(case)
        diags = [d for d in self.rule_cls().check(ctx) if d.file in self.sources(case)]
        return ctx, diags

    def patched(self, case: str) -> bytes:
        """The case's file with its fixes applied together, as the engine merges them."""
        ctx, diags = self.run(case)
        fixed = [d for d in diags if d.fix is not None]
        assert len(fixed) == self.meta(case).get("fixes", 1), [d.message for d in diags]
        assert len({d.file for d in fixed}) == 1
        return apply_edits(ctx.sources[fixed[0].file], [e for d in fixed for e in d.fix.edits])

    def fixed(self):
        return [c for c in self.names if (self.dir / c / "after.ex").exists()]

    def refused(self):
        return [c for c in self.names if "refuse" in self.meta(c)]

    def engine(self, case: str, tmp_path: Path, allow_unsafe: bool = False):
        """Copy ``_project`` with the case into ``tmp_path`` and run the engine on it."""
        import shutil

        root = tmp_path / "proj"
        shutil.copytree(self.project, root)
        for rel, data in self.sources(case).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        opts = Options(rules=[self.rule_cls], version=VERSION, allow_unsafe=allow_unsafe)
        return run_project(root, opts)


def check_snapshot(cases: Cases, case: str) -> None:
    after = cases.patched(case)
    assert first_error(parse(after)) is None
    assert after.decode() == (cases.dir / case / "after.ex").read_text()


def check_refusal(cases: Cases, case: str) -> None:
    _, diags = cases.run(case)
    assert len(diags) == 1, [d.message for d in diags]
    assert diags[0].fix is None
    assert cases.meta(case)["refuse"] in diags[0].message + " " + diags[0].detail


def check_findings(cases: Cases, case: str) -> None:
    _, diags = cases.run(case)
    assert len(diags) == cases.meta(case).get("findings", 1), [d.message for d in diags]
    for d in diags:  # suggest heads each diff with the reason in one sentence
        assert ". " not in d.message and not d.message.endswith("."), d.message
    if "message" in cases.meta(case):
        assert any(cases.meta(case)["message"] in d.message + " " + d.detail for d in diags)
