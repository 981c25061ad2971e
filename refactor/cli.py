"""The ``exfix`` command line."""

from __future__ import annotations

import gc
import importlib
import sys

import click

from . import __version__, output

# command name -> module and attribute: a command's module is imported only when it runs
# (or for --help), so `exfix graph` does not load the rules and the report
COMMANDS = {
    "suggest": ("refactor.commands.suggest", "suggest"),
    "apply": ("refactor.commands.suggest", "apply"),
    "baseline": ("refactor.commands.suggest", "baseline"),
    "rules": ("refactor.commands.rules", "rules"),
    "rule": ("refactor.commands.rules", "rule"),
    "graph": ("refactor.commands.graph", "graph"),
    "trace": ("refactor.commands.graph", "trace"),
    "recompiles": ("refactor.commands.graph", "recompiles"),
    "fanout": ("refactor.commands.graph", "fanout"),
}


class LazyGroup(click.Group):
    def __call__(self, *args, **kwargs):
        """The command line (not CliRunner, which calls main()): one command, then exit.
        The analysis leaves millions of objects and no garbage cycles, so the collector
        would only scan them again and again (and once more at exit): it stays off, and
        what is alive at the end is frozen so the interpreter's last collection skips it."""
        gc.disable()
        try:
            if sys.stdout is None:  # started with stdout closed (>&-): say so, exit 2
                sys.stderr and print(output.closed_line(), file=sys.stderr)
                sys.exit(2)
            try:
                try:
                    return super().__call__(*args, **kwargs)
                finally:
                    sys.stdout.flush()  # here, not at exit, where a failure is only a warning
            except OSError as exc:
                if output.is_broken_pipe(exc):
                    output.silence_stdout()
                    sys.exit(1)  # as click does
                line = output.failure_line(exc)
                output.silence_stdout()
                print(line, file=sys.stderr)
                sys.exit(2)
        finally:
            gc.freeze()

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Start with:
  exfix suggest                           verified fixes, as diffs (writes nothing)
  exfix apply                             write them
  exfix graph --label compile-connected   the edges that make files recompile transitively
  exfix recompiles lib/my_app/repo.ex     what recompiles when that file changes
  exfix fanout                            the files that cost most, and what to break
  exfix graph --format html               a page to look at: chains, cycles, fan-out
  exfix rules                             the rules; exfix rule ID shows one's docs
Every command takes --help.""",
)
@click.version_option(__version__, prog_name="exfix")
def main():
    """Find and cut compile-time dependencies in Elixir mix projects, without compiling them.

    exfix reads your Elixir source, rebuilds the file dependency graph that `mix xref graph`
    prints after a full compile (compile / export / runtime edges, labelled as your Elixir
    version labels them), and proposes verified rewrites that shrink recompilation.
    """

