"""``python -m refactor``: the exfix command line."""

from .cli import main

main()
