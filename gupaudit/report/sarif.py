"""SARIF 2.1.0: for code-scanning UIs and CI annotators.

One run; the driver lists every rule with its help text; each finding is a result with
the acquisition as its location and the releases as related locations; sites that need
a look (unknown) are ``note`` results of the pseudo-rule GUP000. partialFingerprints are
stable across runs and line moves: a hash of (rule, path, function, API, the n-th such
site in the function).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from gupaudit import __version__
from gupaudit.catalog import load as load_catalog
from gupaudit.model import ScanResult, Site, Status

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"GUP102": "error", "GUP103": "error"}
UNKNOWN_RULE = {"id": "GUP000", "name": "release-or-use-not-found",
                "shortDescription": {"text": "Release or use of the pages not found"},
                "fullDescription": {"text": "gupaudit could not follow this site's pages to "
                                            "their release or use; check it by hand."},
                "help": {"text": "Run `gupaudit explain TREE PATH:LINE` to see how far the "
                                 "flow was followed."},
                "defaultConfiguration": {"level": "note"}}


def _rules() -> list[dict[str, Any]]:
    out = []
    for rule in load_catalog().rules.values():
        limits = " ".join(rule.limitations.split())
        out.append({
            "id": rule.id, "name": rule.slug,
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": " ".join(rule.why.split())},
            "help": {"text": f"{' '.join(rule.why.split())}\n\nFix: {rule.fix}\n\n"
                             f"Example: {rule.example}"
                             + (f"\n\nLimitations: {limits}" if limits else ""),
                     "markdown": f"{' '.join(rule.why.split())}\n\n**Fix:** {rule.fix}\n\n"
                                 f"Example: `{rule.example}`"
                                 + (f"\n\n**Limitations:** {limits}" if limits else "")},
            "defaultConfiguration": {"level": _LEVEL.get(rule.id, "warning")},
            "properties": {"precision": {"high": "high", "medium": "medium",
                                         "low": "low"}[rule.confidence]},
        })
    return [*out, UNKNOWN_RULE]


def _location(path: str, line: int, column: int = 1, message: str | None = None
              ) -> dict[str, Any]:
    loc: dict[str, Any] = {"physicalLocation": {
        "artifactLocation": {"uri": path, "uriBaseId": "SRCROOT"},
        "region": {"startLine": line, "startColumn": max(1, column)}}}
    if message:
        loc["message"] = {"text": message}
    return loc


def _fingerprint(rule: str, s: Site, nth: int) -> str:
    text = f"{rule}\0{s.path}\0{s.function}\0{s.api}\0{nth}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def results(result: ScanResult) -> list[dict[str, Any]]:
    out = []
    seen: Counter = Counter()
    for s in result.sites:
        nth = seen[(s.path, s.function, s.api)]
        seen[(s.path, s.function, s.api)] += 1
        findings = list(s.messages)
        if s.status is Status.UNKNOWN and not findings:
            findings = [("GUP000", f"{s.api}() in {s.function}(): {s.reason}")]
        for rid, message in findings:
            related = [_location(r.path, r.line, 1, f"{r.api}() in {r.function}()")
                       for r in s.releases]
            for i, loc in enumerate(related):
                loc["id"] = i + 1
            out.append({
                "ruleId": rid, "level": "note" if rid == "GUP000" else _LEVEL.get(rid, "warning"),
                "message": {"text": message},
                "locations": [_location(s.path, s.line, s.column)],
                "relatedLocations": related,
                "partialFingerprints": {"gupauditSite/v1": _fingerprint(rid, s, nth)},
                "properties": {"status": s.status.value, "case": s.case,
                               "subsystem": s.subsystem, "difficulty": s.difficulty,
                               "confidence": s.confidence},
            })
    return out


def document(result: ScanResult) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gupaudit", "version": __version__,
                                "rules": _rules()}},
            "originalUriBaseIds": {"SRCROOT": {"uri": _dir_uri(result.tree)}},
            "results": results(result),
            "properties": {"kernelVersion": result.era.kernel_version,
                           "apiEra": result.era.name},
        }],
    }


def _dir_uri(path: str) -> str:
    try:
        return Path(path).resolve().as_uri() + "/"
    except ValueError:
        return "file:///"


def render(result: ScanResult, out: TextIO, color: bool = False, show: str = "findings") -> None:
    json.dump(document(result), out, indent=1)
    out.write("\n")
