"""Where an iterator comes from, followed across files (a question of the link pass).

``iov_iter_get_pages*()`` and ``iov_iter_extract_pages()`` take page references (or pins)
only from an iterator over user memory; from one over kernel memory (bvec, kvec, xarray,
folio_queue) they take page-cache references or nothing. When the site's own file does
not say which (``flow.kernel_iterator``), the iterator is followed back to where it was
set up, through three kinds of goal:

* ``field``: an iterator read from a struct field (``&subreq->io_iter``): every write of
  that field anywhere (an assignment, a set-up call on its address, a function handed its
  address that sets it up), the field named by its innermost struct (``rreq->buffer.iter``
  is ``rolling_buffer.iter`` when ``buffer`` is a ``struct rolling_buffer``);
* ``param``: an iterator a function was handed: every call of the function (its file for
  a static one, else every file that may hold one); a function whose address is taken
  (an ops table) has callers nobody can list, and proves nothing;
* ``out``: a function handed an iterator's address: what it sets the iterator to.

A value is kernel-backed when it is set up by an ``[iter_backing] kernel`` call, copied
under a test that says so (``if (!user_backed_iter(iter))``), or copied from a field or
parameter that is, recursively (a goal met again on its own way counts as no new source).
Any user set-up, a value from a call, a field of a type not known: not proven, "".

The files searched are those naming the iterator type (``[iter_backing] index``, marked
by the prefilter): a function that sets up, copies or hands on an iterator names it.
Known limits: a struct embedding the field's struct that no searched header declares, or
an iterator written through ``memcpy()``, is not seen.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gupaudit import discover, ir
from gupaudit.catalog import Catalog
from gupaudit.dataflow import Analysis, Func, path_of
from gupaudit.flow import iter_setup, node_of, not_pinned_at
from gupaudit.model import SourceFile

Reader = Callable[[str], bytes | None]
Parser = Callable[[str, bytes], tuple[SourceFile, dict[str, Func]]]
Goal = tuple[str, str, str, int]  # (kind, struct tag | file, member | function, index)

MAX_GOALS = 40  # goals one site may open before it is left unproven
MAX_SHOWN = 3  # evidence pieces in the reason


@dataclass
class _Unit:
    rel: str
    sf: SourceFile
    funcs: dict[str, Func]
    an: Analysis


@dataclass
class Resolver:
    """One run's iterator questions over the files that may answer them; every file read
    is kept (``read_files``) for the cache key of the verdicts that used it."""

    files: list[str]
    read: Reader
    parse: Parser
    cat: Catalog
    read_files: dict[str, bytes] = field(default_factory=dict)
    _units: dict[str, _Unit | None] = field(default_factory=dict)
    _layouts: dict[str, dict[str, str]] = field(default_factory=dict)
    _memo: dict[Goal, list[str] | None] = field(default_factory=dict)
    _active: set[Goal] = field(default_factory=set)
    _budget: int = MAX_GOALS
    _top: Goal | None = None  # the site's first goal, named in the evidence
    _defined: dict[str, str | None] = field(default_factory=dict)
    _digests: dict[str, str | None] = field(default_factory=dict)
    _suspects: frozenset[str] | None = None  # files naming a user set-up

    # ------------------------------------------------------------ the question

    def site(self, rel: str, function: str, line: int, column: int) -> str:
        """Evidence that the iterator of the site at (line, column) is kernel-backed on
        every way it can be set up, "" when that is not shown."""
        u = self._unit(rel)
        fn = u.funcs.get(function) if u else None
        call = u.an.find_call(fn, line, column) if u and fn else None
        if u is None or fn is None or call is None or not call.args:
            return ""
        self._budget = MAX_GOALS
        self._top = None
        before = set(self._memo)
        got = self._object(u, fn, node_of(fn.cfg, call), call.args[0], pointer=True)
        if not got:
            # A goal proven on the way may have leant on one that then failed (a cycle
            # through it counted as no source): only the failures stand.
            for goal in set(self._memo) - before:
                if self._memo[goal] is not None:
                    del self._memo[goal]
            return ""
        shown = list(dict.fromkeys(got))
        more = f" and {len(shown) - MAX_SHOWN} more" if len(shown) > MAX_SHOWN else ""
        top = self._top
        what = (f"{top[1]}.{top[2]}" if top[0] == "field" else
                f"argument {top[3] + 1} of {top[2]}()") if top else "it"
        return f"{what} is set up over kernel memory wherever it is written: " + "; ".join(
            shown[:MAX_SHOWN]) + more

    # ------------------------------------------------------------ values

    def _object(self, u: _Unit, fn: Func, node: int, e: ir.Expr,
                pointer: bool) -> list[str] | None:
        """The evidence for the iterator ``e`` is (``pointer``: points to) at ``node``."""
        guard = not_pinned_at(self.cat, fn, node)
        if guard:
            return [f"{u.rel}:{fn.cfg.nodes[node].line} {guard}"]
        match e:
            case ir.Const(text="NULL" | "0") if pointer:
                return []  # no iterator at all: no pages from it
            case ir.Unary(op="&", arg=x) if pointer:
                return self._object(u, fn, node, x, pointer=False)
            case ir.Unary(op="*", arg=p) if not pointer:
                return self._object(u, fn, node, p, pointer=True)
        p = path_of(e)
        if p is None or isinstance(e, ir.Call):
            return None
        parts = _parts(p)
        if len(parts) > 1:  # a field: its writers, wherever they are
            key = self._field(fn, parts)
            if key is None:
                return None
            return self._goal(("field", key[0], key[1], int(pointer)))
        name = parts[0]
        if pointer and name in fn.cfg.params:
            return self._goal(("param", u.rel, fn.name, fn.cfg.params.index(name)))
        return self._local(u, fn, name, pointer)

    def _local(self, u: _Unit, fn: Func, name: str, pointer: bool) -> list[str] | None:
        """A local iterator (or pointer to one): its set-ups and assignments in ``fn``."""
        out: list[str] = []
        seen = False
        setup = iter_setup(u.an, fn, name, 0)
        if setup == "":
            return None
        if setup:
            seen = True
            out.append(f"{u.rel}: {setup}")
        for i, n in enumerate(fn.cfg.nodes):
            for a in n.flat:
                if (isinstance(a, ir.Assign) and a.op == "=" and isinstance(a.target, ir.Name)
                        and a.target.id == name):
                    seen = True
                    got = self._object(u, fn, i, a.value, pointer)
                    if got is None:
                        return None
                    out += got
        return out if seen else None

    # ------------------------------------------------------------ goals

    def _goal(self, goal: Goal) -> list[str] | None:
        if goal in self._memo:
            return self._memo[goal]
        if goal in self._active:
            return []  # met again on its own way: no source of its own
        if self._budget <= 0:
            return None
        self._budget -= 1
        if not self._active and self._top is None:
            self._top = goal
        self._active.add(goal)
        try:
            kind = goal[0]
            got = (self._writers(goal[1], goal[2], bool(goal[3])) if kind == "field"
                   else self._callers(goal[1], goal[2], goal[3]) if kind == "param"
                   else self._out(goal[1], goal[2], goal[3]))
        finally:
            self._active.discard(goal)
        self._memo[goal] = got
        return got

    def _writers(self, tag: str, member: str, pointer: bool) -> list[str] | None:
        """Every write of ``tag.member`` in the files that may hold one."""
        mention = re.compile(rb"(?:->|\.)\s*" + re.escape(member.encode()) + rb"\b")
        holders = [t.encode() for t in self._holders(tag)]
        name = member.encode()
        out: list[str] = []
        seen = False
        for rel in self._suspects_first(self.files):
            data = self._bytes(rel)
            if (data is None or name not in data or not any(h in data for h in holders)
                    or not mention.search(data)):
                continue
            u = self._unit(rel)
            if u is None:
                return None
            for g in self._mentioning(u, data, mention):
                aliases = {a.target.id for n in g.cfg.nodes for a in n.flat
                           if isinstance(a, ir.Assign) and isinstance(a.target, ir.Name)
                           and isinstance(a.value, ir.Unary) and a.value.op == "&"
                           and self._is(g, a.value.arg, tag, member)}
                for i, n in enumerate(g.cfg.nodes):
                    for a in n.flat:
                        if isinstance(a, ir.Assign) and (
                                self._is(g, a.target, tag, member)
                                or (isinstance(a.target, ir.Unary) and a.target.op == "*"
                                    and isinstance(a.target.arg, ir.Name)
                                    and a.target.arg.id in aliases)):
                            seen = True
                            got = (self._object(u, g, i, a.value, pointer)
                                   if a.op == "=" else None)
                            if got is None:
                                return None
                            out += got
                        elif isinstance(a, ir.Call) and not pointer:
                            for k, arg in enumerate(a.args):
                                if (isinstance(arg, ir.Unary) and arg.op == "&"
                                        and self._is(g, arg.arg, tag, member)) or (
                                        isinstance(arg, ir.Name) and arg.id in aliases):
                                    got = self._handed(u, a, k)
                                    if got is None:
                                        return None
                                    seen = seen or bool(got)
                                    out += got
        return out if seen else None

    def _handed(self, u: _Unit, c: ir.Call, k: int) -> list[str] | None:
        """A call handed an iterator's address as argument ``k``: what it sets it to."""
        cat = self.cat
        if cat.user_iter.get(c.name) == k:
            return None
        if cat.kernel_iter.get(c.name) == k:
            return [f"{u.rel}:{c.line} {c.name}()"]
        if not c.name or c.name in cat.acquire:
            # An extraction reads it; so does a call through a pointer (``ops->read(cres,
            # pos, iter)``): an iterator is handed to an operation for its data, and an
            # operation setting up its caller's iterator anew would be no operation.
            return []
        where = self._definition(c.name, u)
        if where is None or where in cat.iter_api_files:
            return []  # the API moving over it, or defined where no iterator is named
        return self._goal(("out", where, c.name, k))

    def _out(self, rel: str, function: str, k: int) -> list[str] | None:
        """What ``function`` (defined in ``rel``) sets the iterator its argument ``k``
        points to: its set-up calls and its stores through the pointer."""
        u = self._unit(rel)
        g = u.funcs.get(function) if u else None
        if u is None or g is None:
            return None
        if k >= len(g.cfg.params):
            return []  # a variadic argument (a format-driven marshaller): data, read
        p = g.cfg.params[k]
        if not p:
            return None
        setup = iter_setup(u.an, g, p, 0)
        if setup == "":
            return None
        out = [f"{rel}: {setup} in {function}()"] if setup else []
        for i, n in enumerate(g.cfg.nodes):
            for a in n.flat:
                if (isinstance(a, ir.Assign) and isinstance(a.target, ir.Unary)
                        and a.target.op == "*" and path_of(a.target.arg) == p):
                    got = self._object(u, g, i, a.value, pointer=False)
                    if got is None:
                        return None
                    out += got
        return out

    def _callers(self, rel: str, function: str, k: int) -> list[str] | None:
        """Every call of ``function`` (defined in ``rel``): what each hands it. A function
        stored in an ops table (``.zc_request = fn``) is also called through that member
        (``c->trans_mod->zc_request(...)``), anywhere; one whose address goes elsewhere (a
        callback argument) has callers nobody can list."""
        home = self._unit(rel)
        if home is None:
            return None
        members = sorted(f for f, fs in home.sf.handlers.items() if function in fs)
        static = any(f.name == function and f.static for f in home.sf.functions)
        files = [rel] if static and not members else self.files
        name = function.encode()
        direct = re.compile(rb"\b" + re.escape(name) + rb"\b")
        through = re.compile(rb"(?:->|\.)\s*(?:" + b"|".join(
            re.escape(m.encode()) for m in members) + rb")\s*\(") if members else None
        out: list[str] = []
        seen = False
        for other in self._suspects_first(files):
            data = self._bytes(other)
            if data is None:
                continue
            named = name in data and direct.search(data) is not None
            if not named and (through is None or not through.search(data)):
                continue
            if named and _address_passed(data, function, self.cat.export_macro):
                return None
            u = self._unit(other)
            if u is None:
                return None
            indirect = self._mentioning(u, data, through) if through is not None else []
            for g in u.funcs.values():
                if function not in (g.callees or ()) and g not in indirect:
                    continue
                for i, n in enumerate(g.cfg.nodes):
                    for c in n.flat:
                        if not isinstance(c, ir.Call) or not (c.name == function or (
                                not c.name and isinstance(c.callee, ir.Member)
                                and c.callee.field in members)):
                            continue
                        if k >= len(c.args):
                            return None
                        seen = True
                        got = self._object(u, g, i, c.args[k], pointer=True)
                        if got is None:
                            return None
                        out += got
        return out if seen else None

    # ------------------------------------------------------------ fields and types

    def _is(self, g: Func, e: ir.Expr, tag: str, member: str) -> bool:
        """Whether ``e`` is the field ``tag.member`` (a base of unknown type that has a
        member of that name may be it: counted, so that no writer is missed)."""
        p = path_of(e)
        if p is None or isinstance(e, ir.Call):
            return False
        parts = _parts(p)
        if len(parts) < 2 or parts[-1] != member:
            return False
        key = self._field(g, parts)
        return key is None or key == (tag, member)

    def _field(self, g: Func, parts: list[str]) -> tuple[str, str] | None:
        """``rreq->buffer.iter`` -> (the struct ``buffer`` is, "iter"); None when a type
        on the way is not known."""
        tag = g.cfg.types.get(parts[0])
        for m in parts[1:-1]:
            if tag is None:
                return None
            tag = self._layout(tag).get(m)
        return (tag, parts[-1]) if tag else None

    def _layout(self, tag: str) -> dict[str, str]:
        """The struct-typed members of ``struct tag`` (member -> struct tag), from its
        definition in the files searched."""
        if tag in self._layouts:
            return self._layouts[tag]
        self._layouts[tag] = {}
        head = re.compile(rb"\bstruct\s+" + re.escape(tag.encode()) + rb"\s*\{")
        needle = b"struct " + tag.encode()
        for rel in self.files:
            data = self._bytes(rel)
            if data is None or needle not in data:
                continue
            m = head.search(data)
            if m is None:
                continue
            body = _braced(data, m.end() - 1)
            self._layouts[tag] = {name.decode(): inner.decode()
                                  for inner, name in _MEMBER.findall(body)}
            break
        return self._layouts[tag]

    def _holders(self, tag: str) -> list[str]:
        """``tag`` and the structs known to embed it (a file naming none of them cannot
        write the field, but through a pointer of a type it does not name)."""
        out = [tag]
        for outer, members in self._layouts.items():
            if tag in members.values() and outer not in out:
                out.append(outer)
        return out

    # ------------------------------------------------------------ files

    def _suspects_first(self, files: list[str]) -> list[str]:
        """``files`` with those naming a user set-up first: one user set-up leaves the
        goal unproven, and every file must be read to prove it, so the order changes only
        how soon a failing goal stops."""
        if self._suspects is None:
            names = [n.encode() for n in sorted(self.cat.user_iter)]
            self._suspects = frozenset(rel for rel in self.files
                                       if (data := self._bytes(rel)) is not None
                                       and any(n in data for n in names))
        return ([rel for rel in files if rel in self._suspects]
                + [rel for rel in files if rel not in self._suspects])

    @staticmethod
    def _mentioning(u: _Unit, data: bytes, pattern: re.Pattern[bytes]) -> list[Func]:
        """The functions of a file whose text matches ``pattern``: the others' graphs
        need not be built."""
        lines = sorted({data.count(b"\n", 0, m.start()) + 1 for m in pattern.finditer(data)})
        out = []
        for f in u.sf.functions:
            i = bisect.bisect_left(lines, f.line)
            g = u.funcs.get(f.name)
            if i < len(lines) and lines[i] <= f.end_line and g is not None and g not in out:
                out.append(g)
        return out

    def _definition(self, name: str, near: _Unit) -> str | None:
        """The file defining function ``name``: ``near`` itself, or one of the files
        searched (found on the lines naming it, without parsing)."""
        if name in near.funcs:
            return near.rel
        if name not in self._defined:
            self._defined[name] = None
            pattern = discover.definition_pattern([name])
            needle = name.encode()
            for rel in self.files:
                data = self._bytes(rel)
                at = data.find(needle) if data is not None else -1
                while at >= 0 and data is not None and pattern is not None:
                    start = data.rfind(b"\n", 0, at) + 1
                    end = data.find(b"\n", at)
                    if pattern.match(data, start, end if end >= 0 else len(data)) and (
                            _body_follows(data, at)):
                        self._defined[name] = rel
                        break
                    at = data.find(needle, at + len(needle))
                if self._defined[name] is not None:
                    break
        return self._defined[name]

    def digest(self, rel: str) -> str | None:
        """The SHA-1 of a file's bytes (None: unreadable), computed once."""
        if rel not in self._digests:
            data = self._bytes(rel)
            self._digests[rel] = hashlib.sha1(data).hexdigest() if data is not None else None
        return self._digests[rel]

    def _bytes(self, rel: str) -> bytes | None:
        if rel not in self.read_files:
            data = self.read(rel)
            if data is None or b"\0" in data[:65536]:
                return None
            self.read_files[rel] = data
        return self.read_files[rel]

    def _unit(self, rel: str) -> _Unit | None:
        if rel not in self._units:
            data = self._bytes(rel)
            if data is None:
                self._units[rel] = None
            else:
                sf, funcs = self.parse(rel, data)
                an = Analysis(funcs, self.cat, sf.defined, sf.handlers)
                self._units[rel] = _Unit(rel, sf, funcs, an)
        return self._units[rel]


_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
_MEMBER = re.compile(rb"\bstruct\s+(\w+)\s*\**\s*(\w+)\s*(?:\[[^\]]*\])?\s*;")


def _address_passed(data: bytes, function: str, export: str) -> bool:
    """Whether a file uses ``function``'s address other than by storing it (``.op = fn``,
    ``x->op = fn``) or exporting it: handed to a registration call, kept in an array."""
    data = _COMMENT.sub(b" ", data)
    for m in re.finditer(rb"\b" + re.escape(function.encode()) + rb"\b(?!\s*\()", data):
        before = data[max(0, m.start() - 64) : m.start()].rstrip(b" \t\n&")
        if before.endswith(b"=") or re.search(
                rb"\b" + re.escape(export.encode()) + rb"\w*\($", before):
            continue
        return True
    return False


def _body_follows(data: bytes, at: int) -> bool:
    """Whether the name at ``at`` opens a definition: a body (``{``) before any ``;``
    (a prototype, a call statement)."""
    brace, semi = data.find(b"{", at), data.find(b";", at)
    return brace >= 0 and (semi < 0 or brace < semi)


def _parts(path: str) -> list[str]:
    return [p.removesuffix("[]") for p in re.split(r"->|\.", path)]


def _braced(data: bytes, start: int) -> bytes:
    """The text between the brace at ``start`` and the one that closes it."""
    depth = 0
    for i in range(start, len(data)):
        ch = data[i]
        if ch == 0x7B:  # {
            depth += 1
        elif ch == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return data[start + 1 : i]
    return data[start + 1 :]
