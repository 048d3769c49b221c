"""Stage 3a, lower: one function body (a tree-sitter node) -> a small structured IR.

Expressions become values over access paths (``Name``, ``Member``, ``Index``), calls with
their argument values, constants and operators; statements become ``If``, ``Switch``,
``Loop``, ``Goto``, ``Label``, ``Return``, ``Break``, ``Continue`` and ``ExprStmt``
(assignments and declarations are ``Assign`` expressions inside ``ExprStmt``).

Kernel idioms handled here, so that ``cfg`` sees plain C:

* loop macros (``for_each_sg(...) stmt``, ``list_for_each_entry(...) { }``): tree-sitter reads
  the macro as a call statement with a MISSING ``;`` followed by its body; that pair becomes
  a ``Loop`` (kind "macro") when the name is an iterator, else a block run once
  (``scoped_guard(mutex, &lock) { }``);
* ``#ifdef`` halves inside a body: an ``If`` on an unknown condition;
* statement expressions ``({ ... })``: their statements run before the one using the value;
* designated initialisers ``struct s v = { .page = p }``: one ``Assign`` per field.

No tree-sitter object leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tree_sitter as ts

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Name:
    id: str


@dataclass(frozen=True, slots=True)
class Member:
    base: Expr
    field: str
    arrow: bool


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # ! - ~ & * ++ -- (prefix or postfix alike)
    arg: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Ternary:
    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # "" for a call through a pointer (``ops->fn(x)``): see ``callee``
    args: tuple[Expr, ...]
    line: int
    column: int
    callee: Expr | None = None


@dataclass(frozen=True, slots=True)
class Assign:
    op: str  # = += |= ...
    target: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Const:
    text: str  # numbers, characters, strings, NULL, true/false, sizeof(...)


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Expr, ...]  # the comma operator; its value is the last item


Expr = Name | Member | Index | Unary | Binary | Ternary | Call | Assign | Const | Seq

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class ExprStmt:
    expr: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Block:
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr | None  # None: unknown (an #ifdef half)
    then: Stmt
    other: Stmt | None
    line: int


@dataclass(frozen=True, slots=True)
class Case:
    values: tuple[Expr, ...]  # () for default
    body: tuple[Stmt, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Switch:
    value: Expr
    cases: tuple[Case, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Loop:
    kind: str  # for | while | do | macro
    init: tuple[Stmt, ...]
    cond: Expr | None  # for "macro": the macro call itself
    step: Expr | None
    body: Stmt
    line: int


@dataclass(frozen=True, slots=True)
class Return:
    value: Expr | None
    line: int


@dataclass(frozen=True, slots=True)
class Goto:
    label: str
    line: int


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    line: int


@dataclass(frozen=True, slots=True)
class Break:
    line: int


@dataclass(frozen=True, slots=True)
class Continue:
    line: int


Stmt = ExprStmt | Block | If | Switch | Loop | Return | Goto | Label | Break | Continue


@dataclass(frozen=True, slots=True)
class Body:
    """A lowered function: its statements, parameter names and the locals it declares."""

    block: Block
    params: tuple[str, ...]
    locals: frozenset[str] = field(default_factory=frozenset)
    pointers: frozenset[str] = field(default_factory=frozenset)  # locals declared as pointers
    end_line: int = 0  # the closing brace: falling off the end returns there
    types: dict[str, str] = field(default_factory=dict)  # params and locals: struct tag


# ---------------------------------------------------------------- printing


T = TypeVar("T")


def by_identity(fn: Callable[[Expr | None], T]) -> Callable[[Expr | None], T]:
    """``fn`` of a value, cached by the value's identity (a CFG's values are asked again
    on every path; each entry keeps its value alive, so an id is never reused under it)."""
    memo: dict[int, tuple[object, T]] = {}

    def cached(e: Expr | None) -> T:
        got = memo.get(id(e))
        if got is not None and got[0] is e:
            return got[1]
        if len(memo) > 200_000:
            memo.clear()
        value = fn(e)
        memo[id(e)] = (e, value)
        return value
    return cached


def show(e: Expr | None) -> str:
    """Compact C text of a value: the key access paths and conditions are compared by."""
    return e.id if isinstance(e, Name) else _shown(e)


def _show(e: Expr | None) -> str:
    match e:
        case None:
            return ""
        case Name(id=i) | Const(text=i):
            return i
        case Member(base=b, field=f, arrow=a):
            return f"{show(b)}{'->' if a else '.'}{f}"
        case Index(base=b, index=i):
            return f"{show(b)}[{show(i)}]"
        case Unary(op=o, arg=a):
            return f"{o}{show(a)}"
        case Binary(op=o, left=left, right=r):
            return f"({show(left)}{o}{show(r)})"
        case Ternary(cond=c, then=t, other=o):
            return f"({show(c)}?{show(t)}:{show(o)})"
        case Call(name=n, args=a, callee=c):
            return f"{n or show(c)}({','.join(show(x) for x in a)})"
        case Assign(op=o, target=t, value=v):
            return f"({show(t)}{o}{show(v)})"
        case Seq(items=items):
            return f"({','.join(show(x) for x in items)})"
    return "?"


_shown = by_identity(_show)


def effects(e: Expr | None) -> list[Expr]:
    """Calls, assignments and increments of an expression, in evaluation order. A ternary
    whose arms, or a ``&&`` / ``||`` whose right side, has effects of its own stands for
    them: they run on some paths only (``flat`` spells them out)."""
    out: list[Expr] = []

    def walk(x: Expr | None) -> None:
        match x:
            case Call(args=args, callee=c):
                walk(c)
                for a in args:
                    walk(a)
                out.append(x)
            case Assign(target=t, value=v):
                walk(v)
                walk(t)
                out.append(x)
            case Unary(op=op, arg=a):
                walk(a)
                if op in ("++", "--"):
                    out.append(x)
            case Member(base=b):
                walk(b)
            case Index(base=b, index=i):
                walk(b)
                walk(i)
            case Binary(op=op, left=left, right=r):
                walk(left)
                if op not in ("&&", "||"):
                    walk(r)
                elif effects(r):  # short-circuit: the right side runs on some paths only,
                    out.append(x)  # and the dataflow runs it on those
            case Ternary(cond=c, then=t, other=o):
                walk(c)
                # Which arm runs depends on c: the ternary itself stands for its arms'
                # effects, and the dataflow runs one arm per path.
                if effects(t) or effects(o):
                    out.append(x)
            case Seq(items=items):
                for i in items:
                    walk(i)

    walk(e)
    return out


def flat(items: list[Expr]) -> list[Expr]:
    """Effects with each ternary's arms and each short-circuit's right side spelled out:
    every call or store that may run."""
    out: list[Expr] = []
    for x in items:
        if isinstance(x, Ternary):
            out += flat(effects(x.then)) + flat(effects(x.other))
        elif isinstance(x, Binary):  # a && f(x)
            out += flat(effects(x.right))
        else:
            out.append(x)
    return out



# ---------------------------------------------------------------- lowering


def _text(node: ts.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _line(node: ts.Node) -> int:
    return node.start_point[0] + 1


_CONST_NODES = frozenset({"number_literal", "char_literal", "string_literal", "true", "false",
                          "null", "concatenated_string", "sizeof_expression",
                          "alignof_expression", "offsetof_expression"})
_TRANSPARENT = frozenset({"parenthesized_expression", "cast_expression",
                          "compound_literal_expression", "gnu_asm_expression"})


class _Lowerer:
    """One function body to IR. ``is_iterator`` tells loop macros from other macros."""

    def __init__(self, is_iterator: Callable[[str], bool]) -> None:
        self.is_iterator = is_iterator
        self.locals: set[str] = set()
        self.pointers: set[str] = set()
        self.hoisted: list[Stmt] = []  # statements of ({ ... }) met inside an expression
        self.types: dict[str, str] = {}  # name -> struct tag, where declared as one

    # -- expressions
    def expr(self, n: ts.Node | None) -> Expr:
        if n is None:
            return Const("")
        t = n.type
        if t == "identifier":
            return Name(_text(n))
        if t == "field_expression":
            arg = n.child_by_field_name("argument")
            fld = n.child_by_field_name("field")
            op = n.child_by_field_name("operator")
            arrow = op is not None and op.type == "->"
            return Member(self.expr(arg), _text(fld) if fld is not None else "", arrow)
        if t == "subscript_expression":
            idx = n.child_by_field_name("index")
            if idx is None:  # tree-sitter-c 0.24: indices as subscript_argument_list
                lst = n.child_by_field_name("indices")
                idx = lst.named_children[0] if lst is not None and lst.named_children else None
            return Index(self.expr(n.child_by_field_name("argument")), self.expr(idx))
        if t == "call_expression":
            fn = n.child_by_field_name("function")
            args = n.child_by_field_name("arguments")
            argv = tuple(self.expr(a) for a in (args.named_children if args else ())
                         if a.type != "comment")
            line, col = n.start_point[0] + 1, n.start_point[1] + 1
            if fn is not None and fn.type == "identifier":
                return Call(_text(fn), argv, line, col)
            return Call("", argv, line, col, self.expr(fn))
        if t == "pointer_expression":
            op = n.child_by_field_name("operator")
            return Unary(_text(op) if op is not None else "*",
                         self.expr(n.child_by_field_name("argument")))
        if t == "unary_expression":
            op = n.child_by_field_name("operator")
            return Unary(_text(op) if op is not None else "?",
                         self.expr(n.child_by_field_name("argument")))
        if t == "update_expression":
            op = n.child_by_field_name("operator")
            return Unary(_text(op) if op is not None else "++",
                         self.expr(n.child_by_field_name("argument")))
        if t == "binary_expression":
            op = n.child_by_field_name("operator")
            return Binary(_text(op) if op is not None else "?",
                          self.expr(n.child_by_field_name("left")),
                          self.expr(n.child_by_field_name("right")))
        if t == "conditional_expression":
            return Ternary(self.expr(n.child_by_field_name("condition")),
                           self.expr(n.child_by_field_name("consequence")),
                           self.expr(n.child_by_field_name("alternative")))
        if t == "assignment_expression":
            op = n.child_by_field_name("operator")
            return Assign(_text(op) if op is not None else "=",
                          self.expr(n.child_by_field_name("left")),
                          self.expr(n.child_by_field_name("right")))
        if t == "comma_expression":
            return Seq((self.expr(n.child_by_field_name("left")),
                        self.expr(n.child_by_field_name("right"))))
        if t in _CONST_NODES:
            return Const(_text(n) if t != "sizeof_expression" else "sizeof")
        if t == "parenthesized_expression" and n.named_children and \
                n.named_children[0].type == "compound_statement":
            return self.statement_expression(n.named_children[0])
        if t in _TRANSPARENT:
            inner = n.child_by_field_name("value") or (
                n.named_children[-1] if n.named_children else None)
            return self.expr(inner)
        if t == "initializer_list":
            return Seq(tuple(self.expr(c) for c in n.named_children
                             if c.type not in ("initializer_pair", "comment")))
        return Const(_text(n)[:40])

    def statement_expression(self, block: ts.Node) -> Expr:
        """``({ a; b; v; })``: a and b are hoisted before the statement; v is the value."""
        kids = [c for c in block.named_children if c.type != "comment"]
        value: Expr = Const("")
        if kids and kids[-1].type == "expression_statement" and kids[-1].named_children:
            value = self.expr(kids[-1].named_children[0])
            kids = kids[:-1]
        for k in kids:
            lowered = self.stmt(k)  # first: lowering it takes self.hoisted for its own
            self.hoisted.append(lowered)
        return value

    # -- statements
    def stmt(self, n: ts.Node) -> Stmt:
        t = n.type
        line = _line(n)
        if t == "compound_statement":
            return self.block(n.named_children)
        if t == "expression_statement":
            if not n.named_children:
                return Block(())
            return self._with_hoisted(ExprStmt(self.expr(n.named_children[0]), line))
        if t == "declaration":
            return self.declaration(n)
        if t == "if_statement":
            # An else-if chain is read in a loop, not by recursion: kernel code has chains
            # of hundreds of arms.
            arms: list[tuple[Expr, list[Stmt], Stmt, int]] = []
            node: ts.Node | None = n
            while node is not None and node.type == "if_statement":
                cond = self.expr(node.child_by_field_name("condition"))
                pre = self._take_hoisted()
                then = self.stmt_or_empty(node.child_by_field_name("consequence"))
                arms.append((cond, pre, then, _line(node)))
                node = node.child_by_field_name("alternative")
                if node is not None and node.type == "else_clause":
                    node = node.named_children[0] if node.named_children else None
            stmt: Stmt | None = self.stmt(node) if node is not None else None
            for cond, pre, then, at in reversed(arms):
                stmt = If(cond, then, stmt, at)
                if pre:
                    stmt = Block((*pre, stmt))
            assert stmt is not None
            return stmt
        if t == "switch_statement":
            return self.switch(n)
        if t == "for_statement":
            init: list[Stmt] = []
            ini = n.child_by_field_name("initializer")
            if ini is not None:
                init.append(self.declaration(ini) if ini.type == "declaration"
                            else ExprStmt(self.expr(ini), _line(ini)))
            test = n.child_by_field_name("condition")
            step = n.child_by_field_name("update")
            return Loop("for", tuple(init), self.expr(test) if test is not None else None,
                        self.expr(step) if step is not None else None,
                        self.stmt_or_empty(n.child_by_field_name("body")), line)
        if t == "while_statement":
            return Loop("while", (), self.expr(n.child_by_field_name("condition")), None,
                        self.stmt_or_empty(n.child_by_field_name("body")), line)
        if t == "do_statement":
            return Loop("do", (), self.expr(n.child_by_field_name("condition")), None,
                        self.stmt_or_empty(n.child_by_field_name("body")), line)
        if t == "return_statement":
            value = self.expr(n.named_children[0]) if n.named_children else None
            return self._with_hoisted(Return(value, line))
        if t == "goto_statement":
            lab = n.child_by_field_name("label")
            return Goto(_text(lab) if lab is not None else "", line)
        if t == "labeled_statement":
            lab = n.child_by_field_name("label")
            rest = [c for c in n.named_children if c != lab and c.type != "comment"]
            inner = [self.stmt(c) for c in rest]
            return Block((Label(_text(lab) if lab is not None else "", line), *inner))
        if t == "break_statement":
            return Break(line)
        if t == "continue_statement":
            return Continue(line)
        if t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
            return self.preproc(n)
        if t in ("ERROR", "attributed_statement"):
            return self.block(n.named_children)
        return Block(())

    def stmt_or_empty(self, n: ts.Node | None) -> Stmt:
        return self.stmt(n) if n is not None else Block(())

    def block(self, children: list[ts.Node]) -> Block:
        out: list[Stmt] = []
        kids = [c for c in children if c.type not in ("comment", "{", "}")]
        i = 0
        while i < len(kids):
            k = kids[i]
            macro = _macro_header(k)
            if macro is not None and i + 1 < len(kids):
                call = self.expr(macro)
                body = self.stmt(kids[i + 1])
                assert isinstance(call, Call)
                if self.is_iterator(call.name):
                    out.append(Loop("macro", (), call, None, body, _line(k)))
                else:  # scoped_guard(...) { }: the body runs once
                    out.append(Block((ExprStmt(call, _line(k)), body)))
                i += 2
                continue
            if k.type.startswith("preproc_") and k.type not in (
                    "preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
                i += 1
                continue  # #define, #include, #error inside a body: no statement
            out.append(self.stmt(k))
            i += 1
        return Block(tuple(out))

    def preproc(self, n: ts.Node) -> Stmt:
        """``#ifdef X`` ... ``#else`` ...: either half may be compiled: an unknown branch."""
        alt = n.child_by_field_name("alternative")
        cond = n.child_by_field_name("condition") or n.child_by_field_name("name")
        mine = [c for c in n.named_children if c not in (alt, cond)]
        other = None
        if alt is not None:
            other = (self.preproc(alt) if alt.type.startswith("preproc_el") and
                     alt.type != "preproc_else" else
                     self.block([c for c in alt.named_children]))
        return If(None, self.block(mine), other, _line(n))

    def switch(self, n: ts.Node) -> Stmt:
        value = self.expr(n.child_by_field_name("condition"))
        body = n.child_by_field_name("body")
        cases: list[Case] = []
        for c in (body.named_children if body is not None else ()):  # statements before
            if c.type == "case_statement":                            # a case: unreachable
                v = c.child_by_field_name("value")
                stmts = [x for x in c.named_children if x != v and x.type != "comment"]
                cases.append(Case((self.expr(v),) if v is not None else (),
                                  self.block(stmts).stmts, _line(c)))
        return Switch(value, tuple(cases), _line(n))

    def declaration(self, n: ts.Node) -> Stmt:
        out: list[Stmt] = []
        line = _line(n)
        tag = _struct_tag(n.child_by_field_name("type"))
        for d in n.named_children:
            if tag and d.type in ("init_declarator", "identifier", "pointer_declarator"):
                name = _declared(d.child_by_field_name("declarator")
                                 if d.type == "init_declarator" else d)
                if name:
                    self.types[name] = tag
            if d.type == "init_declarator":
                decl = d.child_by_field_name("declarator")
                name = _declared(decl)
                value = d.child_by_field_name("value")
                if name is None:
                    continue
                self.locals.add(name)
                if decl is not None and decl.type == "pointer_declarator":
                    self.pointers.add(name)
                if value is not None and value.type == "initializer_list":
                    out.extend(self._initializer(Name(name), value, line))
                elif value is not None:
                    out.append(ExprStmt(Assign("=", Name(name), self.expr(value)), line))
            else:
                name = _declared(d)
                if name is not None and d.type in (
                        "identifier", "pointer_declarator", "array_declarator"):
                    self.locals.add(name)
                    if d.type == "pointer_declarator":
                        self.pointers.add(name)
        return self._with_hoisted(Block(tuple(out)))

    def _initializer(self, target: Expr, lst: ts.Node, line: int) -> list[Stmt]:
        """``v = { .a = x, .b = { .c = y } }`` -> v.a = x; v.b.c = y (positional ones are
        not followed: their field is not named in the source)."""
        out: list[Stmt] = []
        for item in lst.named_children:
            if item.type != "initializer_pair":
                continue
            designators = item.child_by_field_name("designator")
            value = item.child_by_field_name("value")
            path = target
            for d in item.named_children:
                if d.type == "field_designator" and d.named_children:
                    path = Member(path, _text(d.named_children[0]), False)
            if designators is None or value is None or path is target:
                continue
            if value.type == "initializer_list":
                out.extend(self._initializer(path, value, line))
            else:
                out.append(ExprStmt(Assign("=", path, self.expr(value)), line))
        return out

    def _take_hoisted(self) -> list[Stmt]:
        out, self.hoisted = self.hoisted, []
        return out

    def _with_hoisted(self, stmt: Stmt) -> Stmt:
        pre = self._take_hoisted()
        return Block((*pre, stmt)) if pre else stmt


def _macro_header(n: ts.Node) -> ts.Node | None:
    """The call of ``name(args)`` written as a statement header (its ``;`` MISSING)."""
    if n.type != "expression_statement" or not n.children or not n.children[-1].is_missing:
        return None
    call = n.named_children[0] if n.named_children else None
    if call is None or call.type != "call_expression":
        return None
    fn = call.child_by_field_name("function")
    return call if fn is not None and fn.type == "identifier" else None


def _declared(d: ts.Node | None) -> str | None:
    """The name a declarator declares: ``**pages``, ``page[16]``, ``(*fn)(void)``."""
    while d is not None and d.type not in ("identifier", "field_identifier"):
        inner = d.child_by_field_name("declarator")
        if inner is None:
            idents = [c for c in d.named_children if c.type == "identifier"]
            if not idents and d.type == "ERROR":
                return None
            inner = idents[0] if idents else None
        d = inner
    return _text(d) if d is not None else None


def _struct_tag(type_node: ts.Node | None) -> str:
    """``struct foo`` -> foo; anything else -> ""."""
    if type_node is not None and type_node.type == "struct_specifier":
        name = type_node.child_by_field_name("name")
        if name is not None:
            return _text(name)
    return ""


def _param_types(body: ts.Node) -> dict[str, str]:
    """The struct type of each parameter declared ``struct foo *p`` in the definition
    around ``body`` (none for a body whose header tree-sitter could not read)."""
    fn = body.parent
    if fn is None or fn.type != "function_definition":
        return {}
    d = fn.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    plist = d.child_by_field_name("parameters") if d is not None else None
    out = {}
    for p in plist.named_children if plist is not None else ():
        tag = _struct_tag(p.child_by_field_name("type"))
        name = _declared(p.child_by_field_name("declarator"))
        if tag and name:
            out[name] = tag
    return out


def lower(body: ts.Node, params: tuple[str, ...],
          is_iterator: Callable[[str], bool]) -> Body:
    """A function body's IR."""
    lw = _Lowerer(is_iterator)
    lw.types.update(_param_types(body))
    block = lw.block(body.named_children)
    return Body(block, params, frozenset(lw.locals), frozenset(lw.pointers),
                body.end_point[0] + 1, lw.types)
