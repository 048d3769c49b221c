"""Stage 7, group: which subsystem a site belongs to.

Three ways (``scan --group-by``): ``section``, the most specific MAINTAINERS section of the
site's file (the default when the tree has MAINTAINERS); ``group``, the named groups of
groups.toml (drm/amd, bio, fuse, cifs), else its section; ``path``, the top directory and
the next one (one level deeper where a directory is a collection of subsystems).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gupaudit.maintainers import Maintainers, Section
from gupaudit.model import ScanResult, Site

_DEEPER = ("drivers/gpu/drm", "drivers/media", "drivers/infiniband", "drivers/net/ethernet",
           "drivers/staging", "fs/smb", "arch/x86", "arch/powerpc", "arch/arm64", "drivers/misc",
           "drivers/virt")


def subsystem_of(path: str) -> str:
    parts = path.split("/")[:-1]
    if not parts:
        return "(top)"
    prefix = "/".join(parts[:3])
    depth = 2
    for deeper in _DEEPER:
        if prefix == deeper or prefix.startswith(deeper + "/"):
            depth = deeper.count("/") + 2
            break
    return "/".join(parts[:depth])


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    paths: tuple[str, ...]
    evidence: frozenset[str]

    def holds(self, site: Site) -> bool:
        return site.path.startswith(self.paths) or bool(
            self.evidence & {u.evidence for u in site.uses})


_EXTRA: dict[str, dict] = {}


def configure(groups: dict) -> None:
    """Extra named groups from a tree's config (config.py)."""
    _EXTRA.clear()
    _EXTRA.update(groups)
    named_groups.cache_clear()


@cache
def named_groups() -> tuple[Group, ...]:
    with open(Path(__file__).with_name("groups.toml"), "rb") as fh:
        raw = tomllib.load(fh)["group"] | _EXTRA
    return tuple(Group(name, rec["title"], tuple(rec["paths"]),
                       frozenset(rec.get("evidence", ()))) for name, rec in raw.items())


def groups_of(site: Site) -> list[str]:
    return [g.name for g in named_groups() if g.holds(site)]


BY = ("section", "group", "path")


def assign(sites: list[Site], maintainers: Maintainers | None, by: str | None
           ) -> tuple[list[Site], dict[str, Section]]:
    """Sites with ``subsystem`` and ``section`` set; the sections they fall in, by title."""
    by = by or ("section" if maintainers else "path")
    sections: dict[str, Section] = {}
    out = []
    for s in sites:
        section = maintainers.section_of(s.path) if maintainers else None
        title = section.title if section else ""
        if section:
            sections[title] = section
        if by == "path" or (by == "section" and not section):
            key = subsystem_of(s.path)
        elif by == "group":
            key = next(iter(groups_of(s)), title or subsystem_of(s.path))
        else:
            key = title
        out.append(dataclasses.replace(s, subsystem=key, section=title))
    return out, sections


def only(result: ScanResult, names: tuple[str, ...]) -> ScanResult:
    """The result restricted to sites whose subsystem, section or named group matches one
    of ``names``: exactly, or as a case-insensitive substring of the section title."""
    wanted = [n.lower() for n in names]

    def keep(s: Site) -> bool:
        keys = [s.subsystem.lower(), s.section.lower(), *groups_of(s)]
        return any(w == k or (len(w) > 2 and w in k) for w in wanted for k in keys)

    return dataclasses.replace(result, sites=tuple(s for s in result.sites if keep(s)))
