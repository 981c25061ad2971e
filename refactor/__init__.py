"""exfix: Elixir compile-dependency graph and rewrites."""

__version__ = "0.1.0"
