"""Run the rules on mix projects and verify every fix before anyone sees it.

For one project the engine reads every source file once (those bytes are what is analysed,
patched, diffed and later compared with the disk before writing), builds the graph, runs the
rules, and verifies each fix in memory:

1. the edits apply (no overlap, in range) and any new file does not exist yet;
2. every patched or new file parses with no ERROR or MISSING node;
3. the patched project, analysed again, defines the same modules in the patched file,
   has no compile edge it did not have (except into a file the fix creates that depends on
   nothing, such as a guard helper), and no new compile cycle;
4. the rule's own ``verify`` finds nothing wrong.

A fix that fails is never offered as a fix: its diagnostic is kept, with the reasons. So is
a fix in a file that does not parse cleanly (no rewrite touches it), and an unsafe fix unless
``Options.allow_unsafe`` (``--allow-concat``). Verified fixes are then merged per file into
the patches ``apply`` writes and ``suggest`` prints, and the merged set is verified once more
as a whole; a fix that does not combine is held back for the next pass.

Then the rules run again on the patched text (a pass), until a pass finds no new fix: a fix
held back, or one that only another fix makes possible (an import becomes an alias once the
require of the same module is gone), is made by the same run, so ``suggest`` shows and
``apply`` writes the fixed point, and a second ``apply`` changes nothing. The patches go from
the files on disk to the text of the last pass; what is left unfixed is reported from the
last pass, with its lines mapped back to the files on disk.

Every verified fix carries its gain (``gain.py``): the recompiles it saves over the project,
measured on the analysis that verified it. With ``Options.min_gain``, a fix below it is no
fix: it is kept aside (``ProjectResult.hidden``), left out of the patches, and reported by
count; the others are ordered by gain, highest first.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import networkx as nx

from .baseline import LineText
from .facts import STRENGTH
from .gain import by_gain, fanout_values, gain, mean_of, total_of, worth
from .files import read_bytes
from .parse import first_error, parse, restore_nul
from .udiff import line_opcodes
from .writer import is_inside
from .rules.base import Diagnostic, Edit, Fix, Rule, RuleContext, apply_edits

COMPILE = "compile"
# a file with at least this many fixes has them verified together first (see verify_pending)
GROUP_VERIFY = 8


@dataclass
class Problem:
    """An error to report: file (relative to where the user ran exfix), line, message."""

    file: str
    line: int | None
    message: str
    project: str = ""

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.message}"


@dataclass
class Suggestion:
    rule: str
    project: str  # project root as the user sees it (relative to the working folder)
    file: str  # relative to the project root, as mix prints paths
    line: int
    severity: str
    message: str
    detail: str = ""  # more than the one-sentence reason: the mechanism, the choice made
    safe: bool = True
    has_fix: bool = False
    verified: bool = False
    reasons: list[str] = field(default_factory=list)  # why the fix is not offered
    warnings: list[str] = field(default_factory=list)
    before: bytes | None = None  # the file as analysed
    _after: bytes | None = field(default=None, repr=False)
    # (source, edits) that make ``after`` when it is asked for
    _after_from: tuple | None = field(default=None, repr=False, compare=False)
    new_files: dict[str, bytes] = field(default_factory=dict)
    fanout_before: float | None = None
    fanout_after: float | None = None
    gain: int | None = None  # recompiles saved over the project (see gain.py); None: not measured
    gain_with: int = 1  # how many fixes of its file the gain was measured with (together)
    in_patch: bool = False  # part of the patches apply writes
    written: bool = False  # apply wrote it
    found_in_pass: int = 1  # 2+: found on the text the fixes of earlier passes leave
    refused: str = ""  # the kind of blind spot that made the rule refuse a fix (rules/_sight.py)
    code: str = ""  # the text of its line as analysed, blanks squeezed (the baseline's key)

    @property
    def offered(self) -> bool:
        return self.has_fix and self.verified

    @property
    def after(self) -> bytes | None:
        """The file with this fix alone, made when asked: a file with thousands of fixes
        would otherwise be held in thousands of copies."""
        if self._after is None and self._after_from is not None:
            source, edits = self._after_from
            return apply_edits(source, edits)
        return self._after

    @after.setter
    def after(self, value: bytes | None) -> None:
        self._after, self._after_from = value, None


@dataclass
class FilePatch:
    """One file as ``apply`` writes it: all offered fixes of the file merged."""

    file: str  # relative to the project root
    before: bytes | None  # None: a new file
    after: bytes
    rules: list[str] = field(default_factory=list)


@dataclass
class ProjectStats:
    files: int = 0
    edges: int = 0
    compile_edges: int = 0
    compile_cycles: int = 0
    fanout: float | None = None
    unfollowed: int = 0  # macro expansions exfix could not follow (see graph --verbose)


@dataclass
class ProjectResult:
    name: str
    root: str  # absolute (symlinks kept as the user named them)
    display: str  # relative to the working folder
    suggestions: list[Suggestion] = field(default_factory=list)
    # verified fixes below Options.min_gain: no fix, not reported one by one
    hidden: list[Suggestion] = field(default_factory=list)
    patches: list[FilePatch] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: ProjectStats | None = None  # None when the project could not be analysed
    fanout_after: float | None = None  # with every patch applied
    # as analysed, for the re-verification after writing
    compile_edge_list: list[tuple[str, str]] = field(default_factory=list)
    leaf_files: list[str] = field(default_factory=list)  # files with no outgoing edge
    # folders holding its source files (relative to root): apply sweeps stale temporary files
    source_dirs: list[str] = field(default_factory=list)
    version: str | None = None  # the Elixir version it was analysed as

    @property
    def failed(self) -> bool:
        return self.stats is None


@dataclass
class Options:
    rules: list[type[Rule]]
    rule_options: dict = field(default_factory=dict)  # RuleContext.options, e.g. strategy
    version: str | None = None
    allow_unsafe: bool = False
    cwd: str = ""
    # rules run again on the patched text until no new fix appears, at most this many times
    passes: int = 4
    # real paths of the folders fixes may write in (the projects and the paths the user
    # named); () = anywhere. See ``_Runner.write_refusal``.
    inside: tuple[str, ...] = ()
    # what hides a finding before its fix is considered (inline suppressions, excluded
    # paths, a baseline): objects with ``keep(root, diagnostics, sources)`` returning the
    # diagnostics to report, and ``problems(sources, wanted)`` returning (file, line,
    # message) of what they cannot read. Picklable: they go to the worker processes.
    filters: tuple = ()
    # rule id -> the severity its findings take (a project's .exfix.exs)
    severities: dict = field(default_factory=dict)
    # a verified fix whose gain (recompiles saved, gain.py) is below this is no fix: hidden
    # and not applied. None: every verified fix (the command line's --all; its default is 1)
    min_gain: int | None = None


# The seams to the project loader and the analyser; tests may pass their own.
Loader = Callable[[Path], object]
Analyzer = Callable[..., object]


def _default_loader(path: Path):
    from .project import load_project

    return load_project(path)


def _default_analyzer(project, version=None, sources=None):
    from .analysis import analyze

    return analyze(project, version=version, sources=sources)


def compiled_by_mix(rel: str, elixirc_paths: list[str] | None) -> bool:
    """Whether a new ``.ex`` file at ``rel`` lies under one of ``elixirc_paths`` (unknown
    paths: yes), so that mix compiles it."""
    if elixirc_paths is None or not rel.endswith(".ex"):
        return True
    for entry in elixirc_paths:
        norm = os.path.normpath(entry).replace(os.sep, "/")
        if norm == "." or rel == norm or rel.startswith(norm.rstrip("/") + "/"):
            return True
    return False


def display_path(path: str | os.PathLike, cwd: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), cwd or os.getcwd())
    return rel.replace(os.sep, "/")


# --------------------------------------------------------------------------- graph facts


def compile_edges(analysis) -> set[tuple[str, str]]:
    return {(a, b) for a, links in analysis.out_edges.items() for b, label in links if label == COMPILE}


def recomputed(before, after) -> list[str]:
    """The files whose facts and edges ``after`` may have otherwise than ``before``: those it
    expanded again when derived from ``before``, else every file."""
    if _derived_from(before, after):
        return after.derived[1]
    return sorted(after.files)


def _derived_from(before, after) -> bool:
    derived = getattr(after, "derived", None)
    return derived is not None and derived[0] is before


def new_compile_edges(before, after, base_edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(a, b) for a in recomputed(before, after) for b, label in after.out_edges.get(a, ())
            if label == COMPILE and (a, b) not in base_edges}


def grows(before, after) -> bool:
    """Whether ``after`` has an edge ``before`` lacks, or one with a stronger label: if not,
    every compile cycle of ``after`` lies within one of ``before``."""
    for path in recomputed(before, after):
        links = after.out_edges.get(path, ())
        old = before.out_edges.get(path)
        if old is None:
            return True
        labels = dict(old)
        for sink, label in links:
            was = labels.get(sink)
            if was is None or STRENGTH[label] > STRENGTH[was]:
                return True
    return False


def compile_cycles(analysis) -> list[frozenset[str]]:
    """Strongly connected groups of files held together by at least one compile edge."""
    graph = analysis.file_graph
    out = []
    for comp in nx.strongly_connected_components(graph):
        if len(comp) < 2:
            continue
        sub = graph.subgraph(comp)
        if any(d.get("label") == COMPILE for _, _, d in sub.edges(data=True)):
            out.append(frozenset(comp))
    return out


def mean_fanout(analysis) -> float | None:
    """Mean over files of how many files recompile when one changes, when the analysis has it."""
    return mean_of(fanout_values(analysis))


def lost_aliases(before, after, changed: list[str]) -> list[str]:
    """References a patch adds to a module that does not exist but whose first segment is the
    last segment of one that does: the sign of an alias the patch removed while a file (or
    the code a ``__using__`` injects into its users) still needs it."""
    # a derived analysis defines the modules its base does
    names = before if _derived_from(before, after) else after
    known, short = names.module_names, names.short_names
    out = []
    for path in recomputed(before, after):
        facts = after.files[path]
        old = before.files.get(path)
        had = {r.target for r in old.references} if old is not None else set()
        for target in sorted({r.target for r in facts.references} - had - known):
            if target.split(".")[0] in short:
                where = "" if path in changed else " (through code it injects)"
                out.append(f"{path} would refer to {target}, which names no module{where}: an alias it needs is gone")
    return out


def _modules(analysis, path: str) -> list[str]:
    facts = analysis.files.get(path)
    if facts is None:
        return []
    # a set: hoisting a condition above defmodule defines the module once in each branch
    return sorted({m.name for m in facts.modules})


# --------------------------------------------------------------------------- one project


class _Runner:
    def __init__(self, root: Path, opts: Options, loader: Loader, analyzer: Analyzer):
        self.root = root
        self.opts = opts
        self.loader = loader
        self.analyzer = analyzer
        self.display = display_path(root, opts.cwd)
        self.result = ProjectResult(root.name, os.path.abspath(root), self.display)
        self.origin: dict[int, tuple[Rule, Diagnostic]] = {}  # id(suggestion) -> its source
        self.version = opts.version
        self.only: set[str] | None = None

    def where(self, rel: str) -> str:
        return display_path(self.root / rel, self.opts.cwd)

    def error(self, rel: str | None, line: int | None, message: str) -> None:
        file = self.where(rel) if rel else self.display
        self.result.errors.append(Problem(file, line, message, self.display))

    def analyze(self, sources: dict[str, bytes]):
        if self.version is None:
            # resolve "the installed elixir" once, not on every verification
            from .semantics import default_version

            self.version = default_version()
        return self.analyzer(self.project, version=self.version, sources=sources)

    def run(self) -> ProjectResult:
        from .project import ProjectError

        try:
            self.project = self.loader(self.root)
        except ProjectError as exc:
            file = display_path(exc.file, self.opts.cwd) if exc.file else self.display
            self.result.errors.append(Problem(file, exc.line, exc.message, self.display))
            return self.result
        self.result.name = getattr(self.project, "name", self.root.name)
        self.result.notes.extend(getattr(self.project, "notes", []))
        files = getattr(self.project, "source_files", [])
        self.result.source_dirs = sorted({os.path.dirname(rel) for rel in files})
        disk = self.read_sources()
        sources = dict(disk)
        taken: list[Suggestion] = []
        for number in range(1, self.opts.passes + 1):
            # each pass runs the rules on what the passes before it wrote, so one apply
            # makes every fix a fix enables, and a second apply finds nothing to do
            analysed = sources
            self.one_pass(analysed, number)
            if not self.result.patches:
                break
            for sug in self.result.suggestions:
                if sug.in_patch:
                    self.from_pass(sug, number, disk, analysed)
                    taken.append(sug)
            sources = {**analysed, **{p.file: p.after for p in self.result.patches}}
        else:
            self.result.notes.append(
                f"fixes still changed the project after {self.opts.passes} passes; "
                "run exfix again after apply"
            )
            # no pass analysed what the last one left
            self.fanout_now = mean_fanout(self.analyze(sources))
        # what apply does (every pass), the most recompiles saved first, then what is left
        # once it is done
        remaining = [s for s in self.result.suggestions if not s.in_patch]
        for sug in remaining + self.result.hidden:
            to_disk(sug, disk.get(sug.file), analysed.get(sug.file))
        taken.sort(key=by_gain)
        self.result.suggestions = taken + remaining
        rules_of: dict[str, set[str]] = {}  # file -> the rules whose fixes change or add it
        for s in taken:
            for rel in (s.file, *s.new_files):
                rules_of.setdefault(rel, set()).add(s.rule)
        rank = {}  # file -> the place of its first fix in gain order
        for k, s in enumerate(taken):
            for rel in (s.file, *s.new_files):
                rank.setdefault(rel, k)
        self.result.patches = [
            FilePatch(rel, disk.get(rel), data, sorted(rules_of.get(rel, ())))
            for rel, data in sorted(sources.items(), key=lambda item: (rank.get(item[0], len(taken)), item[0]))
            if disk.get(rel) != data
        ]
        self.result.fanout_after = self.fanout_now  # with every patch applied
        self.result.version = self.version
        return self.result

    def one_pass(self, sources: dict[str, bytes], number: int) -> None:
        """Analyse ``sources``, run the rules, verify and merge their fixes into patches."""
        self.sources = sources
        self.analysis = self.analyze(sources)
        self.result.suggestions = []
        self.result.hidden = []
        self.result.patches = []
        self.origin = {}
        self.pending: list[tuple[Suggestion, Rule, Diagnostic]] = []
        values = fanout_values(self.analysis)
        self.fanout_now, self.total_now = mean_of(values), total_of(values)
        self.base_edges = compile_edges(self.analysis)
        self.base_cycles = compile_cycles(self.analysis)
        if number == 1:
            self.result.stats = ProjectStats(
                files=len(self.analysis.files),
                edges=self.analysis.file_graph.number_of_edges(),
                compile_edges=len(self.base_edges),
                compile_cycles=len(self.base_cycles),
                fanout=self.fanout_now,
                unfollowed=self.analysis.coverage[1],
            )
            self.broken: dict[str, int] = {}
            for path, facts in sorted(self.analysis.files.items()):
                for issue in facts.errors[:1]:
                    self.broken[path] = issue.line
                    if path in sources and self.wanted(path):  # unreadable: reported already
                        self.error(path, issue.line or None, f"{issue.message}; exfix rewrites nothing in this file")
            self.result.compile_edge_list = sorted(self.base_edges)
            graph = self.analysis.file_graph
            self.result.leaf_files = sorted(f for f in graph.nodes if graph.out_degree(f) == 0)
            for f in self.opts.filters:
                for rel, line, message in f.problems(sources, self.wanted):
                    self.error(rel, line, message)
        self.ctx = RuleContext(self.project, self.analysis, sources, dict(self.opts.rule_options))
        found: list[Diagnostic] = []
        rule_of: dict[int, Rule] = {}
        for rule_cls in self.opts.rules:
            rule = rule_cls()
            try:
                diagnostics = rule.check(self.ctx)
            except Exception as exc:  # one rule's bug must not hide the others' results
                if number == 1:
                    self.error(None, None, f"rule {rule_cls.id} failed: {exc!r}")
                    self.result.notes.append(traceback.format_exc())
                continue
            for diag in sorted(diagnostics, key=lambda d: (d.file, d.line)):
                if not self.wanted(diag.file):
                    continue
                diag.rule = diag.rule or rule.id
                diag.severity = self.opts.severities.get(diag.rule, diag.severity)
                rule_of[id(diag)] = rule
                found.append(diag)
        for f in self.opts.filters:
            found = f.keep(self.root, found, sources)
        lines = LineText(sources)
        for diag in found:
            rule = rule_of[id(diag)]
            sug = self.consider(rule, diag)
            sug.code = lines.at(diag.file, diag.line)
            self.origin[id(sug)] = (rule, diag)
            self.result.suggestions.append(sug)
        self.verify_pending()
        self.hide_worthless()
        self.build_patches()

    def hide_worthless(self) -> None:
        """Verified fixes whose gain is below ``Options.min_gain`` leave the suggestions:
        not fixes, neither shown nor applied (counted in ``ProjectResult.hidden``). Those of
        a rule whose fixes are not about recompiles (``Rule.for_gain``) stay."""
        keep, hidden = [], []
        for sug in self.result.suggestions:
            judged = getattr(self.origin[id(sug)][0], "for_gain", True)
            worthless = judged and sug.offered and not worth(sug, self.opts.min_gain)
            (hidden if worthless else keep).append(sug)
        self.result.suggestions, self.result.hidden = keep, hidden

    @staticmethod
    def from_pass(sug: Suggestion, number: int, disk: dict[str, bytes], analysed: dict[str, bytes]) -> None:
        """A fix found on the text earlier passes left: its line and diff refer to the disk."""
        sug.found_in_pass = number
        if number == 1:
            return
        to_disk(sug, disk.get(sug.file), analysed.get(sug.file))
        # this fix's diff starts from the file on disk, so it carries the earlier fixes too
        sug.before = disk.get(sug.file)

    def wanted(self, path: str) -> bool:
        return self.only is None or path in self.only

    def read_sources(self) -> dict[str, bytes]:
        sources = {}
        for rel in self.project.source_files:
            try:
                sources[rel] = read_bytes(self.root / rel)
            except OSError as exc:
                if self.wanted(rel):
                    self.error(rel, None, f"cannot read: {exc.strerror or exc}")
        return sources

    # ---- one diagnostic

    def consider(self, rule: Rule, diag: Diagnostic) -> Suggestion:
        if diag.fix is not None:
            diag.fix = keep_nul(keep_line_ends(diag.fix, self.sources.get(diag.file)),
                                self.sources.get(diag.file))
        fix = diag.fix
        sug = Suggestion(
            rule=diag.rule or rule.id,
            project=self.display,
            file=diag.file,
            line=diag.line,
            severity=diag.severity,
            message=diag.message,
            detail=diag.detail,
            refused=diag.refused,
            safe=bool(rule.safe and (fix.safe if fix is not None else True)),
            has_fix=fix is not None,
            warnings=list(fix.warnings) if fix else [],
        )
        if fix is None:
            return sug
        if diag.file in self.broken:
            sug.reasons.append(
                f"{diag.file} does not parse cleanly (line {self.broken[diag.file]}); "
                "no rewrite touches it"
            )
            return sug
        if not sug.safe and not self.opts.allow_unsafe:
            sug.reasons.append("last-resort fix: pass --allow-concat to see and apply it")
            return sug
        refusal = next(filter(None, map(self.write_refusal, [diag.file, *fix.new_files])), None)
        if refusal:
            sug.reasons.append(refusal)
            return sug
        patched, reasons = self.patch(diag.file, fix.edits, fix.new_files)
        if reasons:
            sug.reasons = reasons
            return sug
        sug.before = self.sources[diag.file]
        sug._after_from = (self.sources[diag.file], fix.edits)
        sug.new_files = dict(fix.new_files)
        self.pending.append((sug, rule, diag))  # verified by verify_pending
        return sug

    def verify_pending(self) -> None:
        """Verify the fixes ``consider`` found. A file with many fixes has them verified
        together first: one analysis of the file for all of them, not one each (which made
        N fixes in one file cost N analyses of it, N**2 in all); each then shows the fan-out
        and the gain of the group. A group that fails is verified one fix at a time."""
        by_file: dict[str, list] = {}
        for item in self.pending:
            by_file.setdefault(item[0].file, []).append(item)
        self.pending = []
        for file, items in by_file.items():
            if len(items) >= GROUP_VERIFY and self.verify_together(file, items):
                continue
            for sug, rule, diag in items:
                self.verify_one(sug, rule, diag)

    def verify_one(self, sug: Suggestion, rule: Rule, diag: Diagnostic) -> None:
        patched, _ = self.patch(diag.file, diag.fix.edits, diag.fix.new_files)
        changed = [diag.file] + sorted(diag.fix.new_files)
        reasons, after = self.verify(patched, changed, [(rule, diag)])
        sug.reasons = reasons
        sug.verified = not reasons
        if after is not None and not reasons:
            values = fanout_values(after)
            sug.fanout_before, sug.fanout_after = self.fanout_now, mean_of(values)
            sug.gain = gain(self.total_now, total_of(values))

    def verify_together(self, file: str, items) -> bool:
        edits: list[Edit] = []
        new_files: dict[str, bytes] = {}
        for _sug, _rule, diag in items:
            edits.extend(diag.fix.edits)
            for rel, data in diag.fix.new_files.items():
                if new_files.setdefault(rel, data) != data:
                    return False
        patched, reasons = self.patch(file, edits, new_files)
        if reasons:
            return False
        reasons, after = self.verify(patched, [file] + sorted(new_files), [(r, d) for _s, r, d in items])
        if reasons or after is None:
            return False
        values = fanout_values(after)
        fanout, saved = mean_of(values), gain(self.total_now, total_of(values))
        for sug, _rule, _diag in items:
            sug.verified = True
            sug.fanout_before, sug.fanout_after = self.fanout_now, fanout
            sug.gain, sug.gain_with = saved, len(items)
        return True

    def write_refusal(self, rel: str) -> str | None:
        """Why a fix may not write ``rel``, or None. Not a symbolic link, nor through a link
        to a folder (git apply refuses both, and a link may lead anywhere), nor outside the project and the
        paths the user named (a folder link or an ``elixirc_paths`` entry may lead there):
        such a file is analysed, and its fixes are shown but not offered, so ``suggest |
        git apply`` and ``apply`` write the same."""
        if self.opts.inside and not is_inside((self.root / rel).parent, self.opts.inside):
            return f"{rel} lies outside the project (a folder link or elixirc_paths leads there)"
        if os.path.islink(self.root / rel):
            return f"{rel} is a symbolic link; exfix never replaces a link, edit its target"
        here = self.root
        for part in Path(rel).parent.parts:
            here = here / part
            if part != ".." and os.path.islink(here):
                return (f"{rel} is reached through a link to a folder "
                        f"({os.path.relpath(here, self.root)}); exfix never writes through one")
        return None

    def patch(self, file: str, edits: list[Edit], new_files: dict[str, bytes]):
        if file not in self.sources:
            return None, [f"{file} is not a source file of this project"]
        try:
            after = apply_edits(self.sources[file], edits)
        except ValueError as exc:
            return None, [f"the edits do not apply: {exc}"]
        patched = dict(self.sources)
        patched[file] = after
        for rel, data in new_files.items():
            norm = os.path.normpath(rel)
            if os.path.isabs(rel) or norm.startswith(".."):
                return None, [f"new file {rel} lies outside the project"]
            if rel in self.sources or os.path.lexists(self.root / rel):
                return None, [f"new file {rel} already exists"]
            if not compiled_by_mix(rel, getattr(self.project, "elixirc_paths", None)):
                return None, [f"new file {rel} lies outside elixirc_paths: mix would not compile it"]
            patched[rel] = data
        return patched, []

    def analyze_patched(self, patched: dict[str, bytes], changed: list[str]):
        """The analysis of ``patched``: derived from this pass' analysis when it can be (only
        the files the patch touches, and those that consulted their modules, are expanded
        again), else from scratch."""
        changes = {rel: patched[rel] for rel in changed if patched.get(rel) != self.sources.get(rel)}
        derive = getattr(self.analysis, "derive", None)
        after = derive(changes) if derive is not None and changes else None
        return after if after is not None else self.analyze(patched)

    def verify(self, patched: dict[str, bytes], changed: list[str], fixes) -> tuple[list[str], object]:
        reasons = []
        for rel in changed:
            if not rel.endswith((".ex", ".exs")):
                continue
            err = first_error(parse(patched[rel]))
            if err is not None:
                reasons.append(
                    f"the patched {rel} does not parse (line {err.start_point[0] + 1})"
                )
        if reasons:
            return reasons, None
        try:
            after = self.analyze_patched(patched, changed)
        except Exception as exc:
            return [f"the patched project cannot be analysed: {exc!r}"], None
        for rel in changed:
            if rel in self.sources and _modules(self.analysis, rel) != _modules(after, rel):
                reasons.append(
                    f"{rel} would define {_modules(after, rel)} instead of {_modules(self.analysis, rel)}"
                )
        reasons.extend(lost_aliases(self.analysis, after, changed))
        for a, b in sorted(new_compile_edges(self.analysis, after, self.base_edges)):
            if b not in self.sources and after.file_graph.out_degree(b) == 0:
                # a compile edge into a new leaf file (e.g. a guard helper the fix adds):
                # no chain, no cycle; its cost shows in the fan-out before -> after
                continue
            reasons.append(f"it would add a compile edge {a} -> {b}")
        for cycle in compile_cycles(after) if grows(self.analysis, after) else ():
            if not any(cycle <= old for old in self.base_cycles):
                reasons.append("it would create a compile cycle: " + ", ".join(sorted(cycle)))
        patched_ctx = RuleContext(self.project, after, patched, dict(self.opts.rule_options))
        for rule, diag in fixes:
            try:
                reasons.extend(rule.verify(self.ctx, diag, patched_ctx))
            except Exception as exc:
                reasons.append(f"rule {rule.id} verification failed: {exc!r}")
        return reasons, after

    # ---- merged patches

    def build_patches(self) -> None:
        offered = [s for s in self.result.suggestions if s.offered]
        if not offered:
            return
        by_file: dict[str, list[Suggestion]] = {}
        for sug in offered:
            by_file.setdefault(sug.file, []).append(sug)
        candidates: list[tuple[str, dict[str, bytes], list[Suggestion]]] = []
        for file, sugs in by_file.items():
            patched_file, taken = self.merge_file(file, sugs)
            candidates.append((file, patched_file, taken))
        # everything at once; if the whole fails, add files one by one and keep what holds
        if not self.combine(candidates):
            kept: list = []
            for cand in candidates:
                if self.combine(kept + [cand]):
                    kept.append(cand)
                else:
                    for sug in cand[2]:
                        sug.reasons.append("held back: it conflicts with another fix; run again after apply")
            candidates = kept
        by_rel: dict[str, FilePatch] = {}
        for file, files, taken in candidates:
            for rel, data in files.items():
                rules = {s.rule for s in taken}
                same = by_rel.get(rel)
                if same is not None and same.after == data:
                    # a helper file that several fixes create alike is created once
                    same.rules = sorted(set(same.rules) | rules)
                    continue
                by_rel[rel] = FilePatch(rel, self.sources.get(rel), data, sorted(rules))
                self.result.patches.append(by_rel[rel])
            for sug in taken:
                sug.in_patch = True
        self.result.patches.sort(key=lambda p: p.file)

    def merge_file(self, file: str, sugs: list[Suggestion]):
        """Merge the fixes of one file, in line order, keeping each one that still verifies:
        all at once when they verify together (one analysis), else one by one."""
        if len(sugs) > 1:
            whole = self.merge_all(file, sugs)
            if whole is not None:
                return whole, list(sugs)
        taken: list[Suggestion] = []
        edits: list[Edit] = []
        new_files: dict[str, bytes] = {}
        for sug in sugs:
            diag_edits = self._edits_of(sug)
            trial_edits = edits + diag_edits
            trial_new = {**new_files, **sug.new_files}
            if len(set(trial_new)) < len(new_files) + len(sug.new_files):
                sug.reasons.append("held back: another fix creates the same file; run again after apply")
                continue
            patched, reasons = self.patch(file, trial_edits, trial_new)
            if not reasons and taken:
                reasons, _ = self.verify(patched, [file] + sorted(trial_new), self._fixes(taken + [sug]))
            if reasons:
                sug.reasons.append("held back: it does not combine with an earlier fix in this file; run again after apply")
                continue
            taken.append(sug)
            edits, new_files = trial_edits, trial_new
        patched, _ = self.patch(file, edits, new_files)
        files = {file: patched[file], **{rel: patched[rel] for rel in new_files}}
        return files, taken

    def merge_all(self, file: str, sugs: list[Suggestion]) -> dict[str, bytes] | None:
        """The file (and the files its fixes add) with every fix in ``sugs``, if they verify
        together; else None."""
        edits = [e for sug in sugs for e in self._edits_of(sug)]
        new_files: dict[str, bytes] = {}
        for sug in sugs:
            for rel, data in sug.new_files.items():
                if new_files.setdefault(rel, data) != data:
                    return None
        patched, reasons = self.patch(file, edits, new_files)
        if not reasons:
            reasons, _ = self.verify(patched, [file] + sorted(new_files), self._fixes(sugs))
        if reasons:
            return None
        return {file: patched[file], **{rel: patched[rel] for rel in new_files}}

    def combine(self, candidates) -> bool:
        """Whether file patches verify together."""
        patched = dict(self.sources)
        changed: list[str] = []
        taken: list[Suggestion] = []
        for _file, files, sugs in candidates:
            patched.update(files)
            changed.extend(files)
            taken.extend(sugs)
        if len(taken) == 1:  # one fix alone: verified already, no need to analyse again
            return True
        reasons, _ = self.verify(patched, changed, self._fixes(taken))
        return not reasons

    def _edits_of(self, sug: Suggestion) -> list[Edit]:
        return self.origin[id(sug)][1].fix.edits

    def _fixes(self, sugs: list[Suggestion]):
        return [self.origin[id(s)] for s in sugs]


LINE_IN_TEXT = re.compile(r"\bline (\d+)\b")


def to_disk(sug: Suggestion, disk: bytes | None, analysed: bytes | None) -> None:
    """A suggestion found on text earlier fixes changed: its line, and the lines its words
    name in its own file ("read in a guard (line 12)"), are those of the file on disk."""
    if disk is None or analysed is None or disk == analysed:
        return
    sug.line = map_line(disk, analysed, sug.line)

    def lines(text: str) -> str:
        return LINE_IN_TEXT.sub(lambda m: f"line {map_line(disk, analysed, int(m.group(1)))}", text)

    sug.message = lines(sug.message)
    if sug.detail:
        sug.detail = lines(sug.detail)
    sug.reasons = [lines(r) for r in sug.reasons]


def map_line(old: bytes | None, new: bytes | None, line: int) -> int:
    """The line of ``old`` that line ``line`` of ``new`` comes from (or the nearest before it)."""
    if old is None or new is None or old == new:
        return line

    index = line - 1
    for tag, i1, i2, j1, j2 in line_opcodes(old.split(b"\n"), new.split(b"\n")):
        if j1 <= index < j2:
            return (i1 + (index - j1) if tag == "equal" else i1) + 1
    return line


LONE_LF = re.compile(rb"(?<!\r)\n")


def keep_nul(fix: Fix, source: bytes | None) -> Fix:
    """Edits that copy text from a file holding NUL bytes copy them as NUL (the parser saw
    a stand-in byte there: see ``parse.nul_stand_in``)."""
    if not source or b"\0" not in source:
        return fix
    edits = [dataclass_replace(e, text=restore_nul(e.text, source)) for e in fix.edits]
    return dataclass_replace(fix, edits=edits)


@lru_cache(maxsize=64)
def _crlf_file(source: bytes) -> bool:
    """Whether most lines of ``source`` end in CRLF (counted once per file, not per fix)."""
    crlf = source.count(b"\r\n")
    return bool(crlf) and crlf * 2 >= source.count(b"\n")


def keep_line_ends(fix: Fix, source: bytes | None) -> Fix:
    """Rules write LF; in a file whose lines end in CRLF, the lines a fix adds do too."""
    if not source or not _crlf_file(source):
        return fix
    edits = []
    for e in fix.edits:
        text = LONE_LF.sub(b"\r\n", e.text)
        if source[e.end - 1 : e.end + 1] == b"\r\n" and not text.endswith(b"\r"):
            text += b"\r"  # the range took the CR of a line end whose LF stays
        edits.append(dataclass_replace(e, text=text))
    return dataclass_replace(fix, edits=edits)


def run_project(
    root: str | os.PathLike,
    opts: Options,
    loader: Loader | None = None,
    analyzer: Analyzer | None = None,
    only: list[str] | None = None,
) -> ProjectResult:
    """Analyse one mix project (not an umbrella root), run the rules, verify, merge patches.

    With ``only`` (paths relative to the root), the whole project is analysed but only
    those files' diagnostics, errors and fixes are reported.
    """
    from .analysis import _deep_recursion

    runner = _Runner(Path(root), opts, loader or _default_loader, analyzer or _default_analyzer)
    runner.only = set(only) if only is not None else None
    try:
        with _deep_recursion():  # rules walk nested code as deep as the analysis follows it
            return runner.run()
    except Exception as exc:  # a crash in one project is reported; the batch goes on
        runner.error(None, None, f"internal error: {exc!r}")
        runner.result.notes.append(traceback.format_exc())
        runner.result.stats = None
        runner.result.suggestions = []
        runner.result.patches = []
        return runner.result


# --------------------------------------------------------------------------- many projects


@dataclass
class Unit:
    """One project to analyse on its own graph; ``only``: report on these files alone."""

    root: Path
    only: list[str] | None = None
    opts: Options | None = None  # this project's own options (its .exfix.exs), else the run's


def units_of(found) -> list[Unit]:
    """The projects to analyse: each app of an umbrella, or the project itself."""
    units: list[Unit] = []
    for f in found:
        only = getattr(f, "only", None)
        if getattr(f, "umbrella", False):
            for app in f.apps:
                sub = None
                if only is not None:
                    prefix = os.path.relpath(app, f.root).replace(os.sep, "/") + "/"
                    sub = [p[len(prefix):] for p in only if p.startswith(prefix)]
                    if not sub:
                        continue
                units.append(Unit(app, sub))
        else:
            units.append(Unit(f.root, only))
    return units


def _unit(item) -> Unit:
    return item if isinstance(item, Unit) else Unit(Path(item))


def _run_unit(args):
    unit, opts, loader, analyzer = args
    return run_project(unit.root, unit.opts or opts, loader, analyzer, only=unit.only)


def run_many(
    units: list,
    opts: Options,
    jobs: int | None = None,
    loader: Loader | None = None,
    analyzer: Analyzer | None = None,
    progress: Callable[[ProjectResult], None] | None = None,
    started: Callable[[], None] | None = None,
) -> list[ProjectResult]:
    """Run every project (a Unit or a root path), ``jobs`` at a time in worker processes.

    Results come in the order of ``units``. ``started`` is called once the workers exist:
    start threads (a progress bar) there, not before, since the workers are forked.
    """
    units = [_unit(u) for u in units]
    jobs = jobs or os.cpu_count() or 1
    results: list[ProjectResult | None] = [None] * len(units)
    if jobs <= 1 or len(units) <= 1:
        if started:
            started()
        for i, unit in enumerate(units):
            results[i] = run_project(unit.root, unit.opts or opts, loader, analyzer, only=unit.only)
            if progress:
                progress(results[i])
        return results  # type: ignore[return-value]
    # On Linux the workers are forked (fast, and nothing to re-import), all of them at the
    # first submit, before the pool's own thread starts: so no thread is running at fork
    # time as long as the caller starts its own (the progress bar) in ``started``.
    # Elsewhere, spawn (fork is unsafe on macOS), which needs the usual __main__ guard.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=min(jobs, len(units)), mp_context=ctx) as pool:
        futures = {
            pool.submit(_run_unit, (unit, opts, loader, analyzer)): i for i, unit in enumerate(units)
        }
        if started:
            started()
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as exc:  # the worker itself died
                root = units[i].root
                display = display_path(root, opts.cwd)
                results[i] = ProjectResult(
                    root.name, str(root), display,
                    errors=[Problem(display, None, f"internal error: {exc!r}", display)],
                )
            if progress:
                progress(results[i])
    return results  # type: ignore[return-value]
