"""``exfix rules`` and ``exfix rule ID``: every rule's documentation, as ``ruff rule`` and
``mix credo explain`` print theirs (the same text SARIF carries as each rule's ``help``)."""

from __future__ import annotations

import inspect

import click

from ..rules import ALL_RULES


def _safety(rule) -> str:
    if not rule.fixes:
        return "advice: no automatic fix"
    return "fix: safe" if rule.safe else "fix: unsafe, only with --allow-concat"


def _options(rule) -> str:
    words = []
    for name, kind in getattr(rule, "config_options", {}).items():
        what = "|".join(kind) if isinstance(kind, tuple) else ("N" if kind is int else "STRING")
        words.append(f"{name}: {what}")
    return ", ".join(words)


@click.command(
    "rules",
    epilog="""\b
Examples:
  exfix rules                              # one line per rule
  exfix rule attribute-to-function         # one rule's documentation""",
)
def rules():
    """List the rules: id, what each finds, and whether its fix is safe."""
    width = max(len(r.id) for r in ALL_RULES)
    for rule in ALL_RULES:
        click.echo(f"{rule.id:<{width}}  {rule.summary}")
        click.echo(f"{'':<{width}}  {_safety(rule)}" +
                   (f"; .exfix.exs options: {_options(rule)}" if _options(rule) else ""))


@click.command(
    "rule",
    epilog="""\b
Examples:
  exfix rule hoist-conditional-use
  exfix rule hoist-conditional-use | less

A finding of the rule is hidden by `# exfix:ignore ID` on the line before it (or at its
end), or `# exfix:ignore-file ID` anywhere in the file; .exfix.exs sets its severity and
options.""",
)
@click.argument("rule_id", metavar="ID")
def rule(rule_id):
    """Print one rule's documentation: what it does, why it matters, an example, fix safety."""
    by_id = {r.id: r for r in ALL_RULES}
    found = by_id.get(rule_id)
    if found is None:
        raise click.BadParameter(f"unknown rule {rule_id} (known: {', '.join(sorted(by_id))})",
                                 param_hint="ID")
    click.echo(f"{found.id}: {found.summary}")
    click.echo(_safety(found) + (f"; .exfix.exs options: {_options(found)}" if _options(found) else ""))
    click.echo()
    click.echo(inspect.cleandoc(found.__doc__ or "(no documentation)"))
