"""Where an iterator comes from, followed across files (a question of the link pass).

``iov_iter_get_pages*()`` and ``iov_iter_extract_pages()`` take page references (or pins)
only from an iterator over user memory; from one over kernel memory (bvec, kvec, xarray,
folio_queue) they take page-cache references or nothing. When the site's own file does
not say which (``flow.kernel_iterator``), the iterator is followed back to where it was
set up, through four kinds of goal:

* ``field``: an iterator read from a struct field (``&subreq->io_iter``): every write of
  that field anywhere (an assignment, a store through a pointer to it, a set-up call on
  its address, a function handed its address, a macro wrapping a set-up), the field named
  by its innermost struct (``rreq->buffer.iter`` is ``rolling_buffer.iter`` when
  ``buffer`` is a ``struct rolling_buffer``);
* ``local``: a variable of a function: its set-ups and assignments there (through
  pointers to it too), and for a parameter its callers;
* ``param``: every call of a function (its file for a static one of a .c file, else every
  file that may hold one, including calls through the ops-table members it is stored in);
  a function whose address goes elsewhere has callers nobody can list, and proves nothing;
* ``out``: a function handed an iterator's address: what it sets the iterator to.

A value is kernel-backed when it is set up by an ``[iter_backing] kernel`` call, copied
under a test that says so (``if (!user_backed_iter(iter))`` of that iterator), or copied
from a field or variable that is, recursively (a goal met again on its own way counts as
no new source). Any user set-up, a value from a call, a type not known: not proven, "".

The files searched are those the prefilter marks as naming the iterator (``[iter_backing]
index``, the set-ups). What a proof leans on that other files may hold too (``wanted``:
the callers of a non-static function, writers through a struct embedding the field's) is
searched for in the whole tree by the link pass, which then makes the proof again with
the files found (``extend``). Known limits: ``swap()``, compound-literal and typedef'd
writes, ``INDIRECT_CALL_*()`` callers.
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
from gupaudit.flow import iter_setup, iterator_path, node_of, not_pinned_at, pointers_to
from gupaudit.model import SourceFile
from gupaudit.parse import C_COMMENT

Reader = Callable[[str], bytes | None]
Parser = Callable[[str, bytes], tuple[SourceFile, dict[str, Func]]]
Goal = tuple[str, str, str, int]  # (kind, struct tag | file, member | function, index)

MAX_GOALS = 400  # goals one site may open before it is left unproven
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
    # what the last proof (``site``) leant on that files naming no iterator may hold as
    # well: the names of non-static functions whose callers were read (an ops table of
    # file_operations style), ``struct T`` of the fields whose writers were read (a
    # struct embedding T)
    wanted: set[str] = field(default_factory=set)
    _words: dict[Goal, frozenset[str]] = field(default_factory=dict)  # ... per goal, all
    _stack: list[set[str]] = field(default_factory=list)  # ... of the goals being proven
    _members: dict[str, set[str]] = field(default_factory=dict)  # "struct T" -> fields
    _units: dict[str, _Unit | None] = field(default_factory=dict)
    _layouts: dict[str, dict[str, str]] = field(default_factory=dict)
    _memo: dict[Goal, list[str] | None] = field(default_factory=dict)
    _active: set[Goal] = field(default_factory=set)
    _budget: int = MAX_GOALS
    _starved: bool = False  # the site ran out of goals: what it decided is not kept
    _top: Goal | None = None  # the site's first goal, named in the evidence
    _defined: dict[str, list[str]] = field(default_factory=dict)
    _macros: dict[str, bytes | None] = field(default_factory=dict)
    _wrapping: list[tuple[bytes, bytes]] | None = None  # macros that call a set-up
    _struct_defs: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    _embedders: dict[str, set[str]] | None = None  # struct tag -> the structs embedding it
    _digests: dict[str, str | None] = field(default_factory=dict)
    _codes: dict[str, bytes | None] = field(default_factory=dict)  # comments blanked
    _suspects: frozenset[str] | None = None  # files naming a user set-up
    _holding: dict[bytes, list[str]] = field(default_factory=dict)  # needle -> files

    # ------------------------------------------------------------ the question

    def relevant(self, rel: str, word: str) -> bool:
        """Whether a file found by ``word`` can change a proof that leant on it: for a
        function, a call or a use of its address (not a prototype or a definition at
        column 0); for ``struct T``, a mention of a field of T the proofs followed."""
        data = self._code(rel)
        if data is None:
            return False
        if word.startswith("struct "):
            return any(_has(data, m.encode()) for m in self._members.get(word, ()))
        name = word.encode()
        at = data.find(name)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            if not re.fullmatch(rb"[A-Za-z_][\w \t*]*", data[start:at]) and _word_in(
                    data[at - 1 if at else 0 : at + len(name) + 1], name):
                return True
            at = data.find(name, at + 1)
        return False

    def extend(self, files: list[str], words: list[str]) -> None:
        """Search these files too (found by ``words``): what was proven leaning on a word
        one of them names is forgotten."""
        self.files = sorted(set(self.files) | set(files))
        for needle, holding in self._holding.items():
            holding += [f for f in files if f not in holding
                        and (data := self._bytes(f)) is not None and _has(data, needle)]
            holding.sort()
        named = {w for w in words for f in files
                 if (data := self._bytes(f)) is not None and w.encode() in data}
        self._memo = {g: v for g, v in self._memo.items()
                      if v is None or not (self._words.get(g, frozenset()) & named)}
        self._suspects = None
        self._defined.clear()
        self._layouts.clear()
        self._embedders = None
        self._wrapping = None

    def site(self, rel: str, function: str, line: int, column: int) -> str:
        """Evidence that the iterator of the site at (line, column) is kernel-backed on
        every way it can be set up, "" when that is not shown."""
        u = self._unit(rel)
        fn = u.funcs.get(function) if u else None
        call = u.an.find_call(fn, line, column) if u and fn else None
        if u is None or fn is None or call is None or not call.args:
            return ""
        self._budget = MAX_GOALS
        self._starved = False
        self._top = None
        before = set(self._memo)
        self._stack = [set()]
        got = self._object(u, fn, node_of(fn.cfg, call), call.args[0], pointer=True)
        self.wanted = self._stack.pop()
        if not got or self._starved:
            # A goal proven on the way may have leant on one that then failed (a cycle
            # through it counted as no source): only the failures stand, and none of them
            # when the site ran out of goals (another site, with goals left, may prove
            # them: the order the sites come in must not decide).
            for goal in set(self._memo) - before:
                if self._starved or self._memo[goal] is not None:
                    del self._memo[goal]
        if not got:
            return ""
        shown = list(dict.fromkeys(got))
        more = f" and {len(shown) - MAX_SHOWN} more" if len(shown) > MAX_SHOWN else ""
        return (f"{self._name(self._top)} is set up over kernel memory wherever it is "
                "written: " + "; ".join(shown[:MAX_SHOWN]) + more)

    def _name(self, goal: Goal | None) -> str:
        """How the evidence names what was followed: a field, or a function's argument."""
        if goal is None:
            return "it"
        kind, where, what, k = goal
        if kind == "field":
            return f"{where}.{what}"
        if kind == "local":
            function, name = what.split(":", 1)
            u = self._unit(where)
            params = u.funcs[function].cfg.params if u and function in u.funcs else ()
            if name not in params:
                return f"`{name}` of {function}()"
            what, k = function, params.index(name)
        return f"argument {k + 1} of {what}()"

    # ------------------------------------------------------------ values

    def _object(self, u: _Unit, fn: Func, node: int, e: ir.Expr,
                pointer: bool) -> list[str] | None:
        """The evidence for the iterator ``e`` is (``pointer``: points to) at ``node``."""
        guard = not_pinned_at(self.cat, fn, node, iterator_path(e))
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
        return self._goal(("local", u.rel, f"{fn.name}:{parts[0]}", int(pointer)))

    def _local(self, rel: str, function: str, name: str, pointer: bool) -> list[str] | None:
        """A variable of ``function`` holding the iterator (or a pointer to it): what it is
        set up to and assigned there (through ``p = &it`` too), and for a parameter what
        its callers hand it."""
        u = self._unit(rel)
        fn = u.funcs.get(function) if u else None
        if u is None or fn is None:
            return None
        out: list[str] = []
        seen = False
        setup = iter_setup(u.an, fn, name, 0)  # through pointers to it too
        if setup == "":
            return None
        if setup:
            seen = True
            out.append(_piece(rel, setup))
        # pointers to the iterator itself (``p = &it``), whose stores ``*p = ...`` write it
        refs = pointers_to(fn, name) - {name} if not pointer else set()
        for i, n in enumerate(fn.cfg.nodes):
            for a in n.flat:
                if not isinstance(a, ir.Assign):
                    continue
                if isinstance(a.target, ir.Name) and a.target.id == name:
                    target = pointer
                elif (isinstance(a.target, ir.Unary) and a.target.op == "*"
                      and isinstance(a.target.arg, ir.Name) and a.target.arg.id in refs):
                    target = False
                else:
                    continue
                seen = True
                got = self._object(u, fn, i, a.value, target) if a.op == "=" else None
                if got is None:
                    return None
                out += got
        if pointer and name in fn.cfg.params:
            seen = True
            got = self._goal(("param", rel, function, fn.cfg.params.index(name)))
            if got is None:
                return None
            out += got
        return out if seen else None

    # ------------------------------------------------------------ goals

    def _goal(self, goal: Goal) -> list[str] | None:
        if self._top is None:
            self._top = goal  # the site's first: named in the evidence
        if goal in self._memo:
            if self._stack:
                self._stack[-1].update(self._words.get(goal, ()))
            return self._memo[goal]
        if goal in self._active:
            return []  # met again on its own way: no source of its own
        if self._budget <= 0:
            self._starved = True
            return None
        self._budget -= 1
        kind = goal[0]
        self._active.add(goal)
        self._stack.append(set())
        try:
            if kind == "field":
                got = self._writers(goal[1], goal[2], bool(goal[3]))
            elif kind == "param":
                got = self._callers(goal[1], goal[2], goal[3])
            elif kind == "local":
                function, name = goal[2].split(":", 1)
                got = self._local(goal[1], function, name, bool(goal[3]))
            else:
                got = self._out(goal[1], goal[2], goal[3])
        finally:
            self._active.discard(goal)
            words = frozenset(self._stack.pop())
            self._words[goal] = words
            if self._stack:
                self._stack[-1].update(words)
        self._memo[goal] = got
        return got

    def _lean(self, word: str) -> None:
        """The goal being proven leans on ``word`` (``wanted``)."""
        if self._stack:
            self._stack[-1].add(word)

    def _writers(self, tag: str, member: str, pointer: bool) -> list[str] | None:
        """Every write of ``tag.member`` in the files that may hold one: an assignment, a
        store through its address (``p = &x->f; *p = ...``), a call handed its address (or,
        for a pointer field, its value: the iterator it points to)."""
        mention = re.compile(rb"(?:->|\.)\s*" + re.escape(member.encode()) + rb"\b")
        holders = [t.encode() for t in self._holders(tag)]
        self._lean(f"struct {tag}")
        self._members.setdefault(f"struct {tag}", set()).add(member)
        name = member.encode()
        holding = set().union(*(self._with(h) for h in holders))  # files naming one
        for macro, body in self._setup_macros():
            # a macro that sets such a field up over user memory, used where the struct is
            if mention.search(body) and any(_word_in(body, n.encode())
                                            for n in self.cat.user_iter) and any(
                    rel in holding and (data := self._bytes(rel)) is not None
                    and _word_in(data, macro) for rel in self._with(macro)):
                return None
        out: list[str] = []
        seen = False
        for rel in self._suspects_first(self._with(name)):
            data = self._bytes(rel)
            if data is None or rel not in holding or not mention.search(data):
                continue
            u = self._unit(rel)
            if u is None:
                return None
            for g in self._mentioning(u, data, mention):
                # locals that point to the iterator: &x->f, or (a pointer field) x->f itself
                refs = pointers_to(g, "", lambda v, g=g: self._refers(
                    g, v, tag, member, pointer)) - {""}
                for i, n in enumerate(g.cfg.nodes):
                    for a in n.flat:
                        if isinstance(a, ir.Assign) and self._is(g, a.target, tag, member):
                            target: bool | None = pointer  # the field itself is written
                        elif (isinstance(a, ir.Assign) and isinstance(a.target, ir.Unary)
                              and a.target.op == "*" and (
                                  (isinstance(a.target.arg, ir.Name)
                                   and a.target.arg.id in refs)
                                  or (pointer and self._is(g, a.target.arg, tag, member)))):
                            target = False  # the iterator, through a pointer to it
                        else:
                            target = None
                        if target is not None:
                            seen = True
                            got = (self._object(u, g, i, a.value, target)
                                   if isinstance(a, ir.Assign) and a.op == "=" else None)
                            if got is None:
                                return None
                            out += got
                        elif isinstance(a, ir.Call):
                            for k, arg in enumerate(a.args):
                                if self._refers(g, arg, tag, member, pointer) or (
                                        isinstance(arg, ir.Name) and arg.id in refs):
                                    copy = self.cat.iter_copy.get(a.name)
                                    got = (self._object(u, g, i, a.args[copy[1]], True)
                                           if copy and copy[0] == k and copy[1] < len(a.args)
                                           else self._handed(u, a, k))
                                    if got is None:
                                        return None
                                    seen = seen or bool(got)
                                    out += got
        return out if seen else None

    def _refers(self, g: Func, e: ir.Expr, tag: str, member: str, pointer: bool) -> bool:
        """Whether ``e`` points to the iterator of ``tag.member``: ``&x->f``, or the value
        of ``x->f`` when the field is a pointer."""
        if isinstance(e, ir.Unary) and e.op == "&":
            return not pointer and self._is(g, e.arg, tag, member)
        return pointer and self._is(g, e, tag, member)

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
        defined = self._definitions(c.name, u)
        macro = self._macro(c.name) if not defined else None
        if macro is not None:  # a file-local or header macro wrapping a set-up
            if any(_word_in(macro, n.encode()) for n in cat.user_iter):
                return None
            kernel = [n for n in sorted(cat.kernel_iter) if _word_in(macro, n.encode())]
            return [f"{u.rel}:{c.line} {c.name}() ({kernel[0]}())"] if kernel else []
        out: list[str] = []
        for where in defined:
            if where in cat.iter_api_files:
                continue  # the API moving over it
            got = self._goal(("out", where, c.name, k))
            if got is None:
                return None
            out += got
        return out  # none: defined where no iterator is named, it cannot set one up

    def _out(self, rel: str, function: str, k: int) -> list[str] | None:
        """What ``function`` (defined in ``rel``) sets the iterator its argument ``k``
        points to: its set-up calls (in its file and beyond) and its stores through the
        pointer."""
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
        out = [_piece(rel, setup)] if setup else []
        for i, n in enumerate(g.cfg.nodes):
            for a in n.flat:
                if (isinstance(a, ir.Assign) and isinstance(a.target, ir.Unary)
                        and a.target.op == "*" and path_of(a.target.arg) == p):
                    got = self._object(u, g, i, a.value, pointer=False)
                elif isinstance(a, ir.Call) and a.name not in u.funcs:
                    # handed on to a function of another file (iter_setup read this one's)
                    got = []
                    for j, arg in enumerate(a.args):
                        if path_of(arg) == p and not isinstance(arg, ir.Unary):
                            more = self._handed(u, a, j)
                            if more is None:
                                return None
                            got += more
                else:
                    continue
                if got is None:
                    return None
                out += got
        return out

    def _callers(self, rel: str, function: str, k: int) -> list[str] | None:
        """Every call of ``function`` (defined in ``rel``): what each hands it. A function
        stored in an ops table (``.zc_request = fn``, in any file) is also called through
        that member (``c->trans_mod->zc_request(...)``), anywhere; one whose address goes
        elsewhere (a callback argument, an array) has callers nobody can list. A static
        function of a header is called by every file that includes it."""
        home = self._unit(rel)
        if home is None:
            return None
        static = rel.endswith(".c") and any(f.name == function and f.static
                                            for f in home.sf.functions)
        files = [rel] if static else self._suspects_first(self._with(function.encode()))
        if not static:
            self._lean(function)
        name = function.encode()
        named: list[tuple[str, bytes, _Unit]] = []
        members: set[str] = set()
        for other in files:  # every file naming it: where it is called or stored
            data = self._bytes(other)
            if data is None or not _has(data, name) or not _word_in(data, name):
                continue
            u = self._unit(other)
            code = self._code(other) or b""
            if u is None or function in u.sf.taken or \
                    _address_passed(code, function, self.cat.export_macro):
                return None
            members |= _stored(code, function)
            named.append((other, data, u))
        through = re.compile(rb"(?:->|\.)\s*(?:" + b"|".join(
            re.escape(m.encode()) for m in sorted(members)) + rb")\s*\(") if members else None
        if through is not None:  # the ops members' calls, anywhere
            seen_files = {other for other, _, _ in named}
            naming = sorted(set().union(*(self._with(m.encode()) for m in members)))
            for other in self._suspects_first(naming):
                data = self._bytes(other)
                if other in seen_files or data is None or not through.search(data):
                    continue
                u = self._unit(other)
                if u is None:
                    return None
                named.append((other, data, u))
        out: list[str] = []
        seen = False
        for _other, data, u in named:
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
        definitions in the files searched; a member two same-named structs type
        differently is left out (unknown, so nothing is proven through it)."""
        if tag not in self._layouts:
            found: dict[str, set[str]] = {}
            for members in self._definitions_of(tag):
                for name, inner in members.items():
                    found.setdefault(name, set()).add(inner)
            self._layouts[tag] = {n: next(iter(t)) for n, t in found.items() if len(t) == 1}
        return self._layouts[tag]

    def _holders(self, tag: str) -> list[str]:
        """``tag`` and every struct that embeds it, however deep (a file naming none of
        them cannot write the field, but through a pointer of a type it does not name)."""
        if self._embedders is None:
            self._embedders = {}
        out = [tag]
        for t in out:  # grows as embedders are found
            if t not in self._embedders:  # the structs whose definitions hold a ``struct t``
                needle = b"struct " + t.encode()
                self._embedders[t] = {
                    outer for rel in self._with(needle)
                    for outer, members in self._structs(rel) if t in members.values()}
            out += sorted(self._embedders[t] - set(out))
        return out

    def _definitions_of(self, tag: str) -> list[dict[str, str]]:
        needle = b"struct " + tag.encode()
        return [members for rel in self._with(needle)
                for outer, members in self._structs(rel) if outer == tag]

    def _structs(self, rel: str) -> list[tuple[str, dict[str, str]]]:
        """The struct definitions of a file: (tag, its struct-typed members)."""
        if rel not in self._struct_defs:
            data = self._bytes(rel) or b""
            self._struct_defs[rel] = [
                (m.group(1).decode(), {name.decode(): inner.decode() for inner, name in
                                       _MEMBER.findall(_braced(data, m.end() - 1))})
                for m in _STRUCT.finditer(data)]
        return self._struct_defs[rel]

    # ------------------------------------------------------------ files

    def _suspects_first(self, files: list[str]) -> list[str]:
        """``files`` with those naming a user set-up first: one user set-up leaves the
        goal unproven, and every file must be read to prove it, so the order changes only
        how soon a failing goal stops."""
        if self._suspects is None:
            names = [n.encode() for n in sorted(self.cat.user_iter)]
            self._suspects = frozenset().union(*(self._with(n) for n in names))
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

    def _setup_macros(self) -> list[tuple[bytes, bytes]]:
        """(name, text) of the function-like macros of the files searched that call a
        set-up (``#define x_import(r, b) import_ubuf(..., &(r)->iter)``)."""
        if self._wrapping is None:
            names = [n.encode() for n in sorted({*self.cat.kernel_iter, *self.cat.user_iter})]
            self._wrapping = [
                (m.group(1), m.group()) for rel in self._with(b"define")
                if (data := self._bytes(rel)) is not None
                for m in _MACRO.finditer(data) if any(_word_in(m.group(), n) for n in names)]
        return self._wrapping

    def _macro(self, name: str) -> bytes | None:
        """The body of a function-like macro ``name`` in the files searched, if one is
        defined there (its continuation lines joined)."""
        if name not in self._macros:
            self._macros[name] = None
            head = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+" + re.escape(name.encode())
                              + rb"\((?:[^\n]*\\\n)*[^\n]*", re.M)
            for rel in self._with(name.encode()):
                data = self._bytes(rel)
                m = head.search(data) if data is not None else None
                if m is not None:
                    self._macros[name] = m.group()
                    break
        return self._macros[name]

    def _definitions(self, name: str, near: _Unit) -> list[str]:
        """The files that may define the function ``name`` a call in ``near`` reaches:
        ``near`` itself, else every definition in the files searched but a static one of
        another .c file (found on the lines naming it, without parsing)."""
        if name in near.funcs:
            return [near.rel]
        if name not in self._defined:
            pattern = discover.definition_pattern([name])
            needle = name.encode()
            found = []
            for rel in self._with(needle):
                data = self._bytes(rel)
                at = data.find(needle) if data is not None else -1
                while at >= 0 and data is not None and pattern is not None:
                    start = data.rfind(b"\n", 0, at) + 1
                    end = data.find(b"\n", at)
                    if pattern.match(data, start, end if end >= 0 else len(data)) and (
                            _body_follows(data, at)):
                        if not (rel.endswith(".c") and data.startswith(b"static", start)):
                            found.append(rel)
                        break
                    at = data.find(needle, at + len(needle))
            self._defined[name] = found
        return self._defined[name]

    def _with(self, needle: bytes) -> list[str]:
        """The files searched whose bytes hold ``needle``, in path order: each goal used
        to scan every file for its names, and a proof asks the same names many times."""
        if needle not in self._holding:
            self._holding[needle] = [rel for rel in self.files
                                     if (data := self._bytes(rel)) is not None
                                     and _has(data, needle)]
        return self._holding[needle]

    def digest(self, rel: str) -> str | None:
        """The SHA-1 of a file's bytes (None: unreadable), computed once."""
        if rel not in self._digests:
            data = self._bytes(rel)
            self._digests[rel] = hashlib.sha1(data).hexdigest() if data is not None else None
        return self._digests[rel]

    def _code(self, rel: str) -> bytes | None:
        """A file's bytes with its comments blanked (names in comments are no uses)."""
        if rel not in self._codes:
            data = self._bytes(rel)
            self._codes[rel] = C_COMMENT.sub(b" ", data) if data is not None else None
        return self._codes[rel]

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


_has = discover.contains()
_BRACE = re.compile(rb"[{}]")
_MACRO = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+(\w+)\((?:[^\n]*\\\n)*[^\n]*", re.M)
_STRUCT = re.compile(rb"\bstruct\s+(\w+)\s*\{")
_MEMBER = re.compile(rb"\bstruct\s+(\w+)\s*\**\s*(\w+)\s*(?:\[[^\]]*\])?\s*;")


def _piece(rel: str, setup: str) -> str:
    """``flow.iter_setup``'s "set up by iov_iter_bvec() at line 115" as the evidence's
    ``path:line call()``, whichever way the set-up was reached."""
    m = re.match(r"set up by (\w+\(\)) at line (\d+)", setup)
    return f"{rel}:{m.group(2)} {m.group(1)}" if m else f"{rel}: {setup}"


def _stored(code: bytes, function: str) -> set[str]:
    """The fields a file's code (comments blanked) stores ``function`` into: ``.op =
    fn``, ``x->op = &fn``."""
    pattern = rb"(?:\.|->)\s*(\w+)\s*=\s*&?\s*" + re.escape(function.encode()) + rb"\b(?!\s*\()"
    return {m.decode() for m in re.findall(pattern, code)}


def _address_passed(data: bytes, function: str, export: str) -> bool:
    """Whether a file's code (comments blanked) uses ``function``'s address other than
    by storing it in a field (``.op = fn``, ``x->op = &fn``) or exporting it: handed to a
    registration call, kept in an array or a local function pointer."""
    for m in re.finditer(rb"\b" + re.escape(function.encode()) + rb"\b(?!\s*\()", data):
        before = data[max(0, m.start() - 64) : m.start()].rstrip(b" \t\n&")
        if re.search(rb"(?:\.|->)\s*\w+\s*=$", before) or re.search(
                rb"\b" + re.escape(export.encode()) + rb"\w*\($", before):
            continue
        return True
    return False


def _word_in(data: bytes, word: bytes) -> bool:
    """Whether ``word`` occurs in ``data`` as a whole identifier."""
    at = data.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not discover.ident_byte(data[at - 1])) and (
                end >= len(data) or not discover.ident_byte(data[end])):
            return True
        at = data.find(word, at + 1)
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
    for m in _BRACE.finditer(data, start):
        depth += 1 if m.group() == b"{" else -1
        if depth == 0:
            return data[start + 1 : m.start()]
    return data[start + 1 :]
