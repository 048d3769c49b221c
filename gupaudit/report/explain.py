"""``gupaudit explain``: one site's whole flow, with the source lines it rests on.

Example::

    drivers/misc/bcm-vk/bcm_vk_sg.c:75: get_user_pages_fast() in bcm_vk_dma_alloc()
      verdict     unconverted (case 2), confidence medium, difficulty hard
      why         FOLL_GET pages used for DMA
      followed as dma->pages, pages
      acquired
         75 |     err = get_user_pages_fast(data & PAGE_MASK, dma->nr_pages, ...
      used
        dma   dma_map_page()   bcm_vk_sg.c:98 in bcm_vk_dma_alloc()
         98 |     addr = dma_map_page(dev, dma->pages[i], ...
      released
        put_page()   bcm_vk_sg.c:251 in bcm_vk_dma_free() (via field in bcm_vk_dma_free)
      advice      acquire with pin_user_pages_fast() and release with unpin_user_pages()
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from gupaudit.model import Site

_LEAK_WORDS = {"partial": "fewer pages than asked, none released",
               "error": "an error exit with the pages still held",
               "inconsistent": "other paths release the pages, this one does not"}


class _Source:
    """Reads lines of the tree's files, once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, list[str]] = {}

    def line(self, path: str, number: int) -> str:
        if path not in self.files:
            try:
                text = (self.root / path).read_bytes().decode("utf-8", "replace")
            except OSError:
                text = ""
            self.files[path] = text.splitlines()
        lines = self.files[path]
        text = lines[number - 1] if 0 < number <= len(lines) else ""
        text = text.expandtabs(4).rstrip()
        return text if len(text) <= 100 else text[:97] + "..."


def render(site: Site, root: Path, out: TextIO) -> None:
    src = _Source(root)

    def snippet(path: str, line: int) -> None:
        out.write(f"    {line:5} | {src.line(path, line)}\n")

    case = f" (case {site.case})" if site.case else ""
    out.write(f"{site.path}:{site.line}: {site.api}() in {site.function}()\n")
    out.write(f"  verdict     {site.status.value}{case}, confidence {site.confidence}, "
              f"difficulty {site.difficulty}\n")
    out.write(f"  why         {site.reason}\n")
    for rid, message in site.messages:
        out.write(f"  {rid:<11} {message}\n")
    if site.names:
        out.write(f"  followed as {', '.join(site.names)}\n")
    out.write("  acquired\n")
    snippet(site.path, site.line)
    out.write("  used\n" if site.uses else "  used        (no use of the pages found)\n")
    for u in site.uses:
        via = f" (via {u.via})" if u.via else ""
        where = u.path or site.path
        out.write(f"    {u.evidence:<8} {u.api}()   {where}:{u.line} in {u.function}(){via}\n")
        snippet(where, u.line)
    out.write("  released\n" if site.releases else "  released    (no release found)\n")
    for r in site.releases:
        via = f" (via {r.via})" if r.via else ""
        unwind = ", on error paths only" if r.unwind else ""
        out.write(f"    {r.api}()   {r.path}:{r.line} in {r.function}(){via}{unwind}\n")
        snippet(r.path, r.line)
    for line, why, leaving in site.leaks:
        out.write(f"  leaks here  {site.path}:{line} in {leaving}() "
                  f"({_LEAK_WORDS.get(why, why)})\n")
        snippet(site.path, line)
    if site.escapes:
        out.write(f"  leaves via  {', '.join(site.escapes)}\n")
    out.write(f"  advice      {site.advice}\n")
