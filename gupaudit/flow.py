"""Stage 5, flow: where one acquisition site's pages go.

Input: a site (a ``Call`` in a ``Function`` of a ``SourceFile``) and the catalogue. Output:
``Flow``: the names the pages travel under, the releases and uses reached, and where they
leave unfollowed.

The model is deliberately simple and flow-insensitive within a function:

* the page array is the root lvalue of the API's pages argument (``&pages[i]`` -> ``pages``,
  ``obj->pages + n`` -> ``obj->pages``), or the assigned lvalue for APIs returning the page;
* aliases: ``x = pages``, ``page = pages[i]``, ``obj->pages = pages``; back from a field,
  ``pages = obj->pages``; out of containers, ``page = sg_page(sg)``; loop macros
  (``for_each_sg(sgt->sgl, sg, ...)`` makes ``sg`` an element); and containers themselves
  (``sg_alloc_table_from_pages(sgt, pages, ...)`` makes ``sgt`` carry the pages);
* a call mentioning a tracked name is a release (catalogue release API, on its page argument),
  a use (catalogue use evidence) or, for a function of the same file, a hop into that helper,
  whose parameter is traced the same way (depth-bounded, memoised); so is a call passing
  the struct that holds them (``&ctx->sgl`` for ``ctx->sgl.sgt``: the helper's
  ``param->sgt``), and a one-parameter function of the file registered as a callback next
  to them (``kunit_add_action_or_reset(test, unpin_sgt, sgt)``);
* pages that are a parameter of the site's function, or its return value (both arms of a
  conditional), are followed into the same-file callers, from the call on;
* struct fields and file-scope variables lead to the other functions of the file that
  name them (``_through_fields``); a field that holds nothing else (``_owned``) makes
  their releases as firm as a helper's;
* for an extraction, whether its iterator is kernel-backed (``kernel_iterator``).

Known limits: no path sensitivity beyond ``Guard`` (branch conditions compared by text);
name reuse for unrelated values inside one function over-approximates the aliases. Where
``dataflow`` can see (the site's function, the helpers it calls, same-file callers of a
function handing the pages back), its path-by-path verdicts override these releases
(``analyse.with_paths``); what is left here is the long-range part (struct fields,
file-scope variables, callbacks, other files' functions) that summaries will replace.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache

from gupaudit.catalog import Catalog
from gupaudit.locate import balanced, norm, top_level_operator
from gupaudit.model import Call, Flow, Function, Guard, Release, SourceFile, Use

MAX_DEPTH = 3
_DIRECTIONS = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL", "DMA_TO_DEVICE")
_LVALUE = re.compile(r"^[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*$")
_CAST = re.compile(r"^\((?:const |volatile |struct |union |unsigned )*\w+(?: \w+)*\**\)")
_CONSTANT = re.compile(r"^(?:[A-Z_][A-Z0-9_]*|\d\w*)$")


def root(expr: str) -> str | None:
    """The lvalue an expression designates the storage of: ``&obj->pages[i] + 1`` -> obj->pages."""
    e = expr.strip()
    for _ in range(8):
        before = e
        m = _CAST.match(e)
        if m and len(e) > m.end():
            e = e[m.end():]
        if e.startswith("(") and e.endswith(")") and balanced(e[1:-1]):
            e = e[1:-1]
        e = e.lstrip("&*")
        if e == before:
            break
    e = _top_level_left(e)
    if "[" in e:
        e = e.split("[", 1)[0]
    if not _LVALUE.match(e) or _CONSTANT.match(e):
        return None
    return e


def returned_values(expr: str) -> list[str]:
    """``got > 0 ? page : NULL`` -> [page, NULL]: what a conditional expression can be."""
    q = top_level_operator(expr, "?")
    if q < 0:
        return [expr]
    rest = expr[q + 1:]
    colon = top_level_operator(rest, ":")
    if colon < 0 or top_level_operator(rest[:colon], "?") >= 0:
        return [expr]  # unbalanced, or an unparenthesised nested conditional: left whole
    return [rest[:colon]] + returned_values(rest[colon + 1:])


_IDENT = re.compile(r"[A-Za-z_]\w*")


def flag_values(fn: Function, expr: str, depth: int = 0) -> tuple[str, bool]:
    """The gup_flags an argument can carry, with local variables replaced by what the
    function assigns them (``unsigned int gup_flags = FOLL_LONGTERM; ... gup_flags |=
    FOLL_WRITE``), and whether that is all of it: a part from outside (a parameter, a
    field) may add any flag, so only what is seen can be said to be there."""
    parts: list[str] = []
    complete = True
    for arm in returned_values(expr):
        if re.fullmatch(r"[^|&?]*(?:==|!=)[^|&?]*", arm):
            continue  # "dir == DMA_FROM_DEVICE": 0 or 1, a boolean passed as the flags
        # Numbers and cleared flags (gup_flags &= ~FOLL_WRITE) say nothing is there.
        arm = re.sub(r"~\s*\w+|\b0[xX][0-9a-fA-F]+\b|\b\d+\w*", "", arm)
        for name in _IDENT.findall(arm):
            if _CONSTANT.match(name):
                parts.append(name)
                continue
            values = [a.rhs for a in fn.assigns if declared_name(a.lhs) == name]
            if not values or depth > 3 or name in fn.params:
                complete = False
                continue
            for v in values:
                text, whole = flag_values(fn, v, depth + 1)
                parts.append(text)
                complete &= whole
    return " | ".join(p for p in parts if p), complete


def _top_level_left(e: str) -> str:
    """``pages+i`` -> ``pages``; leaves ``a->b`` alone."""
    i = top_level_operator(e, "+-", start=1)
    return e[:i] if i > 0 else e


def field_of(name: str) -> str | None:
    """``obj->sgt.pages`` -> ``pages``: the last field of a tracked lvalue, if any."""
    parts = re.split(r"->|\.", name)
    return parts[-1] if len(parts) > 1 else None


def declared_name(lhs: str) -> str:
    """``*pages`` / ``**pp`` / ``page[16]`` in a declarator -> the name."""
    return lhs.lstrip("*").split("[", 1)[0].split("=", 1)[0]


class Names:
    """A set of tracked lvalues with a mention test over normalised source text."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)
        self._rx: re.Pattern[str] | None = None

    def add(self, name: str | None) -> bool:
        if name and name not in self.names:
            self.names.add(name)
            self._rx = None
            return True
        return False

    def mentioned(self, text: str) -> bool:
        if not self.names:
            return False
        if self._rx is None:
            alts = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
            self._rx = re.compile(rf"(?<![\w>.])(?:{alts})(?!\w)")
        return self._rx.search(text) is not None


@dataclass
class Trace:
    releases: list[Release] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)


def aliases(fn: Function, start: set[str], catalog: Catalog) -> Names:
    """Close ``start`` over the function's assignments, containers and loop macros."""
    names = Names(start)
    for _ in range(10):
        changed = False
        for a in fn.assigns:
            lhs = root(declared_name(a.lhs))
            rhs = root(a.rhs) if "(" not in a.rhs or a.rhs.startswith(("(", "&(")) else None
            if rhs is not None and rhs in names.names:
                changed |= names.add(lhs)
            elif lhs is not None and lhs in names.names and rhs is not None and (
                "->" in rhs or "." in rhs or rhs != a.rhs.lstrip("&")
            ):
                # pages = obj->pages: the field holds them too; pages = pvec + pinned or
                # &pvec[n]: a window into pvec, which is what gets released.
                changed |= names.add(rhs)
            elif lhs is not None and _accessor_of(a.rhs, names, catalog):
                changed |= names.add(lhs)
        for c in fn.calls:
            if c.name in catalog.containers:
                k = catalog.containers[c.name]
                if len(c.args) > k and any(names.mentioned(x) for j, x in enumerate(c.args)
                                           if j != k):
                    changed |= names.add(root(c.args[k]))
            elif c.name in catalog.iterators:
                src, item = catalog.iterators[c.name]
                if len(c.args) > max(src, item) and names.mentioned(c.args[src]):
                    changed |= names.add(root(c.args[item]))
                elif len(c.args) > max(src, item) and root(c.args[item]) in names.names:
                    # sg_set_page(sg, page) inside for_each_sg(chunk->sgl, sg, ...): the
                    # pages went into what the loop walks.
                    changed |= names.add(root(c.args[src]))
        if not changed:
            break
    return names


def enclosing(arg: str, names: Names) -> str | None:
    """``&ctx->sgl`` passed while ``ctx->sgl.sgt`` is tracked: the struct holding the pages
    goes to the callee, which finds them under ``param->sgt`` (the suffix returned).
    Only for a field path (``ctx->sgl``), never a bare variable: passing ``ctx`` around
    says nothing about one of its many fields."""
    r = root(arg)
    if r is None or ("->" not in r and "." not in r) or r in names.names:
        return None
    for n in sorted(names.names):
        rest = n[len(r):]
        if n.startswith(r) and rest.startswith(("->", ".")):
            if rest.startswith(".") and arg.lstrip().startswith("&"):
                return "->" + rest[1:]
            return rest
    return None


def _accessor_of(rhs: str, names: Names, catalog: Catalog) -> bool:
    m = re.match(r"^(?:\([^()]*\))?(\w+)\((.*)\)$", rhs)
    return bool(m and m.group(1) in catalog.accessors and names.mentioned(m.group(2)))


class Tracer:
    """Follows page names through the functions of one file."""

    def __init__(self, sf: SourceFile, catalog: Catalog) -> None:
        self.sf = sf
        self.catalog = catalog
        self.by_name: dict[str, Function] = {}
        for fn in sf.functions:
            self.by_name.setdefault(fn.name, fn)
        self._summary = lru_cache(maxsize=None)(self._summarise)

    def site_flow(self, fn: Function, call: Call, pages: str) -> Flow:
        if pages in ("NULL", "0", "(void*)0"):
            return Flow((), (), (), (), no_pages=True)
        start = root(pages)
        if start is None:
            return Flow((), (), (), ("pages argument " + pages,))
        trace = Trace()
        self._trace(fn, {start}, 0, (fn.name,), trace, via="")
        fields = {f for f in map(field_of, trace.names) if f}
        globals_ = {n for n in trace.names if n in self.sf.globals and n not in fn.params}
        owned: set[str] = set()
        if fields or globals_:
            owned = {f for f in fields if self._owned(f, fn.name, trace.names)}
            self._through_fields(fields, globals_, fn.name, trace, owned)
        local = "return" not in trace.escapes and not any(
            field_of(n) or n in fn.params or n in self.sf.globals for n in trace.names)
        return Flow(tuple(sorted(trace.names)), tuple(_unique(trace.releases)),
                    tuple(_unique(trace.uses)), tuple(_unique(trace.escapes)),
                    local=local, owned=tuple(sorted(owned)))

    def kernel_iterator(self, fn: Function, call: Call, depth: int = 0) -> str:
        """Evidence that the iterator an extraction reads (its first argument) is backed by
        kernel memory, from which nothing is pinned; "" when none is seen.

        Evidence: the call sits under a not-pinned test (``if (flags & MSG_SPLICE_PAGES)``);
        the function sets the iterator up with iov_iter_kvec() / _bvec() / ... itself or
        through a same-file helper, and never over user memory; or, for an iterator a static
        function was passed, every caller gives such evidence.
        """
        if not call.args:
            return ""
        for g in call.guards:
            if g.value != "true":
                continue
            for term in conjuncts(g.cond):
                if (not term.startswith("!") and "||" not in term
                        and self.catalog.not_pinned_flag.search(term)):
                    if term.startswith("(") and term.endswith(")") and balanced(term[1:-1]):
                        term = term[1:-1]
                    return f"under `if ({term})`"
        it = root(call.args[0])
        if it is None:
            return ""
        found = self._iter_setup(fn, it, depth)
        if found is not None:
            return found
        base = re.split(r"->|\.", it, maxsplit=1)[0]
        if base not in fn.params or not fn.static or depth >= MAX_DEPTH:
            return ""
        k = fn.params.index(base)
        rest = it[len(base):]
        seen = []
        for caller in self.sf.functions:
            for c in caller.calls:
                if c.name != fn.name or caller.name == fn.name:
                    continue
                if k >= len(c.args):
                    return ""
                arg = root(c.args[k])
                if arg is None:
                    return ""
                passed = Call(c.name, (("&" if rest else "") + arg + rest,), c.line, c.column,
                              c.guards)
                why = self.kernel_iterator(caller, passed, depth + 1)
                if not why:
                    return ""
                seen.append(f"{caller.name}() {why}")
        return "every caller: " + "; ".join(seen) if seen else ""

    def _iter_setup(self, fn: Function, it: str, depth: int) -> str | None:
        """How ``fn`` sets up iterator ``it``: evidence text if only over kernel memory,
        "" if over user memory, None if it does not."""
        cat = self.catalog
        kernel = None
        for c in fn.calls:
            for table, is_kernel in ((cat.kernel_iter, True), (cat.user_iter, False)):
                k = table.get(c.name)
                if k is not None and k < len(c.args) and root(c.args[k]) == it:
                    if not is_kernel:
                        return ""
                    kernel = kernel or f"set up by {c.name}() at line {c.line}"
            if (c.name in self.by_name and c.name != fn.name and depth < MAX_DEPTH
                    and c.name not in cat.acquire):
                helper = self.by_name[c.name]
                for j, arg in enumerate(c.args):
                    if root(arg) == it and j < len(helper.params) and helper.params[j]:
                        got = self._iter_setup(helper, helper.params[j], depth + 1)
                        if got == "":
                            return ""
                        if got:
                            kernel = kernel or f"{got} in {c.name}()"
        return kernel

    def _summarise(self, fname: str, k: int, depth: int, stack: tuple[str, ...],
                   suffix: str = "") -> Trace:
        """What function ``fname`` does with its parameter k (or with ``param<suffix>``,
        the pages inside the struct it was passed)."""
        fn = self.by_name[fname]
        trace = Trace()
        if k < len(fn.params) and fn.params[k]:
            self._trace(fn, {fn.params[k] + suffix}, depth, stack + (fname,), trace,
                        via=fname)
        return trace

    def _trace(self, fn: Function, start: set[str], depth: int, stack: tuple[str, ...],
               out: Trace, via: str) -> None:
        cat = self.catalog
        names = aliases(fn, start, cat)
        for _ in range(3):
            # A helper that stores the pages into another of its parameters (fill_sg(sgl,
            # pages, n)) makes the caller's argument carry them too.
            grew = False
            for c in fn.calls:
                if (c.name not in self.by_name or c.name in cat.acquire or c.name in stack
                        or depth >= MAX_DEPTH):
                    continue
                params = self.by_name[c.name].params
                for k, arg in enumerate(c.args):
                    if names.mentioned(arg):
                        held = self._summary(c.name, k, depth + 1, stack).names
                        for j, p in enumerate(params[: len(c.args)]):
                            if j != k and p and p in held:
                                grew |= names.add(root(c.args[j]))
            if not grew:
                break
            names = aliases(fn, names.names, cat)
        out.names.update(names.names)
        for c in fn.calls:
            if not c.args:
                continue
            inner = {k: suf for k, a in enumerate(c.args)
                     if (suf := enclosing(a, names)) is not None}
            if not inner and not any(names.mentioned(a) for a in c.args):
                continue
            g = c.guards
            if c.name in cat.release and c.name not in self.sf.defined:
                spec = cat.release[c.name]
                if len(c.args) > spec.arg and names.mentioned(c.args[spec.arg]):
                    # pages[i] one at a time, in a loop: a batch release could take the
                    # array. Not so for sg_page(&sgl[i]) / pfn_to_page(pfns[i]).
                    arg = c.args[spec.arg]
                    element = c.in_loop and "[" in arg and "(" not in arg
                    out.releases.append(Release(c.name, spec.kind, fn.path or self.sf.path,
                                                c.line, fn.name, via, element, g))
                    continue
            if c.name in cat.use:
                direction = next((d for d in _DIRECTIONS if any(d in a for a in c.args)), "")
                out.uses.append(Use(cat.use[c.name], c.name, c.line, fn.name, via, direction,
                                    fn.path or self.sf.path))
                continue
            if c.name in self.by_name and c.name not in cat.acquire:
                if c.name in stack or depth >= MAX_DEPTH:
                    continue
                callee = self.by_name[c.name]
                for k, arg in enumerate(c.args):
                    if names.mentioned(arg) or k in inner:
                        sub = self._summary(c.name, k, depth + 1, stack, inner.get(k, ""))
                        out.releases.extend(_lift(r, g, callee.params, c.args)
                                            for r in sub.releases)
                        out.uses.extend(sub.uses)
                        out.escapes.extend(sub.escapes)
                        # Where the helper keeps them (add_to_unpin_list: a list node's
                        # ->folio) leads to the release callback, as a caller's field does.
                        out.names.update(n for n in sub.names if field_of(n))
                continue
            if c.name in cat.acquire or c.name in cat.neutral or c.name in cat.iterators:
                continue
            if c.name in cat.containers or "for_each" in c.name:
                continue
            deferred = self._callback(c, names)
            if deferred is not None and deferred not in stack and depth < MAX_DEPTH:
                # kunit_add_action_or_reset(test, unpin_sgt, sgt) / devm_add_action(dev,
                # release, obj): the callback is called later with the object.
                sub = self._summary(deferred, 0, depth + 1, stack)
                out.releases.extend(_lift(r, g, self.by_name[deferred].params[:1],
                                          tuple(a for a in c.args if names.mentioned(a))[:1])
                                    for r in sub.releases)
                out.uses.extend(sub.uses)
                out.escapes.extend(sub.escapes)
                continue
            out.escapes.append(f"{c.name}()")
        for value in fn.returns:
            if any(root(v) in names.names for v in returned_values(value)):
                out.escapes.append("return")
                if depth < MAX_DEPTH:
                    self._callers(fn, None, depth, stack, out)
                break
        params = [k for k, p in enumerate(fn.params) if p and p in names.names]
        if params and depth < MAX_DEPTH and not via:
            for k in params:
                self._callers(fn, k, depth, stack, out)

    def _callback(self, c: Call, names: Names) -> str | None:
        """A same-file function passed by name next to the pages, to be called back with
        them: it must take exactly one parameter, and the pages be one other argument."""
        funcs = [a for a in c.args if a in self.by_name and len(self.by_name[a].params) == 1]
        data = [a for a in c.args if a not in funcs and names.mentioned(a)]
        return funcs[0] if len(funcs) == 1 and len(data) == 1 else None

    def _owned(self, f: str, origin: str, names: set[str]) -> bool:
        """Whether field ``f`` only ever holds these pages in the unit: every store into
        any ``->f`` / ``.f`` is NULL or, in the acquiring function ``origin``, a local that
        holds only the pages. Then a release of ``x->f`` anywhere is a release of these
        pages, as firm as a helper's (acrn's ``vm->monitor_page``); io_uring's
        ``mr->pages``, also filled with pages it allocates, is not."""
        stores = self.sf.field_stores.get(f, ())
        if not stores:
            return False
        home = self.by_name.get(origin)
        for where, written in stores:
            rhs = norm(written)
            if rhs in ("NULL", "0"):
                continue
            value = root(rhs) if "(" not in rhs else None
            if where != origin or home is None or value not in names:
                return False
            # The local stored must hold nothing else: fuse_copy_fill's "page" is also a
            # page it allocates for a splice buffer.
            for a in home.assigns:
                if declared_name(a.lhs) == value and a.rhs not in ("NULL", "0") and (
                        "(" in a.rhs or root(a.rhs) not in names):
                    return False
        return True

    def _through_fields(self, fields: set[str], globals_: set[str], origin: str,
                        out: Trace, owned: set[str] | frozenset[str] = frozenset()) -> None:
        """Other functions of the file that reach the pages through the same struct field
        or file-scope variable: ``obj->pages = pages`` here, ``unpin_user_pages(obj->pages,
        n)`` in a release callback. Fields are matched by name within the file (struct types
        are not resolved); functions returning the field (``return dio->pages[i]``) act as
        accessors. A file-scope variable is the same storage wherever no parameter of the
        function shadows it: it is matched exactly, so its releases are as firm as a
        helper's; so are those of a field the pages own (``_owned``)."""
        every = _storage_rx(fields, globals_)
        assert every is not None
        accessors = {fn.name for fn in self.sf.functions
                     if any(every.search(r) for r in fn.returns)}
        for fn in self.sf.functions:
            shadowed = globals_ & set(fn.params)
            rx = _storage_rx(fields, globals_ - shadowed) if shadowed else every
            if rx is None:
                continue
            start = set()
            for c in fn.calls:
                for arg in c.args:
                    if rx.search(arg):
                        start.add(root(arg))
                if c.name in accessors and c.result:
                    start.add(root(c.result))
            for a in fn.assigns:
                if rx.search(a.rhs):
                    start.add(root(a.rhs))
            start.discard(None)
            if not start or (fn.name == origin and not start - out.names):
                continue
            if start & globals_:
                kind = "global"
            elif (held := {field_of(n) for n in start if field_of(n)}) and held <= owned:
                kind = "owned field"
            else:
                kind = "field"
            sub = Trace()
            self._trace(fn, start, 1, (fn.name,), sub, via=f"{kind} in {fn.name}")
            # Their branches may test a recorded flag, so their guards stay; their origin
            # stays "field"/"global" even when a helper of that function did the release.
            out.releases.extend(
                r if r.kept else dataclasses.replace(
                    r, via=f"{kind} in {fn.name}, {r.via}") for r in sub.releases)
            out.uses.extend(sub.uses)

    def _callers(self, fn: Function, k: int | None, depth: int, stack: tuple[str, ...],
                 out: Trace) -> None:
        """Follow into same-file callers: the pages are their argument k, or the result."""
        for caller in self.sf.functions:
            if caller.name in stack:
                continue
            for c in caller.calls:
                if c.name != fn.name:
                    continue
                if k is None:
                    start = root(c.result) if c.result else None
                else:
                    start = root(c.args[k]) if k < len(c.args) else None
                if start:
                    sub = Trace()
                    # From the call on: a caller reusing the name (binder's "page" is a
                    # freshly allocated page before it holds the looked-up one) must not
                    # lend the site the earlier value's uses.
                    self._trace(_from_line(caller, c.line), {start}, depth + 1,
                                stack + (caller.name,), sub, via=f"caller {caller.name}")
                    # The caller's branches say nothing about the site's: drop them.
                    out.releases.extend(_lift(r, (), (), ()) for r in sub.releases)
                    # Where the caller keeps them (buf->pages) leads to its release callback.
                    out.names.update(n for n in sub.names if field_of(n))
                    out.uses.extend(sub.uses)
                    out.escapes.extend(sub.escapes)


def _from_line(fn: Function, line: int) -> Function:
    """The function with the calls and assignments before ``line`` left out."""
    return dataclasses.replace(fn, calls=tuple(c for c in fn.calls if c.line >= line),
                               assigns=tuple(a for a in fn.assigns if a.line >= line))


def _storage_rx(fields: set[str], globals_: set[str]) -> re.Pattern[str] | None:
    """Mentions of ``->field`` / ``.field`` or of a file-scope variable by its bare name."""
    alts = []
    if fields:
        alts.append(rf"(?:->|\.)(?:{'|'.join(map(re.escape, sorted(fields)))})(?!\w)")
    if globals_:
        alts.append(rf"(?<![\w>.])(?:{'|'.join(map(re.escape, sorted(globals_)))})(?!\w)")
    return re.compile("|".join(alts)) if alts else None


def _lift(r: Release, call_guards: tuple[Guard, ...], params: tuple[str, ...],
          args: tuple[str, ...]) -> Release:
    """A helper's release seen from its call: the helper's own branch conditions rewritten
    in the caller's terms (parameter -> argument text), after the call's own branches.

    ``put_back_pages(cmd, ...)`` switching on ``cmd`` inside is then comparable with the
    caller's ``switch (cmd)`` around the acquisition (mm/gup_test.c).
    """
    lifted = []
    for g in r.guards:
        cond = g.cond
        for p, a in zip(params, args, strict=False):
            if p and p != a and re.fullmatch(r"[\w>.-]+", a):
                cond = re.sub(rf"(?<![\w>.]){re.escape(p)}(?!\w)", a, cond)
        lifted.append(Guard(cond, g.value))
    guards = call_guards + tuple(lifted)
    if guards == r.guards:
        return r
    return Release(r.api, r.kind, r.path, r.line, r.function, r.via, r.in_loop, guards)


def _unique(items: list) -> list:
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def conjuncts(cond: str) -> list[str]:
    """``a&&(b||c)&&d`` -> [a, (b||c), d]: the top-level terms of a conjunction."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(cond):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and cond.startswith("&&", i):
            out.append(cond[start:i])
            start = i + 2
    out.append(cond[start:])
    return [c for c in out if c]
