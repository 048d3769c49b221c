"""Reads the expectations written into fixture C files.

Grammar (CONVENTIONS.md c.7), in kernel comment style on the line they belong to:

* ``/* expect: <status> [GUPnnn ...] [fn=name] */`` on an acquisition line: a site is there,
  with that status, exactly those rules and (optionally) that enclosing function;
* ``/* todo: ... */``: the same, but a known gap: the tool is expected to still get it wrong;
* ``/* release */``: the line is a release that some site's flow must reach;
* ``/* leak */``: a site's pages may leave the function there still held (GUP106);
* a first-line ``/* gupaudit-fixture: era=NAME */`` sets the tree's API era (default: newest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NOTE = re.compile(r"/\*\s*(?P<kind>expect|todo):\s*(?P<body>.*?)\s*\*/")
_RELEASE = re.compile(r"/\*\s*release\s*\*/")
_LEAK = re.compile(r"/\*\s*leak\b[^*]*\*/")
_HEADER = re.compile(r"/\*\s*gupaudit-fixture:\s*(?P<body>.*?)\s*\*/")


@dataclass(frozen=True)
class Note:
    line: int
    status: str
    rules: frozenset[str]
    function: str | None
    todo: bool

    @property
    def key(self) -> tuple[int, str, frozenset[str]]:
        return (self.line, self.status, self.rules)


def read_leaks(path: Path) -> set[int]:
    """The lines marked ``/* leak */``."""
    return {n for n, text in enumerate(path.read_text().splitlines(), 1) if _LEAK.search(text)}


def read_annotations(path: Path) -> tuple[list[Note], set[int], dict[str, str]]:
    """The site notes, the release lines and the header flags of one fixture."""
    notes: list[Note] = []
    releases: set[int] = set()
    flags: dict[str, str] = {}
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if number <= 2 and (m := _HEADER.search(text)):
            flags.update(kv.split("=", 1) for kv in m.group("body").split())
        for m in _NOTE.finditer(text):
            words = m.group("body").split()
            fn = next((w[3:] for w in words if w.startswith("fn=")), None)
            rules = frozenset(w for w in words[1:] if re.fullmatch(r"GUP\d{3}", w))
            notes.append(Note(number, words[0], rules, fn, m.group("kind") == "todo"))
        if _RELEASE.search(text):
            releases.add(number)
    return notes, releases, flags
