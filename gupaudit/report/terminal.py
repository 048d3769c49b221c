"""Terminal output: a per-subsystem summary table, then one line per finding.

Example::

    Linux 6.1.192, API era pin: 139 sites in 119 files (55418 files scanned)
     subsystem              sites  unconverted  mismatch  converted  gup-ok  unknown
     drivers/infiniband/hw      7            0         0          7       0        0
     ...
    drivers/misc/foo.c:120: GUP101 get_user_pages_fast() pages are used for DMA and ...

Finding lines are ``path:line: ID message`` (compiler style, so editors can jump to them);
sites with no rule but a status that needs a look (unknown) follow as ``path:line: status``.
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
    for s in result.sites:
        for rid, message in s.messages:
            console.print(f"{s.path}:{s.line}: {rid} {message}", markup=False,
                          style=_STYLE[s.status] if color else None)
    for s in result.sites:
        if (show == "all" and not s.messages) or (s.status is Status.UNKNOWN and not s.messages):
            console.print(f"{s.path}:{s.line}: {s.status.value} {s.api}() in {s.function}(): "
                          f"{s.reason}", markup=False, style=_STYLE[s.status] if color else None)


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
