"""MAINTAINERS, read as scripts/get_maintainer.pl reads it, for the group stage.

A section is a title line followed by ``X:\\tvalue`` lines. For a file, F: and N: patterns
match (X: excludes); like get_maintainer.pl, an F: match weighs the pattern's depth (its
slashes, one more when it names a file or a glob rather than a directory), an N: regex
weighs 0, ``F: *`` (THE REST) weighs -1; the heaviest section is the file's section, a
pattern naming the file beating a glob of the same depth, then the earlier section.
K: (content regexes) is not used: it matches patches, not paths. Older MAINTAINERS files
(4.x) have the same shape and read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_FIELD = re.compile(r"^([A-Z]):\s*(.*?)\s*$")


@dataclass(frozen=True)
class Section:
    title: str
    maintainers: tuple[str, ...] = ()  # M:
    reviewers: tuple[str, ...] = ()  # R:
    lists: tuple[str, ...] = ()  # L:
    status: str = ""  # S:
    trees: tuple[str, ...] = ()  # T:
    files: tuple[str, ...] = ()  # F:
    excludes: tuple[str, ...] = ()  # X:
    regexes: tuple[str, ...] = ()  # N:


@dataclass(frozen=True)
class _Pattern:
    section: int
    exclude: bool
    prefix: str  # the pattern up to its first wildcard
    glob: str | None  # the pattern itself, when it has wildcards
    slashes: int
    depth: int
    dir_like: bool


class Maintainers:
    """Sections, with their F:/X: patterns indexed by first path component."""

    def __init__(self, sections: list[Section]) -> None:
        self.sections = sections
        self._by_top: dict[str, list[_Pattern]] = {}
        self._anywhere: list[_Pattern] = []
        self._regexes: list[tuple[int, re.Pattern[str]]] = []
        for i, s in enumerate(sections):
            for value, exclude in [(v, False) for v in s.files] + [(v, True) for v in s.excludes]:
                p = _pattern(i, value, exclude)
                top = value.split("/", 1)[0]
                if "*" in top or "?" in top:
                    self._anywhere.append(p)
                else:
                    self._by_top.setdefault(top, []).append(p)
            for value in s.regexes:
                try:
                    self._regexes.append((i, re.compile(value, re.X)))
                except re.error:
                    continue  # a regex Python cannot read: that N: line is skipped
        self._cache: dict[str, Section | None] = {}

    def section_of(self, path: str) -> Section | None:
        """The most specific section for a path relative to the tree root."""
        if path not in self._cache:
            self._cache[path] = self._best(path)
        return self._cache[path]

    def _best(self, path: str) -> Section | None:
        slashes = path.count("/")
        weights: dict[int, tuple[int, int]] = {}
        excluded: set[int] = set()
        for p in self._by_top.get(path.split("/", 1)[0], []) + self._anywhere:
            if _match(path, slashes, p):
                if p.exclude:
                    excluded.add(p.section)
                else:
                    # Same depth: a pattern naming the file beats a glob (UPROBES'
                    # kernel/events/uprobes.c over PERF's kernel/events/*).
                    weight = (p.depth, p.glob is None)
                    weights[p.section] = max(weights.get(p.section, weight), weight)
        for i, rx in self._regexes:
            if i not in weights and rx.search(path):
                weights[i] = (0, False)
        ranked = [(*w, -i) for i, w in weights.items() if i not in excluded]
        if not ranked:
            return None
        return self.sections[-max(ranked)[2]]


def _pattern(section: int, value: str, exclude: bool) -> _Pattern:
    """get_maintainer.pl's pattern: '*' any run, '?' one character. A plain name without a
    trailing slash may be a file or a directory (get_maintainer.pl asks the disk); the
    depth is the same either way and a path below it can only mean a directory, so the
    disk is not asked."""
    wild = "*" in value or "?" in value
    depth = -1 if value.startswith("*") else value.count("/") + (0 if value.endswith("/") else 1)
    cut = min((value.index(c) for c in "*?" if c in value), default=len(value))
    return _Pattern(section, exclude, value[:cut], value if wild else None, value.count("/"),
                    depth, value.endswith("/") or not wild)


@cache
def _glob_rx(glob: str) -> re.Pattern[str]:
    """Compiled when a path first reaches it: of MAINTAINERS' ~1,500 globs, a scan tests a
    few dozen (compiling them all took most of the 0.35 s the file cost)."""
    return re.compile("^" + re.escape(glob).replace(r"\*", ".*").replace(r"\?", "."))


def _match(path: str, slashes: int, p: _Pattern) -> bool:
    """get_maintainer.pl's file_match_pattern: a directory pattern matches everything
    below it; a glob matches at its own depth only (``drivers/net/*`` not below)."""
    if not path.startswith(p.prefix):
        return False
    if p.glob is not None:
        return bool(_glob_rx(p.glob).match(path)) and (p.dir_like or slashes == p.slashes)
    if p.prefix.endswith("/"):
        return True
    return len(path) == len(p.prefix) or path[len(p.prefix)] == "/"


def parse(text: str) -> Maintainers:
    sections: list[Section] = []
    title: str | None = None
    fields: dict[str, list[str]] = {}

    def close() -> None:
        if title is not None and fields:
            sections.append(Section(
                title=title, maintainers=tuple(fields.get("M", ())),
                reviewers=tuple(fields.get("R", ())), lists=tuple(fields.get("L", ())),
                status=(fields.get("S") or [""])[0], trees=tuple(fields.get("T", ())),
                files=tuple(fields.get("F", ())), excludes=tuple(fields.get("X", ())),
                regexes=tuple(fields.get("N", ()))))

    for line in text.splitlines():
        m = _FIELD.match(line)
        if m and title is not None:
            fields.setdefault(m.group(1), []).append(m.group(2))
        elif line.strip() and not line[0].isspace() and not m:
            close()
            title, fields = line.strip(), {}
    close()
    return Maintainers(sections)


def load(root: Path) -> Maintainers | None:
    """The tree's own MAINTAINERS, or None when it has none."""
    try:
        text = (root / "MAINTAINERS").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse(text)
