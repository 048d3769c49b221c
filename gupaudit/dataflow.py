"""Stage 5a, dataflow: the state of one site's pages on every path of its function.

A forward analysis over the function's CFG (``cfg.Cfg``), one run per acquisition site. The
state of the pages on a path (``State``) is a point of a small lattice:

* ``take``: not yet taken / held / released;
* ``ref``: the reference they hold: ``pin`` or ``get``, or ``none`` once a branch has shown
  that an extraction took no reference (``iov_iter_extract_will_pin()`` false);
* ``counts``: what the acquisition's count may be on this path, among ``err`` (< 0),
  ``zero``, ``part`` (fewer than asked) and ``full``, refined on the edges of comparisons of
  the count (``if (got != n)``, ``if (IS_ERR(page))``);
* ``aliases`` / ``owners``: the access paths that hold the pages or an element of them, and
  the objects that hold them (an sg table, a bio, a struct); reassigning a path kills it;
* ``escaped``: why the pages belong to someone else now (stored in the caller's object,
  returned, handed over inside an object);
* ``events``: the releases met on this path, by (file, line);
* ``facts`` and ``env``: what the path's branches said (conditions as values, a flag copied
  into a local known by its origin) and the constant class of scalar locals (``ret = 0``,
  ``ret = -EFAULT``), so that ``if (ret == 0) unpin(...)`` after ``out:`` is decided on each
  path, and ``if (!b->pin) put_page() else unpin()`` follows the branch that chose the API.

States at a node that agree on what their paths know are joined; the others stay apart
(path-sensitive up to ``MAX_STATES`` per node, then scalar values are dropped; a run that
still cannot tell its paths apart gives no verdict). Calls of functions of the unit are
entered through summaries: the same run on the callee, its parameter holding the pages,
whose exit states are rewritten in the caller's terms (``summary``). At each ``return``
the run records the state and whether the exit is an error exit (a negative errno, an
``ERR_PTR``, NULL, an error variable): pages held there are a leak, and a release met only
on paths to error exits is an unwind, not the pages' lifetime.

A function that hands the pages back (returns them, or leaves them in its caller's array)
is read once more from each of its callers in the unit (``Analysis.caller``): the call is
the acquisition there, holding the pages on the paths where the returned value (and what
it left in out parameters) says the callee kept them.

Known limits: facts about struct fields survive calls that may change them; a release of
one element outside a loop releases the whole array; pages handed to a callee outside the
unit are lent, not given (the callee keeps nothing), which is the common kernel case; a
path whose scalar values were dropped to bound the run never reports a leak and never
decides a release. Functions of other files are read through summaries (``Effect``) the
link pass brings; callers in other files report releases, not leaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from gupaudit import ir
from gupaudit.catalog import Catalog
from gupaudit.cfg import Cfg, Edge
from gupaudit.model import Family, Release, Use

MAX_STATES = 32  # per node, before scalar values are dropped (4x: the run gives up)
MAX_STEPS = 40000  # per run
MAX_DEPTH = 3  # summaries of summaries
COUNT = "#count"  # the canonical name of the acquisition's count in facts
ACQUIRED_INTO = "acquired into "  # State.escaped when the API wrote into the caller's object
ALL_COUNTS = frozenset({"err", "zero", "part", "full"})
# "more": pages of an earlier call of the same site (a loop pinning chunk by chunk) are held
# whatever this call's count says.
HELD_COUNTS = frozenset({"part", "full", "more"})
_REF = {Family.GET: "get", Family.ITER_GET: "get", Family.PIN: "pin",
        Family.ITER_EXTRACT: "pin"}
def ref_of(family: Family) -> str:
    """The reference an API family takes: pin or get."""
    return _REF[family]


_ERRNO = re.compile(r"^E[A-Z0-9]+$")


class State(NamedTuple):
    """One path's knowledge of the pages (a tuple: states are hashed and copied a lot)."""

    take: str = "none"  # none | held | gone
    ref: str = ""  # pin | get | none
    counts: frozenset[str] = ALL_COUNTS
    count_in: str | None = None  # the lvalue the count was stored in
    aliases: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()
    escaped: str = ""
    events: frozenset[tuple[str, int]] = frozenset()
    facts: frozenset[tuple[str, object]] = frozenset()
    env: frozenset[tuple[str, str]] = frozenset()
    jumped: int = 0  # line of the last goto taken: where a path to an exit left the flow
    count_kept: bool = False  # the count was stored where the pages' owner can read it
    lent: bool = False  # handed to a callee outside the unit, which may have kept them
    valued: frozenset[tuple[int, int]] = frozenset()  # calls whose value holds the pages
    widened: bool = False  # scalar values were dropped: the path may be one C cannot take
    copies: frozenset[str] = frozenset()  # paths that point to the array the site fills
    pending: str | None = None  # the class of the value the wrapper call just returned
    late: bool = False  # lent to a callee outside the unit in the path's way out
    addrs: frozenset[str] = frozenset()  # paths holding a pfn or physical address of them
    phys: frozenset[str] = frozenset()  # ... of which a physical address


@dataclass(frozen=True, slots=True)
class Met:
    """A release call met with the pages held."""

    api: str
    kind: str
    path: str
    line: int
    function: str
    via: str  # "" or the helper it is in
    in_loop: bool
    wrong: bool  # the other kind of reference than the pages hold
    sure: bool = True  # met on a path whose conditions were all kept (not widened)


@dataclass(frozen=True, slots=True)
class Exit:
    line: int
    state: State
    error: bool
    result: str | None = None  # zero | neg | pos | nonzero: what the return hands back


@dataclass
class Outcome:
    """One run's result: what was met, and the state at every exit."""

    met: dict[tuple[str, int], Met] = field(default_factory=dict)
    examined: set[tuple[str, int]] = field(default_factory=set)
    exits: list[Exit] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)  # lasting storage the pages were put in
    unheld: set[tuple[tuple[str, int], str, str]] = field(default_factory=set)  # releases
    #                          of other pages: ((file, line), the path released, the API)
    complete: bool = True
    # What the paths did with the pages besides releasing them: the catalogue's uses met
    # with the pages held, the functions outside the unit they were handed to (and
    # "return"), and every access path that held them or an object holding them.
    uses: dict[tuple[str, int, str], Use] = field(default_factory=dict)
    escapes: dict[str, None] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    notified: set[str] = field(default_factory=set)  # objects an MMU notifier guards
    callbacks: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)  # (function,
    #                                              the other arguments that name a place)


@dataclass(frozen=True)
class Effect:
    """What a function of another file does with pages handed to one of its parameters,
    summarised there (``link``): releases and uses met, hand-offs, whether it keeps them,
    and the fields of that parameter it returns (an accessor: ``return vec->ptrs;``)."""

    releases: tuple[Release, ...] = ()
    uses: tuple[Use, ...] = ()
    escapes: tuple[str, ...] = ()
    kept: bool = False
    returns: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Leak:
    line: int
    why: str  # "error" | "partial" | "inconsistent"


@dataclass(frozen=True)
class PathFacts:
    """What the dataflow decided for one site (consumed by ``analyse``/``classify``)."""

    examined: frozenset[tuple[str, int]]  # every release call of the functions it covered
    met: tuple[Met, ...]  # the releases reached with the pages held
    success: frozenset[tuple[str, int]]  # ... of which these lie on a path to a success exit
    leaks: tuple[Leak, ...]
    complete: bool
    # Releases of lasting storage (a field of the caller's object, a file-scope variable)
    # met before the pages were stored there: ``if (vm->page) unpin(vm->page); vm->page =
    # page;`` releases the pages an earlier call stored, which may be these.
    earlier: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # ->
    #                                                            (path released, the API)
    # Where the function hands the pages back to its callers ("return", or the index of
    # the parameter whose array holds them), and per exit (pages held?, value returned):
    # a caller that tests the value knows which of its paths hold them.
    # "return", or (parameter index, path under it) of each place the callers find them
    handback: tuple[tuple[int, str], ...] | str | None = None
    outcomes: tuple[Handed, ...] = ()
    uses: tuple[Use, ...] = ()  # the catalogue's uses met with the pages held
    escapes: tuple[str, ...] = ()  # "f()" outside the unit they were handed to, "return"
    names: frozenset[str] = frozenset()  # every access path that held them
    stored: frozenset[str] = frozenset()  # lasting storage they were put in
    notified: frozenset[str] = frozenset()  # objects an MMU notifier is registered with
    callbacks: frozenset[tuple[str, tuple[str, ...]]] = frozenset()  # registered:
    #                                      (function, the other arguments naming a place)
    # Too many paths to tell apart: the run joined every state (no conditions, no scalar
    # values); its releases are unsure and it reports no leak.
    coarse: bool = False


@dataclass
class Func:
    """What the dataflow needs of a function: its CFG, name and file. ``source`` is the CFG
    or what builds it (``cfg.Lazy``): most functions of a file are never entered."""

    name: str
    path: str
    source: Cfg | Callable[[], Cfg]
    defs: dict[str, ir.Expr] = field(default_factory=dict)
    _cfg: Cfg | None = None
    callees: frozenset[str] | None = None  # the names it calls (None: read them off the CFG)
    facts: tuple | None = None  # _Run's per-function constants (fresh, origins, ...)
    # canonical text of a condition -> its canonical value, for renaming a helper's facts
    # into a caller's terms structurally (``_Run.in_caller``)
    atoms: dict[str, ir.Expr] = field(default_factory=dict)

    @property
    def cfg(self) -> Cfg:
        if self._cfg is None:
            self._cfg = self.source if isinstance(self.source, Cfg) else self.source()
        return self._cfg

    def may_name(self, words: Iterable[str]) -> bool:
        """Whether the body can name one of ``words`` (False only when its source text,
        read before the CFG is built, holds none of them: the IR names nothing the text
        does not)."""
        text = getattr(self.source, "text", None) if self._cfg is None else None
        body = text() if callable(text) else None
        return body is None or any(w.encode() in body for w in words)


def single_defs(g: Cfg) -> dict[str, ir.Expr]:
    """Locals assigned exactly once (declaration included): their value stands for them in
    conditions, so ``bool pin = b->use_pin; if (pin)`` and ``if (b->use_pin)`` agree. So
    does a field of a parameter or local stored once with a plain value (``shm->flags =
    flags``): a helper that tests the field tests the value (keyed by its path)."""
    seen: dict[str, list[ir.Expr | None]] = {}
    stored_at: dict[str, int] = {}  # field path -> the node storing it
    for i, n in enumerate(g.nodes):
        for e in n.flat:
            if isinstance(e, ir.Assign) and isinstance(e.target, ir.Name | ir.Member):
                seen.setdefault(ir.show(e.target), []).append(e.value if e.op == "=" else None)
                stored_at.setdefault(ir.show(e.target), i)
            elif isinstance(e, ir.Unary) and isinstance(e.arg, ir.Name | ir.Member):
                seen.setdefault(ir.show(e.arg), []).append(None)
            elif isinstance(e, ir.Call):  # f(&x) may write x
                for a in e.args:
                    if isinstance(a, ir.Unary) and a.op == "&" and \
                            isinstance(a.arg, ir.Name | ir.Member):
                        seen.setdefault(ir.show(a.arg), []).append(None)
    out = {}
    fields = {}
    for k, v in seen.items():
        if len(v) != 1 or v[0] is None:
            continue
        if k in g.locals:
            out[k] = v[0]
        elif _FIELD_PATH.fullmatch(k) and _base(k) in g.locals | set(g.params) and \
                _plain(v[0]):
            fields[k] = v[0]
    if fields:
        # A field read before its store holds what the caller left there: its value
        # stands for it only if nothing reads it before (nodes are in source order).
        read_before = {k for i, n in enumerate(g.nodes) if n.expr is not None
                       for k in fields if i < stored_at[k] and k in ir.show(n.expr)}
        out.update({k: v for k, v in fields.items() if k not in read_before})
    return out


def _plain(e: ir.Expr) -> bool:
    """A value made of names, fields and constants only (no call, no store)."""
    match e:
        case ir.Name() | ir.Const():
            return True
        case ir.Member(base=b):
            return _plain(b)
        case ir.Unary(op=op, arg=a) if op in ("!", "~", "-"):
            return _plain(a)
        case ir.Binary(left=left, right=r):
            return _plain(left) and _plain(r)
    return False


_PARAMLIKE = re.compile(r"[A-Za-z_]\w*")  # a bare name: kept through *out, not a field
_FIELD_PATH = re.compile(r"[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)+")
_MACRO = re.compile(r"[A-Z][A-Z0-9_]*")


def path_of(e: ir.Expr | None) -> str | None:
    """The storage a value points into: ``&obj->pages[i] + 1`` -> ``obj->pages``. An index
    inside the path stands for any element: ``u->chunk[i].plist`` -> ``u->chunk[].plist``,
    the same storage whichever variable indexes it."""
    return e.id if isinstance(e, ir.Name) else _paths(e)


def _path_of(e: ir.Expr | None) -> str | None:
    match e:
        case ir.Name(id=i):
            return i
        case ir.Member(base=b, field=f, arrow=a):
            inner = _inner_path(b)
            return f"{inner}{'->' if a else '.'}{f}" if inner is not None else ir.show(e)
        case ir.Index(base=b):
            return path_of(b)
        case ir.Unary(op=op, arg=a) if op in ("&", "*", "++", "--"):
            return path_of(a)
        case ir.Binary(op=op, left=left) if op in ("+", "-"):
            return path_of(left)
        case ir.Assign(target=t):
            return path_of(t)
    return None


_paths = ir.by_identity(_path_of)


def _inner_path(e: ir.Expr) -> str | None:
    match e:
        case ir.Name(id=i):
            return i
        case ir.Member():
            return path_of(e)
        case ir.Index(base=b):
            inner = _inner_path(b)
            return inner + "[]" if inner is not None else None
        case ir.Unary(op="*", arg=a):
            inner = _inner_path(a)
            return inner + "[]" if inner is not None else None
    return None


def _tested(e: ir.Expr | None) -> list[ir.Name | ir.Member]:
    """The variables and fields a condition reads as values."""
    match e:
        case ir.Name() | ir.Member():
            return [e]
        case ir.Unary(arg=a):
            return _tested(a)
        case ir.Binary(left=left, right=r):
            return _tested(left) + _tested(r)
        case ir.Assign(target=t):
            return _tested(t)
        case ir.Call(name=n, args=args) if args:
            return _tested(args[0]) if n else []
    return []


_ZERO_FIELDS = "->*"  # env key suffix: every field of a zeroed allocation reads 0


def _env_get(env: frozenset[tuple[str, str]], e: ir.Expr) -> str | None:
    """The value class of a variable or field on a path, if known."""
    if not env or not isinstance(e, ir.Name | ir.Member):
        return None
    text = e.id if isinstance(e, ir.Name) else ir.show(e)
    zero = ir.show(e.base) + _ZERO_FIELDS if isinstance(e, ir.Member) and e.arrow else None
    found = None
    for k, cls in env:
        if k == text:
            return None if cls == "any" else cls
        if k == zero:
            found = "zero"  # req = kzalloc(...); ... if (!req->page_list)
    return found


_FIELD = {name: i for i, name in enumerate(State._fields)}


def replace(st: State, **changes: object) -> State:
    """``st._replace(**changes)``, without its generic path (states are copied a lot)."""
    items: list[object] = list(st)
    for name, value in changes.items():
        items[_FIELD[name]] = value
    return tuple.__new__(State, items)


Handed = tuple[bool, str | None, tuple[tuple[int, str], ...]]  # held?, returned, out params


def _outs(st: State, params: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """What an exit left in out parameters (``*need_drop = 1``), by parameter index."""
    return tuple(sorted((params.index(k[1:]), cls) for k, cls in st.env
                        if k.startswith("*") and k[1:] in params and cls != "any"))


def _hands_back(x: Exit) -> bool:
    """Whether the callers hold the pages after this exit: a success exit with pages held
    that are not already kept in an object (udmabuf records its folios in the object
    its caller tears down on error)."""
    st = x.state
    return (not x.error and st.take == "held" and bool(st.counts & HELD_COUNTS)
            and (st.escaped in ("", "returned", "count returned")
                 or st.escaped.startswith(("put into ", ACQUIRED_INTO))
                 or (st.escaped.startswith("kept in ")
                     and _PARAMLIKE.fullmatch(st.escaped[8:]) is not None)))


def _handback(out: Outcome, params: tuple[str, ...]
              ) -> tuple[tuple[int, str], ...] | str | None:
    """How the pages reach the callers, read off the success exits that still hold them:
    returned (the pages or an object holding them), or left in an array parameter."""
    for x in out.exits:
        st = x.state
        if x.error or st.take != "held" or not st.counts & HELD_COUNTS or st.widened:
            continue
        if st.escaped == "returned":
            return "return"
        into = _into_param(st.escaped, params)
        if st.escaped and st.escaped != "count returned" and into is None:
            continue
        # the caller's array, its sg table, its object's field (region->pages), its out
        # parameter (*pfn = page_to_pfn(...))
        found = sorted({(params.index(a), "") for a in st.aliases if a in params}) + (
            [into] if into is not None else [])
        if found:
            return tuple(dict.fromkeys(found))
    return None


def _into_param(escaped: str, params: tuple[str, ...]) -> tuple[int, str] | None:
    """The parameter (and the path under it) an exit left the pages in: "put into to",
    "acquired into region->pages", "kept in pfn" (``*pfn = ...``; not a field, which the
    caller's object keeps for its own teardown)."""
    for prefix in ("put into ", ACQUIRED_INTO):
        if escaped.startswith(prefix):
            p = escaped[len(prefix):]
            base = _base(p)
            return (params.index(base), p[len(base):]) if base in params else None
    if escaped.startswith("kept in ") and escaped[8:] in params:
        return params.index(escaped[8:]), ""
    return None


def _compatible(a: object, b: object) -> bool:
    """Whether two things known of one value can both hold (bools, case-label sets)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return bool(a & b)
    if isinstance(a, frozenset):
        return not a <= b[1]  # type: ignore[index]
    if isinstance(b, frozenset):
        return not b <= a[1]  # type: ignore[index]
    return True


def _key(st: State) -> tuple:
    """What two states at one node must share to be joined."""
    return (st.take, st.ref, st.facts, st.escaped, st.jumped, st.env, st.count_in, st.count_kept,
            st.valued, st.widened, st.pending)


def _join(a: State, b: State) -> State:
    return replace(a, counts=a.counts | b.counts, aliases=a.aliases | b.aliases,
                   owners=a.owners | b.owners, events=a.events | b.events,
                   lent=a.lent or b.lent, copies=a.copies | b.copies, late=a.late or b.late,
                   addrs=a.addrs | b.addrs)


def under(p: str, a: str) -> bool:
    """``p`` is ``a`` or a part of it (``a->x``, ``a.x``, ``a[i]``)."""
    return p == a or (p.startswith(a) and p[len(a):len(a) + 1] in ("-", ".", "["))


def _base(p: str) -> str:
    return re.split(r"->|\.|\[", p, maxsplit=1)[0]


def _int(e: ir.Expr) -> int | None:
    """The value of an integer literal (``-EFAULT`` counts as -1: some negative errno)."""
    match e:
        case ir.Const(text=t):
            try:
                return int(t.rstrip("uUlL"), 0)
            except ValueError:
                return None
        case ir.Unary(op="-", arg=a):
            if isinstance(a, ir.Name) and _ERRNO.match(a.id):
                return -1
            v = _int(a)
            return -v if v is not None else None
    return None


def _range(cls: str, asked: int | None) -> tuple[float, float]:
    if cls == "err":
        return (float("-inf"), -1)
    if cls == "zero":
        return (0, 0)
    if cls == "part":
        return (1, asked - 1 if asked else float("inf"))
    return (asked, asked) if asked else (1, float("inf"))


def _compare(op: str, lo: float, hi: float, k: float) -> bool | None:
    """Truth of ``x op k`` for every x in [lo, hi]: True, False or None (depends)."""
    if op == "==":
        return True if lo == hi == k else False if k < lo or k > hi else None
    if op == "!=":
        v = _compare("==", lo, hi, k)
        return None if v is None else not v
    if op == "<":
        return True if hi < k else False if lo >= k else None
    if op == "<=":
        return True if hi <= k else False if lo > k else None
    if op == ">":
        return True if lo > k else False if hi <= k else None
    if op == ">=":
        return True if lo >= k else False if hi < k else None
    return None


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
_CMP = frozenset(_FLIP)


def _env_class(value: ir.Expr, st: State, cat: Catalog) -> str | None:
    """zero | neg | pos | nonzero for a scalar value, None when not known."""
    k = _int(value)
    if k is not None:
        return "zero" if k == 0 else "neg" if k < 0 else "pos"
    if isinstance(value, ir.Const) and value.text in ("NULL", "false"):
        return "zero"
    if isinstance(value, ir.Call) and value.name in cat.error_code:
        return "neg"
    return _env_get(st.env, value)


_SummaryKey = tuple[str, frozenset[str], str]


class Analysis:
    """The dataflow over the functions of one unit (a file, or a directory seen as one)."""

    def __init__(self, funcs: dict[str, Func], catalog: Catalog,
                 defined: frozenset[str] = frozenset(),
                 handlers: dict[str, frozenset[str]] | None = None,
                 external: Mapping[str, dict[int, Effect]] | None = None,
                 returns: Callable[[str], frozenset[str]] | None = None) -> None:
        self.funcs = funcs
        # ops-table field -> the functions of the unit it is set to (.release = foo)
        self.handlers = handlers or {}
        # functions of other files: what each does with pages handed to parameter k, and
        # the fields of its parameters it returns (``returns``: asked without the effects)
        self.external = external or {}
        self.external_returns = returns or self._returns
        self.cat = catalog
        self.defined = defined  # names the unit defines itself: not the catalogue's APIs
        # per (callee, parameter paths holding the pages, reference kind)
        self._summaries: dict[_SummaryKey, Outcome | None] = {}
        self._readers: dict[tuple, Outcome | None] = {}
        self._param_atoms: dict[str, frozenset[str]] = {}
        self._may_release: dict[str, bool] = {}
        self.known = catalog.known_names()
        self._releasing = (frozenset(catalog.release) | frozenset(catalog.containers)) - defined
        self._touching = self._releasing | (frozenset(catalog.use) - defined)
        self._may_touch: dict[str, bool] = {}

    # ------------------------------------------------------------ entry points
    def site(self, fn: Func, call_line: int, call_column: int, family: Family,
             pages_arg: int | str, asked_arg: int | None) -> PathFacts | None:
        """The path facts of the acquisition at (line, column) of ``fn``; None if the
        call is not in its CFG (a body the lowering could not read), or its code is nested
        deeper than the analysis recurses: the site keeps the verdict ``flow`` gives."""
        try:
            return self._site(fn, call_line, call_column, family, pages_arg, asked_arg)
        except RecursionError:
            return None

    def _site(self, fn: Func, call_line: int, call_column: int, family: Family,
              pages_arg: int | str, asked_arg: int | None) -> PathFacts | None:
        site = self._find_call(fn.cfg, call_line, call_column)
        if site is None:
            return None
        if isinstance(pages_arg, int) and (pages_arg >= len(site.args)
                                           or path_of(site.args[pages_arg]) is None):
            return None  # the pages argument is not a place (garbled by an #ifdef?)
        asked = None
        if asked_arg is not None and asked_arg < len(site.args):
            asked = _int(site.args[asked_arg])
        run = _Run(self, fn, site, pages_arg, _REF[family], asked, depth=0, stack=(fn.name,),
                   extract=family is Family.ITER_EXTRACT)
        out = run.go(State(ref=_REF[family]))
        if not out.complete:  # too many paths to tell apart: one state per node
            run = _Run(self, fn, site, pages_arg, _REF[family], asked, depth=0,
                       stack=(fn.name,), extract=family is Family.ITER_EXTRACT, coarse=True)
            out = run.go(State(ref=_REF[family]))
            if not out.complete:
                return None
            return self._facts(out, fn, coarse=True)
        return self._facts(out, fn)

    def caller(self, fn: Func, call_line: int, call_column: int, family: Family,
               back: tuple[tuple[int, str], ...] | str, outcomes: tuple[Handed, ...]
               ) -> PathFacts | None:
        """The path facts of a caller of a function that hands the pages back: the call at
        (line, column) of ``fn`` acts as the acquisition, holding the pages on the paths
        where the callee's returned value says it did (``outcomes``)."""
        try:
            return self._caller(fn, call_line, call_column, family, back, outcomes)
        except RecursionError:
            return None

    def _caller(self, fn: Func, call_line: int, call_column: int, family: Family,
                back: tuple[tuple[int, str], ...] | str, outcomes: tuple[Handed, ...]
                ) -> PathFacts | None:
        site = self._find_call(fn.cfg, call_line, call_column)
        if site is None:
            return None
        first, also = (back, ()) if isinstance(back, str) else (back[0][0], back)
        for coarse in (False, True):
            run = _Run(self, fn, site, first, _REF[family], None, depth=0, stack=(fn.name,),
                       extract=family is Family.ITER_EXTRACT, outcomes=outcomes, also=also,
                       coarse=coarse)
            out = run.go(State(ref=_REF[family]))
            if out.complete:
                return self._facts(out, fn, caller=True, coarse=coarse)
        return None

    def _facts(self, out: Outcome, fn: Func, caller: bool = False,
               coarse: bool = False) -> PathFacts:
        success = frozenset(ev for x in out.exits if not x.error for ev in x.state.events)
        earlier = {key: (p, api) for key, p, api in sorted(out.unheld) if key not in out.met
                   and any(under(p, q) for q in out.stored)}
        back = _handback(out, fn.cfg.params)
        params = fn.cfg.params
        outcomes = tuple(sorted({(_hands_back(x), x.result, _outs(x.state, params))
                                 for x in out.exits if not x.state.widened},
                                key=str)) if back is not None else ()
        return PathFacts(frozenset(out.examined), tuple(out.met.values()), success,
                         self._leaks(out, caller), out.complete, earlier, back, outcomes,
                         uses=tuple(out.uses.values()), escapes=tuple(out.escapes),
                         names=frozenset(out.names), stored=frozenset(out.stored),
                         callbacks=frozenset(out.callbacks), coarse=coarse,
                         notified=frozenset(out.notified))

    @staticmethod
    def _leaks(out: Outcome, caller: bool = False) -> tuple[Leak, ...]:
        """Exits where some pages may still be held and nobody else owns them: an error
        exit, or a success exit of a function that releases them itself on another path to
        a success exit (it owns them, and forgot them here). In a caller of a wrapper,
        pages handed to a function of another file may have been released there (its
        release helper, p9_release_pages()): no leak is claimed on such a path."""
        releases_itself = any(not x.error and x.state.take == "gone" and x.state.events
                              and not x.state.escaped for x in out.exits)
        leaks: dict[int, Leak] = {}
        for x in out.exits:
            st = x.state
            if st.take != "held" or st.ref == "none" or not st.counts & HELD_COUNTS \
                    or st.widened:  # a leak only on a path the analysis is sure of
                continue
            if caller and (st.late or st.owners):
                # Handed to a callee of another file on the way out (its release helper,
                # p9_release_pages()), or put into an object: it may own them now.
                continue
            if st.count_kept and not st.escaped:
                continue  # *nr_pinned = got: the caller knows what to release
            if st.escaped.startswith(ACQUIRED_INTO) and x.error and "part" in st.counts \
                    and "full" not in st.counts and not st.count_kept:
                # Pinned straight into the caller's object, then a partial pin fails with
                # the count recorded nowhere: whoever tears the object down cannot know
                # how many pages to release.
                why = "partial"
            elif st.escaped:
                continue
            elif x.error:
                why = "partial" if "full" not in st.counts else "error"
            elif releases_itself and not st.lent:
                why = "inconsistent"  # nothing took them on this path, and it keeps them
            else:
                continue
            line = st.jumped or x.line  # "goto err" names the path better than "return"
            leaks.setdefault(line, Leak(line, why))
        return tuple(sorted(leaks.values(), key=lambda k: k.line))

    def find_call(self, fn: Func, line: int, column: int) -> ir.Call | None:
        """The call at (line, column) of ``fn``'s CFG."""
        return self._find_call(fn.cfg, line, column)

    @staticmethod
    def _find_call(g: Cfg, line: int, column: int) -> ir.Call | None:
        for n in g.nodes:
            for e in n.flat:
                if isinstance(e, ir.Call) and e.line == line and e.column == column:
                    return e
        return None

    def may_release(self, name: str) -> bool:
        """Whether function ``name`` calls a release or container API, itself or through
        the unit's functions it calls: only those are worth lowering for their conditions."""
        return self._reaches(name, self._releasing, self._may_release, frozenset())

    def may_touch(self, name: str) -> bool:
        """Whether function ``name`` calls a release, container or use API, itself or
        through the unit's functions it calls: only those can tell where pages it reads
        back out of storage go."""
        return self._reaches(name, self._touching, self._may_touch, frozenset())

    def _reaches(self, name: str, apis: frozenset[str], memo: dict[str, bool],
                 seen: frozenset[str]) -> bool:
        if name not in memo:
            fn = self.funcs[name]
            calls = fn.callees
            if calls is None:
                calls = frozenset(c.name for n in fn.cfg.nodes for c in n.flat
                                  if isinstance(c, ir.Call))
            memo[name] = bool(calls & apis) or any(
                self._external_does(c, apis is self._touching) for c in calls
                if c in self.external and c not in self.funcs) or any(
                self._reaches(c, apis, memo, seen | {name}) for c in calls
                if c in self.funcs and c not in seen and c != name)
        return memo[name]

    def _returns(self, name: str) -> frozenset[str]:
        return frozenset().union(*(e.returns for e in self.external.get(name, {}).values()))

    def _external_does(self, name: str, touch: bool) -> bool:
        """Whether a function of another file releases pages handed to it (or, with
        ``touch``, uses them): it counts as such an API."""
        return any(e.releases or (touch and e.uses) for e in self.external[name].values())

    def param_atoms(self, name: str) -> frozenset[str]:
        """The conditions function ``name`` tests on its parameters (cached)."""
        if not self.may_release(name):
            return frozenset()
        if name not in self._param_atoms:
            self._param_atoms[name] = frozenset()  # recursion guard
            run = _Run(self, self.funcs[name], None, None, "", None, MAX_DEPTH, (name,))
            params = set(run.g.params) - {""}
            self._param_atoms[name] = frozenset(
                a for n in run.g.nodes if n.kind in ("branch", "switch")
                for a in run.atoms(n.expr) if set(_WORD.findall(a)) & params)
        return self._param_atoms[name]

    def summary(self, name: str, params: frozenset[str], ref: str, depth: int,
                stack: tuple[str, ...]) -> Outcome | None:
        """What function ``name`` does with the pages held in ``params`` (parameter names,
        or paths under them: ``p->sgt``): the state at each of its exits, and what it met
        on the way (releases, uses, hand-offs)."""
        key = (name, params, ref)
        if key not in self._summaries:
            self._summaries[key] = None  # recursion: no summary while it is computed
            self._summaries[key] = self.reader(name, params, ref, depth, stack + (name,),
                                               coarse=False)
        return self._summaries[key]

    def reader(self, name: str, paths: frozenset[str], ref: str, depth: int = 0,
               stack: tuple[str, ...] = (), coarse: bool = True,
               valued: frozenset[tuple[int, int]] = frozenset(),
               storage: frozenset[str] = frozenset(),
               types: frozenset[tuple[str, str]] = frozenset()) -> Outcome | None:
        """One run of function ``name`` from its entry with the pages held in ``paths``
        (its parameters, for a summary), or in ``storage``: the struct fields (by name)
        and file-scope variables it reads them back out of, with ``valued`` the calls
        whose value is that storage (an accessor's), and ``types`` the (field, struct) it
        is known to be in: the same field of an object of another struct type is other
        storage. ``coarse``: when its paths are too many to tell apart, join them all."""
        key = (name, paths, ref, valued, storage, types)
        if storage and key in self._readers:
            return self._readers[key]
        out: Outcome | None = None
        # A function reading the pages back out of storage knows nothing of the site's
        # paths: its paths are joined from the start (which releases and uses it reaches
        # is all it can say), and that is much cheaper.
        for joined in (True,) if storage else (False, True)[:1 + coarse]:
            run = _Run(self, self.funcs[name], None, None, ref, None, depth, stack or (name,),
                       coarse=joined, storage=storage, storage_types=types)
            out = run.go(State(take="held", ref=ref, counts=HELD_COUNTS, aliases=paths,
                               valued=valued))
            if out.complete:
                break
            out = None
        if storage:
            self._readers[key] = out
        return out


class _Run:
    """One forward run of the analysis over one function."""

    def __init__(self, an: Analysis, fn: Func, site: ir.Call | None, pages_arg: int | str | None,
                 ref: str, asked: int | None, depth: int, stack: tuple[str, ...],
                 extract: bool = False,
                 outcomes: tuple[Handed, ...] | None = None, coarse: bool = False,
                 storage: frozenset[str] = frozenset(),
                 also: tuple[tuple[int, str], ...] = (),
                 storage_types: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.an = an
        # in a wrapper's caller: (argument, path under it) the wrapper leaves the pages in
        self.also = also
        # A reader run: the struct fields and file-scope variables that hold the pages
        # wherever they are read (matched by name, not by access path).
        self.storage = storage
        self.storage_types: dict[str, set[str]] = {}
        for f, t in storage_types:
            self.storage_types.setdefault(f, set()).add(t)
        self.coarse = coarse  # every state joined: a run that could not tell paths apart
        self.extract = extract  # an iov_iter extraction: pinned only if user-backed
        # In a caller of a wrapper: the site is the wrapper's call, and these are its exits.
        self.outcomes = outcomes
        self.cat = an.cat
        self.fn = fn
        self.g = fn.cfg
        self.site = site
        self.pages_arg = pages_arg
        self.ref = ref
        self.asked = asked
        self.depth = depth
        self.stack = stack
        if not fn.defs:
            fn.defs = single_defs(fn.cfg)
        self.defs = fn.defs
        self._canon: dict[int, tuple[ir.Expr, str]] = {}
        self._in_caller: dict[tuple[str, str, int, int],
                              tuple[str | None, ir.Expr | None]] = {}
        self._per: dict[tuple, tuple] = {}
        self._nterms: dict[int, tuple[ir.Expr, int]] = {}
        self._trips: dict[int, list[int]] = {}  # loop head -> the nodes of every trip
        self.out = Outcome()
        if fn.facts is None:  # what does not depend on the run: once per function
            fn.facts = (self._fresh_locals(), self._origins(),
                        frozenset(n.expr.id for n in self.g.nodes
                                  if n.kind == "return" and isinstance(n.expr, ir.Name)),
                        # every release call, reached or not: those the run never reaches
                        # with the pages held are not theirs
                        frozenset((fn.path, c.line) for n in self.g.nodes for c in n.flat
                                  if isinstance(c, ir.Call) and c.name in self.cat.release
                                  and c.name not in an.defined))
        self.fresh, self.origins, self.returned, examined = fn.facts
        self.out.examined = set(examined)
        self.loop_releases = self._loop_releases()
        self.loop_nodes = frozenset().union(*self.g.loops.values()) if self.g.loops \
            else frozenset()
        self.node = self.g.entry  # the node whose effects are applied
        self.relevant, self.scalars = self._relevant()
        self.known = an.known
        self.array: str | None = None  # the site's page array, before it is filled
        if site is not None and isinstance(pages_arg, int) and pages_arg < len(site.args):
            self.array = path_of(site.args[pages_arg])
            if also and also[0][1].startswith("->") and self.array is not None:
                self.array += also[0][1]  # wrapper(user): the pages land in user->upages

    # ------------------------------------------------------------ what is worth knowing
    def atoms(self, e: ir.Expr | None) -> list[str]:
        """The atomic conditions of a condition (split at ``&&``, ``||`` and ``!``)."""
        if e is None:
            return []
        e = self._strip(e)
        match e:
            case ir.Unary(op="!", arg=a):
                return self.atoms(a)
            case ir.Binary(op=op, left=left, right=r) if op in ("&&", "||"):
                return self.atoms(left) + self.atoms(r)
            case ir.Binary(op=op, left=left, right=r) if op in ("==", "!=") and (
                    _int(r) == 0 or (isinstance(r, ir.Const) and r.text == "NULL")):
                return self.atoms(left)
        return [self.canon(e)]

    def _relevant(self) -> tuple[frozenset[str], frozenset[str]]:
        """The conditions worth remembering on a path (tested twice in the function, or
        tested by a helper it calls on one of its arguments, or, in a helper, on one of
        its parameters) and the scalar locals worth a value class (tested or returned).
        Remembering every condition would multiply the states for nothing."""
        seen: dict[str, int] = {}
        scalars: set[str] = set()
        for n in self.g.nodes:
            if n.kind in ("branch", "switch") and n.expr is not None:
                for a in set(self.atoms(n.expr)):
                    seen[a] = seen.get(a, 0) + 1
                scalars.update(ir.show(x) for x in _tested(n.expr)
                               if isinstance(x, ir.Member) or x.id in self.g.locals)
            elif n.kind == "return" and isinstance(n.expr, ir.Name):
                scalars.add(n.expr.id)
        rel = {a for a, k in seen.items() if k >= 2}
        if self.site is None:  # a summary: conditions on parameters decide its outcomes
            params = set(self.g.params) - {""}
            rel |= {a for a in seen if set(_WORD.findall(a)) & params}
        labelled: set[str] = set()
        for n in self.g.nodes:
            if n.kind == "branch":
                labelled.update(self.canon(x.left) for x in _leaves(n.expr, self.cat)
                                if isinstance(x, ir.Binary) and _labelled(x))
        for n in self.g.nodes:
            for c in n.flat:
                if isinstance(c, ir.Call) and c.name in self.an.funcs and c.name not in self.stack:
                    formals = self.an.funcs[c.name].cfg.params
                    subst = {p: self.canon(a) for p, a in zip(formals, c.args, strict=False)
                             if p and (path_of(a) is not None or isinstance(a, ir.Const))}
                    plain = {p: ir.show(a) for p, a in zip(formals, c.args, strict=False)
                             if p in subst}
                    for atom in self.an.param_atoms(c.name):
                        t, bound = self._bound(atom, c)
                        if t is not None:
                            rel.add(t)
                            if isinstance(bound, ir.Binary) and _labelled(bound):
                                labelled.add(self.canon(bound.left))
                            v = _rename(atom, plain, frozenset(formals).difference(subst))
                            if v is not None and _PATH.fullmatch(v):
                                scalars.add(v)  # its value decides the helper's path
        self.labelled = frozenset(labelled)  # values compared with enum-like constants
        return frozenset(rel), frozenset(scalars)

    # ------------------------------------------------------------ driver
    def go(self, start: State) -> Outcome:
        """Run to a fixpoint. States at a node that agree on what the path knows (take,
        reference, facts, escape, goto, scalar values) are joined: their counts, aliases and
        releases are unioned. Paths stay apart where their conditions differ."""
        seen: list[dict[tuple, State]] = [{} for _ in self.g.nodes]
        work: list[tuple[int, State]] = [(self.g.entry, start)]
        steps = 0
        while work:
            node, st = work.pop()
            at = seen[node]
            if self.coarse and (st.env or st.facts or not st.widened):
                st = replace(st, env=frozenset(), facts=frozenset(), widened=True)
            key = _key(st)
            if len(at) >= MAX_STATES and key not in at:
                # Widen: forget the scalar values, but those the function returns (its
                # error code decides which exits are error exits).
                st = replace(st, env=frozenset(kv for kv in st.env if kv[0] in self.returned),
                             widened=True)
                key = _key(st)
            old = at.get(key)
            if old is not None:
                st = _join(old, st)
                if st == old:
                    continue
            elif len(at) >= 4 * MAX_STATES:
                self.out.complete = False
                continue
            at[key] = st
            if st.take != "none":
                self.out.names |= st.aliases | st.owners
            steps += 1
            if steps > MAX_STEPS:
                self.out.complete = False
                break
            for nxt, new in self.step(node, st):
                work.append((nxt, new))
        return self.out

    def step(self, i: int, st: State) -> list[tuple[int, State]]:
        self.node = i
        n = self.g.nodes[i]
        if n.kind == "goto":
            st = replace(st, jumped=n.line, late=False) if st.take == "held" else st
        if n.kind in ("entry", "join", "exit", "goto"):
            return [(j, st) for j, _ in n.succ]
        states = self.apply(n.effects, st)
        if n.kind == "eval":
            return [(j, s) for s in states for j, _ in n.succ]
        if n.kind == "return":
            for s in states:
                for part in self._by_count(n.expr, s):
                    part = self._returned(n.expr, part)
                    self.out.exits.append(Exit(n.line, part, self._is_error(n.expr, part),
                                               self._result_class(n.expr, part)))
            return []
        out: list[tuple[int, State]] = []
        loop = i in self.g.loops
        for s in states:
            for j, edge in n.succ:
                if n.kind == "switch":
                    sw = self.refine_switch(n.expr, edge, s)
                    got = [sw] if sw is not None else []
                else:
                    got = self.refine(n.expr, bool(edge), s, persist=not loop)
                    if loop and edge is False:
                        got = [self._loop_exit(i, g) for g in got]
                # Lent before a test the path then passed: the test was on what the callee
                # did (if (submit(...)) return ret). After a goto into a cleanup label, a
                # callee taking the pages is the cleanup's: it stays lent.
                out.extend((j, replace(g, late=False) if g.late and not g.jumped else g)
                           for g in got)
        return out

    # ------------------------------------------------------------ effects
    def apply(self, effects: list[ir.Expr], st: State) -> list[State]:
        """The states after a node's calls, assignments and increments (ir.effects)."""
        states = [st]
        for x in effects:
            nxt: list[State] = []
            for s in states:
                if isinstance(x, ir.Ternary):  # c ? f(a) : g(b): one arm per path
                    for arm, value in ((x.then, True), (x.other, False)):
                        for r in self.refine(x.cond, value, s, persist=False):
                            nxt.extend(self.apply(ir.effects(arm), r))
                elif isinstance(x, ir.Binary):  # a && f(b): f runs where a is true
                    runs = x.op == "&&"
                    for r in self.refine(x.left, runs, s, persist=False):
                        nxt.extend(self.apply(ir.effects(x.right), r))
                    nxt.extend(self.refine(x.left, not runs, s, persist=False))
                elif isinstance(x, ir.Call):
                    nxt.extend(self.call(x, s))
                elif isinstance(x, ir.Assign):
                    nxt.extend(self._assign_count(x, s))
                else:
                    assert isinstance(x, ir.Unary)
                    nxt.append(self._forget(s, x.arg))
            states = nxt
        return states

    def carries(self, e: ir.Expr | None, st: State) -> bool:
        """Whether a value holds the pages (or one of them, or an object holding them)."""
        if not st.aliases and not st.owners and not st.valued and not self.storage:
            return False  # nothing holds them yet (the paths before the acquisition)
        match e:
            case ir.Ternary(then=t, other=o):
                return self.carries(t, st) or self.carries(o, st)
            case ir.Call(name=name, args=args) if (name in self.cat.accessors
                                                   or name in self.cat.addresses):
                return any(self.carries(a, st) for a in args)
            case ir.Binary(op=op, left=left) if op in ("+", "-"):
                return self.carries(left, st)  # page_address(page) + offset
            case ir.Call(line=line, column=col) if (line, col) in st.valued:
                return True  # wdata = writedata_alloc(pages): a helper that keeps them
            case ir.Seq(items=items) if items:
                return self.carries(items[-1], st)
            case ir.Assign(value=v):
                return self.carries(v, st)
        p = path_of(e)
        if p is None:
            return False
        if any(under(p, a) for a in st.aliases) or any(under(p, a) for a in st.owners):
            return True
        return bool(self.storage) and st.take == "held" and self._in_storage(p)

    def _in_storage(self, p: str) -> bool:
        """Whether path ``p`` reads the storage a reader run starts from: one of the struct
        fields (by name, whichever object: ``x->pages``, ``y->sgt.pages[i]``) or a
        file-scope variable not shadowed here."""
        parts = _SPLIT.split(p)
        base = parts[0].removesuffix("[]")
        if base in self.storage and base not in self.g.locals and base not in self.g.params:
            return True
        if len(parts) == 2 and base in self.g.types:  # x->f of a struct type we know
            known = self.storage_types.get(parts[1].removesuffix("[]"))
            if known and self.g.types[base] not in known:
                return False  # the same field name in another struct
        return any(q.removesuffix("[]") in self.storage for q in parts[1:])

    def holds(self, e: ir.Expr | None, st: State) -> bool:
        """Whether a value is an object some of whose fields hold the pages (``obj`` when
        ``obj->pages`` does), or a container of them."""
        p = path_of(e)
        if p is None:
            return False
        return any(under(a, p) and a != p for a in st.aliases) or any(
            under(o, p) or under(p, o) for o in st.owners)

    def _nonlocal_path(self, p: str) -> bool:
        """A field path whose object is not one this function allocated or declared (a
        struct on the stack: ``b.pages``)."""
        base = _base(p)
        on_stack = base in self.g.locals and "." in p and "->" not in p  # b.pages, b.x.y
        return base not in self.fresh and not on_stack

    def _nonlocal(self, target: ir.Expr) -> bool:
        """A store whose storage outlives the function: a field of an object not allocated
        here, a file-scope variable, or through a pointer parameter (``*out = ...``)."""
        p = path_of(target)
        if p is None:
            return True
        base = _base(p)
        if isinstance(target, ir.Name):
            return base not in self.g.locals and base not in self.g.params
        if isinstance(target, ir.Unary) and target.op == "*":
            return base not in self.fresh  # *out = ...: through a pointer
        return self._nonlocal_path(p)

    def call(self, c: ir.Call, st: State) -> list[State]:
        for a in c.args:  # f(&x) may write x: what the path knew of it goes
            if isinstance(a, ir.Unary) and a.op == "&" and isinstance(a.arg, ir.Name | ir.Member):
                st = self._forget(st, a.arg)
        out = self._call(c, st)
        if c.name not in self.known:  # f(obj) may set obj's fields
            out = [self._forget_fields(s, c) for s in out]
        return out

    def _forget_fields(self, st: State, c: ir.Call) -> State:
        for a in c.args:
            if isinstance(a, ir.Name) and st.env:
                prefix = a.id + "->"
                if any(k.startswith(prefix) for k, _ in st.env):
                    st = replace(st, env=frozenset(kv for kv in st.env
                                                   if not kv[0].startswith(prefix)))
        return st

    def _call(self, c: ir.Call, st: State) -> list[State]:
        cat = self.cat
        if self.site is not None and c is self.site:
            if self.outcomes is None:
                return [self._acquire(st)]
            out = []
            for held, result, outs in self.outcomes:  # a path per kind of exit of the wrapper
                s = replace(self._acquire(st), counts=frozenset({"full"})) if held else st
                if (held and result is None) or st.take == "held":
                    # A value we cannot class (a status macro), or a loop calling the
                    # wrapper chunk by chunk (its cleanup gated on how far it got): which
                    # of the caller's paths hold pages is not known, so no leak is claimed.
                    s = replace(s, widened=True)
                s = replace(s, pending=result or "any")
                for k, cls in outs:  # wrapper(..., &need_drop): what it set there
                    a = c.args[k] if k < len(c.args) else None
                    if isinstance(a, ir.Unary) and a.op == "&" and isinstance(a.arg, ir.Name):
                        s = replace(s, env=s.env | {(a.arg.id, cls)})
                out.append(s)
            return list(dict.fromkeys(out))
        name = c.name
        local = name in self.an.defined
        if name in cat.release and not local and cat.release[name].arg < len(c.args):
            arg = c.args[cat.release[name].arg]
            p = path_of(arg)
            if p is not None and (st.take == "none" or not (self.carries(arg, st)
                                                            or self.holds(arg, st))):
                self.out.unheld.add(((self.fn.path, c.line), p, name))
        if name not in self.an.funcs and not local and name not in self.known and any(
                isinstance(a, ir.Name) and a.id in self.an.funcs for a in c.args):
            self._register(c)
        if name in cat.notifiers and not local:
            # the object an MMU notifier is registered with (&obj->notifier: obj), before or
            # after its pages were taken
            self.out.notified.update(_base(p) for a in c.args[:1] if (p := path_of(a)))
        if st.take == "none":
            return [st]
        if name in cat.use and not local and st.take == "held" and any(
                self.carries(a, st) or self.holds(a, st) for a in c.args):
            key = (self.fn.path, c.line, name)
            if key not in self.out.uses:
                self.out.uses[key] = Use(cat.use[name], name, c.line, self.fn.name, "",
                                         _direction(c, cat), self.fn.path)
        if name in cat.acquire and not local:
            # Another acquisition into the same array: it holds other pages from now on.
            into = cat.acquire[name].pages_arg(len(c.args))
            if isinstance(into, int) and into < len(c.args):
                p = path_of(c.args[into])
                if p is not None and p in st.aliases and p == ir.show(c.args[into]):
                    return [replace(st, aliases=st.aliases - {p})]
            return [st]
        if name in cat.release and not local:
            spec = cat.release[name]
            # bio_release_pages(bio): a release of the object that holds them, too.
            if spec.arg < len(c.args) and (self.carries(c.args[spec.arg], st)
                                           or self.holds(c.args[spec.arg], st)):
                # pages[i] one at a time, in a loop: a batch release could take the array
                return [self._release(st, name, spec.kind, c.line,
                                      in_loop=isinstance(c.args[spec.arg], ir.Index)
                                      and self.node in self.loop_nodes)]
            return [st]
        if name in cat.containers and not local:
            k = cat.containers[name]
            if k < len(c.args) and any(self.carries(a, st) for j, a in enumerate(c.args)
                                       if j != k):
                p = path_of(c.args[k])
                if p is not None:
                    st = self._own(st, p)
            return [st]
        if name in cat.iterators and not local:
            src, item = cat.iterators[name]
            if max(src, item) < len(c.args):
                p = path_of(c.args[item])
                if p is not None and self.carries(c.args[src], st):
                    st = replace(st, aliases=st.aliases | {p})
                elif p is not None and (p in st.aliases or p in st.owners):
                    # sg_set_page(sg, ...) inside for_each_sg(sgt->sgl, sg, ...): the pages
                    # went into what the loop walks.
                    q = path_of(c.args[src])
                    if q is not None:
                        st = self._own(st, q)
            return [st]
        if name in self.an.funcs and name not in self.stack and self.depth < MAX_DEPTH:
            got = self._enter(c, st)
            if got is not None:
                return got
        if not name and isinstance(c.callee, ir.Member) and self.depth < MAX_DEPTH:
            got = self._indirect(c, st)
            if got is not None:
                return got
        if name in self.an.external and name not in self.an.funcs:
            got = self._external(c, st)
            if got is not None:
                return got
        if name in cat.use or name in cat.neutral or name in cat.accessors or (
                name in cat.device_address or name in cat.physical):
            return [st]  # page_to_phys(page) computes an address: where it goes decides
        if not (st.aliases or st.owners or st.valued or st.addrs or st.phys or self.storage):
            return [st]  # nothing holds the pages or an address of them: none is handed on
        callee = name or (ir.show(c.callee) if c.callee is not None else "a pointer")
        if st.take == "held" and any(self._address(a, st, physical=True) for a in c.args):
            # a hypercall given an sg list of physical addresses: a device, the IOMMU,
            # firmware or the hypervisor uses the memory (pin_user_pages.rst case 2)
            self.out.uses.setdefault((self.fn.path, c.line, callee), Use(
                "dma", callee, c.line, self.fn.name, "", "", self.fn.path))
        if any(self.holds(a, st) or (path_of(a) in st.owners) or self._beside(a, st)
               for a in c.args):
            self._escape(st, callee)
            return [replace(st, escaped=st.escaped or f"handed to {callee}()")]
        if any(self._address(a, st) for a in c.args):
            # map(pfn) / memory_failure(pfn, MF_COUNT_INCREASED): by address, for keeps
            self._escape(st, callee)
            return [replace(st, escaped=st.escaped or f"handed by address to {callee}()")]
        if any(self.carries(a, st) for a in c.args):
            self._escape(st, callee)
            return [replace(st, lent=True, late=True)]  # a callee we cannot see may keep them
        return [st]

    def _external(self, c: ir.Call, st: State) -> list[State] | None:
        """A call of a function of another file whose summary (``Effect``) is known: its
        releases and uses happen here, and it keeps the pages or lends them."""
        if st.take != "held":
            return None
        hit = [e for k, e in self.an.external[c.name].items()
               if k < len(c.args) and (self.carries(c.args[k], st) or self.holds(c.args[k], st))]
        if not hit:
            return None
        for e in hit:
            for u in e.uses:
                self.out.uses.setdefault((u.path, u.line, u.api), u if u.via else Use(
                    u.evidence, u.api, u.line, u.function, c.name, u.direction, u.path))
            self.out.escapes.update(dict.fromkeys(e.escapes))
        released = [r for e in hit for r in e.releases]
        for r in released:
            st = self._release(st, r.api, r.kind, r.line, r.in_loop,
                               via=", ".join(v for v in (c.name, r.via) if v),
                               path=r.path, function=r.function)
        if released:
            return [st]
        if any(e.kept for e in hit):
            return [replace(st, escaped=st.escaped or f"kept by {c.name}()")]
        return None

    def _indirect(self, c: ir.Call, st: State) -> list[State] | None:
        """``ops->release(obj)``: the functions of the unit an ops table names for that
        field (``.release = foo_release``), each entered as if called."""
        assert isinstance(c.callee, ir.Member)
        targets = sorted(self.an.handlers.get(c.callee.field, frozenset())
                         & self.an.funcs.keys() - set(self.stack))
        out: list[State] = []
        for t in targets:
            got = self._enter(ir.Call(t, c.args, c.line, c.column), st)
            out.extend(s for s in got or () if s not in out)
        return out or None

    def _register(self, c: ir.Call) -> None:
        """A function of the unit taking one parameter, passed by name next to values that
        name places (``devm_add_action(dev, release, obj)``, ``kunit_add_action_or_reset(
        test, fn, data)``): it may be called back with one of them. Recorded whether or
        not the pages are there yet (a release registered before the object is filled);
        ``flow`` picks the one that holds the pages."""
        funcs = [a.id for a in c.args if isinstance(a, ir.Name) and a.id in self.an.funcs
                 and a.id not in self.stack and len(self.an.funcs[a.id].cfg.params) == 1]
        data = [p for a in c.args if not (isinstance(a, ir.Name) and a.id in funcs)
                and (p := path_of(a)) is not None and not isinstance(a, ir.Const)]
        if len(funcs) == 1 and data:
            self.out.callbacks.add((funcs[0], tuple(data)))

    def _escape(self, st: State, callee: str) -> None:
        if st.take == "held":
            self.out.escapes[f"{callee}()"] = None

    def _address(self, a: ir.Expr, st: State, physical: bool = False) -> bool:
        """A pfn or physical address of the pages (only a physical one, with ``physical``):
        page_to_pfn(page), PFN_PHYS(pfn), or a path the path stored one in."""
        match a:
            case ir.Call(name=n, args=args) if n in self.cat.physical:
                return any(self.carries(x, st) or self._address(x, st) for x in args)
            case ir.Call(name=n, args=args) if n in self.cat.device_address:
                return any(self.carries(x, st) or self._address(x, st, physical)
                           for x in args) and not physical
            case ir.Binary(left=left, right=r):
                return self._address(left, st, physical) or self._address(r, st, physical)
        p = path_of(a)
        # a path holding one, or an object (an sg list) some of whose fields do
        return p is not None and any(under(q, p) for q in (st.phys if physical else st.addrs))

    def _beside(self, a: ir.Expr, st: State) -> bool:
        """``&obj->ref`` where ``obj->pages`` holds the pages: the callee reaches the whole
        object (container_of), as kref_put(&obj->ref, release) and list_add(&obj->node)."""
        if not (isinstance(a, ir.Unary) and a.op == "&" and isinstance(a.arg, ir.Member)):
            return False
        obj = path_of(a.arg.base)
        return obj is not None and any(under(x, obj) for x in st.aliases | st.owners)

    def _own(self, st: State, p: str) -> State:
        """The pages are put into container ``p`` (an sg table, a bio): the container is
        the caller's when it lives in a parameter or a file-scope variable."""
        origin = self.origins.get(p)
        if origin is not None:  # sg = rm->data.op_sg; ... sg++: the pages go into rm's table
            st = replace(st, owners=st.owners | {origin})
            p = origin
        st = replace(st, owners=st.owners | {p})
        base = _base(p)
        if base in self.g.params or base not in self.g.locals:
            st = replace(st, escaped=st.escaped or f"put into {p}")
        return st

    def _acquire(self, st: State) -> State:
        counts = ALL_COUNTS - ({"part"} if self.asked == 1 else set())
        if st.take == "held" and not st.escaped and not st.count_kept \
                and st.counts & HELD_COUNTS:
            counts |= {"more"}  # again, in a loop: the earlier pages are still ours
        aliases: frozenset[str] = frozenset()
        escaped = ""
        if self.also and self.site is not None:  # a wrapper's caller
            placed = set()
            for k, rest in self.also:  # wrapper(..., &pfn, pages), wrapper(pdata, region)
                arg = self.site.args[k] if k < len(self.site.args) else None
                q = path_of(arg)
                if q is None:
                    continue
                if rest.startswith("->") and isinstance(arg, ir.Unary) and arg.op == "&":
                    rest = "." + rest[2:]
                placed.add(q + rest)
            if placed:
                aliases = frozenset(placed) | st.copies
        elif isinstance(self.pages_arg, int) and self.site is not None \
                and self.pages_arg < len(self.site.args):
            arg = self.site.args[self.pages_arg]
            p = path_of(arg)
            if p is not None and not (isinstance(arg, ir.Const)):
                aliases = frozenset({p}) | st.aliases | st.copies  # its copies hold them
        elif self.pages_arg == "return":
            counts = frozenset({"err", "zero", "full"})
        for q in sorted(aliases):  # pages = region->pages + done: the caller's array
            if (("->" in q or "." in q) and self._nonlocal_path(q)) or (
                    "->" not in q and "." not in q and "[" not in q
                    and q not in self.g.locals and q not in self.g.params):
                escaped = ACQUIRED_INTO + q
                self.out.stored.add(q)
                break
        # Again, in a loop, after the earlier pages went into a container (sg_set_page()
        # into the caller's table): that container still holds pages of this site, which
        # an unwind may release (``while (t->nents > n) unpin(sg_page(&t->sgl[...]))``).
        owners = st.owners if st.take == "held" and st.escaped.startswith("put into ") \
            else frozenset()
        return replace(st, take="held", ref=self.ref, counts=counts, count_in=None,
                       aliases=aliases, owners=owners, escaped=escaped)

    def _release(self, st: State, api: str, kind: str, line: int, in_loop: bool,
                 via: str = "", path: str | None = None, function: str | None = None
                 ) -> State:
        if st.take == "none" or st.ref == "none":
            return st
        wrong = (kind == "get" and st.ref == "pin") or (kind == "pin" and st.ref == "get")
        key = (path or self.fn.path, line)
        old = self.out.met.get(key)
        if old is None or (not old.sure and not st.widened):
            self.out.met[key] = Met(api, kind, key[0], line, function or self.fn.name, via,
                                    in_loop, wrong, sure=not st.widened)
        return replace(st, take="gone", events=st.events | {key})

    def _assign_count(self, a: ir.Assign, st: State) -> list[State]:
        """``n = got`` / ``start += got`` into a scalar that is tested later: one state per
        kind of count, so that ``if (start) unpin(pages, start)`` knows start > 0 exactly
        where pages were taken."""
        target = a.target
        if not (st.take == "held" and isinstance(target, ir.Name) and a.op in ("=", "+=")
                and target.id in self.scalars and self._is_count(a.value, st)
                and len(st.counts) > 1):
            return [self.assign(a, st)]
        prior = _env_get(st.env, target)
        out = []
        cls: str | None
        for group in (st.counts & {"err"}, st.counts & {"zero"}, st.counts & HELD_COUNTS):
            if not group:
                continue
            s = self.assign(a, replace(st, counts=group))
            if a.op == "=":
                cls = "neg" if group == {"err"} else "zero" if group == {"zero"} else "pos"
            elif group == {"zero"}:
                cls = prior
            elif group <= HELD_COUNTS and prior in (None, "zero", "pos"):
                cls = "pos"
            else:
                cls = None
            env = frozenset(kv for kv in s.env if kv[0] != target.id)
            s = replace(s, env=env | {(target.id, cls)} if cls else env)
            out.append(s)
        return out

    def assign(self, a: ir.Assign, st: State) -> State:
        target = a.target
        tp = path_of(target)
        if self.array is not None and tp is not None and not isinstance(target, ir.Index):
            # Copies of the pointer to the array the acquisition fills (info->pages = pages;
            # ... pin_user_pages(..., pages)): they see the pages it puts there.
            vp = path_of(a.value)
            if tp == self.array:
                st = replace(st, copies=frozenset({vp}) if vp and a.op == "=" else frozenset())
            elif vp is not None and (vp == self.array or vp in st.copies):
                st = replace(st, copies=st.copies | {tp})
            elif tp in st.copies and "[]" not in tp:
                st = replace(st, copies=st.copies - {tp})
        if self.outcomes is not None and a.value is self.site:
            # ret = wrapper(...): ret holds what the wrapper returned on this path.
            cls = st.pending
            st = replace(self._forget(st, target), pending=None)
            if isinstance(target, ir.Name | ir.Member) and cls and cls != "any":
                text = ir.show(target)
                st = replace(st, env=frozenset(kv for kv in st.env if kv[0] != text)
                             | {(text, cls)})
            if st.take == "held" and self.pages_arg == "return" and tp is not None:
                st = replace(st, aliases=st.aliases | {tp})
            return st
        if self.site is not None and a.value is self.site or (
                isinstance(a.value, ir.Ternary) and self.site in (a.value.then, a.value.other)):
            if st.take == "held" and tp is not None:
                st = replace(st, count_in=ir.show(target))
                if self.pages_arg == "return":
                    st = replace(st, aliases=st.aliases | {tp})
            return st
        if st.take == "held" and tp is not None and self._nonlocal(target) and (
                self._mentions_count(a.value, st) or (
                    st.escaped.startswith(ACQUIRED_INTO)
                    and _base(tp) == _base(st.escaped[len(ACQUIRED_INTO):]))):
            # dma->nr_pages = got, or vsg->state = LOCKED in the object the pages went
            # into: whoever tears it down is told what it holds.
            st = replace(st, count_kept=True)
        if st.take == "held" and tp is not None and a.op in ("=", "+=", "|=") and \
                self._address(a.value, st):
            # map_pfn = page_to_pfn(pages[0]); sg[i].addr = page_to_phys(pages[i])
            st = replace(st, addrs=st.addrs | {tp})
            if self._address(a.value, st, physical=True):
                st = replace(st, phys=st.phys | {tp})
        if st.take != "none" and tp is not None and a.op == "=":
            if self.carries(a.value, st) or self.holds(a.value, st):
                st = replace(st, aliases=st.aliases | {tp}) if self.carries(a.value, st) \
                    else replace(st, owners=st.owners | {tp})
                if self._nonlocal(target) and not (
                        isinstance(target, ir.Index) and tp in self.g.params):
                    # pages[i] = p into the caller's array is no hand-over; into a field
                    # of the caller's object (ubuf->pinned[n++] = p) it is.
                    st = replace(st, escaped=st.escaped or f"kept in {tp}")
                    self.out.stored.add(tp)
                return self._forget(st, target, keep_paths=True)
            if not isinstance(target, ir.Index) and "[]" not in tp:  # chunk[i].p = another
                st = replace(st, aliases=frozenset(x for x in st.aliases if not under(x, tp)),
                             owners=frozenset(x for x in st.owners if not under(x, tp)))
        st = self._forget(st, target)
        text = ir.show(target)
        if a.op == "=" and self.labelled and isinstance(target, ir.Name | ir.Member) and \
                _label(a.value) is not None and (t := self.canon(target)) in self.labelled:
            # bo->type = TYPE_PFN: a helper's "if (bo->type == TYPE_PFN)" is decided
            st = replace(st, facts=frozenset(f for f in st.facts if f[0] != t)
                         | {(t, frozenset({_label(a.value)}))})
        if a.op == "=" and isinstance(target, ir.Unary) and target.op == "*" and \
                isinstance(target.arg, ir.Name) and target.arg.id in self.g.params:
            cls = _env_class(a.value, st, self.cat)  # *need_drop = 1: an out parameter
            if cls is not None:
                st = replace(st, env=frozenset(kv for kv in st.env if kv[0] != text)
                             | {(text, cls)})
        if a.op == "=" and isinstance(target, ir.Name | ir.Member) and text in self.scalars:
            cls = _env_class(a.value, st, self.cat)
            if cls is None and self.carries(a.value, st):
                cls = "nonzero"  # a pointer to the pages held
            if cls is None and isinstance(target, ir.Member) and target.arrow and \
                    (ir.show(target.base) + _ZERO_FIELDS, "zero") in st.env:
                cls = "any"  # no longer the zero the allocation left there
            if cls is not None:
                st = replace(st, env=st.env | {(text, cls)})
        if a.op == "=" and isinstance(target, ir.Name) and isinstance(a.value, ir.Call) \
                and a.value.name in self.cat.zeroing and target.id in self.g.locals:
            st = replace(st, env=st.env | {(target.id + _ZERO_FIELDS, "zero")})
        return st

    def _forget(self, st: State, target: ir.Expr, keep_paths: bool = False) -> State:
        """What the path knew about a value it has just overwritten."""
        text = ir.show(target)
        if st.count_in == text:
            st = replace(st, count_in=None)
        if not st.facts and not st.env:
            return st
        env = frozenset(kv for kv in st.env if kv[0] != text and not (
            kv[0].startswith(text) and kv[0][len(text):len(text) + 2] == "->"))
        if isinstance(target, ir.Member) and target.arrow and \
                (ir.show(target.base) + _ZERO_FIELDS, "zero") in env:
            env |= {(text, "any")}  # no longer the zero the allocation left there
        facts = st.facts
        if any(text in f[0] for f in facts):
            rx = re.compile(rf"(?<![\w>.]){re.escape(text)}(?![\w])")
            facts = frozenset(f for f in st.facts if not rx.search(f[0]))
        if env != st.env or facts != st.facts:
            st = replace(st, env=env, facts=facts)
        return st

    def _returned(self, value: ir.Expr | None, st: State) -> State:
        if st.take != "none" and value is not None and (
                self.carries(value, st) or self.holds(value, st)):
            self.out.escapes["return"] = None  # even released: the caller is given them
        if st.take != "held" or value is None:
            return st
        if self.carries(value, st) or self.holds(value, st):
            return replace(st, escaped=st.escaped or "returned")
        if self._is_count(value, st) and st.counts & HELD_COUNTS:
            # "return got;" with pages in the caller's array: the caller owns what it got.
            return replace(st, escaped=st.escaped or "count returned")
        return st

    def _by_count(self, value: ir.Expr | None, st: State) -> list[State]:
        """``return got;``: one exit per kind of count (an error, none, some pages), since
        the caller tells them apart by the value."""
        if value is None or not self._is_count(value, st) or len(st.counts) < 2:
            return [st]
        groups = (st.counts & {"err"}, st.counts & {"zero"}, st.counts & HELD_COUNTS)
        return [replace(st, counts=g) for g in groups if g]

    def _result_class(self, value: ir.Expr | None, st: State) -> str | None:
        """The class of what a return hands back: zero, neg, pos or nonzero (None: not
        known), for the callers of a function that hands the pages back."""
        if value is None:
            return None
        if self._is_error(value, st):
            return "neg" if not (isinstance(value, ir.Const) and value.text == "NULL") \
                else "zero"
        k = _int(value)
        if k is not None:
            return "zero" if k == 0 else "pos" if k > 0 else "neg"
        if self._is_count(value, st):
            held = st.counts - {"more"}
            return "pos" if held and held <= {"part", "full"} else None
        if st.take == "held" and (self.carries(value, st) or self.holds(value, st)):
            return "pos"  # the pages, or the object holding them: a valid pointer
        return _env_get(st.env, value)

    def _is_error(self, value: ir.Expr | None, st: State) -> bool:
        """Whether a return hands back an error: a negative errno, an error pointer, an error
        variable (``ret`` after ``if (ret)``), or a count that is negative on this path."""
        match value:
            case None:
                return False
            case ir.Ternary(then=t, other=o):
                return self._is_error(t, st) and self._is_error(o, st)
            case ir.Call(name=n) if n in self.cat.error_pointer or n in self.cat.error_code:
                return True
        k = _int(value)
        if k is not None:
            return k < 0
        if isinstance(value, ir.Const) and value.text == "NULL":
            return True  # a function handing back an object returns NULL when it failed
        if self._is_count(value, st):
            return st.counts - {"more"} <= {"err"}  # this call's count, not earlier pages
        if isinstance(value, ir.Name):
            cls = dict(st.env).get(value.id)
            if cls is not None and value.id in self.g.pointers:
                return cls == "neg"  # a pointer known non-NULL is no error
            if cls is not None:
                return cls in ("neg", "nonzero")
            d = self.defs.get(value.id)
            if d is not None and d is not self.site and not isinstance(d, ir.Name):
                if self._is_error(d, st):
                    return True
            # "ret = setup(); if (ret) goto err; ... err: return ret;": an int known to be
            # non-zero on this path is an error code (kernel convention), a pointer is not.
            return value.id in self.g.locals and value.id not in self.g.pointers and \
                self.eval(value, st) is True
        return False

    # ------------------------------------------------------------ conditions
    def canon(self, e: ir.Expr, depth: int = 0) -> str:
        """A condition's value as text, locals assigned once replaced by their value."""
        key = id(e)
        got = self._canon.get(key)
        if got is None or got[0] is not e:
            value = self._subst(e, depth)
            got = (e, ir.show(value))
            self._canon[key] = got
            self.fn.atoms.setdefault(got[1], value)
        return got[1]

    def in_caller(self, text: str, c: ir.Call) -> str | None:
        """A fact of the callee of ``c`` (its canonical text) in this function's terms:
        its parameters bound to the call's arguments, then canonical here (so a helper's
        ``if (shm->flags & F)`` meets this function's ``if (flags & F)`` when it stored
        ``shm->flags = flags``). None if it names a callee local, or a parameter whose
        argument is no plain value."""
        return self._bound(text, c)[0]

    def _bound(self, text: str, c: ir.Call) -> tuple[str | None, ir.Expr | None]:
        """``in_caller``, with the bound value (None when only the text is known)."""
        key = (text, c.name, c.line, c.column)
        if key in self._in_caller:
            return self._in_caller[key]
        callee = self.an.funcs[c.name]
        value = callee.atoms.get(text)
        params = callee.cfg.params
        bind = {p: a for p, a in zip(params, c.args, strict=False)
                if p and (path_of(a) is not None or isinstance(a, ir.Const))}
        blocked = callee.cfg.locals | frozenset(params).difference(bind)
        got: tuple[str | None, ir.Expr | None]
        if value is None:
            got = (_rename(text, {p: self.canon(a) for p, a in bind.items()}, blocked), None)
        else:
            bound = _bind(value, bind, blocked)
            got = (self.canon(bound), bound) if bound is not None else (None, None)
        self._in_caller[key] = got
        return got

    def _subst(self, e: ir.Expr, depth: int = 0) -> ir.Expr:
        if e is self.site:
            return ir.Name(COUNT)
        match e:
            case ir.Name(id=i) if i in self.defs and depth < 4:
                return self._subst(self.defs[i], depth + 1)
            case ir.Call(name=n, args=args) if n in self.cat.transparent and args:
                return self._subst(args[0], depth)
            case ir.Unary(op="!", arg=ir.Unary(op="!", arg=a)):
                return self._subst(a, depth)
            case ir.Member(base=b, field=f, arrow=a):
                if depth < 4 and self.defs and (t := ir.show(e)) in self.defs:
                    return self._subst(self.defs[t], depth + 1)
                return ir.Member(self._subst(b, depth), f, a)
            case ir.Unary(op=op, arg=a):
                return ir.Unary(op, self._subst(a, depth))
            case ir.Binary(op=op, left=left, right=r):
                return _mask(ir.Binary(op, self._subst(left, depth), self._subst(r, depth)))
            case ir.Call(name=n, args=args, callee=c):
                return ir.Call(n, tuple(self._subst(a, depth) for a in args), 0, 0, c)
        return e

    def _strip(self, e: ir.Expr) -> ir.Expr:
        while True:
            match e:
                case ir.Call(name=n, args=args) if n in self.cat.transparent and args:
                    e = args[0]
                case ir.Unary(op="!", arg=ir.Unary(op="!", arg=a)):
                    e = a
                case ir.Assign(target=t):
                    e = t  # if ((ret = f()) < 0): the value is ret's
                case _:
                    return e

    def _is_count(self, e: ir.Expr, st: State) -> bool:
        if st.take == "none":
            return False
        e = self._strip(e)
        if self.outcomes is not None:
            return False  # a wrapper's value is a status (st.pending), not a page count
        if e is self.site:
            return True
        if st.count_in is not None and ir.show(e) == st.count_in:
            return True
        return self.site is not None and isinstance(e, ir.Name) and \
            self.defs.get(e.id) is self.site

    def _mentions_count(self, e: ir.Expr, st: State) -> bool:
        match e:
            case ir.Binary(left=left, right=r):
                return self._mentions_count(left, st) or self._mentions_count(r, st)
            case ir.Unary(arg=a):
                return self._mentions_count(a, st)
            case ir.Call(args=args):
                return any(self._mentions_count(a, st) for a in args)
        return self._is_count(e, st)

    def eval(self, e: ir.Expr | None, st: State) -> bool | None:
        """The condition's truth on this path: True, False or None (not known)."""
        if e is None:
            return None
        e = self._strip(e)
        if isinstance(e, ir.Unary) and e.op == "!":
            v = self.eval(e.arg, st)
            return None if v is None else not v
        if isinstance(e, ir.Binary) and e.op in ("&&", "||"):
            a, b = self.eval(e.left, st), self.eval(e.right, st)
            if e.op == "&&":
                return False if False in (a, b) else True if a is b is True else None
            return True if True in (a, b) else False if a is b is False else None
        if self.outcomes is not None and e is self.site:
            return None if st.pending in (None, "any") else st.pending != "zero"
        if isinstance(e, ir.Call) and e.args and (e.name in self.cat.is_error
                                                  or e.name in self.cat.is_error_or_null):
            # IS_ERR(p) of a value whose class the path knows (ERR_PTR: neg, NULL: zero)
            cls = st.pending if self._is_wrapped(e.args[0], st) else _env_get(st.env, e.args[0])
            if cls in ("neg", "zero", "pos"):
                return cls == "neg" or (cls == "zero" and e.name in self.cat.is_error_or_null)
        per = self._per_count(e, st)
        if per is not None:
            vals = {per(c) for c in st.counts}
            return vals.pop() if len(vals) == 1 else None
        k = _int(e)
        if k is not None:
            return k != 0
        cls = _env_get(st.env, e)
        if cls is not None:
            return cls != "zero"
        if isinstance(e, ir.Binary) and e.op in _CMP:
            env = self._env_cmp(e, st)
            if env is not None:
                return env
        if isinstance(e, ir.Call) and st.ref == "none" and self.extract:
            if e.name in self.cat.pin_predicate:
                return False
            if e.name in self.cat.not_pinned_predicate:
                return True
        if isinstance(e, ir.Binary) and _labelled(e) and st.facts:
            known = self._labels(e.left, st)
            label = _label(e.right)
            eq = None
            if isinstance(known, frozenset):  # one of these labels
                eq = True if known == {label} else False if label not in known else None
            elif isinstance(known, tuple) and label in known[1]:  # ("not", labels)
                eq = False
            if eq is not None:
                return eq if e.op == "==" else not eq
        text = self.canon(e)
        for t, fact in st.facts:
            if t == text and isinstance(fact, bool):
                return fact
        return None

    def _labels(self, e: ir.Expr, st: State) -> object:
        """What the path knows of a value compared with constants: the labels it is one
        of, ("not", labels) it is none of, or None."""
        text = self.canon(e)
        return next((v for t, v in st.facts if t == text and not isinstance(v, bool)), None)

    def _per_count(self, e: ir.Expr, st: State):
        """For a test of the count: a function class -> truth, else None (cached: the same
        condition is tested again on every path that reaches it)."""
        extra = None
        if isinstance(e, ir.Binary) and st.env:  # i < got with i = 0 known on this path
            extra = (_env_get(st.env, self._strip(e.left)), _env_get(st.env, self._strip(e.right)))
        key = (id(e), st.count_in, st.take == "none", extra)
        got = self._per.get(key)
        if got is None or got[0] is not e:
            got = (e, self._per_count_of(e, st))
            self._per[key] = got
        return got[1]

    def _per_count_of(self, e: ir.Expr, st: State):
        if self._is_count(e, st):
            return lambda c: None if c == "more" else c != "zero"
        if isinstance(e, ir.Call) and e.args and self._is_count(e.args[0], st):
            if e.name in self.cat.is_error:
                return lambda c: None if c == "more" else c == "err"
            if e.name in self.cat.is_error_or_null:
                return lambda c: None if c == "more" else c in ("err", "zero")
        if isinstance(e, ir.Binary) and e.op in _CMP:
            left, op, right = self._strip(e.left), e.op, self._strip(e.right)
            if self._is_count(right, st) and not self._is_count(left, st):
                left, op, right = right, _FLIP[op], left
            if not self._is_count(left, st):
                return None
            k = _int(right)
            if k is None and (isinstance(right, ir.Const) and right.text == "NULL"
                              or _env_get(st.env, right) == "zero"):
                k = 0  # NULL, or a local known to be 0 on this path (the loop's first trip)
            asked = self.asked
            if k is None:  # the count against an expression: the number asked for
                def sym(c: str, op: str = op) -> bool | None:
                    if c == "more":
                        return None
                    return {"==": c == "full", "!=": c != "full", "<": c != "full",
                            ">=": c == "full", ">": False, "<=": True}.get(op)
                return sym

            def lit(c: str, op: str = op, k: int = k) -> bool | None:
                if c == "more":
                    return None
                lo, hi = _range(c, asked)
                if c == "err" and k < 0 and op in ("==", "!="):
                    return None
                return _compare(op, lo, hi, k)
            return lit
        return None

    def _is_wrapped(self, e: ir.Expr, st: State) -> bool:
        """``wrapper(...)`` tested in place: its value is the path's pending class."""
        return self.outcomes is not None and e is self.site

    def _env_cmp(self, e: ir.Binary, st: State) -> bool | None:
        left, right, op = self._strip(e.left), self._strip(e.right), e.op
        if _env_get(st.env, left) is None and not self._is_wrapped(left, st):
            left, right, op = right, left, _FLIP[op]
        cls = st.pending if self._is_wrapped(left, st) else _env_get(st.env, left)
        if cls is None or cls == "any":
            return None
        k = _int(right)
        if k is None:
            if isinstance(right, ir.Const) and right.text == "NULL":
                k = 0
            else:
                return None
        if cls == "nonzero":
            return op == "!=" if k == 0 and op in ("==", "!=") else None
        lo, hi = {"zero": (0, 0), "neg": (float("-inf"), -1),
                  "pos": (1, float("inf"))}[cls]
        if cls == "neg" and k < 0 and op in ("==", "!="):
            return None
        return _compare(op, lo, hi, k)

    def refine(self, e: ir.Expr | None, value: bool, st: State,
               persist: bool = True) -> list[State]:
        """The states on the edge where ``e`` is ``value``: none if no path takes it, two
        when a disjunction splits (``a || b`` true: a true, or a false and b true)."""
        if e is None:
            return [st]
        v = self.eval(e, st)
        if v is not None:
            return [st] if v == value else []
        e = self._strip(e)
        if isinstance(e, ir.Name) and isinstance(self.defs.get(e.id), ir.Unary | ir.Binary):
            # bool lock = a != X && b; ... if (lock): the terms of its value are known
            return self.refine(self.defs[e.id], value, st, persist)
        if isinstance(e, ir.Unary) and e.op == "!":
            return self.refine(e.arg, not value, st, persist)
        if isinstance(e, ir.Binary) and e.op in ("&&", "||") and self._terms(e) > 12:
            return [self._fact(e, value, st) if persist else st]  # too long to split
        if isinstance(e, ir.Binary) and e.op in ("&&", "||"):
            if (e.op == "&&") == value:  # a && b true / a || b false: both sides known
                return [t for s in self.refine(e.left, value, st, persist)
                        for t in self.refine(e.right, value, s, persist)]
            # a && b false: a false, or a true and b false (and the dual for ||)
            out = self.refine(e.left, value, st, persist)
            out += [t for s in self.refine(e.left, not value, st, persist)
                    for t in self.refine(e.right, value, s, persist)]
            return list(dict.fromkeys(out))
        return [s for s in (self._refine_atom(e, value, st, persist),) if s is not None]

    def _terms(self, e: ir.Expr) -> int:
        """How many terms a chain of && / || has (cached)."""
        got = self._nterms.get(id(e))
        if got is None or got[0] is not e:
            work, count = [e], 0
            while work:
                x = work.pop()
                if isinstance(x, ir.Binary) and x.op in ("&&", "||"):
                    work += [x.left, x.right]
                else:
                    count += 1
            got = (e, count)
            self._nterms[id(e)] = got
        return got[1]

    def _refine_atom(self, e: ir.Expr, value: bool, st: State, persist: bool) -> State | None:
        per = self._per_count(e, st)
        if per is not None:
            counts = frozenset(c for c in st.counts if per(c) in (value, None))
            return replace(st, counts=counts) if counts else None
        if not value and st.take == "held" and isinstance(e, ir.Name | ir.Member) \
                and ir.show(e) in st.aliases:
            # "if (page) put_page(page)": the pointer to the pages is NULL only where the
            # acquisition took none.
            counts = st.counts - HELD_COUNTS
            return replace(st, counts=counts) if counts else None
        if isinstance(e, ir.Binary) and e.op in ("==", "!=") and (
                _int(e.right) == 0 or isinstance(e.right, ir.Const) and e.right.text == "NULL"):
            got = self.refine(e.left, (e.op == "!=") == value, st, persist)
            return got[0] if got else None
        if isinstance(e, ir.Name | ir.Member) and ir.show(e) in self.scalars and not (
                isinstance(e, ir.Name) and e.id in self.defs and e.id not in self.returned):
            text = ir.show(e)
            st = replace(st, env=frozenset(kv for kv in st.env if kv[0] != text)
                         | {(text, "nonzero" if value else "zero")})
            # A helper's test of its parameter is also a fact its callers check.
            return self._fact(e, value, st) if persist and self.site is None else st
        if isinstance(e, ir.Binary) and e.op in ("<", "<=") and isinstance(e.left, ir.Name) \
                and e.left.id in self.scalars and _int(e.right) == 0 and value:
            return replace(st, env=frozenset(kv for kv in st.env if kv[0] != e.left.id)
                           | {(e.left.id, "neg" if e.op == "<" else "nonzero")})
        if isinstance(e, ir.Binary) and _labelled(e) and \
                (text := self.canon(e.left)) in self.labelled:
            k = frozenset({_label(e.right)})
            known = self._labels(e.left, st)
            rest = frozenset(f for f in st.facts if f[0] != text)
            if (e.op == "==") == value:
                return replace(st, facts=rest | {(text, k)})
            excluded = k | (known[1] if isinstance(known, tuple) else frozenset())
            if isinstance(known, frozenset):
                left = known - k
                return replace(st, facts=rest | {(text, left)}) if left else None
            return replace(st, facts=rest | {(text, ("not", excluded))})
        if isinstance(e, ir.Call) and self.extract and st.take != "none" and (
                (e.name in self.cat.pin_predicate and not value)
                or (e.name in self.cat.not_pinned_predicate and value)):
            return replace(st, ref="none")  # a kernel-backed iterator: nothing was pinned
        return self._fact(e, value, st) if persist else st

    def _fact(self, e: ir.Expr, value: object, st: State) -> State:
        text = self.canon(e)
        if text not in self.relevant or any(t == text for t, _ in st.facts):
            return st
        if any(isinstance(x, ir.Assign | ir.Unary) and not isinstance(x, ir.Call)
               for x in ir.flat(ir.effects(e))):
            return st  # if (!--bio->bi_vcnt): a different value each time it is tested
        return replace(st, facts=st.facts | {(text, value)})

    def refine_switch(self, e: ir.Expr | None, edge: Edge, st: State) -> State | None:
        """The state on a switch edge. What a path knows of the value is a set of case
        labels it is one of, or ("not", labels) it is none of (the default edge)."""
        if e is None or not isinstance(edge, tuple):
            return st
        text = self.canon(e)
        if text not in self.relevant:
            return st
        known = next((v for t, v in st.facts if t == text and not isinstance(v, bool)), None)
        rest = frozenset(f for f in st.facts if f[0] != text)
        if edge and edge[0] in ("default", "nocase"):
            named = frozenset(edge[1:])
            if isinstance(known, frozenset):
                return None if known <= named else st
            excluded = named | (known[1] if isinstance(known, tuple) else frozenset())
            return replace(st, facts=rest | {(text, ("not", excluded))})
        labels = frozenset(edge)
        if isinstance(known, frozenset):
            now = labels & known
        elif isinstance(known, tuple):
            now = labels - known[1]
        else:
            now = labels
        if not now:
            return None
        return replace(st, facts=rest | {(text, now)})

    # ------------------------------------------------------------ loops and helpers
    def _loop_releases(self) -> dict[int, list[ir.Call]]:
        """Per loop, the calls of its body that may release pages: release APIs, and the
        functions of the unit it calls (their summaries say whether they do)."""
        out: dict[int, list[ir.Call]] = {}
        for head, body in self.g.loops.items():
            # Only what every trip through the body does: a release on an unwind inside
            # the loop (if (ret < 0) { unpin(...); return ret; }) never reaches the next
            # trip, so it is not how the loop treats each page.
            back = self._reaching(head, body)
            calls = [c for j in sorted(body & back) for c in self.g.nodes[j].flat
                     if isinstance(c, ir.Call) and (
                         (c.name in self.cat.release and c.name not in self.an.defined)
                         or (c.name in self.cat.containers and c.name not in self.an.defined)
                         or (c.name in self.an.funcs and c.name not in self.stack
                             and self.an.may_release(c.name)))]
            if calls:
                out[head] = calls
        return out

    def _reaching(self, head: int, body: frozenset[int]) -> frozenset[int]:
        """The nodes of a loop's body from which its head is reached inside the loop."""
        preds: dict[int, list[int]] = {}
        for i in body | {head}:
            for j, _ in self.g.nodes[i].succ:
                if j in body or j == head:
                    preds.setdefault(j, []).append(i)
        seen: set[int] = set()
        work = [head]
        while work:
            for i in preds.get(work.pop(), ()):
                if i not in seen and i in body:
                    seen.add(i)
                    work.append(i)
        return frozenset(seen)

    def _loop_exit(self, head: int, st: State) -> State:
        """Leaving a loop whose body releases the pages one by one: the array is released
        (the body ran once per page; when it ran zero times there was none to release)."""
        if st.take != "held":
            return st
        if head not in self.loop_releases:
            return self._trip_hands_over(head, st)
        extra = set(st.aliases)
        macro = self.g.nodes[head].expr
        if isinstance(macro, ir.Call) and macro.name in self.cat.iterators:
            src, item = self.cat.iterators[macro.name]
            if max(src, item) < len(macro.args) and self.carries(macro.args[src], st):
                p = path_of(macro.args[item])
                if p:
                    extra.add(p)
        probe = replace(st, aliases=frozenset(extra))
        for c in self.loop_releases[head]:
            if c.name in self.cat.containers and c.name not in self.an.defined:
                # sg_set_page(&sgl[i], pages[i]) once per page: the array went in whole.
                k = self.cat.containers[c.name]
                p = path_of(c.args[k]) if k < len(c.args) else None
                if p is not None and any(self.carries(a, probe) for j, a in enumerate(c.args)
                                         if j != k):
                    st = self._own(st, p)
                continue
            if c.name in self.cat.release and c.name not in self.an.defined:
                spec = self.cat.release[c.name]
                if spec.arg < len(c.args) and self.carries(c.args[spec.arg], probe):
                    # pages[i], a batch call could take the array (not sg_page(&sgl[i]))
                    return self._release(st, c.name, spec.kind, c.line,
                                         in_loop=isinstance(c.args[spec.arg], ir.Index))
            elif self.depth < MAX_DEPTH:
                gone = [s for s in self._enter(c, probe) or () if s.take == "gone"]
                if gone:  # siw_free_plist(&umem->chunk[i], ...) once per chunk
                    return replace(gone[0], aliases=st.aliases, owners=st.owners)
        return self._trip_hands_over(head, st)

    def _trip_hands_over(self, head: int, st: State) -> State:
        """A body that hands each page over (buf.page = pages[i]; add_to_pipe(pipe, &buf)):
        one trip's effects, in order, on a copy of the state; if it hands them over, the
        loop did (it ran once per page; when it ran zero times there was none)."""
        if st.escaped:
            return st
        trip_nodes = self._trips.get(head)
        if trip_nodes is None:
            body = self.g.loops[head]
            trip_nodes = sorted(body & self._reaching(head, body))
            self._trips[head] = trip_nodes
        trip = st
        for j in trip_nodes:
            got = self.apply(self.g.nodes[j].effects, trip)
            if not got:
                return st
            # a helper's outcomes: it keeps the page, or drops it (add_to_pipe())
            trip = next((g for g in got if g.escaped or g.take == "gone"), got[0])
        if trip.escaped or trip.take == "gone":
            return replace(st, escaped=trip.escaped or "released trip by trip")
        return st

    def _enter(self, c: ir.Call, st: State) -> list[State] | None:
        """A call of a function of the unit with the pages (or the struct holding them):
        its summary's exit states, rewritten in the caller's terms. None: not entered."""
        callee = self.an.funcs[c.name]
        params = callee.cfg.params
        starts = []  # every parameter through which the callee reaches the pages
        for k, arg in enumerate(c.args[: len(params)]):
            if not params[k]:
                continue
            p = path_of(arg)
            if p is None:
                continue
            if self.carries(arg, st):
                starts.append(params[k])
                continue
            inner = next((a for a in sorted(st.aliases) if under(a, p) and a != p), None)
            if inner is None:
                continue
            rest = inner[len(p):]
            if rest.startswith("[]") and (isinstance(arg, ir.Binary) or (
                    isinstance(arg, ir.Unary) and arg.op == "&")):
                rest = rest[2:]  # &chunk[i] / chunk + i: the parameter is the element
                if rest.startswith("."):
                    rest = "->" + rest[1:]
            elif rest.startswith(".") and isinstance(arg, ir.Unary) and arg.op == "&":
                rest = "->" + rest[1:]
            starts.append(params[k] + rest)
        if not starts:
            return None
        got = self.an.summary(c.name, frozenset(starts), st.ref or self.ref, self.depth + 1,
                              self.stack)
        if got is None:
            return None
        exits, met = got.exits, got.met
        self.out.examined |= got.examined
        if st.take == "held":  # what the helper does with them is done at this call
            for (path, line, api), u in got.uses.items():
                self.out.uses.setdefault((path, line, api), u if u.via else Use(
                    u.evidence, u.api, u.line, u.function, c.name, u.direction, u.path))
            self.out.escapes.update(got.escapes)
            self.out.stored |= got.stored
            for n in got.notified:  # a helper registering with its parameter: the argument
                if n in params and params.index(n) < len(c.args):
                    p = path_of(c.args[params.index(n)])
                    if p is not None:
                        self.out.notified.add(_base(p))
            # where it keeps them (a list node's ->folio) leads to a release callback
            self.out.names.update(n for n in got.names if "->" in n or "." in n)
        subst = {p: self.canon(a) for p, a in zip(params, c.args, strict=False)
                 if p and (path_of(a) is not None or isinstance(a, ir.Const))}
        results = []
        for x in exits:
            s = self._instantiate(st, x.state, subst, params, c, met)
            if s is not None and s not in results:
                results.append(s)
        if st.take == "held" and any(s.take == "gone" for s in results):
            # A helper that releases the pages on some of its paths is their release; the
            # conditions it tests inside (the region's type, a dirty flag) are its own
            # business, not a path on which the caller forgot them.
            results = [s for s in results if s.take != "held"]
        return results or [st]

    def _instantiate(self, st: State, inner: State, subst: dict[str, str],
                     params: tuple[str, ...], c: ir.Call,
                     met: dict[tuple[str, int], Met]) -> State | None:
        facts = set(st.facts)
        known = dict(st.facts)
        blocked = self.an.funcs[c.name].cfg.locals | (frozenset(params).difference(subst))
        env = {k: c for k, c in st.env if c != "any"}
        plain = {p: ir.show(a) for p, a in zip(params, c.args, strict=False) if p in subst}
        for text, v in inner.facts:
            t, bound = self._bound(text, c)
            if t is None:
                continue
            if isinstance(v, bool) and bound is not None and self.eval(bound, st) is (not v):
                return None  # the path's values decide the helper's test the other way
            e = _rename(text, plain, blocked)
            if isinstance(v, bool) and e in env and (env[e] != "zero") != v:
                return None  # the helper tests a flag whose value the caller set
            k = _int(ir.Const(t)) if t not in ("true", "false", "NULL") else (
                1 if t == "true" else 0)
            if isinstance(v, bool) and k is not None and (k != 0) != v:
                return None  # drop(pages, n, false): the helper's "if (really)" is false
            if t in known and known[t] != v:
                if _compatible(known[t], v):
                    continue
                return None
            facts.add((t, v))
        out = replace(st, facts=frozenset(facts))
        if inner.take == "gone" and st.take == "held":
            for key in sorted(inner.events):
                m = met.get(key)
                if m is not None:
                    out = self._release(out, m.api, m.kind, m.line, m.in_loop,
                                        via=m.via or m.function, path=m.path,
                                        function=m.function)
        if inner.lent and not out.lent:  # the helper handed them to a callee we cannot see
            out = replace(out, lent=True, late=out.late or inner.late)
        if inner.escaped == "returned":
            out = replace(out, valued=out.valued | {(c.line, c.column)})
        elif inner.escaped:
            out = replace(out, escaped=out.escaped or f"{inner.escaped} by {c.name}()")
        # A helper that put the pages into another of its parameters (fill_sg(sgl, pages)).
        for a in inner.aliases | inner.owners:
            base = _base(a)
            if base in params:
                k = params.index(base)
                if k < len(c.args):
                    p = path_of(c.args[k])
                    if p is not None and not self.carries(c.args[k], out):
                        out = replace(out, owners=out.owners | {p + a[len(base):]})
        return out

    def _origins(self) -> dict[str, str]:
        """Local pointers set once and then only walked (``sg = t->sgl; ... sg++``): the
        storage they point into."""
        sets: dict[str, list[ir.Expr]] = {}
        for n in self.g.nodes:
            for e in n.flat:
                if isinstance(e, ir.Assign) and isinstance(e.target, ir.Name) and e.op == "=":
                    sets.setdefault(e.target.id, []).append(e.value)
        out = {}
        for name, values in sets.items():
            if len(values) == 1 and name in self.g.locals and not isinstance(values[0], ir.Call):
                p = path_of(values[0])
                if p is not None and p != name:
                    out[name] = p
        return out

    def _fresh_locals(self) -> frozenset[str]:
        """Locals that point to an object allocated here (kzalloc ...): storing the pages
        in one of its fields keeps them in the function's hands."""
        out = set()
        for n in self.g.nodes:
            for e in n.flat:
                if isinstance(e, ir.Assign) and isinstance(e.target, ir.Name) and \
                        isinstance(e.value, ir.Call) and e.value.name in self.cat.allocators:
                    out.add(e.target.id)
        return frozenset(out & self.g.locals)


def _direction(c: ir.Call, cat: Catalog) -> str:
    """The DMA direction constant a call is given, if any (``dma_map_page(..., dir)``)."""
    work: list[ir.Expr] = list(c.args)
    while work:
        e = work.pop()
        match e:
            case ir.Name(id=text) | ir.Const(text=text) if text in cat.dma_directions:
                return text
            case ir.Binary(left=left, right=r):
                work += [left, r]
            case ir.Ternary(cond=k, then=t, other=o):
                work += [k, t, o]
            case ir.Unary(arg=a):
                work.append(a)
    return ""


_SPLIT = re.compile(r"->|\.")
_WORD = re.compile(r"(?<![\w>.])[A-Za-z_]\w*")
_PATH = re.compile(r"[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*")


def _label(e: ir.Expr) -> str | None:
    """An enum-like constant (a macro: distinct names, distinct values), else None."""
    return e.id if isinstance(e, ir.Name) and _MACRO.fullmatch(e.id) else None


def _labelled(e: ir.Expr) -> bool:
    """``x == CONST`` / ``x != CONST``."""
    return isinstance(e, ir.Binary) and e.op in ("==", "!=") and _label(e.right) is not None


def _leaves(e: ir.Expr | None, cat: Catalog) -> list[ir.Expr]:
    """The atomic conditions of a condition, as values (split at ``&&``, ``||``, ``!``)."""
    match e:
        case None:
            return []
        case ir.Unary(op="!", arg=a):
            return _leaves(a, cat)
        case ir.Call(name=n, args=(a, *_)) if n in cat.transparent:
            return _leaves(a, cat)
        case ir.Binary(op=op, left=left, right=r) if op in ("&&", "||"):
            return _leaves(left, cat) + _leaves(r, cat)
    return [e]


def _mask(e: ir.Binary) -> ir.Expr:
    """``(flags | F) & G`` -> ``flags & G`` for two different flag macros: kernel flags
    are distinct bits, so or-ing one in does not change the test of another (a flag word
    recorded as ``obj->flags = flags | OBJ_REGISTERED`` is tested, in a helper, for the
    caller's ``flags & OBJ_USER``)."""
    if e.op != "&":
        return e
    for word, flag in ((e.left, e.right), (e.right, e.left)):
        if isinstance(flag, ir.Name) and _MACRO.fullmatch(flag.id) and \
                isinstance(word, ir.Binary) and word.op == "|":
            for keep, extra in ((word.left, word.right), (word.right, word.left)):
                if isinstance(extra, ir.Name) and _MACRO.fullmatch(extra.id) and \
                        extra.id != flag.id:
                    return _mask(ir.Binary("&", keep, flag)) if isinstance(keep, ir.Binary) \
                        else ir.Binary("&", keep, flag)
    return e


def _bind(e: ir.Expr, bind: dict[str, ir.Expr], blocked: frozenset[str]) -> ir.Expr | None:
    """``e`` with the names in ``bind`` replaced by their values; None if it names one
    of ``blocked``."""
    match e:
        case ir.Name(id=i):
            if i in bind:
                return bind[i]
            return None if i in blocked else e
        case ir.Member(base=b, field=f, arrow=a):
            x = _bind(b, bind, blocked)
            return None if x is None else ir.Member(x, f, a)
        case ir.Index(base=b, index=i):
            x, y = _bind(b, bind, blocked), _bind(i, bind, blocked)
            return None if x is None or y is None else ir.Index(x, y)
        case ir.Unary(op=op, arg=a):
            x = _bind(a, bind, blocked)
            return None if x is None else ir.Unary(op, x)
        case ir.Binary(op=op, left=left, right=r):
            x, y = _bind(left, bind, blocked), _bind(r, bind, blocked)
            return None if x is None or y is None else ir.Binary(op, x, y)
        case ir.Call(name=n, args=args, line=line, column=col, callee=cc):
            xs = [_bind(a, bind, blocked) for a in args]
            if any(x is None for x in xs):
                return None
            return ir.Call(n, tuple(x for x in xs if x is not None), line, col, cc)
        case ir.Ternary(cond=k, then=t, other=o):
            parts = [_bind(x, bind, blocked) for x in (k, t, o)]
            if any(x is None for x in parts):
                return None
            return ir.Ternary(*parts)  # type: ignore[arg-type]
    return e


def _rename(text: str, subst: dict[str, str], blocked: frozenset[str]) -> str | None:
    """A callee's fact in the caller's terms; None if it names a callee local, or a
    parameter whose argument is no plain value (``blocked``)."""
    return _rename_cached(text, tuple(sorted(subst.items())), frozenset(blocked))


@lru_cache(maxsize=65536)
def _rename_cached(text: str, subst: tuple[tuple[str, str], ...],
                   blocked: frozenset[str]) -> str | None:
    names = set(_WORD.findall(text))
    if names & blocked:
        return None
    out = text
    for p, a in subst:
        out = re.sub(rf"(?<![\w>.]){re.escape(p)}(?!\w)", a.replace("\\", "\\\\"), out)
    return out
