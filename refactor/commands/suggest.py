"""``exfix suggest`` and ``exfix apply``: run the rules over one project or a whole monorepo.

Exit codes: 0 done; 1 with ``--check`` when a verified fix is left to apply or a finding is at
or above ``--fail-on``; 2 for usage or input errors (a path with no project, a broken mix.exs,
a file that does not parse, a file that could not be written). Errors go to stderr as
``file:line: error: message``; one broken project is reported and the others still run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import output, report, udiff
from ..discover import find_projects
from ..engine import Options, Problem, ProjectResult, display_path, run_many, units_of
from ..rules import ALL_RULES, get_rules
from ..writer import FileChange, Refused, WriteResult, sweep, take_back, write_changes
from ..suppress import SuppressionFilter
from .graph import InputError, cache_option, env_option, jobs_option, resolve_version, verbose_option

FORMATS = ["diff", "concise", "github", "json", "sarif"]
STRATEGIES = ["auto", "hoist", "guard"]
SEVERITIES = ["error", "warning", "info"]  # most severe first
# --check's default threshold: a project exfix apply has cleaned passes unless something
# left breaks its build (an error: a module that fails to compile when an optional
# dependency is absent). Warnings and info left after apply are advice without an automatic
# fix (a person decides, or --allow-concat): counting them would keep the gate red forever.
FAIL_ON_DEFAULT = "error"
PROGRESS_MIN_PROJECTS = 2


def _rule_ids() -> str:
    from ..rules import ALL_RULES

    return ", ".join(r.id for r in ALL_RULES) or "none yet"


EXIT_CODES = """\b
Exit codes: 0 done, 1 with --check: a verified fix left to apply, or a finding at or above
--fail-on; 2 usage or input errors (errors on stderr as file:line: error: message)."""
NO_CHECK_EXIT_CODES = """\b
Exit codes: 0 done, 2 usage or input errors, or a file that could not be written (errors on
stderr as file:line: error: message)."""

CONFIG_HELP = """\b
Configuration: the nearest .exfix.exs at or above each project (an Elixir literal, read
without running it) turns rules off, sets their severity and options, excludes paths and
sets the Elixir version; command-line options win. A finding is hidden by a comment naming
its rule: `# exfix:ignore RULE` on the line before it or at the end of its line,
`# exfix:ignore-file RULE` anywhere in the file. `exfix rule RULE` shows a rule's docs."""


baseline_option = click.option(
    "--baseline", "baseline_file", metavar="FILE", type=click.Path(dir_okay=False),
    help="Hide the findings this file lists (written by `exfix baseline`).")


gain_options = [
    click.option("--min-gain", type=int, default=1, show_default=True, metavar="N",
                 help="Offer only fixes whose gain is at least N. The gain of a fix is the "
                      "recompiles it saves over the project: the sum, over every file, of "
                      "how many files mix recompiles when that file changes, before the "
                      "fix minus after it (the drop in mean fan-out times the number of "
                      "files). A fix below N is not shown nor applied; the last line counts "
                      "them per rule. hoist-conditional-use, which repairs builds, is "
                      "offered whatever its gain."),
    click.option("--all", "show_all", is_flag=True,
                 help="Offer every verified fix, also those that save no recompile "
                      "(overrides --min-gain)."),
]


def _options(f=None, *, baseline=True, gains=True):
    """The options suggest, apply and baseline share (baseline: without --baseline, nor
    --min-gain and --all: it records every finding)."""
    if f is None:
        return lambda g: _options(g, baseline=baseline, gains=gains)
    decorators = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str), metavar="[PATH]..."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="diff", show_default=True,
                     help="diff: unified diffs git apply accepts; concise: one line per finding; "
                          "github: GitHub Actions annotations; json (schema: refactor/"
                          "suggest.schema.json); sarif (2.1.0, for code scanning)."),
        click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True,
                     help="Colour the diff; auto: on a terminal, unless NO_COLOR is set or "
                          "FORCE_COLOR is."),
        click.option("--rule", "select", multiple=True, metavar="ID",
                     help=f"Run only this rule (repeatable; rules: {_rule_ids()})."),
        click.option("--skip-rule", "skip", multiple=True, metavar="ID", help="Do not run this rule (repeatable)."),
        click.option("--stats", is_flag=True, help="End with a table of suggestions per rule."),
        jobs_option,
        click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
                     help="How rules that can cut an edge several ways do it (default: the "
                          ".exfix.exs setting, else auto)."),
        click.option("--allow-concat", is_flag=True,
                     help="Also use the last-resort rewrite (Module.concat); see its warnings."),
        click.option("--elixir", "elixir", metavar="VERSION",
                     help="Label edges as this Elixir version does (default: .exfix.exs's "
                          "elixir, else the installed elixir)."),
        click.option("--since", metavar="GIT_REF",
                     help="Report only on files changed since this commit (committed, staged, "
                          "modified or new), as `mix credo diff --from-git-ref`."),
        *(gain_options if gains else []),
        *([baseline_option] if baseline else []),
        env_option,
        cache_option,
        verbose_option,
    ]
    for deco in reversed(decorators):
        f = deco(f)
    return f


@click.command(
    "suggest",
    epilog="""\b
Examples:
  exfix suggest                        # this project, or every project below this folder
  exfix suggest --check --format sarif > exfix.sarif   # CI: code scanning, fail on findings
  exfix suggest --check --since origin/main             # only the files a branch changed
  exfix suggest > fix.patch && git apply fix.patch      # same result as exfix apply
  exfix suggest --min-gain 20          # only fixes that save 20 recompiles or more
"""
    + CONFIG_HELP + "\n\n" + EXIT_CODES,
)
@_options
@click.option("--check", is_flag=True,
              help="Exit 1 when a verified fix is left to apply or a finding is at or above "
                   "--fail-on (for CI); fixes below --min-gain do not count.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=FAIL_ON_DEFAULT, show_default=True,
              help="With --check, the least severity that fails. The default, error, lets a "
                   "project cleaned by `exfix apply` pass unless something left breaks its "
                   "build; warning or info also fail on advice that has no automatic fix.")
@click.option("--verify-with-mix", is_flag=True,
              help="Also apply the patches to a temporary copy, compile it with `mix compile "
                   "--warnings-as-errors` and compare `mix xref graph` with exfix's graph "
                   "(needs mix on PATH; exit 1 when mix disagrees).")
def suggest(paths, fmt, color, select, skip, stats, strategy, allow_concat, min_gain, show_all, elixir, since,
            baseline_file, verbose, check, fail_on, verify_with_mix):
    """Show every verified patch as a unified diff, the fixes that save the most
    recompiles first; write nothing.

    PATH may be a mix project, an umbrella, or any folder holding projects at any depth
    (default: the project at or above the current folder, else every project below it); a
    file: report on that file alone, within its project.
    """
    code = _run(paths, fmt, select, skip, stats, strategy, allow_concat, elixir, check, write=False,
                with_mix=verify_with_mix, fail_on=fail_on, since=since, baseline_file=baseline_file,
                color=color, verbose=verbose, min_gain=None if show_all else min_gain)
    sys.exit(code)


@click.command(
    "apply",
    epilog="""\b
Examples:
  exfix apply                          # write every verified fix below this folder
  exfix apply --rule hoist-conditional-use --strategy guard apps/web
  exfix apply && exfix suggest --check   # write, then fail if anything is left
"""
    + CONFIG_HELP + "\n\n" + NO_CHECK_EXIT_CODES,
)
@_options
@click.option("--verify-with-mix/--no-verify-with-mix", "with_mix", default=True, show_default=True,
              help="Before writing, compile the patches with mix in a copy of the project (its "
                   "_build and deps included, so only what changed compiles again): a patched file "
                   "that does not compile or adds a warning is reverted, not written; a file `mix "
                   "format` found clean is formatted after patching. Needs mix on PATH and a "
                   "project compiled for the environment (_build/ENV); otherwise the patches are "
                   "checked against exfix's graph only, and apply says so.")
def apply(paths, fmt, color, select, skip, stats, strategy, allow_concat, min_gain, show_all, elixir, since,
          baseline_file, verbose, with_mix):
    """Write the patches `suggest` shows, each file atomically, then re-verify.

    The same selection as `suggest`: fixes below --min-gain are not written. With mix on
    PATH and a compiled project, the compiler checks the patches first (see
    --verify-with-mix). A file changed on disk since it was analysed, a read-only file or a
    symbolic link is left alone and reported. A second `apply` changes nothing.
    """
    code = _run(paths, fmt, select, skip, stats, strategy, allow_concat, elixir, False, write=True,
                with_mix=with_mix, since=since, baseline_file=baseline_file, color=color, verbose=verbose,
                min_gain=None if show_all else min_gain)
    sys.exit(code)


@click.command(
    "baseline",
    epilog="""\b
Examples:
  exfix baseline                       # accept today's findings: .exfix-baseline.json
  exfix suggest --check --baseline .exfix-baseline.json   # CI: fail on new findings only
"""
    + NO_CHECK_EXIT_CODES,
)
@_options(baseline=False, gains=False)
@click.option("--output", "-o", "out_file", metavar="FILE", type=click.Path(dir_okay=False),
              default=".exfix-baseline.json", show_default=True, help="Where to write the baseline.")
def baseline(paths, fmt, color, select, skip, stats, strategy, allow_concat, elixir, since, verbose, out_file):
    """Write every current finding to a baseline file, for `--baseline FILE` to hide.

    Entries are keyed by file, rule and the text of the finding's line (not its number), so
    lines added above a finding do not bring it back; file names are relative to the
    baseline's folder. The findings are printed as `suggest` prints them (--format).
    """
    code = _run(paths, fmt, select, skip, stats, strategy, allow_concat, elixir, False, write=False,
                since=since, baseline_out=out_file, color=color, verbose=verbose)
    sys.exit(code)




def _run(paths, fmt, select, skip, stats, strategy, allow_concat, elixir, check, write,
         with_mix=False, fail_on=FAIL_ON_DEFAULT, since=None, baseline_file=None, baseline_out=None,
         color="auto", verbose=False, min_gain: int | None = None) -> int:
    from .. import analysis

    jobs = analysis.DEFAULTS.get("jobs")  # -j: processes, for projects or for one's files
    try:
        rules = get_rules(select, skip)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rule/--skip-rule") from exc
    version = resolve_version(elixir, verbose) if elixir else None
    cwd = os.getcwd()
    scan_below = False
    if not paths:
        paths, scan_below = _default_paths(cwd)
    found, discover_errors = find_projects(list(paths))
    if scan_below:
        n = len(units_of(found))
        click.echo(f"exfix: {_plural(n, 'project')} found below {cwd}", err=True)
    problems = [Problem(display_path(e.path, cwd), None, e.message) for e in discover_errors]
    if since:
        from ..since import SinceError, restrict

        try:
            found = restrict(found, since)
        except SinceError as exc:
            raise InputError(str(exc)) from exc
    filters = [SuppressionFilter(sorted({r.id for r in ALL_RULES} | {r.id for r in rules}))]
    if baseline_file:
        from ..baseline import BaselineError, load

        try:
            filters.append(load(baseline_file))
        except BaselineError as exc:
            raise InputError(f"{exc.file}: {exc.message}") from exc
    opts = Options(
        rules=rules,
        rule_options={"strategy": strategy or "auto", "allow_concat": allow_concat},
        version=version,
        allow_unsafe=allow_concat,
        cwd=cwd,
        inside=_boundaries(found, paths),
        filters=tuple(filters),
        min_gain=min_gain,
    )
    for f in found:
        if f.umbrella:  # its apps run on their own graphs; its own mix.exs must still read
            problems.extend(_check_umbrella_root(f.root, cwd))
    units = units_of(found)
    units = _configured(units, opts, select, strategy, elixir, cwd, problems)
    if version is None and any((u.opts or opts).version is None for u in units):
        opts.version = resolve_version(None)  # the installed elixir, said once if approximated
        for u in units:
            if u.opts is not None and u.opts.version is None:
                u.opts.version = opts.version
    results = _run_all(units, opts, jobs)
    written: list[str] | None = None
    refused = None
    if write:
        if with_mix:
            from ..applycheck import judge
            from ..mixconfig import mix_env

            for line in judge(results, mix_env(), cwd):
                click.echo(line, err=True)
        written, refused, more = _write(results, opts, jobs, cwd, opts.inside)
        problems.extend(more)

    out = sys.stdout
    output_failed = False
    try:
        if fmt == "json":
            doc = report.to_json(results, cwd, problems, written, refused)
            out.write(report.dumps(doc))
        elif fmt == "sarif":
            out.write(report.dumps(report.to_sarif(results, cwd, rules, problems)))
        elif fmt in ("concise", "github"):
            from .. import line_formats

            if fmt == "github":
                lines = line_formats.github(results, cwd, [p for r in results for p in r.errors] + problems)
            else:
                lines = line_formats.concise(results, cwd)
            out.write("".join(line + "\n" for line in lines))
        else:
            colour = output.use_colour(color, out)
            width = shutil.get_terminal_size().columns if out.isatty() else None
            if hasattr(out, "reconfigure"):
                out.reconfigure(errors="surrogateescape")  # non-UTF-8 bytes go out as they came
            report.write_diff_report(results, out, cwd, colour, width)
        out.flush()
    except BrokenPipeError:  # `exfix suggest | head`: the reader has seen enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except udiff.DiffError as exc:  # a bug, said on one line: apply has written already
        problems.append(Problem(".", None, f"internal error: {exc}"))
    except OSError as exc:  # /dev/full: say so on one line; apply's summary still follows
        line = output.failure_line(exc)
        output.silence_stdout()
        click.echo(line, err=True)
        output_failed = True

    all_problems = [p for r in results for p in r.errors] + problems
    if verbose:
        for r in results:
            for note in r.notes:
                click.echo(f"note: {r.display}: {note}", err=True)
    for p in all_problems:
        click.echo(f"{udiff.one_line(p.file)}{':' + str(p.line) if p.line else ''}: error: "
                   f"{p.message}", err=True)
    tables = []
    if stats:
        tables.append(report.stats_table(results))
        refused_by_kind = report.refused_table(results)
        if refused_by_kind is not None:
            tables.append(refused_by_kind)
    if len(results) > 1 or stats:
        tables.append(report.projects_table(results))
    if tables:
        report.print_tables(tables)
    if write:
        n = len(written or [])
        click.echo(f"exfix: wrote {n} file{'s' if n != 1 else ''}" +
                   (f", left {len(refused)} alone" if refused else ""), err=True)
    else:
        found_n = sum(len(r.suggestions) for r in results)
        fixable = sum(1 for r in results for s_ in r.suggestions if s_.in_patch)
        click.echo(f"exfix: {_plural(found_n, 'suggestion')} ({fixable} with a verified fix) "
                   f"in {_plural(len(results), 'project')}", err=True)
    hidden = _hidden_line(results, min_gain, write)
    if hidden:
        click.echo(hidden, err=True)
    failing = check and _gate(results, fail_on)
    if baseline_out and (all_problems or output_failed):
        click.echo(f"exfix: {baseline_out} not written: the findings are incomplete (errors above)",
                   err=True)
    elif baseline_out:
        for p in _write_baseline(results, baseline_out, cwd):
            all_problems.append(p)
            click.echo(f"{p.file}: error: {p.message}", err=True)
    if all_problems or output_failed:
        return 2
    if with_mix and not write and not _verify_with_mix(results, opts.version or resolve_version(None)):
        return 1
    if failing:
        return 1
    return 0


def _gate(results: list[ProjectResult], fail_on: str) -> bool:
    """Whether --check fails: a verified fix left to apply, or a finding at or above
    ``fail_on``; says which on stderr."""
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    sugs = [s for r in results for s in r.suggestions]
    fixes = sum(1 for s in sugs if s.in_patch)
    counted = sum(1 for s in sugs if not s.in_patch and rank.get(s.severity, 0) >= rank[fail_on])
    below = len(sugs) - fixes - counted
    if fixes or counted:
        why = []
        if fixes:
            why.append(f"{_plural(fixes, 'verified fix', 'verified fixes')} to apply")
        if counted:
            why.append(f"{_plural(counted, 'finding')} at or above {fail_on}")
        click.echo(f"exfix: check failed: {' and '.join(why)}", err=True)
        return True
    click.echo(f"exfix: check passed: no verified fix to apply, no finding at or above {fail_on}"
               + (f" ({below} below)" if below else ""), err=True)
    return False


def _write_baseline(results: list[ProjectResult], out_file: str, cwd: str) -> list[Problem]:
    from ..baseline import dumps, entries
    from ..writer import FileChange, WriteRefused, write_one

    path = Path(out_file)
    items = entries(results, os.path.dirname(os.path.abspath(path)))
    try:
        current = path.read_bytes() if path.is_file() else None
    except OSError as exc:
        return [Problem(display_path(path, cwd), None, f"cannot read: {exc.strerror or exc}")]
    try:
        write_one(FileChange(path, current, dumps(items).encode("utf-8"), display_path(path, cwd)))
    except WriteRefused as exc:
        return [Problem(display_path(path, cwd), None, f"not written: {exc.reason}")]
    count = sum(i["count"] for i in items)
    click.echo(f"exfix: wrote {display_path(path, cwd)} ({_plural(count, 'finding')})", err=True)
    return []


def _configured(units, base: Options, select, strategy, elixir, cwd, problems) -> list:
    """Each unit with the options of its .exfix.exs (found upward from it); a unit whose
    config does not read is reported and left out."""
    from .. import config as cfg_mod

    by_file: dict = {}
    kept = []
    for unit in units:
        found = cfg_mod.find(unit.root)
        if found is None:
            kept.append(unit)
            continue
        key = os.path.realpath(found)
        if key not in by_file:
            try:
                cfg = cfg_mod.load(found, list(ALL_RULES), display_path(found, cwd))
                by_file[key] = _with_config(base, cfg, select, strategy, elixir)
            except cfg_mod.ConfigError as exc:
                problems.append(Problem(exc.file, exc.line, exc.message))
                by_file[key] = None
        if by_file[key] is not None:
            unit.opts = by_file[key]
            kept.append(unit)
    return kept


def _with_config(base: Options, cfg, select, strategy, elixir) -> Options:
    """``base`` with what ``cfg`` sets; the command line wins (--rule, --strategy, --elixir)."""
    from dataclasses import replace

    from ..config import ConfigError, ExcludeFilter
    from ..semantics import resolve

    rules = base.rules if select else [r for r in base.rules if r.id not in cfg.disabled]
    options = {**base.rule_options, **cfg.options}
    options["strategy"] = strategy or cfg.options.get("strategy", "auto")
    version = base.version
    if not elixir and cfg.elixir:
        try:
            version, warning = resolve(cfg.elixir)
        except ValueError as exc:
            raise ConfigError(cfg.path, cfg.elixir_line, f"elixir: {exc}") from exc
        if warning:
            click.echo(f"{cfg.path}:{cfg.elixir_line}: warning: {warning}", err=True)
    filters = base.filters
    if cfg.exclude:
        filters = (*filters, ExcludeFilter(cfg.folder, cfg.exclude))
    return replace(base, rules=rules, rule_options=options, version=version, filters=filters,
                   severities=dict(cfg.severities))


def _verify_with_mix(results: list[ProjectResult], version: str) -> bool:
    import shutil as _shutil

    from ..mixcheck import verify_with_mix

    if _shutil.which("mix") is None:
        raise click.ClickException("--verify-with-mix needs `mix` on PATH")
    ok = True
    for r in results:
        if r.failed or not r.patches:
            continue
        verdict = verify_with_mix(Path(r.root), r.patches, version, r.display)
        click.echo(f"mix: {verdict.describe()}", err=True)
        ok = ok and verdict.ok
    return ok


def _default_paths(cwd: str) -> tuple[tuple[str, ...], bool]:
    """With no PATH: the project at or above the working folder, as git finds its repository;
    else every project below it, saying so first (that walk may be long). The paths, and
    whether they are a scan below."""
    from ..discover import enclosing_project

    found = enclosing_project(".")
    if found is not None:
        return (str(found),), False
    click.echo(f"exfix: no mix.exs here or above; looking for projects below {cwd}", err=True)
    return (".",), True


def _check_umbrella_root(root: Path, cwd: str) -> list[Problem]:
    from ..project import ProjectError, load_project

    try:
        load_project(root)
    except ProjectError as exc:
        file = display_path(exc.file, cwd) if exc.file else display_path(root, cwd)
        return [Problem(file, exc.line, exc.message, display_path(root, cwd))]
    return []


def _boundaries(found, paths) -> tuple[str, ...]:
    """Where apply may write: inside each project found (an umbrella's root for its apps)
    and inside the paths the user named, links followed. A folder link or an
    ``elixirc_paths`` entry leading elsewhere is analysed, never written through."""
    named = [Path(p) for p in paths or ["."]]
    roots = [f.root for f in found] + [p if p.is_dir() else p.parent for p in named]
    return tuple(sorted({os.path.realpath(r) for r in roots if os.path.exists(r)}))


def _hidden_line(results: list[ProjectResult], min_gain: int | None, write: bool) -> str:
    """The verified fixes left out for saving fewer than ``min_gain`` recompiles, per rule."""
    by_rule: dict[str, int] = {}
    for r in results:
        for sug in r.hidden:
            by_rule[sug.rule] = by_rule.get(sug.rule, 0) + 1
    if not by_rule:
        return ""
    n = sum(by_rule.values())
    rules = ", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items()))
    what = "saves no recompile" if min_gain == 1 else f"saves fewer than {min_gain} recompiles"
    fixes = _plural(n, "verified fix", "verified fixes")
    return (f"exfix: {fixes} {'not written' if write else 'not shown'} ({rules}): "
            f"{'each' if n > 1 else 'it'} {what}; --all {'writes' if write else 'shows'} "
            f"{'them' if n > 1 else 'it'}")


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


def _run_all(units: list, opts: Options, jobs: int | None) -> list[ProjectResult]:
    console = Console(stderr=True)
    if len(units) < PROGRESS_MIN_PROJECTS:  # one project: its files, once past a second
        from ..progress import files_bar

        with files_bar(units[0].root.resolve().name if units else ""):
            return run_many(units, opts, jobs)
    if not console.is_terminal:
        return run_many(units, opts, jobs)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("analysing projects", total=len(units))
    try:
        # the bar's thread starts once the workers are forked
        return run_many(units, opts, jobs, progress=lambda _r: progress.advance(task),
                        started=progress.start)
    finally:
        progress.stop()


def _write(results: list[ProjectResult], opts: Options, jobs, cwd: str, inside: tuple[str, ...] = ()):
    """Write every patch; then analyse the written projects again and check they hold.

    A fix that spans files (a guard helper and the file that calls it) is written whole or
    not at all: new files go first, a file whose fixes need a new file that could not be
    written is left alone, and a new file whose users were all left alone is taken back."""
    sweep([Path(r.root) / d for r in results for d in r.source_dirs], inside)
    changes: list[tuple[ProjectResult, object, FileChange]] = []
    for result in results:
        for patch in result.patches:
            path = Path(result.root) / patch.file
            changes.append((result, patch, FileChange(path, patch.before, patch.after,
                                                      display_path(path, cwd), inside)))
    created = [c for c in changes if c[2].expected is None]
    edited = [c for c in changes if c[2].expected is not None]
    outcome = write_changes([c for _, _, c in created]) if created else WriteResult()
    refused_by_name = {r.path: r.reason for r in outcome.refused}
    ready = []
    for result, patch, change in edited:
        missing = sorted(n for n in _needs(result, patch, cwd) if n in refused_by_name)
        if missing:
            reason = f"it needs {', '.join(missing)}, which could not be written"
            outcome.refused.append(Refused(change.name, reason))
            refused_by_name[change.name] = reason
        else:
            ready.append(change)
    more = write_changes(ready)
    outcome.written.extend(more.written)
    outcome.refused.extend(more.refused)
    outcome.unchanged.extend(more.unchanged)
    refused_by_name.update({r.path: r.reason for r in more.refused})
    for result, patch, change in created:
        if change.name not in outcome.written:
            continue
        users = {display_path(Path(result.root) / s.file, cwd)
                 for s in result.suggestions if s.in_patch and patch.file in s.new_files}
        if users and users <= set(refused_by_name) and take_back(change):
            # every file that needed this new file was left alone: so is the new file
            reason = "the file that uses it was left alone"
            outcome.written.remove(change.name)
            outcome.refused.append(Refused(change.name, reason))
            refused_by_name[change.name] = reason
    touched: dict[str, ProjectResult] = {}
    for result, patch, change in changes:
        reason = refused_by_name.get(change.name)
        if reason is None:
            touched[result.root] = result
            continue
        result.patches.remove(patch)
        for sug in result.suggestions:
            if sug.in_patch and (sug.file == patch.file or patch.file in sug.new_files):
                sug.in_patch = False
                sug.reasons.append(f"not written: {reason}")
    for result in results:
        for sug in result.suggestions:
            sug.written = sug.in_patch  # whatever is still in a patch was written
    problems = [Problem(r.path, None, f"not written: {r.reason}") for r in outcome.refused]
    if touched:
        problems.extend(_reverify(list(touched.values()), opts, jobs, cwd, set(outcome.written)))
    return outcome.written, outcome.refused, problems


def _needs(result: ProjectResult, patch, cwd: str) -> set[str]:
    """The new files (as reports name them) that the fixes in ``patch`` need."""
    return {display_path(Path(result.root) / rel, cwd)
            for s in result.suggestions if s.in_patch and s.file == patch.file
            for rel in s.new_files}


def _reverify(before: list[ProjectResult], opts: Options, jobs, cwd: str, written: set[str]) -> list[Problem]:
    """The written tree, analysed afresh: written files parse, no compile edge or cycle added."""
    from dataclasses import replace

    from ..engine import Unit

    bare = Options(rules=[], rule_options=opts.rule_options, version=opts.version, cwd=opts.cwd)
    # whole projects (all files), each as the version it was analysed as (its .exfix.exs')
    units = [Unit(Path(r.root), opts=replace(bare, version=r.version or opts.version)) for r in before]
    after = run_many(units, bare, jobs)
    problems = []
    for old, new in zip(before, after):
        if new.stats is None or old.stats is None:
            problems.append(Problem(old.display, None, "re-verification after writing failed: "
                                    + "; ".join(e.message for e in new.errors)))
            continue
        for err in new.errors:
            if err.file in written:
                problems.append(Problem(err.file, err.line, f"after writing: {err.message}"))
        known = set(map(tuple, old.compile_edge_list))
        created = {p.file for p in old.patches if p.before is None}  # written by this apply
        for a, b in sorted(set(map(tuple, new.compile_edge_list)) - known):
            # the one kind of new compile edge a fix may add: into a new file with no deps
            if b in created and b in new.leaf_files:
                continue
            problems.append(Problem(display_path(Path(old.root) / a, cwd), None,
                                    f"after writing: new compile edge to {b}"))
        if new.stats.compile_cycles > old.stats.compile_cycles:
            problems.append(Problem(old.display, None, "after writing: more compile cycles than before"))
    return problems
