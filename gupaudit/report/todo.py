"""``gupaudit todo``: per-subsystem patch TODO lists (Markdown or JSON) and an index.

One file per MAINTAINERS section (or path group) with sites, plus one per named group
(drm/amd, bio, fuse, cifs) that has sites. Each says who to send the patches to (M: as
To, R: and L: as Cc), proposes patchsets the 2018 way (easy sites together, every
moderate or hard site alone), lists per site what to change at the acquisition and at
each release point for this tree's era, and lists converted sites as done.
Files gupaudit did not write are never touched; its own are replaced atomically.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gupaudit.catalog import load as load_catalog
from gupaudit.classify import targets
from gupaudit.errors import OutputError
from gupaudit.files import atomic_write
from gupaudit.group import named_groups
from gupaudit.maintainers import Section
from gupaudit.model import Era, ScanResult, Site, Status
from gupaudit.report.markdown import environment

_WORK = (Status.UNCONVERTED, Status.MISMATCH)
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Item:
    site: Site
    target: str
    changes: list[str]


def slug(title: str) -> str:
    return _SLUG.sub("-", title.lower()).strip("-")[:80] or "other"


def release_change(api: str, era: Era, pinned_already: bool) -> str:
    """What a release call becomes in this era."""
    if api.startswith("unpin") or api in ("bio_release_pages",):
        return f"{api}() stays"
    batch = api in ("release_pages", "put_user_pages")
    if era.has_pin:
        return f"{api}() -> {'unpin_user_pages' if batch else 'unpin_user_page'}()"
    if era.name == "put_user_page":
        return f"{api}() -> {'put_user_pages' if batch else 'put_user_page'}()"
    return f"{api}() -> put_user_page() (proposed)"


def item(site: Site, era: Era) -> Item:
    cat = load_catalog()
    api = cat.acquire[site.api]
    dirty = any(u.evidence == "dirty" for u in site.uses)
    acq, rel = targets(api, era, dirty)
    pinned = site.family.value in ("pin", "iter-extract")
    target = f"{acq} + {rel}" if not pinned else rel
    changes = [f"line {r.line} ({r.path if r.path != site.path else r.function + '()'}): "
               f"{release_change(r.api, era, pinned)}"
               + (" (found by struct field name: check that it releases these pages)"
                  if r.by_field_name else "")
               for r in site.releases if not (pinned and r.kind in ("pin", "either"))]
    for rid, message in site.messages:
        changes.append(f"{rid}: {message}")
    if not site.releases:
        changes.append("no release found: follow the pages with `gupaudit explain`")
    return Item(site, target, changes)


def patchsets(sites: list[Site], era: Era) -> list[dict[str, Any]]:
    work = [s for s in sites if s.status in _WORK]
    easy = [item(s, era) for s in work if s.difficulty == "easy"]
    sets = []
    if easy:
        sets.append({"title": f"easy conversions, one patchset ({len(easy)} sites)",
                     "sites": easy})
    for s in work:
        if s.difficulty != "easy":
            sets.append({"title": f"{s.function}() in {s.path} ({s.difficulty}, alone)",
                         "sites": [item(s, era)]})
    return sets


def _counts(sites: list[Site]) -> str:
    c = Counter(s.status.value for s in sites)
    return f"{len(sites)} sites (" + ", ".join(f"{n} {k}" for k, n in c.most_common()) + ")"


def files(result: ScanResult) -> list[dict[str, Any]]:
    """The TODO files' contents as data: name, title, section, sites by kind."""
    by_sub: dict[str, list[Site]] = {}
    for s in result.sites:
        by_sub.setdefault(s.subsystem, []).append(s)
    out = []
    for key, sites in by_sub.items():
        section = result.sections.get(sites[0].section) if sites[0].section else None
        out.append(_file(slug(key) + ".md", key, section, sites, result.era))
    for g in named_groups():
        sites = [s for s in result.sites if g.holds(s)]
        if sites:
            section = result.sections.get(sites[0].section)
            out.append(_file(f"group-{slug(g.name)}.md", g.title, section, sites, result.era))
    out.sort(key=lambda f: (-(f["todo"] + f["mismatch"]), f["name"]))
    return out


def _file(name: str, title: str, section: Section | None, sites: list[Site],
          era: Era) -> dict[str, Any]:
    by = Counter(s.status for s in sites)
    return {
        "name": name, "title": title, "section": section, "sites": sites,
        "patchsets": patchsets(sites, era),
        "unknown": [s for s in sites if s.status is Status.UNKNOWN],
        "done": [s for s in sites if s.status is Status.CONVERTED],
        "fine": [s for s in sites if s.status is Status.GUP_OK],
        "todo": by[Status.UNCONVERTED], "mismatch": by[Status.MISMATCH],
        "unknown_n": by[Status.UNKNOWN], "done_n": by[Status.CONVERTED],
        "fine_n": by[Status.GUP_OK], "counts": _counts(sites),
    }


def write(result: ScanResult, out_dir: Path, fmt: str = "markdown") -> list[Path]:
    """Write the TODO files and their index under ``out_dir``; the paths written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror}") from exc
    todo = files(result)
    version = result.era.kernel_version or "(unknown version)"
    written = []
    if fmt == "json":
        doc = {"schema": 1, "tree": {"path": result.tree, "kernel_version": version,
                                     "api_era": result.era.name},
               "files": [_json_file(f) for f in todo]}
        written.append(atomic_write(out_dir / "todo.json", json.dumps(doc, indent=1) + "\n"))
        return written
    env = environment()
    page = env.get_template("todo.md.j2")
    for f in todo:
        text = page.render(title=f["title"], section=f["section"], version=version,
                           era=result.era.name, counts=f["counts"], patchsets=f["patchsets"],
                           unknown=f["unknown"], done=f["done"], fine=f["fine"])
        written.append(atomic_write(out_dir / f["name"], text))
    index = env.get_template("todo_index.md.j2").render(
        version=version, era=result.era.name,
        files=[{"name": f["name"], "title": f["title"], "todo": f["todo"],
                "mismatch": f["mismatch"], "unknown": f["unknown_n"], "done": f["done_n"],
                "fine": f["fine_n"]} for f in todo])
    written.append(atomic_write(out_dir / "index.md", index))
    return written


def _json_file(f: dict[str, Any]) -> dict[str, Any]:
    sec: Section | None = f["section"]
    return {
        "name": f["name"], "title": f["title"],
        "to": list(sec.maintainers) if sec else [],
        "cc": list(sec.reviewers + sec.lists) if sec else [],
        "patchsets": [{"title": ps["title"],
                       "sites": [{"path": i.site.path, "line": i.site.line,
                                  "function": i.site.function, "api": i.site.api,
                                  "target": i.target, "changes": i.changes,
                                  "difficulty": i.site.difficulty,
                                  "confidence": i.site.confidence} for i in ps["sites"]]}
                      for ps in f["patchsets"]],
        "done": [f"{s.path}:{s.line}" for s in f["done"]],
        "unknown": [f"{s.path}:{s.line}" for s in f["unknown"]],
        "gup_ok": [f"{s.path}:{s.line}" for s in f["fine"]],
    }
