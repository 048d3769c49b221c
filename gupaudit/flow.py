"""Stage 5, flow: where one site's pages go, composed from dataflow runs.

Input: a site (an acquisition call in a function of a unit: a file, or files read together)
and the catalogue. Output: ``Flow``: the releases reached with the pages held, the uses,
the hand-offs, the access paths that held them, and the exits where they may leak.

Every fact comes from a run of ``dataflow`` over a CFG:

* the site's own run (``Analysis.site``): the acquiring function and the helpers it calls
  (summaries; functions of other files through the link pass's ``Effect`` summaries),
  and the handlers reached through an ops table;
* for a function that hands the pages back (returns them, or leaves them in its caller's
  array, sg table, object or out parameter), one run per caller in the unit
  (``Analysis.caller``), and what the link pass brings from callers in other files;
* for pages left in lasting storage, one run of each function that reads that storage
  back (``read_back``, ``Analysis.reader``), starting with the pages held there: a
  file-scope variable by its name, a struct field by the struct type both sides declare
  ("struct field") or else by its name ("field"). Such a release confirms a conversion
  but accuses nothing, unless the field holds nothing but these pages in every file that
  stores into it (``owned``); a use found by field name alone makes no finding;
* the functions registered to be called back with the object (``_callbacks``);
* for an iov_iter site, whether its iterator is kernel-backed (``kernel_iterator``), and for
  every site the FOLL_* flags that reach the call (``flag_values``); and the open ends the
  link pass may ask other files about (``Flow.links``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from gupaudit import ir
from gupaudit.catalog import AcquireApi, Catalog
from gupaudit.cfg import Cfg, conditions_at
from gupaudit.dataflow import Analysis, Func, Outcome, PathFacts, path_of, ref_of, under
from gupaudit.model import Family, Flow, Release, Use

MAX_DEPTH = 3  # callers of callers, for an iterator handed down
_CONSTANT = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # a macro: FOLL_WRITE, DMA_FROM_DEVICE
_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass
class Unit:
    """The functions the flows of a file may cross, with what the file scope says."""

    path: str  # the file whose sites these are
    funcs: dict[str, Func]
    globals: frozenset[str] = frozenset()  # file-scope variables
    # field -> (function, value) of every store into ``x->field`` / ``x.field``
    stores: dict[str, tuple[tuple[str, ir.Expr], ...]] = field(default_factory=dict)
    statics: frozenset[str] = frozenset()  # functions no other file calls
    answers: Answers | None = None  # what other files said about its sites (link.py)
    taken: frozenset[str] = frozenset()  # functions with callers nobody can list


@dataclass
class Answers:
    """What other files said about a file's sites (``link``), per site (function, line,
    column): the releases and uses in callers of a function handing the pages back, the
    functions reading back a field they were left in, and the fields those files store
    other values into (so they hold not only these pages)."""

    callers: dict[tuple[str, int, int], list[tuple[Release, ...] | tuple[Use, ...]]] = \
        field(default_factory=dict)
    readers: dict[tuple[str, int, int], list[ReaderHit]] = field(default_factory=dict)
    not_owned: set[str] = field(default_factory=set)
    # the evidence that an iov_iter site's iterator is kernel-backed wherever it is set up
    kernel_iters: dict[tuple[str, int, int], str] = field(default_factory=dict)


def field_of(name: str) -> str | None:
    """``obj->sgt.pages`` -> ``pages``: the last field of an access path, if any."""
    parts = re.split(r"->|\.", name)
    return parts[-1].removesuffix("[]") if len(parts) > 1 else None


def _base(p: str) -> str:
    return re.split(r"->|\.|\[", p, maxsplit=1)[0]


def site_flow(an: Analysis, unit: Unit, fn: Func, line: int, column: int, api: AcquireApi,
              argc: int) -> Flow:
    """The flow of the acquisition at (line, column) of ``fn``."""
    site = an.find_call(fn, line, column)
    if site is None:
        return Flow((), (), (), ("a call the analysis could not read",))
    k = api.pages_arg(argc)
    if isinstance(k, int):
        arg = site.args[k] if k < len(site.args) else None
        if isinstance(arg, ir.Const) and arg.text in ("NULL", "0"):
            return Flow((), (), (), (), no_pages=True)
        if arg is None or path_of(arg) is None:
            return Flow((), (), (), (f"pages argument {ir.show(arg)}",))
    facts = an.site(fn, line, column, api.family, k, api.count_arg(argc))
    if facts is None:
        return Flow((), (), (), ("more paths than the analysis follows",))
    releases = releases_of(facts, "")
    uses = list(facts.uses)
    escapes = list(facts.escapes)
    names = set(facts.names) | set(facts.stored)
    leaks = [(x.line, x.why, fn.name) for x in facts.leaks]
    if facts.handback is not None:
        for caller, got in _callers(an, unit, fn, api.family, facts):
            releases += releases_of(got, f"caller {caller}")
            uses += [use_via(u, f"caller {caller}") for u in got.uses]
            escapes += [e for e in got.escapes if e != "return"]
            names |= {n for n in got.names | got.stored if field_of(n)}
            if unit.funcs[caller].path == unit.path:
                leaks += [(x.line, x.why, caller) for x in got.leaks]
    owned = frozenset(f for f in {field_of(n) for n in names} - {None}
                      if _owned(unit, f, fn, names))
    here = (fn.name, line, column)
    if unit.answers is not None:  # what other files said (link.py)
        owned -= unit.answers.not_owned
        for found in unit.answers.callers.get(here, ()):
            releases += [r for r in found if isinstance(r, Release)]
            uses += [u for u in found if isinstance(u, Use)]
        for hit in unit.answers.readers.get(here, ()):
            more, seen = _hit_flow(hit, owned)
            releases += more
            uses += seen
    for key, (stored, release) in sorted(facts.earlier.items()):
        # Released through the field on a later call: as firm as the field is.
        kind = "owned field" if field_of(stored) in owned else "field"
        spec = an.cat.release[release]
        releases.append(Release(release, spec.kind, key[0], key[1], fn.name,
                                f"{kind} in {fn.name}"))
    more, seen = _readers(an, unit, fn, names, owned, api.family)
    releases += more
    uses += seen
    more, seen = _callbacks(an, facts, names, api.family)
    releases += more
    uses += seen
    # an MMU notifier registered with the object that holds the pages (case 3)
    guarded = sorted(o for o in facts.notified if any(_base(n) == o for n in names))
    local = "return" not in escapes and facts.handback is None and not any(
        field_of(n) or _base(n) in fn.cfg.params or _base(n) in unit.globals for n in names)
    kernel = ""
    iterates = api.family in (Family.ITER_EXTRACT, Family.ITER_GET) and bool(site.args)
    if iterates:
        kernel = kernel_iterator(an, unit, fn, site.args[0], node_of(fn.cfg, site))
        if not kernel and unit.answers is not None:
            kernel = unit.answers.kernel_iters.get(here, "")
    return Flow(tuple(sorted(names)), _one_per_line(releases), _one_per_use(uses),
                tuple(_unique(escapes)), leaks=() if kernel else tuple(_unique(leaks)),
                kernel_iter=kernel, owned=tuple(sorted(owned)), local=local,
                links=_links(an, unit, fn, facts, names, escapes, iterates and not kernel),
                guarded=", ".join(guarded))


def _links(an: Analysis, unit: Unit, fn: Func, facts: PathFacts, names: set[str],
           escapes: list[str], iterator: bool) -> str:
    """The open ends of a site that other files may answer (``link``), as JSON: the
    functions outside the file the pages were handed to, its own function when it hands
    the pages back and other files may call it, the fields the pages sit in, and
    whether where its iterator was set up is still to be found (``provenance``)."""
    known = an.cat.known_names()
    callees = sorted({e[:-2] for e in escapes if e.endswith("()") and _NAME.fullmatch(e[:-2])
                      and e[:-2] not in known and e[:-2] not in unit.funcs})
    wrapper = ([fn.name, facts.handback, facts.outcomes]
               if facts.handback is not None and fn.name not in unit.statics else None)
    fields = sorted({f for f in map(field_of, names) if f})
    types = sorted([f, t] for f, ts in container_types(fn.cfg, names).items() for t in ts)
    if not callees and wrapper is None and not fields and not iterator:
        return ""
    return json.dumps({"callees": callees, "wrapper": wrapper, "fields": fields,
                       "types": types, "iterator": iterator})


def releases_of(facts: PathFacts, via: str) -> list[Release]:
    """The releases a run met with the pages held; ``via``: how the run was reached."""
    out = []
    for m in facts.met:
        key = (m.path, m.line)
        sure = m.sure and not facts.coarse
        inner = m.via
        out.append(Release(m.api, m.kind, m.path, m.line, m.function,
                           ", ".join(v for v in (via, inner) if v), m.in_loop,
                           checked=sure, unwind=sure and key not in facts.success))
    return out


def use_via(u: Use, via: str) -> Use:
    return dataclasses.replace(u, via=", ".join(v for v in (via, u.via) if v))


def _callers(an: Analysis, unit: Unit, fn: Func, family: Family,
             facts: PathFacts) -> Iterator[tuple[str, PathFacts]]:
    """Each call of a function that hands the pages back, read as an acquisition whose
    pages are held where the returned value says so: a caller that returns an error and
    forgets them leaks them."""
    for g in unit.funcs.values():
        if g.name == fn.name or fn.name not in (g.callees or ()):
            continue
        for c in calls_of(g.cfg, fn.name):
            got = an.caller(g, c.line, c.column, family, facts.handback, facts.outcomes)
            if got is not None:
                yield g.name, got


def calls_of(g: Cfg, name: str) -> list[ir.Call]:
    return [c for n in g.nodes for c in n.flat if isinstance(c, ir.Call) and c.name == name]


def node_of(g: Cfg, call: ir.Call) -> int:
    return next(i for i, n in enumerate(g.nodes) if any(c is call for c in n.flat))


# ---------------------------------------------------------------- storage read back


@dataclass(frozen=True)
class ReaderHit:
    """A function that reads the pages back out of the storage they were left in."""

    function: str
    fields: frozenset[str]  # the fields (or file-scope variables) it reads them by
    typed: bool  # every one through an object of the site's struct type
    via_global: bool
    releases: tuple[Release, ...]  # via: only the helper they are in, if any
    uses: tuple[Use, ...]


def read_back(an: Analysis, funcs: list[Func], skip: str, fields: set[str],
              globals_: set[str], types: dict[str, set[str]],
              family: Family) -> list[ReaderHit]:
    """The functions among ``funcs`` (but ``skip``) that read back the struct fields or
    file-scope variables the pages were left in, and what they do with them."""
    hits = []
    # what a reader's text must name: a field, a variable, or an accessor of a field (of
    # the unit or of another file: each is asked, not only the callees locate saw, which
    # error recovery can leave short)
    words = fields | globals_ | {name for name in {*an.funcs, *an.external}
                                 if _accessor(an, name, fields)}
    for g in funcs:
        if g.name == skip or not g.may_name(words):
            continue
        named, typed, via_global = _storage_named(g.cfg, fields, globals_, types)
        # calls of an accessor (``return vec->ptrs;``): their value holds the pages
        valued = frozenset((c.line, c.column) for n in g.cfg.nodes for c in n.flat
                           if isinstance(c, ir.Call) and c.name != g.name
                           and _accessor(an, c.name, fields))
        if not named and not typed and not valued or not an.may_touch(g.name):
            continue
        storage = frozenset(named | typed | (fields if valued else set()))
        out = an.reader(g.name, frozenset(), ref_of(family), valued=valued,
                        storage=storage,
                        types=frozenset((f, t) for f in storage for t in types.get(f, ())))
        if out is None:
            continue
        success = frozenset(ev for x in out.exits if not x.error for ev in x.state.events)
        releases = tuple(
            Release(m.api, m.kind, m.path, m.line, m.function, m.via, m.in_loop,
                    unwind=m.sure and out.complete and success != frozenset()
                    and (m.path, m.line) not in success)
            for m in out.met.values())
        hits.append(ReaderHit(g.name, frozenset(named | typed | (fields if valued else set())),
                              not named and not valued, via_global, releases,
                              tuple(_uses(out))))
    return hits


def _hit_flow(hit: ReaderHit, owned: frozenset[str]) -> tuple[list[Release], list[Use]]:
    """A reader's releases and uses as seen from the site: through a file-scope variable,
    a field that holds only these pages (firm), a field of the site's struct type, or a
    field matched by name only."""
    kind = ("global" if hit.via_global else "owned field" if hit.fields <= owned
            else "struct field" if hit.typed else "field")
    where = f"{kind} in {hit.function}"
    return ([dataclasses.replace(r, via=", ".join(v for v in (where, r.via) if v))
             for r in hit.releases], [use_via(u, where) for u in hit.uses])


def _readers(an: Analysis, unit: Unit, fn: Func, names: set[str], owned: frozenset[str],
             family: Family) -> tuple[list[Release], list[Use]]:
    """Releases and uses in the other functions of the unit that read the pages back out of
    the struct fields or file-scope variables the site left them in."""
    fields = {f for f in map(field_of, names) if f}
    globals_ = {n for n in names if n in unit.globals and n not in fn.cfg.params}
    if not fields and not globals_:
        return [], []
    releases: list[Release] = []
    uses: list[Use] = []
    for hit in read_back(an, list(unit.funcs.values()), fn.name, fields, globals_,
                         container_types(fn.cfg, names), family):
        more, seen = _hit_flow(hit, owned)
        releases += more
        uses += seen
    return releases, uses


def _uses(out: Outcome) -> list[Use]:
    return list(out.uses.values())


def _accessor(an: Analysis, name: str, fields: set[str]) -> bool:
    """Whether function ``name`` of the unit returns one of ``fields`` (an inline accessor
    of a header: ``return vec->ptrs;``)."""
    if an.external_returns(name) & fields:
        return True  # an accessor of another file (a header's static inline)
    fn = an.funcs.get(name)
    return fn is not None and name not in an.cat.acquire and returns_field(fn, fields)


def returns_field(fn: Func, fields: Collection[str]) -> bool:
    """Whether ``fn`` returns one of ``fields`` of some object (``return vec->ptrs;``)."""
    return fn.may_name(fields) and any(
        n.kind == "return" and (p := path_of(n.expr)) is not None and field_of(p) in fields
        for n in fn.cfg.nodes)


def _callbacks(an: Analysis, facts: PathFacts, names: set[str],
               family: Family) -> tuple[list[Release], list[Use]]:
    """Releases and uses in the functions registered to be called back with the object
    that holds the pages (``kunit_add_action_or_reset(test, unpin_sgt, sgt)``), before or
    after the pages went in."""
    releases: list[Release] = []
    uses: list[Use] = []
    for cb, given in sorted(facts.callbacks):
        holding = [d for d in given if any(under(n, d) for n in names)]
        if len(holding) != 1:
            continue  # which value the callback gets is not known
        data = holding[0]
        param = an.funcs[cb].cfg.params[0]
        seeds = frozenset(param + n[len(data):] for n in names if under(n, data))
        out = an.reader(cb, seeds, ref_of(family)) if param and seeds else None
        if out is None:
            continue
        where = f"callback {cb}"
        releases += [Release(m.api, m.kind, m.path, m.line, m.function,
                             ", ".join(v for v in (where, m.via) if v), m.in_loop)
                     for m in out.met.values()]
        uses += [use_via(u, where) for u in _uses(out)]
    return releases, uses


def container_types(g: Cfg, names: set[str]) -> dict[str, set[str]]:
    """Per field, the struct types the site's function keeps the pages in it as
    (``region->pages`` with ``struct dfl_afu_dma_region *region``: that struct's field)."""
    out: dict[str, set[str]] = {}
    for n in names:
        parts = re.split(r"->|\.", n)
        if len(parts) == 2 and parts[0] in g.types:
            out.setdefault(parts[1].removesuffix("[]"), set()).add(g.types[parts[0]])
    return out


def _typed_prefix(e: ir.Expr, fields: set[str], types: dict[str, set[str]], g: Cfg) -> bool:
    """Whether an access path goes through a field of an object of the struct type the
    site stored the pages in (``ctx->bv`` in ``ctx->bv[i].bv_page``)."""
    while isinstance(e, ir.Member | ir.Index):
        if isinstance(e, ir.Member) and e.field in fields and isinstance(e.base, ir.Name) \
                and g.types.get(e.base.id) in types.get(e.field, ()):
            return True
        e = e.base
    return False


def _storage_named(g: Cfg, fields: set[str], globals_: set[str],
                   types: dict[str, set[str]]) -> tuple[set[str], set[str], bool]:
    """Which of ``fields`` function ``g`` reads (``x->pages``, ``x.sgt.pages[i]``): those
    read through an object of the struct type the site stored them in (``types``), and
    those matched by field name only (whose object's type is not known); a field read
    only through objects of other types is not read. Then whether it reads one of the
    file-scope variables ``globals_`` (unless a parameter or local shadows it)."""
    named: set[str] = set()
    typed: set[str] = set()
    via_global = False
    shadowed = set(g.params) | g.locals
    for e in _exprs(g):
        if isinstance(e, ir.Member) and e.field in fields:
            known = types.get(e.field)
            base = e.base.id if isinstance(e.base, ir.Name) else None
            if _typed_prefix(e, fields, types, g):
                typed.add(e.field)  # ctx->bv[i].bv_page where ctx->bv is the site's
            elif known and base in g.types:
                continue  # the same field name in another struct
            else:
                named.add(e.field)
        elif isinstance(e, ir.Name) and e.id in globals_ and e.id not in shadowed:
            named.add(e.id)
            via_global = True
    return named - typed, typed, via_global


def _exprs(g: Cfg) -> Iterator[ir.Expr]:
    """Every value a function's nodes evaluate, sub-expressions included."""
    work: list[ir.Expr] = [n.expr for n in g.nodes if n.expr is not None]
    while work:
        e = work.pop()
        yield e
        match e:
            case ir.Member(base=b) | ir.Unary(arg=b):
                work.append(b)
            case ir.Index(base=b, index=i):
                work += [b, i]
            case ir.Binary(left=left, right=r):
                work += [left, r]
            case ir.Ternary(cond=c, then=t, other=o):
                work += [c, t, o]
            case ir.Call(args=args, callee=c):
                work += list(args)
                if c is not None:
                    work.append(c)
            case ir.Assign(target=t, value=v):
                work += [t, v]
            case ir.Seq(items=items):
                work += list(items)


def _owned(unit: Unit, f: str, fn: Func, names: set[str]) -> bool:
    """Whether field ``f`` only ever holds these pages in the unit: every store into any
    ``->f`` / ``.f`` is NULL or, in the acquiring function, a local that holds nothing but
    the pages. Then a release of ``x->f`` anywhere is a release of these pages, as firm as
    a helper's (a VM's monitor page); a field also filled with pages the driver allocates
    is not."""
    stores = unit.stores.get(f, ())
    if not stores:
        return False
    assigned: dict[str, list[ir.Expr]] = {}
    for n in fn.cfg.nodes:
        for e in n.flat:
            if isinstance(e, ir.Assign) and isinstance(e.target, ir.Name):
                assigned.setdefault(e.target.id, []).append(e.value)
    for where, value in stores:
        if _null(value):
            continue
        if where != fn.name or not isinstance(value, ir.Name) or value.id not in names:
            return False
        # The local stored must hold nothing else (not also a page it allocates).
        for v in assigned.get(value.id, ()):
            if not _null(v) and (isinstance(v, ir.Call) or path_of(v) not in names):
                return False
    return True


def _one_per_line(releases: list[Release]) -> tuple[Release, ...]:
    """One release per source line and way of reaching it (in the function's hands, or
    through storage that outlives it): the first found (the site's own run, then callers,
    then storage read back), unless a later one reaches it on a success path where the
    first only met it unwinding."""
    best: dict[tuple[str, int, bool], Release] = {}
    for r in releases:
        key = (r.path, r.line, r.kept)
        old = best.get(key)
        if old is None or (old.unwind and not r.unwind):
            best[key] = r
    return tuple(best.values())


def _one_per_use(uses: list[Use]) -> tuple[Use, ...]:
    return tuple({(u.path, u.line, u.api): u for u in reversed(uses)}.values())[::-1]


def _null(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and e.text in ("NULL", "0")


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------- iterators and flags


def kernel_iterator(an: Analysis, unit: Unit, fn: Func, it_expr: ir.Expr, node: int,
                    depth: int = 0) -> str:
    """Evidence that the iterator an extraction reads is backed by kernel memory, from
    which nothing is pinned; "" when none is seen.

    Evidence: every path to the call passed a not-pinned test (``if (flags &
    MSG_SPLICE_PAGES)``, ``iov_iter_is_bvec(i)``); the function sets the iterator up with
    iov_iter_kvec() / _bvec() / ... itself or through a helper of the unit, and never over
    user memory; or, for an iterator a static function was passed, every caller gives
    such evidence.
    """
    guard = not_pinned_at(an.cat, fn, node, iterator_path(it_expr))
    if guard:
        return guard
    it = path_of(it_expr)
    if it is None:
        return ""
    found = iter_setup(an, fn, it, depth)
    if found is not None:
        return found
    base = _base(it)
    if (base not in fn.cfg.params or fn.name not in unit.statics or fn.name in unit.taken
            or unit.path.endswith(".h") or depth >= MAX_DEPTH):  # a header's: every includer
        return ""
    k = fn.cfg.params.index(base)
    rest = it[len(base):]
    seen = []
    for g in unit.funcs.values():
        if g.name == fn.name or fn.name not in (g.callees or ()):
            continue
        for c in calls_of(g.cfg, fn.name):
            if k >= len(c.args) or path_of(c.args[k]) is None:
                return ""
            arg = c.args[k]
            passed = ir.Name(path_of(arg) + (
                "." + rest[2:] if rest.startswith("->") and isinstance(arg, ir.Unary)
                and arg.op == "&" else rest))
            why = kernel_iterator(an, unit, g, passed, node_of(g.cfg, c), depth + 1)
            if not why:
                return ""
            seen.append(f"{g.name}() {why}")
    return "every caller: " + "; ".join(seen) if seen else ""


def not_pinned_at(cat: Catalog, fn: Func, node: int, it: str | None = None) -> str:
    """Evidence that every path to ``node`` passed a test saying the iterator is
    kernel-backed: ``if (iov_iter_is_bvec(i))``, ``if (flags & MSG_SPLICE_PAGES)``, or the
    else of ``if (user_backed_iter(i))``; "" when none. ``it``: the iterator's path, which
    a predicate must test (``!user_backed_iter(src)`` says nothing of ``dst``)."""
    def about(atom: ir.Call) -> bool:
        return it is None or (bool(atom.args) and iterator_path(atom.args[0]) == it)

    for cond, value in conditions_at(fn.cfg, node):
        for atom, true in _atoms(cond, value, cat):
            if true and _not_pinned(atom, cat) and (not isinstance(atom, ir.Call)
                                                    or about(atom)):
                text = ir.show(atom)
                if isinstance(atom, ir.Binary):
                    text = text[1:-1]  # show() parenthesises every operator
                return f"under `if ({text})`"
            if (not true and isinstance(atom, ir.Call) and atom.name in cat.pin_predicate
                    and about(atom)):
                return f"under `if (!{ir.show(atom)})`"
    return ""


def iterator_path(e: ir.Expr) -> str | None:
    """``&req->iter``, ``*iter``, ``iter`` -> the path of the iterator they reach."""
    while isinstance(e, ir.Unary) and e.op in ("&", "*"):
        e = e.arg
    return path_of(e)


def _atoms(cond: ir.Expr, value: bool, cat: Catalog) -> list[tuple[ir.Expr, bool]]:
    """The atoms of a condition whose value is known whenever it has ``value``: both
    sides of a true ``&&`` or a false ``||``, through ``!`` and ``likely()``."""
    match cond:
        case ir.Unary(op="!", arg=a):
            return _atoms(a, not value, cat)
        case ir.Call(name=n, args=(a, *_)) if n in cat.transparent:
            return _atoms(a, value, cat)
        case ir.Binary(op="&&", left=left, right=r) if value:
            return _atoms(left, True, cat) + _atoms(r, True, cat)
        case ir.Binary(op="||", left=left, right=r) if not value:
            return _atoms(left, False, cat) + _atoms(r, False, cat)
    return [(cond, value)]


def _not_pinned(atom: ir.Expr, cat: Catalog) -> bool:
    match atom:
        case ir.Call(name=n) if n in cat.not_pinned_predicate:
            return True
        case ir.Binary(op="&", left=left, right=r):
            return any(isinstance(x, ir.Name) and x.id in cat.not_pinned_flags
                       for x in (left, r))
    return False


def iter_setup(an: Analysis, fn: Func, it: str, depth: int) -> str | None:
    """How ``fn`` sets up iterator ``it``: evidence text if only over kernel memory,
    "" if over user memory, None if it does not."""
    cat = an.cat
    kernel = None
    names = pointers_to(fn, it)
    for n in fn.cfg.nodes:
        for c in n.flat:
            if not isinstance(c, ir.Call):
                continue
            for table, is_kernel in ((cat.kernel_iter, True), (cat.user_iter, False)):
                k = table.get(c.name)
                if k is not None and k < len(c.args) and path_of(c.args[k]) in names:
                    if not is_kernel:
                        return ""
                    kernel = kernel or f"set up by {c.name}() at line {c.line}"
            helper = an.funcs.get(c.name)
            if (helper is None or c.name == fn.name or depth >= MAX_DEPTH
                    or c.name in cat.acquire):
                continue
            params = helper.cfg.params
            for j, arg in enumerate(c.args):
                if path_of(arg) in names and j < len(params) and params[j]:
                    got = iter_setup(an, helper, params[j], depth + 1)
                    if got == "":
                        return ""
                    if got:
                        kernel = kernel or f"{got} in {c.name}()"
    return kernel


def pointers_to(fn: Func, it: str, refers: Callable[[ir.Expr], bool] | None = None
                ) -> set[str]:
    """``it`` and the locals of ``fn`` that point to it: ``p = &it``, ``q = p``,
    ``p = c ? &it : NULL`` (``refers``: what else a value pointing to it looks like)."""
    names = {it}
    assigns = [a for n in fn.cfg.nodes for a in n.flat
               if isinstance(a, ir.Assign) and a.op == "=" and isinstance(a.target, ir.Name)]

    def points(v: ir.Expr) -> bool:
        match v:
            case ir.Ternary(then=t, other=o):
                return points(t) or points(o)
            case ir.Unary(op="&", arg=x):
                return path_of(x) in names or bool(refers and refers(v))
            case ir.Name(id=n):  # a copy of a pointer to it (of ``it`` itself: if a pointer)
                return n in names and (n != it or pointer)
        return bool(refers and refers(v))

    pointer = it in fn.cfg.pointers or it in fn.cfg.params

    grown = True
    while grown:
        grown = False
        for a in assigns:
            if a.target.id not in names and points(a.value):
                names.add(a.target.id)
                grown = True
    return names


def flag_values(fn: Func, flags: ir.Expr, depth: int = 0) -> tuple[str, bool]:
    """The gup_flags an argument can carry, with local variables replaced by what the
    function assigns them (``unsigned int gup_flags = FOLL_LONGTERM; ... gup_flags |=
    FOLL_WRITE``), and whether that is all of it: a part from outside (a parameter, a
    field) may add any flag, so only what is seen can be said to be there."""
    parts: list[str] = []
    complete = True
    work = [flags]
    while work:
        e = work.pop()
        match e:
            case ir.Const():
                continue  # numbers: nothing named
            case ir.Name(id=name) if _CONSTANT.match(name):
                parts.append(name)
            case ir.Name(id=name):
                values = [a.value for n in fn.cfg.nodes for a in n.flat
                          if isinstance(a, ir.Assign) and a.op in ("=", "|=")
                          and isinstance(a.target, ir.Name) and a.target.id == name]
                if not values or depth > 3 or name in fn.cfg.params:
                    complete = False
                    continue
                for v in values:
                    text, whole = flag_values(fn, v, depth + 1)
                    parts.append(text)
                    complete &= whole
            case ir.Unary(op="~"):
                continue  # a cleared flag: gup_flags &= ~FOLL_WRITE
            case ir.Unary(arg=a):
                work.append(a)
            case ir.Binary(op=op) if op in ("==", "!=", "<", ">", "<=", ">="):
                continue  # "dir == DMA_FROM_DEVICE": 0 or 1, a boolean passed as the flags
            case ir.Binary(left=left, right=r):
                work += [r, left]
            case ir.Ternary(then=t, other=o):
                work += [o, t]
            case _:
                complete = False  # a call, a field: anything
    return " | ".join(sorted(set(p for p in " | ".join(parts).split(" | ") if p))), complete
