"""Terminal output: a per-subsystem summary table, then one line per finding.

Example::

    Linux 6.1.192, API era pin: 139 sites in 119 files (55418 files scanned)
     subsystem              sites  unconverted  mismatch  converted  gup-ok  unknown
     drivers/infiniband/hw      7            0         0          7       0        0
     ...
    drivers/misc/foo.c:120:8: warning: get_user_pages_fast() pages are used for DMA ... [GUP101]

Finding lines are gcc-style ``path:line:col: warning: message [ID]`` (mismatches are
``error``), so editors' quickfix lists and CI annotators read them; sites with no rule but
a status that needs a look (unknown) follow as ``note`` lines with the pseudo-rule GUP000.
Colour is used only on a terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from rich.console import Console
from rich.table import Table

from gupaudit.model import STATUS_ORDER, ScanResult, Status

_STYLE = {Status.UNCONVERTED: "yellow", Status.MISMATCH: "bold red", Status.CONVERTED: "green",
          Status.GUP_OK: "cyan", Status.UNKNOWN: "dim"}


def render(result: ScanResult, out: TextIO, color: bool = False, show: str = "findings") -> None:
    console = Console(file=out, color_system="auto" if color else None, force_terminal=color,
                      width=120 if not color else None, highlight=False, soft_wrap=True)
    era = result.era
    where = f"Linux {era.kernel_version}" if era.kernel_version else result.tree
    console.print(f"{where}, API era {era.name}: {len(result.sites)} sites in "
                  f"{len({s.path for s in result.sites})} files "
                  f"({result.files_scanned} files scanned, {result.seconds:.1f} s)")
    if result.sites:
        console.print(_table(result))
    for line, status in finding_lines(result, show):
        console.print(line, markup=False, style=_STYLE[status] if color else None)


_ERRORS = {"GUP102", "GUP103"}


def finding_lines(result: ScanResult, show: str = "findings") -> list[tuple[str, Status]]:
    """gcc-style ``path:line:col: warning: message [ID]`` lines, which editors' quickfix
    lists and CI annotators read: one per finding, then a note per site that needs a look
    (unknown; with --show all, every site)."""
    out = []
    for s in result.sites:
        for rid, message in s.messages:
            level = "error" if rid in _ERRORS else "warning"
            out.append((f"{s.path}:{s.line}:{s.column}: {level}: {message} [{rid}]", s.status))
    for s in result.sites:
        if not s.messages and (show == "all" or s.status is Status.UNKNOWN):
            out.append((f"{s.path}:{s.line}:{s.column}: note: {s.status.value}: {s.api}() in "
                        f"{s.function}(): {s.reason} [GUP000]", s.status))
    return out


def _table(result: ScanResult) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("subsystem")
    table.add_column("sites", justify="right")
    for st in STATUS_ORDER:
        table.add_column(st.value, justify="right", style=_STYLE[st])
    counts: dict[str, Counter] = {}
    for s in result.sites:
        counts.setdefault(s.subsystem, Counter())[s.status] += 1
    order = sorted(counts, key=lambda k: (-counts[k][Status.UNCONVERTED]
                                          - counts[k][Status.MISMATCH], k))
    for sub in order:
        c = counts[sub]
        table.add_row(sub, str(sum(c.values())), *(str(c[st]) for st in STATUS_ORDER))
    total = Counter(s.status for s in result.sites)
    table.add_row("total", str(len(result.sites)), *(str(total[st]) for st in STATUS_ORDER),
                  style="bold")
    return table
