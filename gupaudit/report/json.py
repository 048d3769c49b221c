"""JSON output: a versioned, stable schema for other tools.

Example (abridged)::

    {"schema": 1,
     "tool": {"name": "gupaudit", "version": "0.1.0"},
     "tree": {"path": "/src/linux", "kernel_version": "6.1.192", "api_era": "pin"},
     "sites": [{"path": "drivers/foo/bar.c", "line": 120, "column": 8,
                "function": "bar_map_user", "api": "get_user_pages_fast", "family": "get",
                "status": "unconverted", "case": 1, "rules": ["GUP101"],
                "releases": [{"api": "put_page", "path": "drivers/foo/bar.c", "line": 160,
                              "function": "bar_map_user", "via": ""}],
                "subsystem": "drivers/foo", "difficulty": "easy", "confidence": "high", ...}],
     "summary": {"sites": 1, "by_status": {"unconverted": 1, ...}, "by_rule": {"GUP101": 1},
                 "by_subsystem": {"drivers/foo": {"unconverted": 1, ...}}}}

Schema 1 promises the keys above; new keys may be added, none removed or renamed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, TextIO

from gupaudit import __version__
from gupaudit.analyse import count_internal_errors
from gupaudit.group import groups_of
from gupaudit.maintainers import Section
from gupaudit.model import STATUS_ORDER, ScanResult, Site

SCHEMA = 1


def site_record(s: Site, url: str | None = None) -> dict[str, Any]:
    return {"url": url,
        "path": s.path, "line": s.line, "column": s.column, "function": s.function,
        "api": s.api, "family": s.family.value, "status": s.status.value, "case": s.case,
        "rules": list(s.rules),
        "findings": [{"rule": rid, "message": msg} for rid, msg in s.messages],
        "releases": [{"api": r.api, "path": r.path, "line": r.line, "function": r.function,
                      "via": r.via, "on_error_path": r.unwind} for r in s.releases],
        "leaks": [{"line": line, "why": why, "function": leaving}
                  for line, why, leaving in s.leaks],
        "uses": [{"evidence": u.evidence, "api": u.api, "path": u.path or s.path,
                  "line": u.line, "function": u.function, "via": u.via} for u in s.uses],
        "escapes": list(s.escapes),
        "subsystem": s.subsystem, "section": s.section, "groups": groups_of(s),
        "difficulty": s.difficulty, "confidence": s.confidence,
        "reason": s.reason, "advice": s.advice,
    }


def section_record(sec: Section) -> dict[str, Any]:
    return {"title": sec.title, "maintainers": list(sec.maintainers),
            "reviewers": list(sec.reviewers), "lists": list(sec.lists), "status": sec.status,
            "trees": list(sec.trees)}


def summary(result: ScanResult) -> dict[str, Any]:
    by_status = Counter(s.status.value for s in result.sites)
    by_rule = Counter(r for s in result.sites for r in s.rules)
    by_sub: dict[str, Counter] = {}
    for s in result.sites:
        by_sub.setdefault(s.subsystem, Counter())[s.status.value] += 1
    return {
        "sites": len(result.sites),
        "by_status": {st.value: by_status.get(st.value, 0) for st in STATUS_ORDER},
        "by_rule": dict(sorted(by_rule.items())),
        "by_subsystem": {k: dict(v) for k, v in sorted(by_sub.items())},
        "files_scanned": result.files_scanned,
        "files_parsed": result.files_parsed,
        "warnings": list(result.warnings),
        "internal_errors": count_internal_errors(result.warnings),
    }


def document(result: ScanResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tool": {"name": "gupaudit", "version": __version__},
        "tree": {"path": result.tree, "kernel_version": result.era.kernel_version,
                 "api_era": result.era.name},
        "sites": [site_record(s, result.url(s.path, s.line)) for s in result.sites],
        "sections": {t: section_record(sec) for t, sec in sorted(result.sections.items())
                     if any(s.section == t for s in result.sites)},
        "summary": summary(result),
    }


def render(result: ScanResult, out: TextIO, color: bool = False, show: str = "findings") -> None:
    json.dump(document(result), out, indent=1)
    out.write("\n")
