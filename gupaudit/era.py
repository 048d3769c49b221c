"""Decides a tree's API era from its own headers (include/linux/mm.h, include/linux/uio.h).

Not from a version table: Debian and vendor trees backport, and a tree knows best what it
declares. Eras: ``gup`` (before 5.3: the target is the proposed put_user_page()),
``put_user_page`` (5.3-5.5), ``pin`` (5.6+), ``pin+extract`` (6.3+: iov_iter_extract_pages()).
"""

from __future__ import annotations

import re
from pathlib import Path

from gupaudit.catalog import Catalog
from gupaudit.model import Era

HEADERS = ("include/linux/mm.h", "include/linux/uio.h")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_MAKE_VAR = re.compile(rb"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d*)", re.M)


def kernel_version(root: Path) -> str | None:
    """``VERSION.PATCHLEVEL.SUBLEVEL`` from the top Makefile, or None outside a kernel tree."""
    try:
        text = (root / "Makefile").read_bytes()[:4096]
    except OSError:
        return None
    return version_of_makefile(text)


def version_of_makefile(text: bytes) -> str | None:
    found = {k.decode(): v.decode() for k, v in _MAKE_VAR.findall(text)}
    if not found.get("VERSION"):
        return None
    parts = [found.get("VERSION"), found.get("PATCHLEVEL"), found.get("SUBLEVEL")]
    return ".".join(p for p in parts if p)


def declared_apis(header_text: str, catalog: Catalog) -> frozenset[str]:
    """Catalogue names the headers declare (a prototype or a macro/inline definition)."""
    names = set(catalog.acquire) | set(catalog.release)
    header_text = _COMMENT.sub(" ", header_text)  # comments name APIs the tree lacks
    found = set()
    for name in names:
        if re.search(rf"\b{re.escape(name)}\s*\(", header_text):
            found.add(name)
    return frozenset(found)


def era_from_apis(apis: frozenset[str], version: str | None) -> Era:
    if "pin_user_pages" in apis or "unpin_user_page" in apis:
        name = "pin+extract" if "iov_iter_extract_pages" in apis else "pin"
    elif "put_user_page" in apis:
        name = "put_user_page"
    else:
        name = "gup"
    return Era(name=name, kernel_version=version, apis=apis)


def detect(root: Path, catalog: Catalog) -> Era | None:
    """The tree's era, or None when it has neither header (not a kernel tree)."""
    texts = []
    for rel in HEADERS:
        try:
            texts.append((root / rel).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return from_headers(texts, kernel_version(root), catalog)


def from_headers(texts: list[str], version: str | None, catalog: Catalog) -> Era | None:
    """The era from the headers' texts (a work tree's files or a revision's blobs)."""
    if not texts:
        return None
    return era_from_apis(declared_apis("\n".join(texts), catalog), version)


def newest(catalog: Catalog) -> Era:
    """The era assumed where a tree says nothing (a lone fixture, a non-kernel tree)."""
    return era_from_apis(frozenset(catalog.acquire) | frozenset(catalog.release), None)
