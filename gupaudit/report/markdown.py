"""Markdown output: the summary table and a checklist per subsystem, for a mail or an issue.

Rendered from reports/templates/scan.md.j2. Example::

    # gupaudit: linux-6.1

    115 get_user_pages-family sites in Linux 6.1.192 (API era `pin`).

    | subsystem | sites | unconverted | converted | mismatch | gup-ok | unknown |
    ...
    ## block

    - [ ] `block/bio.c:1217` __bio_iov_iter_get_pages(): iov_iter_get_pages2() — **unconverted** ...
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import PurePath
from typing import TextIO

import jinja2

from gupaudit.catalog import resource
from gupaudit.model import STATUS_ORDER, ScanResult, Site, Status


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(resource("templates")),
                              autoescape=jinja2.select_autoescape(["html.j2"]),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def _work_first(item: tuple[str, Counter]) -> tuple[int, str]:
    counts = item[1]
    return (-(counts[Status.UNCONVERTED.value] + counts[Status.MISMATCH.value]), item[0])


def render(result: ScanResult, out: TextIO, color: bool = False, show: str = "findings") -> None:
    counts: dict[str, Counter] = {}
    grouped: dict[str, list[Site]] = {}
    for s in result.sites:
        counts.setdefault(s.subsystem, Counter())[s.status.value] += 1
        grouped.setdefault(s.subsystem, []).append(s)
    rows = sorted(counts.items(), key=_work_first)
    out.write(environment().get_template("scan.md.j2").render(
        result=result, tree_name=PurePath(result.tree).name, rows=rows,
        statuses=[st.value for st in STATUS_ORDER],
        sites_by_sub=[(sub, grouped[sub]) for sub, _ in rows]))
