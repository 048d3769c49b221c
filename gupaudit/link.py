"""Pass 2, link: what a site's flow needs from other files, asked of the files that hold it.

Pass 1 analyses each file on its own. A site whose release was not found, or whose pages
sit in a field that holds nothing else, has open ends (``Site.links``): the functions of
other files its pages were handed to, its own function when it hands the pages back and
other files may call it, and the struct fields the pages sit in. The files that may hold
the answers are found through an index of names to files, built over the site's folder,
the headers its file includes and every candidate file of the run (the whole tree's
callers of a wrapper, wherever they are). Each such file answers once, in a worker, as
data (``answer``): per function asked for, what it does with pages handed to each of its
parameters (``dataflow.Effect``: the summary a call of it is read through); per caller of
a wrapper, the releases and uses on its paths (``Analysis.caller``); per function reading
back a field, the same (``flow.read_back``), and which fields the file stores other values
into. The site's file is then classified once more with those answers: the only file
analysed again, cached by every byte that was read for it.

Works on a work tree or a git revision alike (``pipeline.Source``'s ``list_dir`` and
``read``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

from tree_sitter import Tree

from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit import discover, ir
from gupaudit.analyse import INTERNAL_ERROR, analyse_source, functions
from gupaudit.cfg import Cfg
from gupaudit.dataflow import Analysis, Effect, path_of, ref_of
from gupaudit.flow import (
    Answers,
    ReaderHit,
    calls_of,
    container_types,
    field_of,
    read_back,
    releases_of,
    returns_field,
    use_via,
)
from gupaudit.locate import source_file
from gupaudit.model import Era, Family, Release, Site, SourceFile, Status, Use
from gupaudit.parse import parse
from gupaudit.provenance import Resolver

Lister = Callable[[str], list[str]]  # folder -> names of the files in it
Reader = Callable[[str], bytes | None]  # path -> its bytes, None if unreadable
SiteKey = tuple[str, int, int]  # (function, line, column) of a site in its file


@dataclass(frozen=True)
class Question:
    """One site's open ends, as asked of another file."""

    site: SiteKey
    family: Family
    callees: tuple[str, ...]  # their definitions: what each does with the pages
    wrapper: tuple | None  # (function, handback, outcomes): its callers' paths
    fields: tuple[str, ...]  # the functions reading them back
    types: tuple[tuple[str, str], ...]  # (field, struct type) the site keeps them in
    iterator: bool = False  # where its iov_iter was set up is still to be found


@dataclass
class Reply:
    """What one file answered to the questions of one site file."""

    effects: dict[str, dict[int, Effect]] = field(default_factory=dict)
    answers: Answers = field(default_factory=Answers)


def questions(sites: list[Site]) -> dict[str, list[Question]]:
    """Site file -> the questions of its sites with open ends (an unknown site, or pages
    in a field that holds nothing else, which a sibling file may release)."""
    out: dict[str, list[Question]] = {}
    for s in sites:
        if not s.links:
            continue
        d = json.loads(s.links)
        if not (s.status is Status.UNKNOWN or s.owned):
            # an iterator shown kernel-backed turns an unconverted site gup-ok, an
            # extraction's leaks into none; a converted extraction stays what it is
            if not d.get("iterator") or (s.status is Status.CONVERTED and not s.leaks):
                continue
            d = {"callees": [], "wrapper": None, "fields": [], "types": [], "iterator": True}
        wrapper = d["wrapper"]
        if wrapper is not None:
            back = wrapper[1] if isinstance(wrapper[1], str) else tuple(
                (k, rest) for k, rest in wrapper[1])
            outcomes = tuple((held, result, tuple((k, c) for k, c in outs))
                             for held, result, outs in wrapper[2])
            wrapper = (wrapper[0], back, outcomes)
        out.setdefault(s.path, []).append(Question(
            (s.function, s.line, s.column), s.family, tuple(d["callees"]), wrapper,
            tuple(d["fields"]), tuple((f, t) for f, t in d["types"]),
            bool(d.get("iterator"))))
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


def _mention(names: list[str], fields: list[str]) -> re.Pattern[bytes] | None:
    alts = [re.escape(n.encode()) + rb"\s*\(" for n in sorted(names)]
    alts += [rb"(?:->|\.)\s*" + re.escape(f.encode()) + rb"\b" for f in sorted(fields)]
    return re.compile(b"|".join(alts)) if alts else None


def _accessor(fields: list[str]) -> re.Pattern[bytes] | None:
    if not fields:
        return None
    return re.compile(rb"\breturn\b[^;]*(?:->|\.)(?:" + b"|".join(
        re.escape(f.encode()) for f in sorted(fields)) + rb")\b")


# (site file, its bytes, era, [(answering file, its bytes, questions)],
#  [(site, evidence that its iterator is kernel-backed)])
Job = tuple[str, bytes, Era, tuple[tuple[str, bytes, tuple[Question, ...]], ...],
            tuple[tuple[SiteKey, str], ...]]


def jobs(sites: list[Site], era: Era, candidates: list[str],
         list_dir: Lister, read: Reader,
         exporters: Callable[[list[str]], dict[str, list[str]]] = lambda names: {},
         iterators: Iterators | None = None) -> Work:
    """Per site file with open ends, the files to ask and what to ask each. The index of
    names to files: the tree's exported functions (``EXPORT_SYMBOL*()``, gathered by the
    prefilter: where a function other directories call is defined), and one search of
    each file that can answer: the site's folder, its file's headers, and the run's
    candidate files (tree-wide: an exported wrapper's callers). ``Work.kernel`` follows
    the iov_iters still to follow (those ``iterators`` was not given as their files
    finished pass 1) and finishes ``iterators``: ``link_pass`` runs it once the jobs that
    need none are started, and its evidence goes with the jobs of those files."""
    asked_by = questions(sites)
    if not asked_by:
        return Work([], frozenset(), lambda warnings: {})
    exported = exporters(sorted({c for asked in asked_by.values() for q in asked
                                 for c in q.callees}))
    bytes_of = cached_reader(read)
    wanted = sorted({n for asked in asked_by.values() for q in asked
                     for n in (*q.callees, *([q.wrapper[0]] if q.wrapper else []))})
    present = discover.literals(tuple((n.encode(),) for n in wanted))
    contains = discover.contains()
    index: dict[str, frozenset[str]] = {}  # file -> the wanted names it mentions

    def names_in(rel: str) -> frozenset[str]:
        if rel not in index:
            data = bytes_of(rel)
            index[rel] = frozenset(n for n, yes in zip(wanted, present(data), strict=True)
                                   if yes) if data is not None else frozenset()
        return index[rel]

    out = []
    for rel, asked in sorted(asked_by.items()):
        data = bytes_of(rel)
        if data is None:
            continue
        folder = posixpath.dirname(rel)
        siblings = [f"{folder}/{n}" if folder else n for n in sorted(list_dir(folder))
                    if n.endswith((".c", ".h"))]
        headers = included_headers(rel, data)
        callees = {c for q in asked for c in q.callees}
        wrappers = {q.wrapper[0] for q in asked if q.wrapper}
        fields = sorted({f for q in asked for f in q.fields})
        defines = discover.definition_pattern(sorted(callees))
        near = _mention([], fields)  # the folder: readers of the fields
        accessor = _accessor(fields)
        asks = []
        defining = [f for c in sorted(callees) for f in exported.get(c, ())]
        for other in dict.fromkeys(siblings + headers + defining + candidates):
            if other == rel:
                continue
            found = names_in(other)
            got = bytes_of(other)
            if got is None:
                continue
            has_field = any(contains(got, f.encode()) for f in fields)
            relevant = bool(
                found & wrappers  # a caller of the wrapper, anywhere
                or (found & callees and defines and defines.search(got))
                or (other in siblings and has_field and near and near.search(got))
                or (other in headers and has_field and accessor and accessor.search(got)))
            if relevant:
                asks.append((other, got, tuple(asked)))
        if asks or any(q.iterator for q in asked):
            out.append((rel, data, era, tuple(asks), ()))
    waiting = frozenset(rel for rel, asked in asked_by.items() if any(q.iterator for q in asked))
    follow = iterators or Iterators(bytes_of, list, lambda words: [], None)

    def kernel(warnings: list[str]) -> dict[tuple[str, SiteKey], str]:
        follow.add(sites)  # those not added as their files finished
        return follow.finish(warnings)
    return Work(out, waiting, kernel)


def cached_reader(read: Reader) -> Reader:
    """``read``, each file once, a binary file as unreadable."""
    seen: dict[str, bytes | None] = {}

    def bytes_of(rel: str) -> bytes | None:
        if rel not in seen:
            data = read(rel)
            seen[rel] = None if data is None or b"\0" in data[:65536] else data
        return seen[rel]
    return bytes_of


@dataclass
class Work:
    """The link pass's jobs; those of the files in ``waiting`` take, before they run, the
    evidence ``kernel()`` finds for their iterators: (site file, site) -> evidence."""

    jobs: list[Job]
    waiting: frozenset[str]
    kernel: Callable[[list[str]], dict[tuple[str, SiteKey], str]]  # (warnings) -> ...


MAX_ROUNDS = 3  # tree-wide searches for callers the index did not hold


def _follow(resolver: Resolver, rel: str, site: SiteKey, warnings: list[str]) -> str:
    """``Resolver.site``; a bug there costs that site its evidence, not the run."""
    try:
        return resolver.site(rel, *site)
    except (Exception, RecursionError) as exc:  # noqa: BLE001
        if os.environ.get("GUPAUDIT_DEBUG"):
            raise
        warnings.append(f"{rel}:{site[1]}: {INTERNAL_ERROR} following its iterator "
                        f"({type(exc).__name__}: {exc}); the site keeps its single-file "
                        "verdict, please report it")
        return ""


class Iterators:
    """(site file, site) -> the evidence that its iterator is kernel-backed (``Resolver``),
    from the store when every file the last answer read still has the same bytes.

    Sites come in a file at a time (``add``), as pass 1 finishes each file, so this
    process follows their iterators while the workers still analyse the rest; ``finish``
    then widens the search. The resolver reads the files that name an iterator; a function
    whose callers it read may also be stored in an ops table, or called, in a file that
    names none (a ``file_operations`` table), and a struct whose field it followed may be
    embedded in one declared there. So those names (``Resolver.wanted``) are searched for
    in the whole tree, and a proof is made again with the files found, until none is new.
    (A failure stays one as files are added, and a success is only kept while what it
    leant on holds, so the order the sites come in does not change an answer.)"""

    def __init__(self, bytes_of: Reader, iterating: Callable[[], list[str]],
                 mentioning: Callable[[list[str]], list[str]],
                 store: cache_mod.Cache | None) -> None:
        self.bytes_of, self.iterating, self.mentioning = bytes_of, iterating, mentioning
        self.store = store
        self.resolver: Resolver | None = None
        self.found: dict[tuple[str, SiteKey], str] = {}
        self.keys: dict[tuple[str, SiteKey], str] = {}
        self.fresh: list[tuple[str, SiteKey]] = []
        self.leant: dict[tuple[str, SiteKey], set[str]] = {}
        self.warnings: list[str] = []

    def add(self, sites: list[Site]) -> None:
        """Follow the iterators of these sites (a file's, or several files')."""
        for rel, qs in sorted(questions(sites).items()):
            for q in qs:
                if q.iterator and (rel, q.site) not in self.found:
                    self._first(rel, q.site)

    def _first(self, rel: str, site: SiteKey) -> None:
        if self.resolver is None:
            self.resolver = Resolver(self.iterating(), self.bytes_of, _unit,
                                     catalog_mod.load())
        resolver = self.resolver
        data = self.bytes_of(rel) or b""
        self.keys[rel, site] = key = "iter:" + hashlib.sha1(
            repr((rel, site, resolver.files)).encode() + data).hexdigest()
        known = self.store.value(key) if self.store is not None else None
        if isinstance(known, dict) and all(resolver.digest(f) == h
                                           for f, h in known["files"].items()):
            self.found[rel, site] = str(known["evidence"])
            return
        self.fresh.append((rel, site))
        self.found[rel, site] = _follow(resolver, rel, site, self.warnings)
        self.leant[rel, site] = set(resolver.wanted)

    def finish(self, warnings: list[str]) -> dict[tuple[str, SiteKey], str]:
        """The evidence of every site added, after the tree-wide searches."""
        resolver, found, leant = self.resolver, self.found, self.leant
        if resolver is None:
            return found
        searched: set[str] = set()
        for _ in range(MAX_ROUNDS):
            proven = [k for k in self.fresh if found[k]]
            words = sorted(set().union(*(leant[k] for k in proven)) - searched)
            if not words:
                break
            searched |= set(words)
            # a word holding another (p9_client_read_once, p9_client_read) finds no more
            needles = [w for w in words if not any(v != w and v in w for v in words)]
            more = sorted(f for f in set(self.mentioning(needles)) - set(resolver.files)
                          if any(resolver.relevant(f, w) for w in words))
            if not more:
                break
            resolver.extend(more, words)
            for k in proven:
                found[k] = _follow(resolver, k[0], k[1], self.warnings)
                leant[k] = set(resolver.wanted)
        if self.store is not None:
            digests = {f: resolver.digest(f) for f in resolver.read_files}
            for k in self.fresh:
                self.store.remember_value(self.keys[k], {"evidence": found[k],
                                                         "files": digests})
        self.fresh = []
        warnings.extend(sorted(self.warnings))  # sites come in as workers finish
        self.warnings = []
        return found


def _unit(rel: str, data: bytes, tree: Tree | None = None) -> tuple[SourceFile, dict]:
    cat = catalog_mod.load()
    sf = source_file(rel, tree if tree is not None else parse(data), data, cat, every=True)
    known = cat.known_names()
    if rel.endswith(".h"):  # a header's inline put_page() must stay the API it is
        sf = dataclasses.replace(
            sf, functions=tuple(f for f in sf.functions if f.name not in known),
            defined=sf.defined - known)
    return sf, functions(sf)


def answer(other: str, data: bytes, asked: tuple[Question, ...],
           site_an: Analysis) -> Reply:
    """What file ``other`` says to the questions: summaries of the functions asked for
    that it defines, its callers' paths of a wrapper (and the functions of its own that
    read back the fields those callers left the pages in), its readers of a field. The
    site's file (``site_an``) summarises its own functions the answering file calls
    (a wrapper's caller releasing through the wrapper file's release helper)."""
    cat = catalog_mod.load()
    sf, funcs = _unit(other, data)
    ref = ref_of(asked[0].family)
    called = frozenset(c for f in funcs.values() for c in (f.callees or ()))
    external = _Effects(site_an, ref, frozenset(
        name for name in called if name in site_an.funcs and name not in funcs))
    an = Analysis(funcs, cat, sf.defined, sf.handlers, external, external.returns)
    reply = Reply()
    for q in asked:
        ref = ref_of(q.family)
        for name in q.callees:
            if name in funcs and name not in reply.effects:
                reply.effects[name] = _effects(an, name, ref)
        if q.wrapper and q.wrapper[0] not in funcs:
            name, back, outcomes = q.wrapper
            found: list[tuple[Release, ...] | tuple[Use, ...]] = []
            for g in funcs.values():
                if name not in (g.callees or ()):
                    continue
                for c in calls_of(g.cfg, name):
                    got = an.caller(g, c.line, c.column, q.family, back, outcomes)
                    if got is None:
                        continue
                    via = f"caller {g.name}"
                    found.append(tuple(releases_of(got, via)))
                    found.append(tuple(use_via(u, via) for u in got.uses))
                    # where the caller keeps them (buf->pages) leads to its release callback
                    kept = got.names | got.stored
                    fields = {f for f in map(field_of, kept) if f}
                    if fields:
                        reply.answers.readers.setdefault(q.site, []).extend(read_back(
                            an, list(funcs.values()), g.name, fields, set(),
                            container_types(g.cfg, set(kept)), q.family))
            if found:
                reply.answers.callers.setdefault(q.site, []).extend(found)
        if q.fields:
            for name, fn in funcs.items():  # accessors: return vec->ptrs;
                if name not in reply.effects and returns_field(fn, q.fields):
                    reply.effects[name] = _effects(an, name, ref)
            types: dict[str, set[str]] = {}
            for f, t in q.types:
                types.setdefault(f, set()).add(t)
            hits: list[ReaderHit] = read_back(an, list(funcs.values()), "", set(q.fields),
                                              set(), types, q.family)
            if hits:
                reply.answers.readers.setdefault(q.site, []).extend(hits)
            reply.answers.not_owned |= {f for f in q.fields if any(
                not (isinstance(v, ir.Const) and v.text in ("NULL", "0"))
                for _, v in sf.stores.get(f, ()))}  # other values stored there
    return reply


class _Effects(Mapping[str, dict[int, Effect]]):
    """The site file's functions an answering file calls, each summarised on first use
    (a big header calls hundreds; a flow enters a few)."""

    def __init__(self, an: Analysis, ref: str, names: frozenset[str]) -> None:
        self.an, self.ref, self.names = an, ref, names
        self.memo: dict[str, dict[int, Effect]] = {}

    def __getitem__(self, name: str) -> dict[int, Effect]:
        if name not in self.names:
            raise KeyError(name)
        if name not in self.memo:
            self.memo[name] = _effects(self.an, name, self.ref)
        return self.memo[name]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def returns(self, name: str) -> frozenset[str]:
        """The fields of its parameters function ``name`` returns, read off its returns
        alone: whether it is an accessor is asked of every function an answering file
        calls, and a summary per parameter (``_effects``) answered it at many times the cost."""
        if name not in self.names:
            return frozenset()
        return frozenset().union(*_returned(self.an.funcs[name].cfg).values())


def _returned(g: Cfg) -> dict[int, frozenset[str]]:
    """Parameter index -> the fields of it the function returns (``return vec->ptrs;``)."""
    out = {}
    for k, p in enumerate(g.params):
        if p:
            out[k] = frozenset(
                q.split("->", 1)[1].removesuffix("[]") for n in g.nodes
                if n.kind == "return" and (q := path_of(n.expr)) is not None
                and q.startswith(p + "->") and "->" not in q[len(p) + 2:])
    return out


def _effects(an: Analysis, name: str, ref: str) -> dict[int, Effect]:
    """What function ``name`` does with pages handed to each of its parameters."""
    g = an.funcs[name].cfg
    returned = _returned(g)
    out = {}
    for k, p in enumerate(g.params):
        if not p:
            continue
        returns = returned[k]
        got = an.summary(name, frozenset({p}), ref, 0, ())
        if got is None and not returns:
            continue
        releases = tuple(Release(m.api, m.kind, m.path, m.line, m.function, m.via,
                                 m.in_loop) for m in (got.met.values() if got else ()))
        out[k] = Effect(releases, tuple(got.uses.values()) if got else (),
                        tuple(got.escapes) if got else (), bool(got and got.stored),
                        returns)
    return out


def relink(job: Job) -> tuple[list[Site], str | None]:
    """A site file classified again with what the other files answered (a worker)."""
    rel, data, era, asks, iters = job
    try:
        effects: dict[str, dict[int, Effect]] = {}
        answers = Answers(kernel_iters=dict(iters))
        tree = parse(data)  # the site file, parsed once for both of its readings
        sf, funcs = _unit(rel, data, tree)
        site_an = Analysis(funcs, catalog_mod.load(), sf.defined, sf.handlers)
        for other, got, asked in asks:
            reply = answer(other, got, asked, site_an)
            for name, eff in reply.effects.items():
                effects.setdefault(name, eff)
            for key, found in reply.answers.callers.items():
                answers.callers.setdefault(key, []).extend(found)
            for key, hits in reply.answers.readers.items():
                answers.readers.setdefault(key, []).extend(hits)
            answers.not_owned |= reply.answers.not_owned
        return analyse_source(rel, data, era, answers, effects, tree), None
    except Exception as exc:  # noqa: BLE001 - pass 1's verdicts stand for this file
        if os.environ.get("GUPAUDIT_DEBUG"):
            raise
        return [], (f"{rel}: {INTERNAL_ERROR} in the link pass ({type(exc).__name__}: "
                    f"{exc}); its sites keep their single-file verdicts, please report it")


def _key(job: Job) -> str:
    rel, data, era, asks, iters = job
    h = hashlib.sha1(b"link\0" + repr(iters).encode())
    for other, got, asked in ((rel, data, ()), *asks):
        h.update(f"{other}\0{len(got)}\0{asked!r}\0".encode())
        h.update(got)
    return cache_mod.site_key(h.digest(), rel, era.name)


def link_pass(sites: list[Site], work: Work, store: cache_mod.Cache,
              pool: Executor | None, warnings: list[str]) -> None:
    """Run pass 2 and put its verdicts in place of pass 1's, through the cache (keyed by
    every byte it read). The jobs that need no iterator evidence go to the pool first; this
    process finishes following the iterators (``Work.kernel``: the tree-wide search and
    the proofs made again) meanwhile, then runs the rest."""
    ready = [job for job in work.jobs if job[0] not in work.waiting]
    started = _start(ready, store, pool)
    kernel = work.kernel(warnings) if work.waiting else {}
    rest = []
    for rel, data, era, asks, _ in (job for job in work.jobs if job[0] in work.waiting):
        iters = tuple((site, kernel[rel, site]) for f, site in sorted(kernel)
                      if f == rel and kernel[rel, site])
        if asks or iters:
            rest.append((rel, data, era, asks, iters))
    for job, key, result in [*started, *_start(rest, store, pool)]:
        found, warning = result() if callable(result) else result
        if warning:
            warnings.append(warning)
            continue
        _replace(sites, job[0], found)
        if key:
            store.remember_sites(key, found)


def _start(work: list[Job], store: cache_mod.Cache, pool: Executor | None
           ) -> list[tuple[Job, str, object]]:
    """Each job with its cache key and its result: from the cache (no key to store), a
    pool's future's ``result``, or a call to make."""
    out: list[tuple[Job, str, object]] = []
    for job in work:
        key = _key(job)
        found = store.sites(key)
        if found is not None:
            out.append((job, "", (found, None)))
        elif pool is not None:
            out.append((job, key, pool.submit(relink, job).result))
        else:
            out.append((job, key, lambda job=job: relink(job)))
    return out


def _replace(sites: list[Site], rel: str, found: list[Site]) -> None:
    sites[:] = [s for s in sites if s.path != rel] + found
