"""CSV: one row per site, for spreadsheets and quick scripts.

Columns: path, line, column, function, api, family, status, case, rules (space-separated),
subsystem, section, difficulty, confidence, releases (path:line, space-separated), reason.
"""

from __future__ import annotations

import csv
from typing import TextIO

from gupaudit.model import ScanResult

COLUMNS = ("path", "line", "column", "function", "api", "family", "status", "case", "rules",
           "subsystem", "section", "difficulty", "confidence", "releases", "reason")


def render(result: ScanResult, out: TextIO, color: bool = False, show: str = "findings") -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in result.sites:
        writer.writerow([s.path, s.line, s.column, s.function, s.api, s.family.value,
                         s.status.value, s.case or "", " ".join(s.rules), s.subsystem,
                         s.section, s.difficulty, s.confidence,
                         " ".join(f"{r.path}:{r.line}" for r in s.releases), s.reason])
