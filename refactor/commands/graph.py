"""``exfix graph``, ``exfix trace`` and ``exfix recompiles``: the graph, as mix would print it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from ..analysis import Analysis, analyze, umbrella_graph
from ..project import ProjectError, load_project
from ..semantics import SUPPORTED

FORMATS = ["pretty", "plain", "dot", "stats", "cycles", "json", "html"]
LABELS = ["compile", "export", "runtime", "compile-connected"]


class InputError(click.ClickException):
    """A project or file exfix cannot work on: exit code 2, like every input error."""

    exit_code = 2


def elixir_option(f):
    return click.option(
        "--elixir",
        "elixir",
        metavar="VERSION",
        help=(
            "Label edges and format output as this Elixir version does: any of "
            f"{SUPPORTED[0]} to {SUPPORTED[-1]}, a patch number accepted and ignored (1.17.3 is 1.17); "
            "another version is refused. Default: the installed elixir, else "
            f"{SUPPORTED[-1]}; --verbose says which."
        ),
    )(f)


def verbose_option(f):
    return click.option(
        "-v", "--verbose", is_flag=True, help="Also say what could not be followed (macros, paths)."
    )(f)


def _set_cache(ctx, param, value):
    from .. import analysis

    analysis.DEFAULTS["cache"] = not value
    return value


def _set_jobs(ctx, param, value):
    from .. import analysis

    analysis.DEFAULTS["jobs"] = value
    return value


def cache_option(f):
    """``--no-cache``: read and write nothing in ``_build/exfix/cache`` (sets the default of
    every ``analyze()`` this command makes; the value is not passed to the command)."""
    return click.option(
        "--no-cache", is_flag=True, expose_value=False, callback=_set_cache,
        help="Parse and expand every file again; read and write nothing in _build/exfix/cache "
             "(suggest and apply still verify each fix incrementally, in memory).",
    )(f)


def jobs_option(f):
    """``--jobs N``: the most processes a command uses, in every command (sets the default
    of ``analyze()``; ``suggest`` reads it there too)."""
    return click.option(
        "--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N", expose_value=False,
        callback=_set_jobs,
        help="Use at most N processes: for the projects found, or for a large project's files "
             "(default: all cores).",
    )(f)


def _set_env(ctx, param, value):
    from .. import mixconfig

    if value is not None and not value.isidentifier():
        raise click.BadParameter(f"not an environment name: {value!r}")
    mixconfig.DEFAULTS["env"] = value
    return value


def env_option(f):
    """``--env NAME``: the MIX_ENV analysed (sets load_project's default)."""
    return click.option(
        "--env", metavar="dev|test|prod", expose_value=False, callback=_set_env,
        help="Analyse the project as mix compiles it in this environment (default: $MIX_ENV, "
             "else dev): its elixirc_paths, config/*.exs and Mix.env() conditions.",
    )(f)


def analysis_options(f):
    """The options of every command that analyses a project: --elixir, --env, --verbose,
    --no-cache and --jobs, in that order."""
    for option in (jobs_option, cache_option, verbose_option, env_option, elixir_option):
        f = option(f)
    return f


def resolve_version(value: str | None, verbose: bool = False) -> str:
    """The Elixir version whose rules apply (semantics.resolve), saying so when another stands
    in for it, and with --verbose which version it is and where it came from."""
    from ..semantics import installed_version, resolve

    try:
        version, warning = resolve(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--elixir") from exc
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if verbose:
        if value is not None:
            source = f"--elixir {value}"
        else:
            found = installed_version()
            source = f"the installed elixir ({shutil.which('elixir')}) is {found}" if found else \
                "no elixir on PATH, so the newest modelled"
        click.echo(f"note: Elixir {version}'s rules ({source})", err=True)
    return version


def open_project(path: str, verbose: bool = False):
    """The project at ``path``, or the one enclosing it (``cd lib && exfix graph``)."""
    from ..discover import enclosing_project

    if not (Path(path) / "mix.exs").is_file() and Path(path).is_dir():
        found = enclosing_project(path)
        if found is not None:
            if verbose:
                click.echo(f"note: no mix.exs in {path}; using the project at {found}", err=True)
            path = str(found)
    try:
        return load_project(path)
    except ProjectError as exc:
        raise InputError(str(exc)) from exc


def load_file_analysis(path: str, file: str, version: str, verbose: bool) -> tuple[Analysis, str]:
    """The analysis of the project at (or above) ``path`` and ``file`` relative to its root;
    at an umbrella root, of the app holding ``file``."""
    project = open_project(path, verbose)
    rel = relative_to_project(project.root, file)
    if project.is_umbrella:
        for app in project.children():
            prefix = os.path.relpath(app.root, project.root).replace(os.sep, "/") + "/"
            if rel.startswith(prefix):
                return report_analysis(analyse(app, version), verbose), rel[len(prefix):]
        raise InputError(f"{file}: not inside an app of the umbrella at {project.root} "
                         f"({project.apps_path}/NAME)")
    return report_analysis(analyse(project, version), verbose), rel


def analyse(project, version: str) -> Analysis:
    """``analyze``, with a progress bar on a terminal when it takes over a second."""
    from ..progress import files_bar

    with files_bar(project.name):
        return analyze(project, version)


def report_analysis(analysis: Analysis, verbose: bool) -> Analysis:
    if verbose:
        for note in analysis.notes:
            click.echo(f"note: {note}", err=True)
        models, missed = analysis.coverage
        click.echo(f"note: coverage: {models} `use` expanded from framework models (refactor/frameworks), "
                   f"{missed} macro expansion{'s' if missed != 1 else ''} not followed (the notes above say which)",
                   err=True)
    for path, errors in analysis.errors.items():
        for err in errors:
            click.echo(f"warning: {path}:{err.line}: {err.message}; facts taken where the damage is local", err=True)
    return analysis


def relative_to_project(project_root: Path, file: str) -> str:
    """Accept a path as the user typed it (relative to cwd or to the project)."""
    p = Path(file)
    if p.is_absolute() or (Path.cwd() / p).exists() and not (project_root / p).exists():
        try:
            return os.path.relpath(p.resolve(), project_root.resolve()).replace(os.sep, "/")
        except ValueError:
            return file
    return file.replace(os.sep, "/")


@click.command(
    "graph",
    epilog="""\b
Examples:
  exfix graph --label compile-connected          # what makes files recompile transitively
  exfix graph --format cycles --label compile    # cycles holding a compile edge
  exfix graph --sink lib/foo.ex --label compile --only-nodes
  exfix graph --format json --output -           # the graph as mix's JSON, on stdout
  exfix graph --format html                      # a page to look at: xref_graph.html
""",
)
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pretty", show_default=True,
              help="Output format, as `mix xref graph --format`; html: one self-contained page "
                   "(chains, cycles, fan-out, and a clicked file's trace and recompile set).")
@click.option("--output", metavar="PATH|-",
              help="Where dot/json/html go (default xref_graph.dot/.json/.html; - for stdout).")
@click.option("--label", type=click.Choice(LABELS), help="Only show edges of this label.")
@click.option("--only-direct", is_flag=True, help="With --label: keep only files with that direct relationship.")
@click.option("--only-nodes", is_flag=True, help="Print file names only.")
@click.option("--source", "sources", multiple=True, metavar="FILE", help="Files the given file references (repeatable).")
@click.option("--sink", "sinks", multiple=True, metavar="FILE", help="Files that reference the given file (repeatable).")
@click.option("--exclude", multiple=True, metavar="FILE", help="Leave this file out (repeatable).")
@click.option("--group", "groups", multiple=True, metavar="A,B,...", help="Treat these files as one node (repeatable).")
@click.option("--min-cycle-size", type=int, help="With stats/cycles: smallest cycle to show.")
@click.option("--min-cycle-label", type=int, help="With cycles: least number of --label edges in a cycle.")
@click.option("--fail-above", type=int, help="Exit 1 when the count of what is shown is above N.")
@analysis_options
def graph(path, fmt, output, label, only_direct, only_nodes, sources, sinks, exclude, groups,
          min_cycle_size, min_cycle_label, fail_above, elixir, verbose):
    """Print the file dependency graph of the mix project at PATH, as `mix xref graph` would.

    PATH defaults to the project at or above the current folder, as git finds its repository.

    Edges are labelled compile, export or runtime exactly as the chosen Elixir version labels
    them, computed from the source without compiling. Paths are relative to the project root.
    """
    from ..xref_format import FileGraph, GraphOptions

    version = resolve_version(elixir, verbose)
    if fmt == "stats" and fail_above is not None:
        click.echo("warning: --fail-above counts nothing with --format stats (mix counts 0 there, "
                   "so it cannot fail); use the default format with --label compile-connected, "
                   "or --format cycles", err=True)
    project = open_project(path, verbose)
    if fmt == "html":
        given = [name for name, value in (
            ("--label", label), ("--only-direct", only_direct), ("--only-nodes", only_nodes),
            ("--source", sources), ("--sink", sinks), ("--exclude", exclude), ("--group", groups),
            ("--min-cycle-size", min_cycle_size), ("--min-cycle-label", min_cycle_label),
            ("--fail-above", fail_above)) if value]
        if given:
            raise click.UsageError(f"--format html draws the whole project; it takes no {', '.join(given)}")
        sys.exit(emit_html(project, version, verbose, output))
    root = project.root
    opts = GraphOptions(
        format=fmt,
        label=label,
        only_direct=only_direct,
        only_nodes=only_nodes,
        sources=[relative_to_project(root, s) for s in sources],
        sinks=[relative_to_project(root, s) for s in sinks],
        exclude=[relative_to_project(root, s) for s in exclude],
        groups=list(groups),
        min_cycle_size=min_cycle_size,
        min_cycle_label=min_cycle_label,
        fail_above=fail_above,
    )
    if not project.is_umbrella:
        analysis = report_analysis(analyse(project, version), verbose)
        # every label of every direct reference: only --only-direct reads them
        direct = analysis.direct_labels() if only_direct else None
        graphs = [(None, FileGraph(files=analysis.tracked_files, edges=analysis.edges(), direct=direct))]
    else:
        children = [report_analysis(analyse(child, version), verbose) for child in project.children()]
        if version == "1.14":
            # 1.14 runs the task in each app: one graph per app under a "==> app" header
            graphs = [(c.project.name, FileGraph(c.tracked_files, c.edges())) for c in children]
        else:
            graphs = [(None, FileGraph(*umbrella_graph(children)))]
    code = 0
    for header, fg in graphs:
        if header is not None:
            click.echo(f"==> {header}")
        code = max(code, emit_graph(fg, opts, fmt, output, version))
    sys.exit(code)


def emit_graph(fg, opts, fmt: str, output: str | None, version: str) -> int:
    from ..xref_format import generated_notice, render_graph

    result = render_graph(fg, opts, version)
    if result.error and not result.over_limit:
        click.echo(f"** (Mix) {result.error}", err=True)
        sys.exit(2)  # mix exits 1; exfix keeps 1 for --fail-above, as the README says
    if fmt in ("dot", "json"):
        default = "xref_graph.dot" if fmt == "dot" else "xref_graph.json"
        target = output or default
        if target in STDOUT_NAMES:
            click.echo(result.text, nl=False)
        else:
            write_output(target, result.text)
            click.echo(generated_notice(fmt, version, target), nl=False)
    else:
        click.echo(result.text, nl=False)
    if result.over_limit:  # as mix: what is shown, then the error
        click.echo(f"** (Mix) {result.error}", err=True)
        sys.exit(1)
    return result.exit_code


def emit_html(project, version: str, verbose: bool, output: str | None) -> int:
    from ..html_graph import page_data, render_page

    if project.is_umbrella:
        parts = []
        for child in project.children():
            prefix = os.path.relpath(child.root, project.root).replace(os.sep, "/") + "/"
            parts.append((prefix, report_analysis(analyse(child, version), verbose)))
    else:
        parts = [("", report_analysis(analyse(project, version), verbose))]
    page = render_page(page_data(parts, version, f"exfix graph: {project.name}"))
    target = output or "xref_graph.html"
    if target in STDOUT_NAMES:
        click.echo(page, nl=False)
    elif Path(target).parent.is_dir() and (not os.path.lexists(target) or Path(target).is_file()
                                            and not Path(target).is_symlink()):
        from ..cache import write_atomically

        try:  # a page is only ever seen whole
            write_atomically(Path(target), page.encode("utf-8"))
        except OSError as exc:
            raise InputError(f"{target}: cannot write the page: {exc.strerror or exc}") from None
    else:
        write_output(target, page)  # a link, FIFO or device is written to, as for dot
    if target not in STDOUT_NAMES:
        click.echo(f'Generated "{target}": open it in a browser (it needs no network).')
    return 0


STDOUT_NAMES = ("-", "/dev/stdout")


def write_output(target: str, text: str) -> None:
    """Write like ``mix xref graph --output`` (``File.write!``): the file is created or
    truncated in place, whatever is there (a link is followed, a FIFO or a device is written
    to, as the user asked). Nothing is renamed and no folder is created: a folder, or a
    missing parent folder, is refused with one line."""
    p = Path(target)
    if p.is_dir():
        raise InputError(f"{target}: is a folder; --output takes a file name")
    parent = p.parent
    if not parent.is_dir():
        raise InputError(f"{target}: cannot write the graph: no folder {parent}")
    data = text.encode("utf-8")
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOCTTY", 0), 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the graph: {exc.strerror or exc}") from None


@click.command("trace")
@click.argument("file", type=click.Path())
@click.option("--project", "project_dir", default=".", type=click.Path(file_okay=False),
              help="The mix project holding FILE (default: the one at or above the current folder).")
@click.option("--label", type=click.Choice(["compile", "export", "runtime"]), help="Only references of this label.")
@analysis_options
def trace(file, project_dir, label, elixir, verbose):
    """Print the references FILE makes to modules of its project, with line and label,
    as `mix xref trace FILE` would."""
    from ..trace import format_entry, trace_entries

    version = resolve_version(elixir, verbose)
    analysis, rel = load_file_analysis(project_dir, file, version, verbose)
    if rel not in analysis.files:
        raise InputError(f"{file}: not a source file of the project at {analysis.project.root} "
                                   f"(elixirc_paths: {analysis.project.elixirc_paths})")
    for ref in trace_entries(analysis, rel, label):
        click.echo(format_entry(rel, ref, version))


@click.command("recompiles")
@click.argument("file", type=click.Path())
@click.option("--project", "project_dir", default=".", type=click.Path(file_okay=False),
              help="The mix project holding FILE (default: the one at or above the current folder).")
@click.option("--exports-changed", is_flag=True,
              help="FILE's public functions, macros or struct change too (default: only bodies).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@analysis_options
def recompiles(file, project_dir, exports_changed, fmt, elixir, verbose):
    """List the files mix recompiles when FILE changes.

    By default FILE's exports stay the same (a change inside function bodies); pass
    --exports-changed when public functions, macros or the struct change.
    """
    from ..recompile import recompiles as compute

    version = resolve_version(elixir, verbose)
    analysis, rel = load_file_analysis(project_dir, file, version, verbose)
    if rel not in analysis.files:
        raise InputError(f"{file}: not a source file of the project at {analysis.project.root}")
    files = compute(analysis.file_deps(), rel, exports_changed, version, export_implies_runtime=False)
    if fmt == "json":
        click.echo(json.dumps({"changed": rel, "recompiles": files}))
    else:
        for f in files:
            click.echo(f)


@click.command("fanout")
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many files and breakable edges to list.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@analysis_options
def fanout(path, top, fmt, elixir, verbose):
    """Measure recompilation: for every file, how many others mix recompiles when it changes.

    Prints the mean and the maximum, the files that cost most, and the compile edges worth
    breaking (in a cycle, or compile-connected), each with the references that create it
    and how much the mean would drop without them.
    """
    version = resolve_version(elixir, verbose)
    project = open_project(path, verbose)
    if not project.is_umbrella:
        analysis = report_analysis(analyse(project, version), verbose)
        if fmt == "json":
            click.echo(json.dumps(_fanout_doc(analysis, top)))
        else:
            click.echo(_fanout_text(analysis, top), nl=False)
        return
    # an umbrella: each app compiles on its own, with its own fan-out (as mix 1.14's graph)
    apps = [report_analysis(analyse(app, version), verbose) for app in project.children()]
    if fmt == "json":
        click.echo(json.dumps({"apps": [{"app": a.project.name, **_fanout_doc(a, top)} for a in apps]}))
        return
    for a in apps:
        click.echo(f"==> {a.project.name}")
        click.echo(_fanout_text(a, top), nl=False)


def _fanout_doc(analysis: Analysis, top: int) -> dict:
    from ..breakable import rank

    counts = analysis.fanout()
    mean = sum(counts.values()) / len(counts) if counts else 0.0
    worst = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {
        "files": len(counts), "mean": round(mean, 3), "max": max(counts.values(), default=0),
        "top": [{"file": f, "recompiles": n} for f, n in worst],
        "breakable": [{
            "source": e.source, "sink": e.sink, "module": e.target, "why": e.why,
            "fanout_before": round(e.fanout_before, 3), "fanout_after": round(e.fanout_after, 3),
            "references": [{"file": c.file, "line": c.line, "construct": c.construct} for c in e.culprits],
        } for e in rank(analysis, top)],
    }


def _fanout_text(analysis: Analysis, top: int) -> str:
    from ..breakable import format_ranking, rank

    counts = analysis.fanout()
    mean = sum(counts.values()) / len(counts) if counts else 0.0
    worst = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    lines = [f"{len(counts)} files; a change recompiles {mean:.2f} other files on average, "
             f"{max(counts.values(), default=0)} at most"]
    lines += [f"  {f}: {n}" for f, n in worst if n]
    edges = rank(analysis, top)
    if edges:
        lines += ["", "Compile edges worth breaking, most recompiles saved first:", format_ranking(edges)]
    return "\n".join(lines) + "\n"
