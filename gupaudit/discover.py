"""Stage 1, discover: which files of a tree can hold an acquisition site.

Input: a tree root. Output: paths (relative, '/'-separated) of .c/.h files that contain one of
the catalogue's byte needles. The walk does not honour .gitignore (Debian's linux-source ends
its .gitignore with "/*"), skips .git and symlinks (no loops), and reads in parallel.

``WorkTree`` is a tree on disk as the pipeline's source of files; ``history.GitRevision``
is the same for a revision's git objects. ``pipeline.run`` drives either.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fnmatch
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, as_completed
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from gupaudit import catalog as catalog_mod
from gupaudit.model import Era

if TYPE_CHECKING:
    from gupaudit.cache import Cache

SOURCE_SUFFIXES = (".c", ".h")
SKIP_DIRS = frozenset({".git", ".pc", ".tmp_versions"})


def walk(root: Path, skip: frozenset[str] = frozenset(),
         stamps: dict[str, str] | None = None,
         emit: Callable[[list[str]], None] | None = None) -> tuple[list[str], list[str]]:
    """All C sources under root (relative paths) and the directories that could not be read.

    ``skip``: relative folders not to enter (generated register headers, see apis.toml).
    ``stamps``, when given, is filled with each file's "mtime:size" (for the cache).
    ``emit``, when given, is handed the files found so far every ``EMIT_EVERY`` files (and
    the rest at the end), so that their search can start while the walk goes on.
    """
    found: list[str] = []
    emitted = 0
    unreadable: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel if rel else root) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        continue
                    path = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir():
                        if entry.name not in SKIP_DIRS and path not in skip:
                            stack.append(path)
                    elif entry.name.endswith(SOURCE_SUFFIXES):
                        found.append(path)
                        if stamps is not None:
                            st = entry.stat(follow_symlinks=False)
                            stamps[path] = f"{st.st_mtime_ns}:{st.st_size}"
        except OSError:
            unreadable.append(rel or ".")
        if emit is not None and len(found) - emitted >= EMIT_EVERY:
            emit(found[emitted:])
            emitted = len(found)
    if emit is not None and len(found) > emitted:
        emit(found[emitted:])
    found.sort()
    return found, unreadable


EMIT_EVERY = 4000  # files per early prefilter job (the tree's 60,000 make 15)


def is_definition_file(path: str, patterns: Iterable[str]) -> bool:
    """Whether a path matches one of the globs (API definition files, config excludes)."""
    return any(fnmatch.fnmatchcase(path, pat) for pat in patterns)


Job = tuple[str, list[str], tuple[bytes, ...], tuple[bytes, ...]]


@cache
def _export() -> tuple[bytes, re.Pattern[bytes]]:
    """The export macro's stem and the pattern of an export (``EXPORT_SYMBOL_GPL(name)``)."""
    stem = catalog_mod.load().export_macro.encode()
    # no leading \b: a pattern that starts with its literal is searched for as one (fast)
    return stem, re.compile(re.escape(stem) + rb"\w*\(\s*(\w+)")


def ident_byte(ch: int) -> bool:
    """Whether a byte can be part of a C identifier."""
    return ch == 0x5F or 0x30 <= ch <= 0x39 or 0x41 <= ch <= 0x5A or 0x61 <= ch <= 0x7A


Found = tuple[list[str], list[str], dict[str, list[str]], list[str]]


def matching(job: Job) -> Found:
    """Of a job's files, those holding one of the exact names; those that could not be
    read; the functions each file exports (``EXPORT_SYMBOL*()``): the tree's index of
    definitions that other directories call; and those naming the iterator type
    (``[iter_backing] index``). Runs in a worker."""
    root, paths, needles, names = job
    hits, unreadable, iterates = [], [], []
    exports: dict[str, list[str]] = {}
    stem, export = _export()
    iterator = tuple(n.encode() for n in catalog_mod.load().iterator_needles())
    present = literals((names, (stem,), iterator), gates=(needles, (), ()))
    for rel in paths:
        try:
            data = read_file(os.path.join(root, rel))
        except OSError:
            unreadable.append(rel)
            continue
        named, exporting, naming = present(data)
        if named:
            hits.append(rel)
        if exporting:
            exports[rel] = [m.group(1).decode() for m in export.finditer(data)
                            if not m.start() or not ident_byte(data[m.start() - 1])]
        if naming:
            iterates.append(rel)
    return hits, unreadable, exports, iterates


Present = Callable[[bytes], tuple[bool, ...]]


@cache
def literals(groups: tuple[tuple[bytes, ...], ...],
             gates: tuple[tuple[bytes, ...], ...] = ()) -> Present:
    """A search of a file's bytes for groups of literals, in one pass: for each group,
    whether one of its literals occurs.

    Hyperscan where it is installed (one pass over the bytes for all literals, outside the
    interpreter: ``bench/prefilter_engines.py`` measures it against glibc's memmem(), RE2's
    set and one ``re`` alternation; it wins on a kernel tree by about 2.4x); else one
    memmem() per literal, where a group's ``gates`` (short stems its literals share, most
    files holding none) are tried first, so a file costs a pass per stem, not per literal.
    """
    try:
        return _hyperscan(groups)
    except ImportError:
        return memmem_literals(groups, gates)


def memmem_literals(groups: tuple[tuple[bytes, ...], ...],
                    gates: tuple[tuple[bytes, ...], ...] = ()) -> Present:
    """``literals`` by one memmem() per literal (and per gate stem)."""
    found_in = contains()
    opened = tuple(gates) + ((),) * (len(groups) - len(gates))

    def present(data: bytes) -> tuple[bool, ...]:
        return tuple((not gate or any(found_in(data, g) for g in gate))
                     and any(found_in(data, n) for n in group)
                     for group, gate in zip(groups, opened, strict=True))
    return present


def _hyperscan(groups: tuple[tuple[bytes, ...], ...]) -> Present:
    """``literals`` by Hyperscan; ImportError where it is not installed, cannot load, or
    does not take these literals (an empty one: the fallback answers those)."""
    try:
        import hyperscan  # noqa: PLC0415 - optional (a binary wheel for x86_64 Linux)
    except Exception as exc:  # noqa: BLE001 - a wheel that does not load on this CPU
        raise ImportError(f"hyperscan: {exc}") from exc
    owner = [i for i, group in enumerate(groups) for _ in group]
    try:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[re.escape(n) for group in groups for n in group],
                   ids=list(range(len(owner))),
                   flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(owner))
        scratch = hyperscan.Scratch(db)
    except hyperscan.error as exc:
        raise ImportError(f"hyperscan: {exc}") from exc
    wanted = len(groups)

    def present(data: bytes) -> tuple[bool, ...]:
        seen = [False] * wanted

        def hit(ident: int, _start: int, _end: int, _flags: int, _ctx: object) -> bool:
            seen[owner[ident]] = True
            return all(seen)  # True stops the scan: every group has its answer

        try:
            db.scan(data, match_event_handler=hit, scratch=scratch)
        except hyperscan.ScanTerminated:
            pass
        return tuple(seen)
    return present


def mentioning_in(job: tuple[str, list[str], tuple[tuple[bytes, ...]]]) -> list[str]:
    """Of a slice of the tree (root, paths), the files holding one of the literals (a
    tree-wide search of the link pass; runs in a worker too)."""
    root, paths, groups = job
    return _holding(root, paths, literals(groups))


def _holding(root: str, paths: list[str], present: Present) -> list[str]:
    """Of ``paths`` under ``root``, those for which ``present`` says yes (an unreadable
    file says no)."""
    out = []
    for rel in paths:
        try:
            data = read_file(os.path.join(root, rel))
        except OSError:
            continue
        if present(data)[0]:
            out.append(rel)
    return out


def prefilter_jobs(root: Path, paths: list[str], needles: tuple[bytes, ...],
                   names: tuple[bytes, ...], parts: int) -> list[Job]:
    """The byte prefilter cut into jobs: files whose bytes contain one of ``names``.

    ``needles`` are short stems shared by the names: most files fail on them, and every
    pass over 1.5 GB costs, so the exact names are only tried where a stem is.
    """
    return [(str(root), chunk, needles, names) for chunk in _chunks(paths, parts)]


def read_file(path: str) -> bytes:
    """A whole file through one descriptor: cheaper than a file object for 60,000 files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    parts = [data]
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


@cache
def contains() -> Callable[[bytes, bytes], bool]:
    """glibc's memmem() where ctypes finds it (about 1.5x faster than ``in`` on kernel
    sources, whose identifiers defeat CPython's skip heuristics), else ``in``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        memmem = libc.memmem
    except (OSError, AttributeError):
        return lambda data, needle: needle in data
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return lambda data, needle: bool(memmem(data, len(data), needle, len(needle)))


def _chunks(items: list[str], n: int) -> list[list[str]]:
    size = max(1, len(items) // n + 1)
    return [items[i : i + size] for i in range(0, len(items), size)]


def definition_pattern(names: list[str]) -> re.Pattern[bytes] | None:
    """A definition of one of ``names`` (kernel style: the name at the start of a line,
    after the return type if any), not a mere call: crypto/testmgr.c calls
    ahash_request_set_crypt() and defines nothing of use."""
    if not names:
        return None
    return re.compile(rb"^(?:[A-Za-z_][^;{}()\n]*[\s*])?(?:"
                      + b"|".join(re.escape(n.encode()) for n in sorted(names))
                      + rb")\s*\(", re.M)


class WorkTree:
    """A tree on disk as the pipeline's source of files (``pipeline.run``): the walk, the
    byte prefilter (its answers cached by file stamp), the index of exported functions, the
    bytes."""

    def __init__(self, root: Path, exclude: tuple[str, ...] = ()) -> None:
        self.root = root
        self.label = str(root)
        self.exclude = exclude
        self.scanned = 0  # files walked
        self.warnings: list[str] = []
        self._paths: list[str] = []
        self._unreadable_dirs: list[str] = []
        self._stamps: dict[str, str] = {}
        self._early: list[tuple[Job, Future[Found]]] = []  # prefilter jobs of the walk
        self._known: dict[str, tuple[bool, list[str], bool]] = {}
        self.exported: dict[str, list[str]] = {}  # function -> files exporting it
        self.iterating: list[str] = []  # files naming the iterator type (after candidates)
        self._base = str(root)
        self._pool: Executor | None = None

    def era(self) -> tuple[Era, list[str]]:
        from gupaudit import era as era_mod  # noqa: PLC0415 - era imports the catalogue

        cat = catalog_mod.load()
        found = era_mod.detect(self.root, cat)
        if found is None:
            return era_mod.newest(cat), [
                f"{self.root} does not look like a kernel tree (no include/linux/mm.h); "
                "scanning it anyway, with advice for the newest APIs"]
        return found, []

    def maintainers(self, pool: Executor | None) -> Callable[[], object]:
        """MAINTAINERS, parsed by a worker while this process walks the tree."""
        from gupaudit import maintainers as maintainers_mod  # noqa: PLC0415

        if pool is None:
            return lambda: maintainers_mod.load(self.root)
        future = pool.submit(maintainers_mod.load, self.root)
        return future.result

    def prepare(self, store: Cache, pool: Executor | None = None) -> None:
        """Walk the tree, look the stamps up in the cache. With no cache to look in, the
        prefilter starts in ``pool`` on the files found so far while the walk goes on."""
        cat = catalog_mod.load()
        self._pool = pool
        stamps: dict[str, str] | None = {} if store.db is not None else None
        emit = None
        if stamps is None and pool is not None:
            def emit(found: list[str]) -> None:
                for job in self._prefilter_jobs(self._kept(found), 1):
                    self._early.append((job, pool.submit(matching, job)))
        paths, self._unreadable_dirs = walk(self.root, cat.skip_dirs, stamps, emit)
        paths = self._kept(paths)
        self._paths = paths
        self.scanned = len(paths)
        from gupaudit import cache as cache_mod  # noqa: PLC0415

        version = cache_mod.analyser_version()
        base = str(self.root.resolve())
        self._stamps = {f"{base}/{rel}": f"{stamp}:{version}"
                        for rel, stamp in (stamps or {}).items()}
        self._known = store.prefilter_known(self._stamps)
        self._base = base

    def _kept(self, paths: list[str]) -> list[str]:
        """``paths`` but those the tree's config excludes."""
        if not self.exclude:
            return paths
        return [p for p in paths if not is_definition_file(p, self.exclude)]

    def _prefilter_jobs(self, paths: list[str], parts: int) -> list[Job]:
        cat = catalog_mod.load()
        return prefilter_jobs(self.root, paths, cat.prefilter_needles(),
                              tuple(n.encode() for n in cat.acquire), parts)

    def candidates(self, store: Cache, pool: Executor | None, jobs: int,
                   only: frozenset[str] | None = None) -> Iterator[list[str]]:
        """Batches of files holding an acquisition name, as the prefilter finds them: the
        cached answers first, then each slice of the tree as a worker finishes it. (The
        whole tree even for ``only``: the link pass asks all of them.)"""
        base = self._base
        for rel in self._paths:
            hit, exports, iterates = self._known.get(f"{base}/{rel}", (False, [], False))
            for name in exports:
                self.exported.setdefault(name, []).append(rel)
            if iterates:
                self.iterating.append(rel)
        yield [rel for rel in self._paths if self._known.get(f"{base}/{rel}", (False,))[0]]
        unknown = [rel for rel in self._paths if f"{base}/{rel}" not in self._known]
        work = self._prefilter_jobs(unknown, 4 * jobs)
        unreadable: list[str] = []
        results: Iterable[tuple[Job, Found]]
        if self._early:  # started during the walk: every file is in one of them
            futures = {f: job for job, f in self._early}
            results = ((futures[f], f.result()) for f in as_completed(futures))
        elif pool is None:
            results = ((job, matching(job)) for job in work)
        else:
            futures = {pool.submit(matching, job): job for job in work}
            results = ((futures[f], f.result()) for f in as_completed(futures))
        for job, (hits, bad, exports, iterates) in results:
            unreadable.extend(bad)
            for rel, names in exports.items():
                for name in names:
                    self.exported.setdefault(name, []).append(rel)
            self.iterating.extend(iterates)
            hit, skipped, naming = set(hits), set(bad), set(iterates)
            store.remember_prefilter((f"{base}/{rel}", self._stamps[f"{base}/{rel}"],
                                      rel in hit, exports.get(rel, []), rel in naming)
                                     for rel in job[1]
                                     if rel not in skipped and f"{base}/{rel}" in self._stamps)
            yield hits
        if unreadable or self._unreadable_dirs:
            names = (self._unreadable_dirs + unreadable)[:3]
            self.warnings.append(f"{len(unreadable) + len(self._unreadable_dirs)} files or "
                                 f"folders could not be read, e.g. {', '.join(names)}")

    def exporters(self, names: list[str]) -> dict[str, list[str]]:
        """The files exporting each of ``names`` (after ``candidates``), in path order
        (the prefilter's slices finish in any order; a name several files export is read
        where the first of them defines it)."""
        return {n: sorted(self.exported[n]) for n in names if n in self.exported}

    def iterator_files(self) -> list[str]:
        """The files naming the iterator type (after ``candidates``)."""
        return sorted(self.iterating)

    def mentioning(self, words: list[str]) -> list[str]:
        """The files walked that contain one of ``words``. With a pool, its workers and
        this process share slices of the tree (``literals`` in each); else one Hyperscan
        pass per file here (about twice as fast as GNU grep -F on two cores); else GNU
        grep over them, two at a time; else a byte scan here."""
        if not words or not self._paths:
            return []
        groups = (tuple(w.encode() for w in words),)
        if self._pool is not None:
            return self._shared(groups)
        try:
            present = _hyperscan(groups)
        except ImportError:
            pass
        else:
            return _holding(str(self.root), self._paths, present)
        grep = shutil.which("grep")
        if grep is not None:
            try:
                return self._grep(grep, words)
            except OSError:
                pass  # cannot run it: the byte scan below
        return _holding(str(self.root), self._paths, memmem_literals(groups))

    def _shared(self, groups: tuple[tuple[bytes, ...]]) -> list[str]:
        """``mentioning`` in slices: the pool's workers take them from the front, this
        process from the back (those no worker has started), so all cores search."""
        assert self._pool is not None
        slices = [(str(self.root), part, groups) for part in _chunks(self._paths, 16)]
        futures = [self._pool.submit(mentioning_in, job) for job in slices]
        found: list[list[str] | None] = [None] * len(slices)
        for k in reversed(range(len(slices))):
            if futures[k].cancel():
                found[k] = mentioning_in(slices[k])
        return [rel for k, part in enumerate(found)
                for rel in (part if part is not None else futures[k].result())]

    def _grep(self, grep: str, words: list[str]) -> list[str]:
        args = [grep, "-lF", "--no-messages"] + [a for w in words for a in ("-e", w)] + ["--"]
        size = 2000  # paths per grep: well under the argument limit
        chunks = [self._paths[i : i + size] for i in range(0, len(self._paths), size)]
        hits: list[str] = []
        running: list[subprocess.Popen[bytes]] = []
        for chunk in [*chunks, None]:
            if chunk is not None:
                running.append(subprocess.Popen(args + chunk, cwd=self.root,
                                                stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL))
            while running and (chunk is None or len(running) >= 2):
                out, _ = running.pop(0).communicate()
                hits += out.decode("utf-8", "replace").splitlines()
        return sorted(set(hits))

    def read(self, rel: str) -> bytes:
        """A file's bytes (OSError when it cannot be read)."""
        return (self.root / rel).read_bytes()

    def list_dir(self, folder: str) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.root / folder)
                    if e.is_file(follow_symlinks=False)]
        except OSError:
            return []
