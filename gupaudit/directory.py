"""Pass 2, the directory pass: a file with a site whose release was not found, analysed
again as one unit with the files that can hold the rest of its flow (sibling files that
mention its functions, and the headers it includes that mention its fields).

Works on a work tree or a git revision alike (a ``Lister`` and a ``Reader``), and through
the cache, keyed by every byte a unit read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
from collections.abc import Callable

from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit.analyse import INTERNAL_ERROR, analyse_unit
from gupaudit.flow import field_of
from gupaudit.locate import source_file
from gupaudit.model import Era, Site, SourceFile, Status, merge
from gupaudit.parse import parse

# (folder, the files with open ends, (rel, bytes) of the files to read as one unit, era,
#  notifier_dirs, names, (rel, bytes) of headers read for their inline accessors)
DirJob = tuple[str, tuple[str, ...], tuple[tuple[str, bytes], ...], Era, frozenset[str],
               frozenset[str], tuple[tuple[str, bytes], ...]]
Lister = Callable[[str], list[str]]  # folder -> names of the files in it
Reader = Callable[[str], bytes | None]  # path -> its bytes, None if unreadable


@dataclasses.dataclass
class _OpenEnds:
    files: set[str] = dataclasses.field(default_factory=set)
    names: set[str] = dataclasses.field(default_factory=set)  # site functions: their callers
    callees: set[str] = dataclasses.field(default_factory=set)  # escape targets: definitions
    fields: set[str] = dataclasses.field(default_factory=set)  # struct fields holding pages
    owned: set[str] = dataclasses.field(default_factory=set)  # fields holding only them


def open_ends(sites: list[Site]) -> dict[str, _OpenEnds]:
    """Directory -> what to analyse again as one unit: the files with a site whose release
    was not found, the names that site's pages lead to (its own function, for callers in
    sibling files, and the functions its pages escape to) and the struct fields it keeps
    them in (an accessor in a header may read them back); and the files with a site whose
    pages sit in a field that holds nothing else, for the sibling files naming it."""
    out: dict[str, _OpenEnds] = {}
    for s in sites:
        unknown = s.status is Status.UNKNOWN
        if not unknown and not s.owned:
            continue
        ends = out.setdefault(posixpath.dirname(s.path), _OpenEnds())
        ends.files.add(s.path)
        # Pages in a field that holds nothing else: a sibling file's release of that field
        # is theirs, and may be the wrong one (acrn's vm.c put_page()s the monitor page
        # hsm.c pins).
        ends.owned.update(s.owned)
        if unknown:
            ends.names.add(s.function)
            ends.callees.update(e[:-2] for e in s.escapes if e.endswith("()") and "_" in e)
            ends.fields.update(f for f in map(field_of, s.names) if f)
    return out


_INCLUDE = re.compile(rb'^\s*#\s*include\s*([<"])([\w./-]+\.h)[>"]', re.M)


def included_headers(rel: str, data: bytes) -> list[str]:
    """The tree paths of the headers a file includes: ``<media/x.h>`` -> include/media/x.h,
    ``"x.h"`` -> beside the file (arch and generated headers are not resolved)."""
    out = []
    for m in _INCLUDE.finditer(data):
        name = m.group(2).decode()
        path = (posixpath.normpath(posixpath.join(posixpath.dirname(rel), name))
                if m.group(1) == b'"' else f"include/{name}")
        if not path.startswith(".."):
            out.append(path)
    return out


def directory_jobs(sites: list[Site], era: Era, notifier_dirs: frozenset[str],
                   list_dir: Lister, read: Reader) -> list[DirJob]:
    """Pass 2's work: per directory with open ends, the files to analyse as one unit.

    Of the sibling files (.c and .h), those that mention one of the names (wrapper callers,
    escape targets) are read with the site's file; so are the headers the site's file
    includes that mention one of its fields (``frame_vector_pages(vec)`` returns
    ``vec->ptrs``). ``list_dir``/``read`` reach a work tree or a git revision alike.
    """
    jobs = []
    for folder, ends in sorted(open_ends(sites).items()):
        needles = [n.encode() for n in ends.names] + [
            m + f.encode() for f in ends.owned for m in (b"->", b".")]
        # An escape target matters where it is defined (kernel style: the name at the
        # start of a line, after the return type if any), not where it is only called:
        # crypto/testmgr.c calls ahash_request_set_crypt() and defines nothing of use.
        defines = re.compile(rb"^(?:[A-Za-z_][^;{}()\n]*[\s*])?(?:"
                             + b"|".join(re.escape(n.encode()) for n in sorted(ends.callees))
                             + rb")\s*\(", re.M) if ends.callees else None
        units = []
        for name in sorted(list_dir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{folder}/{name}" if folder else name
            data = read(rel)
            if data is None:
                continue
            if rel not in ends.files and (
                    b"\0" in data[:65536] or not (any(n in data for n in needles)
                                                  or (defines and defines.search(data)))):
                continue
            units.append((rel, data))
        have = {rel for rel, _ in units}
        # A header matters for an inline accessor: a return of one of the fields.
        accessor = re.compile(rb"\breturn\b[^;]*(?:->|\.)(?:" + b"|".join(
            re.escape(f.encode()) for f in sorted(ends.fields)) + rb")\b") if ends.fields else None
        headers = []
        for rel in sorted({h for r, d in units if r in ends.files
                           for h in included_headers(r, d)} - have):
            data = read(rel) if accessor else None
            if data is not None and accessor.search(data):
                headers.append((rel, data))
        if len(units) <= len(ends.files) and not headers:
            continue  # nothing new mentions them: pass 1 already saw everything there is
        jobs.append((folder, tuple(sorted(ends.files)), tuple(units), era, notifier_dirs,
                     frozenset(ends.names | ends.callees), tuple(headers)))
    return jobs


def _dir_key(job: DirJob) -> str:
    folder, files, units, era, notifier_dirs, names, headers = job
    h = hashlib.sha1(b"directory\0")
    for rel, data in units + (("headers", b""),) + headers:
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    h.update("\0".join([folder, *files, "", *sorted(names), era.name,
                        str(folder in notifier_dirs)]).encode())
    return cache_mod.site_key(h.digest(), folder, era.name, folder in notifier_dirs)


def _header_unit(rel: str, data: bytes, cat: catalog_mod.Catalog,
                 names: frozenset[str]) -> SourceFile:
    """A header's inline functions as helpers of the unit, minus the ones named like a
    catalogue API (mm.h's own put_page() must stay the release it is)."""
    sf = source_file(rel, parse(data), data, cat, extra_seeds=names)
    known = cat.known_names()
    return dataclasses.replace(
        sf, functions=tuple(f for f in sf.functions if f.name not in known),
        defined=sf.defined - known, globals=frozenset())


def _analyse_dir(job: DirJob) -> tuple[list[Site], str | None]:
    """Sites of ``files`` with their whole directory as the unit (pass 2)."""
    folder, files, data, era, notifier_dirs, names, headers = job
    try:
        cat = catalog_mod.load()
        units = [source_file(rel, parse(b), b, cat, extra_seeds=names) for rel, b in data]
        units += [_header_unit(rel, b, cat, names) for rel, b in headers]
        sites: list[Site] = []
        for rel in files:
            sites.extend(analyse_unit(merge(units, rel), rel, era, notifier_dirs))
        return sites, None
    except Exception as exc:  # noqa: BLE001 - pass 1's verdicts stand for this directory
        if os.environ.get("GUPAUDIT_DEBUG"):
            raise
        return [], (f"{folder}/: {INTERNAL_ERROR} in the directory pass ({type(exc).__name__}: "
                    f"{exc}); its files keep their single-file verdicts, please report it")


def deep_pass(sites: list[Site], jobs: list[DirJob], store: cache_mod.Cache,
              run: Callable, warnings: list[str]) -> None:
    """Run pass 2 (``run``: map or a pool's map) and put its verdicts in place of pass 1's,
    through the cache (keyed by every byte the directory unit read)."""
    todo, keys = [], []
    for job in jobs:
        key = _dir_key(job)
        found = store.sites(key)
        if found is not None:
            replace(sites, found)
        else:
            todo.append(job)
            keys.append(key)
    for key, (found, warning) in zip(keys, run(_analyse_dir, todo), strict=True):
        if warning:
            warnings.append(warning)
            continue
        replace(sites, found)
        store.remember_sites(key, found)


def replace(sites: list[Site], found: list[Site]) -> None:
    """Put pass 2's verdicts in place of pass 1's for the files it redid."""
    redone = {s.path for s in found}
    sites[:] = [s for s in sites if s.path not in redone] + found
