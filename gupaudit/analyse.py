"""One file (or one unit of files) through the stages: parse -> locate -> flow (over
dataflow runs) -> classify.

``analyse_bytes`` is what a worker process runs per candidate file; it returns finished
``Site`` records (no tree-sitter object crosses a process boundary) and turns a bug in one
file into a warning that costs that file only.
"""

from __future__ import annotations

import os
import re
from functools import cache

from tree_sitter import Tree

from gupaudit import catalog as catalog_mod
from gupaudit.classify import classify
from gupaudit.dataflow import Analysis, Effect, Func
from gupaudit.flow import Answers, Unit, flag_values, site_flow
from gupaudit.group import subsystem_of
from gupaudit.locate import source_file
from gupaudit.model import Era, Flow, Site, SourceFile
from gupaudit.parse import C_COMMENT, parse


def analyse_source(rel: str, data: bytes, era: Era,
                   answers: Answers | None = None,
                   external: dict[str, dict[int, Effect]] | None = None,
                   tree: Tree | None = None) -> list[Site]:
    """Every acquisition site of one file's bytes, classified.

    ``answers``/``external``: what other files said of its sites and of the functions its
    pages are handed to (the link pass). ``tree``: the bytes' parse, if already made.
    """
    sf = source_file(rel, tree if tree is not None else parse(data), data, catalog_mod.load())
    return analyse_unit(sf, rel, era, answers, external)


def analyse_unit(sf: SourceFile, rel: str, era: Era,
                 answers: Answers | None = None,
                 external: dict[str, dict[int, Effect]] | None = None) -> list[Site]:
    """The sites of file ``rel`` within ``sf``."""
    cat = catalog_mod.load()
    funcs = functions(sf)
    paths = Analysis(funcs, cat, sf.defined, sf.handlers, external)
    unit = Unit(rel, funcs, sf.globals, sf.stores,
                frozenset(f.name for f in sf.functions if f.static), answers,
                sf.taken.union(*sf.handlers.values()))
    mine = [fn for fn in sf.functions if fn.path == rel]
    header = rel.endswith(".h")
    sites = []
    for fn in mine:
        if header and fn.name in cat.acquire:
            continue  # the API's own implementation (a static inline wrapper in a header)
        here = funcs[fn.name]
        if here.source is not fn.cfg:  # a second definition of the name (#ifdef variants)
            here = Func(fn.name, fn.path or sf.path, fn.cfg, callees=fn.callees)
        for call in fn.calls:
            api = cat.acquire.get(call.name)
            if api is None or call.name in sf.defined:
                continue  # not an API, or a local function that only shares its name
            argc = len(call.args)
            try:
                flow = site_flow(paths, unit, here, call.line, call.column, api, argc)
            except RecursionError:  # code nested deeper than the analysis recurses
                flow = Flow((), (), (), ("code nested deeper than the analysis follows",))
            flags, complete = None, True
            k = api.flags_arg(argc)
            if k is not None and k < argc:
                found = paths.find_call(here, call.line, call.column)
                flags, complete = (flag_values(here, found.args[k]) if found is not None
                                   and k < len(found.args) else (None, False))
            sites.append(classify(rel, fn.name, call, api, flow, era, subsystem_of(rel), cat,
                                  flags, complete))
    return sites


def functions(sf: SourceFile) -> dict[str, Func]:
    """The dataflow's view of a file's functions (the first definition of a name)."""
    funcs: dict[str, Func] = {}
    for f in sf.functions:
        if f.cfg is not None and f.name not in funcs:
            funcs[f.name] = Func(f.name, f.path or sf.path, f.cfg, callees=f.callees)
    return funcs


INTERNAL_ERROR = "internal error"
MAX_PARSE_BYTES = 16 << 20


def analyse_bytes(job: tuple[str, bytes, Era]) -> tuple[list[Site], str | None]:
    rel, data, era = job
    if b"\0" in data[:65536]:
        return [], f"{rel}: binary file, skipped"
    if not _api_call().search(C_COMMENT.sub(b" ", data)):
        return [], None  # the names are only in comments: nothing to parse
    if len(data) > MAX_PARSE_BYTES:
        return [], f"{rel}: {len(data) >> 20} MB, larger than gupaudit parses; skipped"
    try:
        return analyse_source(rel, data, era), None
    except Exception as exc:  # noqa: BLE001 - one file's bug must not cost the whole scan
        if os.environ.get("GUPAUDIT_DEBUG"):
            raise
        return [], (f"{rel}: {INTERNAL_ERROR} ({type(exc).__name__}: {exc}); its sites are "
                    "missing from this report, please report it")


def count_internal_errors(warnings: list[str] | tuple[str, ...]) -> int:
    return sum(1 for w in warnings if f": {INTERNAL_ERROR} (" in w)




@cache
def _api_call() -> re.Pattern[bytes]:
    """A call of some acquisition API: ``name (`` outside comments."""
    names = b"|".join(re.escape(n.encode()) for n in sorted(catalog_mod.load().acquire))
    return re.compile(rb"\b(?:" + names + rb")\s*\(")
