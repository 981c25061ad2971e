"""The ``exfix`` command line."""

from __future__ import annotations

import click

from . import __version__
from .commands.graph import fanout, graph, recompiles, trace
from .commands.suggest import apply, suggest


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Start with:
  exfix suggest                           verified fixes, as diffs (writes nothing)
  exfix apply                             write them
  exfix graph --label compile-connected   the edges that make files recompile transitively
  exfix recompiles lib/my_app/repo.ex     what recompiles when that file changes
  exfix fanout                            the files that cost most, and what to break
Every command takes --help.""",
)
@click.version_option(__version__, prog_name="exfix")
def main():
    """Find and cut compile-time dependencies in Elixir mix projects, without compiling them.

    exfix reads your Elixir source, rebuilds the file dependency graph that `mix xref graph`
    prints after a full compile (compile / export / runtime edges, labelled as your Elixir
    version labels them), and proposes verified rewrites that shrink recompilation.
    """


main.add_command(suggest)
main.add_command(apply)
main.add_command(graph)
main.add_command(trace)
main.add_command(recompiles)
main.add_command(fanout)
