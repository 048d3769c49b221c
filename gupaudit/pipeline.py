"""Wires the stages: discover -> (analyse: parse -> locate -> flow -> classify) ->
directory pass -> group.

Files are analysed independently and in parallel (one process per core, ``analyse``);
each worker returns finished ``Site`` records, so no tree-sitter object crosses a process
boundary. Files with an unknown site then go through the directory pass (``directory``).
"""

from __future__ import annotations

import os
import posixpath
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from gupaudit import analyse, discover, group
from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit import era as era_mod
from gupaudit import maintainers as maintainers_mod
from gupaudit.analyse import analyse_source, count_internal_errors  # noqa: F401 - public
from gupaudit.directory import deep_pass, directory_jobs, fs_lister, fs_reader
from gupaudit.errors import InputError, UsageError
from gupaudit.model import Era, ScanResult, Site

Progress = Callable[[int, int], None]


def worker_init() -> None:
    """Workers leave Ctrl-C to the main process, which stops them without tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    found, warning = analyse.analyse_path((str(root), rel, era, notifier_dirs))
    if warning:
        raise InputError(warning)
    if deep:
        deep_pass(found, directory_jobs(found, era, notifier_dirs, fs_lister(root),
                                        fs_reader(root)), cache_mod.Cache.open(None), map, [])
    return found, era


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
    jobs = jobs or os.cpu_count() or 1
    pool = ProcessPoolExecutor(jobs, initializer=worker_init) if jobs > 1 else None
    try:
        return _scan(root, jobs, pool, progress, deep, group_by, cache_path, exclude, cat,
                     era, warnings, started)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # Ctrl-C: drop what is queued, now


def _scan(root: Path, jobs: int, pool: ProcessPoolExecutor | None, progress: Progress | None,
          deep: bool, group_by: str | None, cache_path: Path | None,
          exclude: tuple[str, ...], cat: catalog_mod.Catalog, era: Era,
          warnings: list[str], started: float) -> ScanResult:
    # MAINTAINERS is parsed by a worker while this process walks the tree.
    maintainers_future = pool.submit(maintainers_mod.load, root) if pool else None
    store = cache_mod.Cache.open(cache_path)
    stamps: dict[str, str] | None = {} if store.db is not None else None
    paths, unreadable_dirs = discover.walk(root, cat.skip_dirs, stamps)
    if exclude:
        paths = [p for p in paths if not discover.is_definition_file(p, exclude)]
    notifier_dirs = _notifier_dirs(root, paths)
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

    if pool is None:
        for work in analysis_jobs(cached_hits):
            take(work[0], *analyse.analyse_bytes(work))
        for job in prefilter:
            hits, bad = discover.matching(job)
            filtered(job, hits, bad)
            for work in analysis_jobs(hits):
                take(work[0], *analyse.analyse_bytes(work))
        if deep:
            deep_pass(sites, directory_jobs(sites, era, notifier_dirs, fs_lister(root),
                                            fs_reader(root)), store, map, warnings)
    else:
        # Analysis starts as soon as a prefilter slice has found files, so no core idles
        # while the last slices of the tree are still being read.
        kinds: dict = {pool.submit(analyse.analyse_bytes, w): w[0]
                       for w in analysis_jobs(cached_hits)}
        kinds.update({pool.submit(discover.matching, job): job for job in prefilter})
        while kinds:
            done, _ = wait(kinds, return_when=FIRST_COMPLETED)
            for future in done:
                what = kinds.pop(future)
                if isinstance(what, tuple):  # a prefilter job
                    filtered(what, *future.result())
                    for work in analysis_jobs(future.result()[0]):
                        kinds[pool.submit(analyse.analyse_bytes, work)] = work[0]
                else:
                    take(what, *future.result())
        # Pass 2: sites whose pages left their file, with the directory as the unit.
        if deep:
            deep_pass(sites, directory_jobs(sites, era, notifier_dirs, fs_lister(root),
                                            fs_reader(root)), store, pool.map, warnings)
    store.commit()
    warnings.extend(store.warnings)
    if unreadable or unreadable_dirs:
        names = (unreadable_dirs + unreadable)[:3]
        warnings.append(f"{len(unreadable) + len(unreadable_dirs)} files or folders could not "
                        f"be read, e.g. {', '.join(names)}")
    sites.sort(key=lambda s: (s.path, s.line, s.column))
    maintainers = (maintainers_future.result() if maintainers_future
                   else maintainers_mod.load(root))
    grouped, sections = group.assign(sites, maintainers, group_by)
    return ScanResult(str(root), era, tuple(grouped), len(paths), len(candidates),
                      tuple(warnings), time.monotonic() - started, sections,
                      group_by or ("section" if maintainers else "path"))
