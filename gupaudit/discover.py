"""Stage 1, discover: which files of a tree can hold an acquisition site.

Input: a tree root. Output: paths (relative, '/'-separated) of .c/.h files that contain one of
the catalogue's byte needles. The walk does not honour .gitignore (Debian's linux-source ends
its .gitignore with "/*"), skips .git and symlinks (no loops), and reads in parallel.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SOURCE_SUFFIXES = (".c", ".h")
SKIP_DIRS = frozenset({".git", ".pc", ".tmp_versions"})


def walk(root: Path) -> tuple[list[str], list[str]]:
    """All C sources under root (relative paths) and the directories that could not be read."""
    found: list[str] = []
    unreadable: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel if rel else root) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        continue
                    path = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir():
                        if entry.name not in SKIP_DIRS:
                            stack.append(path)
                    elif entry.name.endswith(SOURCE_SUFFIXES):
                        found.append(path)
        except OSError:
            unreadable.append(rel or ".")
    found.sort()
    return found, unreadable


def is_definition_file(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pat) for pat in patterns)


Job = tuple[str, list[str], tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]]


def _matching(args: Job) -> tuple[list[str], list[str], list[str]]:
    """Files holding a needle (one cheap pass each) and then one of the exact names; files
    holding a marker; files that could not be read."""
    root, paths, needles, names, markers = args
    hits, marked, unreadable = [], [], []
    for rel in paths:
        try:
            with open(os.path.join(root, rel), "rb") as fh:
                data = fh.read()
        except OSError:
            unreadable.append(rel)
            continue
        if any(needle in data for needle in needles) and any(name in data for name in names):
            hits.append(rel)
        if any(marker in data for marker in markers):
            marked.append(rel)
    return hits, marked, unreadable


def _chunks(items: list[str], n: int) -> Iterator[list[str]]:
    size = max(1, len(items) // n + 1)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def prefilter(root: Path, paths: list[str], needles: tuple[bytes, ...], names: tuple[bytes, ...],
              markers: tuple[bytes, ...], pool: ProcessPoolExecutor | None
              ) -> tuple[list[str], list[str], list[str]]:
    """The paths whose bytes contain one of ``names``, those containing one of ``markers``
    (facts about a directory, such as an MMU-notifier registration), and the paths that
    could not be read.

    ``needles`` are short stems shared by the names: most files fail on them in one pass.
    """
    if pool is None or len(paths) < 2000:
        return _matching((str(root), paths, needles, names, markers))
    jobs = [(str(root), chunk, needles, names, markers) for chunk in _chunks(paths, 16)]
    hits: list[str] = []
    marked: list[str] = []
    unreadable: list[str] = []
    for h, m, u in pool.map(_matching, jobs):
        hits.extend(h)
        marked.extend(m)
        unreadable.extend(u)
    hits.sort()
    return hits, marked, unreadable
