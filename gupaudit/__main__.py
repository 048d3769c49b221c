"""``python -m gupaudit`` runs the command line."""

from gupaudit.cli import run

run()
