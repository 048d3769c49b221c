"""Stage 6b, accept: sites judged by people, recorded as data, applied to the verdicts.

Two lists, one mechanism. The catalogue's ``[[audited]]`` entries (apis.toml) are the sites
the mm maintainers keep on FOLL_GET on purpose, each with its reason and the source of the
decision; a tree's ``.gupaudit.toml`` ``[accept."path:function"]`` entries are its own
judged sites (``reason`` required, ``by`` optional). A matching site (for the audited
list, a FOLL_GET one: a pinning call at the same place is judged as any pin) becomes ``gup-ok``
with the reason (``audited: ...`` / ``accepted: ...``), keeps its flow in the JSON and the
dashboard, and leaves the findings and ``--fail-on``. An accept entry of the tree's config
that matches no site is a warning; the catalogue's are not (a tree of another era may not
have the function).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass

from gupaudit import catalog as catalog_mod
from gupaudit.model import Family, Site, Status


@dataclass(frozen=True)
class Entry:
    path: str  # a glob over tree paths
    function: str
    reason: str
    kind: str  # "audited" (the catalogue) | "accepted" (the tree's config)
    case: int | None = None
    by: str = ""  # who judged it (config), or the source of the decision (catalogue)


_CONFIGURED: list[Entry] = []


def configure(accept: dict[str, dict]) -> None:
    """The tree's ``[accept."path:function"]`` entries (config.apply)."""
    _CONFIGURED[:] = [Entry(key.rpartition(":")[0], key.rpartition(":")[2], rec["reason"],
                            "accepted", rec.get("case"), rec.get("by", ""))
                      for key, rec in accept.items()]


def entries() -> list[Entry]:
    cat = catalog_mod.load()
    return [Entry(a.path, a.function, a.reason, "audited", a.case, a.source)
            for a in cat.audited] + list(_CONFIGURED)


def apply(sites: list[Site]) -> tuple[list[Site], list[str]]:
    """The sites with the judged ones made gup-ok; warnings for config entries that match
    nothing."""
    table = entries()
    used: set[Entry] = set()
    out = []
    for s in sites:
        e = next((e for e in table if e.function == s.function
                  and fnmatch.fnmatchcase(s.path, e.path)
                  # the audited list is of sites kept on FOLL_GET: a pin there is judged
                  and (e.kind == "accepted" or s.family in (Family.GET, Family.ITER_GET))),
                 None)
        if e is None:
            out.append(s)
            continue
        used.add(e)
        out.append(dataclasses.replace(
            s, status=Status.GUP_OK, case=e.case, rules=(), messages=(), leaks=(),
            reason=f"{e.kind}: {e.reason}", advice="none: plain GUP is right here"))
    warnings = [f"config: accept.\"{e.path}:{e.function}\" matches no site"
                for e in _CONFIGURED if e not in used]
    return out, warnings
