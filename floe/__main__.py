"""``python -m floe`` runs the CLI."""

from floe.cli import main

main()
