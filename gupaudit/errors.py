"""gupaudit's own errors, each with its exit code: the one table of exit codes.

Stages raise these; only cli.py turns them into a line on stderr and an exit status.

| code | meaning |
|------|---------|
| 0    | the command ran (and no site matched --fail-on) |
| 1    | sites matched --fail-on (mismatch, unconverted or any finding) |
| 2    | bad usage: unknown option or format, missing path, a file where a tree was expected,
|      | a revision or tag the repository does not have |
| 3    | input that cannot be read (unreadable tree root) |
| 4    | output that cannot be written (--output to a folder that does not exist, ...) |
| 70   | internal error (a bug in gupaudit; run again with --debug for the traceback) |
| 130  | interrupted (Ctrl-C) |
"""

from __future__ import annotations


class GupauditError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 70


class UsageError(GupauditError):
    exit_code = 2


class InputError(GupauditError):
    exit_code = 3


class OutputError(GupauditError):
    exit_code = 4


class BadRevision(UsageError):
    """No such revision, tag or range in the repository."""


class CatalogError(GupauditError):
    """A broken apis.toml / rules.toml / query file: a packaging bug, not user input."""

    exit_code = 70


FINDINGS = 1
INTERNAL = 70
INTERRUPTED = 130
