"""Wires the stages, once for every command: discover -> (analyse: parse -> locate -> ir/cfg
-> dataflow/flow -> classify) -> link pass -> group.

``run`` is the one orchestration. Its source of files is a tree on disk
(``discover.WorkTree``: ``scan``, ``todo``, ``dashboard``, ``check --since``, and
``explain`` for one file) or a revision's git objects (``history.GitRevision``: ``history``,
``dashboard --revs``, ``check``). Files are analysed independently and in parallel (one
process per core, ``analyse``); each worker returns finished ``Site`` records, so no
tree-sitter object crosses a process boundary. Files with an unknown site then ask the
files that hold the rest of their flow (``link``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from gupaudit import accept, analyse, discover, group, link
from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit.analyse import analyse_source, count_internal_errors  # noqa: F401 - public
from gupaudit.errors import InputError, UsageError
from gupaudit.model import Era, ScanResult, Site

Progress = Callable[[int, int], None]


class Source(Protocol):
    """Where a run's files come from (``discover.WorkTree``, ``history.GitRevision``)."""

    label: str  # ScanResult.tree
    scanned: int  # files considered, after ``candidates``
    warnings: list[str]  # what could not be read, after ``candidates``

    def era(self) -> tuple[Era, list[str]]: ...
    def maintainers(self, pool: ProcessPoolExecutor | None) -> Callable[[], object]: ...
    def prepare(self, store: cache_mod.Cache,
                pool: ProcessPoolExecutor | None = None) -> None: ...
    def candidates(self, store: cache_mod.Cache, pool: ProcessPoolExecutor | None,
                   jobs: int, only: frozenset[str] | None = None
                   ) -> Iterator[list[str]]: ...
    def read(self, rel: str) -> bytes | None: ...
    def list_dir(self, folder: str) -> list[str]: ...
    def exporters(self, names: list[str]) -> dict[str, list[str]]: ...
    def iterator_files(self) -> list[str]: ...
    def mentioning(self, words: list[str]) -> list[str]: ...


WORKER_NICENESS = 4  # workers yield to the main process (``worker_init``)


def worker_init() -> None:
    """Workers leave Ctrl-C to the main process, which stops them without tracebacks.

    They also run a little below it: with one worker per core, this process (the walk,
    then following iterators as files finish) is a third on two cores, and it is the
    longest chain of the run, which the workers' throughput does not shorten."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def run(source: Source, store: cache_mod.Cache, pool: ProcessPoolExecutor | None,
        jobs: int = 1, progress: Progress | None = None, deep: bool = True,
        group_by: str | None = None, only: frozenset[str] | None = None) -> ScanResult:
    """Every site of ``source`` (or of the files ``only``), classified and grouped.

    Analysis starts as soon as a prefilter slice has found files, so no core idles while
    the last slices of the tree are still being read; a file's sites come from ``store``
    when its bytes were analysed before. ``deep``: analyse the files with a site whose
    release was not found again, with what the files holding the rest of their flow say
(``link``).
    """
    started = time.monotonic()
    cat = catalog_mod.load()
    era, warnings = source.era()
    maintainers = source.maintainers(pool)
    source.prepare(store, pool)
    sites: list[Site] = []
    candidates: list[str] = []
    pending: list[tuple[str, str, Future]] = []  # rel, key, the worker's answer

    def report() -> None:
        if progress:
            progress(len(candidates) - sum(1 for p in pending if not p[2].done()),
                     len(candidates))

    def take(rel: str, key: str | None, found: list[Site], warning: str | None) -> None:
        sites.extend(found)
        if warning:
            warnings.append(warning)
        elif key is not None:
            store.remember_sites(key, found)
        report()

    for batch in source.candidates(store, pool, jobs, only):
        for rel in batch:
            if discover.is_definition_file(rel, cat.definition_files):
                continue
            candidates.append(rel)
            if only is not None and rel not in only:
                continue  # asked by the link pass, not analysed
            try:
                data = source.read(rel)
            except OSError as exc:
                take(rel, None, [], f"{rel}: cannot read ({exc.strerror})")
                continue
            if data is None:
                continue
            key = cache_mod.site_key(data, rel, era.name)
            found = store.sites(key)
            if found is not None:
                take(rel, None, found, None)
                continue
            job = (rel, data, era)
            if pool is None:
                take(rel, key, *analyse.analyse_bytes(job))
            else:
                pending.append((rel, key, pool.submit(analyse.analyse_bytes, job)))
    read = link.cached_reader(_reader(source))
    iterators = link.Iterators(read, source.iterator_files, source.mentioning, store)
    if deep:
        iterators.add(sites)
        _follow_meanwhile(iterators, [p[2] for p in pending], report)
    for rel, key, future in pending:  # in the order asked: the warnings keep an order
        take(rel, key, *future.result())
    warnings.extend(source.warnings)
    if deep:
        work = link.jobs(sites, era, sorted(candidates), source.list_dir, read,
                         source.exporters, iterators)  # in path order, however found
        link.link_pass(sites, work, store, pool, warnings)
    store.commit()
    sites, unmatched = accept.apply(sites)
    if only is None:
        warnings.extend(unmatched)
    sites.sort(key=lambda s: (s.path, s.line, s.column))
    table = maintainers()
    grouped, sections = group.assign(sites, table, group_by)
    return ScanResult(source.label, era, tuple(grouped), source.scanned, len(candidates),
                      tuple(warnings), time.monotonic() - started, sections,
                      group_by or ("section" if table else "path"))


def _follow_meanwhile(iterators: link.Iterators, futures: list[Future],
                      report: Callable[[], None]) -> None:
    """Follow the iterators of the files pass 1 has finished while the workers analyse
    the rest, a file at a time. The files still to follow when the last one finishes are
    left to the link pass, which first hands the pool the jobs that need no iterator: this
    process is the slower, and waiting for it would idle the workers."""
    finished: list[list[Site]] = []
    running = set(futures)
    while running:
        done, running = wait(running, timeout=0 if finished else None,
                             return_when=FIRST_COMPLETED)
        finished += [f.result()[0] for f in done]
        if done:
            report()
        if running and finished:
            iterators.add(finished.pop(0))


def _reader(source: Source) -> Callable[[str], bytes | None]:
    def read(rel: str) -> bytes | None:
        try:
            return source.read(rel)
        except OSError:
            return None
    return read


def _check_tree(root: Path) -> None:
    if not root.exists():
        raise UsageError(f"{root}: no such directory")
    if not root.is_dir():
        raise UsageError(f"{root} is a file; pass the top of a kernel tree")
    if not os.access(root, os.R_OK | os.X_OK):
        raise InputError(f"{root}: permission denied")


def open_pool(jobs: int | None) -> tuple[ProcessPoolExecutor | None, int]:
    """One worker process per core (none for one job)."""
    jobs = jobs or os.cpu_count() or 1
    return (ProcessPoolExecutor(jobs, initializer=worker_init) if jobs > 1 else None), jobs


def close_pool(pool: ProcessPoolExecutor | None) -> None:
    if pool is not None:
        pool.shutdown(cancel_futures=True)  # Ctrl-C: drop what is queued, now


def scan(root: Path, jobs: int | None = None, progress: Progress | None = None,
         deep: bool = True, group_by: str | None = None,
         cache_path: Path | None = None, exclude: tuple[str, ...] = ()) -> ScanResult:
    """Scan a kernel tree (a plain tree or a git work tree) and classify every site.

    ``cache_path``: the SQLite cache to read and fill (None: no cache).
    ``exclude``: path globs never scanned (a tree's config).
    """
    _check_tree(root)
    store = cache_mod.Cache.open(cache_path)
    pool, jobs = open_pool(jobs)
    try:
        result = run(discover.WorkTree(root, exclude), store, pool, jobs, progress, deep,
                     group_by)
    finally:
        close_pool(pool)
    return _with_store_warnings(result, store)


def sites_of_file(root: Path, rel: str, deep: bool = True) -> tuple[list[Site], Era]:
    """The sites of one file of a tree, classified as a whole-tree scan would."""
    _check_tree(root)
    if not (root / rel).is_file():
        raise UsageError(f"{rel}: no such file in {root}")
    pool, jobs = open_pool(None)
    try:
        result = run(discover.WorkTree(root), cache_mod.Cache.open(None), pool, jobs,
                     deep=deep, only=frozenset({rel}))
    finally:
        close_pool(pool)
    problem = next((w for w in result.warnings if w.startswith(f"{rel}: ")), None)
    if problem is not None:
        raise InputError(problem)
    return list(result.sites), result.era


def _with_store_warnings(result: ScanResult, store: cache_mod.Cache) -> ScanResult:
    import dataclasses  # noqa: PLC0415

    if not store.warnings:
        return result
    return dataclasses.replace(result, warnings=result.warnings + tuple(store.warnings))
