"""Wires the stages: discover -> parse -> locate -> flow -> classify -> group.

Files are analysed independently and in parallel (one process per core); each worker returns
finished ``Site`` records, so no tree-sitter object crosses a process boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from functools import cache
from pathlib import Path

from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit import discover, group
from gupaudit import era as era_mod
from gupaudit import maintainers as maintainers_mod
from gupaudit.classify import classify
from gupaudit.errors import InputError, UsageError
from gupaudit.flow import Tracer
from gupaudit.group import subsystem_of
from gupaudit.locate import source_file
from gupaudit.model import Era, Family, ScanResult, Site, SourceFile, Status, merge
from gupaudit.parse import parse

Progress = Callable[[int, int], None]


def analyse_source(rel: str, data: bytes, era: Era,
                   notifier_dirs: frozenset[str] = frozenset()) -> list[Site]:
    """Every acquisition site of one file's bytes, classified.

    ``notifier_dirs``: directories where some file registers an MMU notifier (case 3 is a
    property of the driver, not of the one file: radeon_mn.c serves radeon_ttm.c).
    """
    sf = source_file(rel, parse(data), data, catalog_mod.load())
    return analyse_unit(sf, rel, era, notifier_dirs)


def analyse_unit(sf: SourceFile, rel: str, era: Era,
                 notifier_dirs: frozenset[str] = frozenset()) -> list[Site]:
    """The sites of file ``rel`` within ``sf``: that file, or its directory merged."""
    cat = catalog_mod.load()
    tracer = Tracer(sf, cat)
    mine = [fn for fn in sf.functions if fn.path == rel]
    file_calls = frozenset(c.name for fn in mine for c in fn.calls)
    notifier = bool(file_calls & cat.notifiers) or posixpath.dirname(rel) in notifier_dirs
    header = rel.endswith(".h")
    sites = []
    for fn in mine:
        if header and fn.name in cat.acquire:
            continue  # the API's own implementation (a static inline wrapper in a header)
        for call in fn.calls:
            api = cat.acquire.get(call.name)
            if api is None or call.name in sf.defined:
                continue  # not an API, or a local function that only shares its name
            argc = len(call.args)
            pages_idx = api.pages_arg(argc)
            if pages_idx == "return":
                pages = call.result or ""
            else:
                pages = call.args[pages_idx] if pages_idx < argc else ""
            flags_idx = api.flags_arg(argc)
            flags = call.args[flags_idx] if flags_idx is not None and flags_idx < argc else None
            flow = tracer.site_flow(fn, call, pages)
            if api.family is Family.ITER_EXTRACT:
                flow = dataclasses.replace(flow, kernel_iter=tracer.kernel_iterator(fn, call))
            sites.append(classify(rel, fn.name, call, api, flow, era, notifier,
                                  subsystem_of(rel), cat, flags))
    return sites


# (folder, the files with open ends, (rel, bytes) of the files to read as one unit, era,
#  notifier_dirs, names, (rel, bytes) of headers read for their inline accessors)
DirJob = tuple[str, tuple[str, ...], tuple[tuple[str, bytes], ...], Era, frozenset[str],
               frozenset[str], tuple[tuple[str, bytes], ...]]
Lister = Callable[[str], list[str]]  # folder -> names of the files in it
Reader = Callable[[str], bytes | None]  # path -> its bytes, None if unreadable


@dataclasses.dataclass
class _OpenEnds:
    files: set[str] = dataclasses.field(default_factory=set)
    names: set[str] = dataclasses.field(default_factory=set)  # functions to look for
    fields: set[str] = dataclasses.field(default_factory=set)  # struct fields holding pages


def open_ends(sites: list[Site]) -> dict[str, _OpenEnds]:
    """Directory -> what to analyse again as one unit: the files with a site whose release
    was not found, the names that site's pages lead to (its own function, for callers in
    sibling files, and the functions its pages escape to) and the struct fields it keeps
    them in (an accessor in a header may read them back)."""
    out: dict[str, _OpenEnds] = {}
    for s in sites:
        if s.status is not Status.UNKNOWN:
            continue
        ends = out.setdefault(posixpath.dirname(s.path), _OpenEnds())
        ends.files.add(s.path)
        ends.names.add(s.function)
        ends.names.update(e[:-2] for e in s.escapes if e.endswith("()") and "_" in e)
        ends.fields.update(re.split(r"->|\.", n)[-1] for n in s.names if "->" in n or "." in n)
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
        needles = [n.encode() for n in ends.names]
        units = []
        for name in sorted(list_dir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{folder}/{name}" if folder else name
            data = read(rel)
            if data is None:
                continue
            if rel not in ends.files and (b"\0" in data[:65536]
                                          or not any(n in data for n in needles)):
                continue
            units.append((rel, data))
        have = {rel for rel, _ in units}
        marks = [m + f.encode() for f in ends.fields for m in (b"->", b".")]
        headers = []
        for rel in sorted({h for r, d in units if r in ends.files
                           for h in included_headers(r, d)} - have):
            data = read(rel) if marks else None
            if data is not None and any(m in data for m in marks):
                headers.append((rel, data))
        if len(units) <= len(ends.files) and not headers:
            continue  # nothing new mentions them: pass 1 already saw everything there is
        jobs.append((folder, tuple(sorted(ends.files)), tuple(units), era, notifier_dirs,
                     frozenset(ends.names), tuple(headers)))
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
            _replace(sites, found)
        else:
            todo.append(job)
            keys.append(key)
    for key, (found, warning) in zip(keys, run(_analyse_dir, todo), strict=True):
        if warning:
            warnings.append(warning)
            continue
        _replace(sites, found)
        store.remember_sites(key, found)


def _fs_lister(root: Path) -> Lister:
    def list_dir(folder: str) -> list[str]:
        try:
            return [e.name for e in os.scandir(root / folder) if e.is_file(follow_symlinks=False)]
        except OSError:
            return []
    return list_dir


def _fs_reader(root: Path) -> Reader:
    def read(rel: str) -> bytes | None:
        try:
            return (root / rel).read_bytes()
        except OSError:
            return None
    return read


def _analyse_path(job: tuple[str, str, Era, frozenset[str]]) -> tuple[list[Site], str | None]:
    root, rel, era, notifier_dirs = job
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [], f"{rel}: cannot read ({exc.strerror})"
    return _analyse_bytes((rel, data, era, notifier_dirs))


INTERNAL_ERROR = "internal error"
MAX_PARSE_BYTES = 16 << 20


def _analyse_bytes(job: tuple[str, bytes, Era, frozenset[str]]) -> tuple[list[Site], str | None]:
    rel, data, era, notifier_dirs = job
    if b"\0" in data[:65536]:
        return [], f"{rel}: binary file, skipped"
    if not _api_call().search(_C_COMMENT.sub(b" ", data)):
        return [], None  # the names are only in comments: nothing to parse
    if len(data) > MAX_PARSE_BYTES:
        return [], f"{rel}: {len(data) >> 20} MB, larger than gupaudit parses; skipped"
    try:
        return analyse_source(rel, data, era, notifier_dirs), None
    except Exception as exc:  # noqa: BLE001 - one file's bug must not cost the whole scan
        if os.environ.get("GUPAUDIT_DEBUG"):
            raise
        return [], (f"{rel}: {INTERNAL_ERROR} ({type(exc).__name__}: {exc}); its sites are "
                    "missing from this report, please report it")


def worker_init() -> None:
    """Workers leave Ctrl-C to the main process, which stops them without tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def count_internal_errors(warnings: list[str] | tuple[str, ...]) -> int:
    return sum(1 for w in warnings if f": {INTERNAL_ERROR} (" in w)


_C_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)


@cache
def _api_call() -> re.Pattern[bytes]:
    """A call of some acquisition API: ``name (`` outside comments."""
    names = b"|".join(re.escape(n.encode()) for n in sorted(catalog_mod.load().acquire))
    return re.compile(rb"\b(?:" + names + rb")\s*\(")


def tree_era(root: Path) -> tuple[Era, list[str]]:
    cat = catalog_mod.load()
    era = era_mod.detect(root, cat)
    if era is None:
        return era_mod.newest(cat), [
            f"{root} does not look like a kernel tree (no include/linux/mm.h); "
            "scanning it anyway, with advice for the newest APIs"]
    return era, []


def _check_tree(root: Path) -> None:
    if not root.exists():
        raise UsageError(f"{root}: no such directory")
    if not root.is_dir():
        raise UsageError(f"{root} is a file; pass the top of a kernel tree")
    if not os.access(root, os.R_OK | os.X_OK):
        raise InputError(f"{root}: permission denied")


def _notifier_dirs(root: Path, paths: list[str]) -> frozenset[str]:
    cat = catalog_mod.load()
    return frozenset(
        posixpath.dirname(p)
        for p in discover.marked(root, paths, cat.notifier_file,
                                 tuple(n.encode() for n in cat.notifiers))
        if not discover.is_definition_file(p, cat.definition_files))


def sites_of_file(root: Path, rel: str, deep: bool = True) -> tuple[list[Site], Era]:
    """The sites of one file of a tree, classified as a whole-tree scan would."""
    _check_tree(root)
    path = root / rel
    if not path.is_file():
        raise UsageError(f"{rel}: no such file in {root}")
    era, _ = tree_era(root)
    paths, _ = discover.walk(root, catalog_mod.load().skip_dirs)
    notifier_dirs = _notifier_dirs(root, paths)
    found, warning = _analyse_path((str(root), rel, era, notifier_dirs))
    if warning:
        raise InputError(warning)
    if deep:
        deep_pass(found, directory_jobs(found, era, notifier_dirs, _fs_lister(root),
                                        _fs_reader(root)), cache_mod.Cache.open(None), map, [])
    return found, era


def _replace(sites: list[Site], found: list[Site]) -> None:
    """Put pass 2's verdicts in place of pass 1's for the files it redid."""
    redone = {s.path for s in found}
    sites[:] = [s for s in sites if s.path not in redone] + found


def scan(root: Path, jobs: int | None = None, progress: Progress | None = None,
         deep: bool = True, group_by: str | None = None,
         cache_path: Path | None = None, exclude: tuple[str, ...] = ()) -> ScanResult:
    """Scan a kernel tree (a plain tree or a git work tree) and classify every site.

    ``deep``: analyse the files with a site whose release was not found again with their
    directory as the unit (wrapper callers, helpers and struct fields in sibling files).
    ``cache_path``: the SQLite cache to read and fill (None: no cache).
    ``exclude``: path globs never scanned (a tree's config).
    """
    started = time.monotonic()
    _check_tree(root)
    cat = catalog_mod.load()
    era, warnings = tree_era(root)
    store = cache_mod.Cache.open(cache_path)
    stamps: dict[str, str] | None = {} if store.db is not None else None
    paths, unreadable_dirs = discover.walk(root, cat.skip_dirs, stamps)
    if exclude:
        paths = [p for p in paths if not discover.is_definition_file(p, exclude)]
    notifier_dirs = _notifier_dirs(root, paths)
    jobs = jobs or os.cpu_count() or 1
    version = cache_mod.analyser_version()
    base = str(root.resolve())
    abs_stamp = {f"{base}/{rel}": f"{stamp}:{version}" for rel, stamp in (stamps or {}).items()}
    known = store.prefilter_known(abs_stamp)
    unknown = [rel for rel in paths if f"{base}/{rel}" not in known]
    cached_hits = [rel for rel in paths if known.get(f"{base}/{rel}")]
    prefilter = discover.prefilter_jobs(root, unknown, cat.prefilter_needles(),
                                        tuple(n.encode() for n in cat.acquire), 4 * jobs)
    sites: list[Site] = []
    unreadable: list[str] = []
    candidates: list[str] = []
    pending_keys: dict[str, str] = {}
    analysed = 0

    def take(rel: str, found: list[Site], warning: str | None) -> None:
        nonlocal analysed
        analysed += 1
        sites.extend(found)
        if warning:
            warnings.append(warning)
        elif rel in pending_keys:
            store.remember_sites(pending_keys.pop(rel), found)
        if progress:
            progress(analysed, len(candidates))

    def filtered(job: discover.Job, hits: list[str], bad: list[str]) -> None:
        unreadable.extend(bad)
        hit, skipped = set(hits), set(bad)
        store.remember_prefilter((f"{base}/{rel}", abs_stamp[f"{base}/{rel}"], rel in hit)
                                 for rel in job[1] if rel not in skipped
                                 and f"{base}/{rel}" in abs_stamp)

    def analysis_jobs(hits: list[str]) -> list[tuple[str, bytes, Era, frozenset[str]]]:
        """Jobs for the files not in the cache; cached files are taken at once."""
        work = []
        for rel in hits:
            if discover.is_definition_file(rel, cat.definition_files):
                continue
            candidates.append(rel)
            try:
                data = (root / rel).read_bytes()
            except OSError as exc:
                take(rel, [], f"{rel}: cannot read ({exc.strerror})")
                continue
            notifier = posixpath.dirname(rel) in notifier_dirs
            key = cache_mod.site_key(data, rel, era.name, notifier)
            found = store.sites(key)
            if found is not None:
                take(rel, found, None)
                continue
            pending_keys[rel] = key
            work.append((rel, data, era, notifier_dirs))
        return work

    if jobs == 1:
        for work in analysis_jobs(cached_hits):
            take(work[0], *_analyse_bytes(work))
        for job in prefilter:
            hits, bad = discover.matching(job)
            filtered(job, hits, bad)
            for work in analysis_jobs(hits):
                take(work[0], *_analyse_bytes(work))
        if deep:
            deep_pass(sites, directory_jobs(sites, era, notifier_dirs, _fs_lister(root),
                                            _fs_reader(root)), store, map, warnings)
    else:
        # Analysis starts as soon as a prefilter slice has found files, so no core idles
        # while the last slices of the tree are still being read.
        pool = ProcessPoolExecutor(jobs, initializer=worker_init)
        try:
            kinds: dict = {pool.submit(_analyse_bytes, w): w[0]
                           for w in analysis_jobs(cached_hits)}
            kinds.update({pool.submit(discover.matching, job): job for job in prefilter})
            while kinds:
                done, _ = wait(kinds, return_when=FIRST_COMPLETED)
                for future in done:
                    what = kinds.pop(future)
                    if isinstance(what, tuple):  # a prefilter job
                        filtered(what, *future.result())
                        for work in analysis_jobs(future.result()[0]):
                            kinds[pool.submit(_analyse_bytes, work)] = work[0]
                    else:
                        take(what, *future.result())
            # Pass 2: sites whose pages left their file, with the directory as the unit.
            if deep:
                deep_pass(sites, directory_jobs(sites, era, notifier_dirs, _fs_lister(root),
                                                _fs_reader(root)), store, pool.map, warnings)
        finally:
            pool.shutdown(cancel_futures=True)  # Ctrl-C: drop what is queued, now
    store.commit()
    warnings.extend(store.warnings)
    if unreadable or unreadable_dirs:
        names = (unreadable_dirs + unreadable)[:3]
        warnings.append(f"{len(unreadable) + len(unreadable_dirs)} files or folders could not "
                        f"be read, e.g. {', '.join(names)}")
    sites.sort(key=lambda s: (s.path, s.line, s.column))
    maintainers = maintainers_mod.load(root)
    grouped, sections = group.assign(sites, maintainers, group_by)
    return ScanResult(str(root), era, tuple(grouped), len(paths), len(candidates),
                      tuple(warnings), time.monotonic() - started, sections,
                      group_by or ("section" if maintainers else "path"))
