"""History output: per revision, the counts per status, per subsystem and per rule.

Text example::

    revision   Linux      era          sites  unconverted  converted  mismatch  gup-ok  unknown
    v5.10      5.10.262   pin            101           26         45         2      18       10
    v6.1       6.1.192    pin            115           ...

JSON: {"schema": 1, "revisions": [{"revision", "commit", "date", "kernel_version",
"api_era", "summary": {...as in scan's summary...}}]}.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO

from gupaudit.model import STATUS_ORDER, ScanResult
from gupaudit.report.json import summary


def record(rev: Any, result: ScanResult) -> dict[str, Any]:
    return {
        "revision": rev.name, "commit": rev.commit.hexsha,
        "date": datetime.fromtimestamp(rev.commit.committed_date, UTC).strftime("%Y-%m-%d"),
        "kernel_version": result.era.kernel_version, "api_era": result.era.name,
        "summary": summary(result),
    }


def render(results: list, out: TextIO, fmt: str) -> None:
    if fmt == "json":
        json.dump({"schema": 1, "revisions": [record(r, res) for r, res in results]}, out,
                  indent=1)
        out.write("\n")
        return
    head = ["revision", "Linux", "era", "sites", *(s.value for s in STATUS_ORDER)]
    rows = []
    for rev, res in results:
        c = Counter(s.status for s in res.sites)
        rows.append([rev.name, res.era.kernel_version or "-", res.era.name, str(len(res.sites)),
                     *(str(c[s]) for s in STATUS_ORDER)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        out.write("  ".join(v.ljust(w) if i < 3 else v.rjust(w)
                            for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip()
                  + "\n")
