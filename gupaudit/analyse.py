"""One file (or one unit of files) through the stages: parse -> locate -> flow and
dataflow -> classify.

``flow`` follows the pages by name through the unit (helpers, callers, struct fields);
``dataflow`` decides, on the paths of the acquiring function's CFG and of the helpers it
enters, which of those releases are reached with the pages held, which are unwinds, and
where held pages reach an exit (``with_paths``).

``analyse_bytes`` is what a worker process runs per candidate file; it returns finished
``Site`` records (no tree-sitter object crosses a process boundary) and turns a bug in one
file into a warning that costs that file only.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from functools import cache

from gupaudit import catalog as catalog_mod
from gupaudit.classify import classify
from gupaudit.dataflow import Analysis, Func, PathFacts
from gupaudit.flow import Tracer, field_of, flag_values
from gupaudit.group import subsystem_of
from gupaudit.locate import source_file
from gupaudit.model import Era, Family, Flow, Function, Release, Site, SourceFile
from gupaudit.parse import parse


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
    funcs: dict[str, Func] = {}
    for f in sf.functions:
        if f.cfg is not None and f.name not in funcs:
            funcs[f.name] = Func(f.name, f.path or sf.path, f.cfg,
                                 callees=frozenset(c.name for c in f.calls))
    paths = Analysis(funcs, cat, sf.defined)
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
            flags, complete = (flag_values(fn, call.args[flags_idx])
                               if flags_idx is not None and flags_idx < argc else (None, True))
            flow = tracer.site_flow(fn, call, pages)
            here = funcs.get(fn.name)
            if not flow.no_pages and here is not None and here.source is fn.cfg:
                facts = paths.site(here, call.line, call.column, api.family, pages_idx,
                                   api.count_arg(argc))
                if facts is not None:
                    flow = with_paths(flow, facts, fn.name)
                    if facts.handback is not None:
                        flow = _through_callers(flow, facts, fn, sf, funcs, paths, api.family,
                                                rel)
            if api.family is Family.ITER_EXTRACT:
                kernel = tracer.kernel_iterator(fn, call)
                # From a kernel-backed iterator nothing is pinned: nothing can leak either.
                flow = dataclasses.replace(flow, kernel_iter=kernel,
                                           leaks=() if kernel else flow.leaks)
            sites.append(classify(rel, fn.name, call, api, flow, era, notifier,
                                  subsystem_of(rel), cat, flags, complete))
    return sites


def _through_callers(flow: Flow, facts: PathFacts, fn: Function, sf: SourceFile,
                     funcs: dict[str, Func], paths: Analysis, family: Family,
                     rel: str) -> Flow:
    """A function that hands the pages back (returns them, or leaves them in its caller's
    array): each call of it in the unit is read as an acquisition whose pages are held
    where the returned value says so, and its paths decide the releases and leaks
    there (a caller that returns an error and forgets them leaks them)."""
    for g in sf.functions:
        gf = funcs.get(g.name)
        if g.name == fn.name or gf is None or gf.source is not g.cfg:
            continue
        for c in g.calls:
            if c.name != fn.name:
                continue
            got = paths.caller(gf, c.line, c.column, family, facts.handback, facts.outcomes)
            if got is not None:
                flow = with_paths(flow, got, fn.name, caller=g.name,
                                  same_file=gf.path == rel)
    return flow


def with_paths(flow: Flow, facts: PathFacts, function: str, caller: str = "",
               same_file: bool = True) -> Flow:
    """The flow with the dataflow's verdicts on the releases it examined: those reached on
    no path with the pages held are dropped, the others marked checked (and unwind when
    only error paths reach them); its leaks replace any other guess. With ``caller``:
    the facts of one caller of a function that hands the pages back, whose releases are
    reached through it and whose leaks add to the site's (in the site's file only)."""
    # Met only on widened paths: not decided here, the release keeps its guards.
    met = {(m.path, m.line): m for m in facts.met if m.sure}
    unsure = {(m.path, m.line) for m in facts.met if not m.sure}
    releases: list[Release] = []
    for r in flow.releases:
        key = (r.path, r.line)
        if key not in facts.examined or key in unsure:
            releases.append(r)
        elif key in facts.earlier and not r.via:
            # Released through the field on a later call: as firm as the field is.
            kind = "owned field" if field_of(facts.earlier[key]) in flow.owned else "field"
            releases.append(dataclasses.replace(r, via=f"{kind} in {r.function}"))
        elif key in met:
            releases.append(dataclasses.replace(r, checked=True,
                                                unwind=key not in facts.success))
    have = {(r.path, r.line) for r in releases}
    for key, m in met.items():
        if key not in have:
            via = m.via if not caller else f"caller {caller}" + (f", {m.via}" if m.via else "")
            releases.append(Release(m.api, m.kind, m.path, m.line, m.function, via,
                                    m.in_loop, (), checked=True,
                                    unwind=key not in facts.success))
    leaks = tuple((k.line, k.why, caller or function) for k in facts.leaks)
    if caller:
        leaks = tuple(dict.fromkeys(flow.leaks + (leaks if same_file else ())))
    return dataclasses.replace(flow, releases=tuple(releases), leaks=leaks)


def analyse_path(job: tuple[str, str, Era, frozenset[str]]) -> tuple[list[Site], str | None]:
    root, rel, era, notifier_dirs = job
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [], f"{rel}: cannot read ({exc.strerror})"
    return analyse_bytes((rel, data, era, notifier_dirs))


INTERNAL_ERROR = "internal error"
MAX_PARSE_BYTES = 16 << 20


def analyse_bytes(job: tuple[str, bytes, Era, frozenset[str]]) -> tuple[list[Site], str | None]:
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


def count_internal_errors(warnings: list[str] | tuple[str, ...]) -> int:
    return sum(1 for w in warnings if f": {INTERNAL_ERROR} (" in w)


_C_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)


@cache
def _api_call() -> re.Pattern[bytes]:
    """A call of some acquisition API: ``name (`` outside comments."""
    names = b"|".join(re.escape(n.encode()) for n in sorted(catalog_mod.load().acquire))
    return re.compile(rb"\b(?:" + names + rb")\s*\(")
