"""Stage 3b, cfg: a lowered function (``ir.Body``) -> its control-flow graph.

One node per statement that does something (an expression, a branch, a switch, a return),
plus join points. Edges carry what is known on them: ``True``/``False`` out of a branch,
the case values out of a switch. ``if``/``else``, ``switch`` with fallthrough and default,
``for``/``while``/``do`` and loop macros, ``break``/``continue``, ``goto`` and labels and
``return`` are all edges; every ``return`` leads to the one exit node.

``Cfg.loops`` maps each loop head to the nodes of its body: a loop that releases the page
array one element at a time releases the array (dataflow reads it on the loop's exit edge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gupaudit import ir

if TYPE_CHECKING:
    import tree_sitter as ts

Edge = bool | tuple[str, ...] | None  # branch value; case labels ("default",) ; plain


@dataclass(slots=True)
class Node:
    kind: str  # entry | exit | eval | branch | switch | return | goto | join
    expr: ir.Expr | None = None
    line: int = 0
    succ: list[tuple[int, Edge]] = field(default_factory=list)
    effects: list[ir.Expr] = field(default_factory=list)  # ir.effects(expr), once
    flat: list[ir.Expr] = field(default_factory=list)  # ... with ternary arms spelled out


@dataclass
class Cfg:
    nodes: list[Node]
    params: tuple[str, ...]
    locals: frozenset[str]
    pointers: frozenset[str] = frozenset()
    loops: dict[int, frozenset[int]] = field(default_factory=dict)
    entry: int = 0
    exit: int = 1
    types: dict[str, str] = field(default_factory=dict)  # params and locals: struct tag



class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = [Node("entry"), Node("exit")]
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []  # node -> label, patched at the end
        self.loops: dict[int, frozenset[int]] = {}

    def new(self, kind: str, expr: ir.Expr | None = None, line: int = 0) -> int:
        effects = ir.effects(expr)
        self.nodes.append(Node(kind, expr, line, effects=effects, flat=ir.flat(effects)))
        return len(self.nodes) - 1

    def link(self, frm: list[tuple[int, Edge]], to: int) -> None:
        for n, edge in frm:
            self.nodes[n].succ.append((to, edge))

    def label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.new("join")
        return self.labels[name]

    def condition(self, c: ir.Expr | None, frm: list[tuple[int, Edge]], line: int
                  ) -> tuple[list[tuple[int, Edge]], list[tuple[int, Edge]]]:
        """Branch nodes for an ``if`` condition after ``frm``: its (true, false) edges. A
        ``&&`` or ``||`` whose right side does something (``!ro && get_page(&p)``) is
        evaluated as C does, one operand after the other, so each path knows which ran."""
        match c:
            case ir.Binary(op="&&", left=left, right=r) if ir.effects(r):
                t1, f1 = self.condition(left, frm, line)
                t2, f2 = self.condition(r, t1, line)
                return t2, f1 + f2
            case ir.Binary(op="||", left=left, right=r) if ir.effects(r):
                t1, f1 = self.condition(left, frm, line)
                t2, f2 = self.condition(r, f1, line)
                return t1 + t2, f2
            case ir.Unary(op="!", arg=a) if isinstance(a, ir.Binary) and \
                    a.op in ("&&", "||") and ir.effects(a.right):
                t, f = self.condition(a, frm, line)
                return f, t
        n = self.new("branch", c, line)
        self.link(frm, n)
        return [(n, True)], [(n, False)]

    def build(self, s: ir.Stmt, frm: list[tuple[int, Edge]],
              brk: list[tuple[int, Edge]] | None, cont: int | None
              ) -> list[tuple[int, Edge]]:
        """Add ``s`` after the dangling edges ``frm``; return the edges leaving it."""
        match s:
            case ir.Block(stmts=stmts):
                for x in stmts:
                    frm = self.build(x, frm, brk, cont)
                return frm
            case ir.ExprStmt(expr=e, line=line):
                n = self.new("eval", e, line)
                self.link(frm, n)
                return [(n, None)]
            case ir.If():
                out: list[tuple[int, Edge]] = []
                arm: ir.Stmt | None = s
                while isinstance(arm, ir.If):  # an else-if chain, in a loop
                    true, false = self.condition(arm.cond, frm, arm.line)
                    out += self.build(arm.then, true, brk, cont)
                    frm = false
                    arm = arm.other
                return out + (self.build(arm, frm, brk, cont) if arm is not None else frm)
            case ir.Switch(value=v, cases=cases, line=line):
                n = self.new("switch", v, line)
                self.link(frm, n)
                breaks: list[tuple[int, Edge]] = []
                fall: list[tuple[int, Edge]] = []
                named = tuple(ir.show(x) for c in cases for x in c.values)
                for c in cases:
                    labels = tuple(ir.show(x) for x in c.values) or ("default", *named)
                    start = self.new("join", None, c.line)
                    self.nodes[n].succ.append((start, labels))
                    self.link(fall, start)
                    fall = [(start, None)]
                    for x in c.body:
                        fall = self.build(x, fall, breaks, cont)
                if not any(not c.values for c in cases):
                    breaks.append((n, ("nocase", *named)))
                return breaks + fall
            case ir.Loop(kind=kind, init=init, cond=test, step=step, body=body, line=line):
                for x in init:
                    frm = self.build(x, frm, brk, cont)
                first = len(self.nodes)
                head = self.new("branch" if test is not None else "join", test, line)
                exits: list[tuple[int, Edge]] = []
                step_node = self.new("eval", step, line) if step is not None else head
                if kind == "do":
                    start = self.new("join", None, line)
                    self.link(frm, start)
                    end = self.build(body, [(start, None)], exits, head)
                    self.link(end, head)
                    self.nodes[head].succ.append((start, True))
                    exits.append((head, False))
                else:
                    self.link(frm, head)
                    end = self.build(body, [(head, True)] if test is not None else [(head, None)],
                                     exits, step_node)
                    self.link(end, step_node)
                    if step_node != head:
                        self.nodes[step_node].succ.append((head, None))
                    if test is not None:
                        exits.append((head, False))
                self.loops[head] = frozenset(range(first, len(self.nodes))) - {head}
                return exits
            case ir.Return(value=v, line=line):
                n = self.new("return", v, line)
                self.link(frm, n)
                self.nodes[n].succ.append((1, None))
                return []
            case ir.Goto(label=name, line=line):
                n = self.new("goto", None, line)
                self.link(frm, n)
                self.gotos.append((n, name))
                return []
            case ir.Label(name=name):
                n = self.label(name)
                self.link(frm, n)
                return [(n, None)]
            case ir.Break(line=line):
                n = self.new("goto", None, line)  # a jump, like goto: its line names a path
                self.link(frm, n)
                if brk is not None:
                    brk.append((n, None))
                return []
            case ir.Continue(line=line):
                n = self.new("join", None, line)
                self.link(frm, n)
                if cont is not None:
                    self.link([(n, None)], cont)
                return []
        return frm


def build(body: ir.Body) -> Cfg:
    """The CFG of one lowered function. Falling off the end is a plain return."""
    b = _Builder()
    end = b.build(body.block, [(0, None)], None, None)
    b.build(ir.Return(None, body.end_line), end, None, None)
    for n, name in b.gotos:
        if name in b.labels:
            b.nodes[n].succ.append((b.labels[name], None))
        else:
            b.nodes[n].succ.append((1, None))  # a label we could not see: leave the function
    return Cfg(b.nodes, body.params, body.locals, body.pointers, b.loops, types=body.types)


def conditions_at(g: Cfg, target: int) -> list[tuple[ir.Expr, bool]]:
    """The branch outcomes every path from the entry to node ``target`` takes: a forward
    must-analysis (the outcomes on a node's way in are those of all its predecessors'
    ways out, intersected). ``if (flags & X) extract(...)`` and ``if (!(flags & X))
    return; extract(...)`` both give (flags & X, True)."""
    into: dict[int, frozenset[tuple[int, bool]]] = {g.entry: frozenset()}
    work = [g.entry]
    while work:
        i = work.pop()
        n = g.nodes[i]
        for j, edge in n.succ:
            out = into[i]
            if n.kind == "branch" and isinstance(edge, bool) and n.expr is not None:
                out = out | {(i, edge)}
            old = into.get(j)
            new = out if old is None else old & out
            if new != old:
                into[j] = new
                work.append(j)
    return [(e, edge) for i, edge in sorted(into.get(target, ()))
            if (e := g.nodes[i].expr) is not None]


class Lazy:
    """A function's CFG built on first use (the lowering costs more than the dataflow of the
    few functions a site's flow enters). Holds the tree-sitter body until then, so it
    never leaves the process that parsed the file."""

    def __init__(self, body: ts.Node, params: tuple[str, ...],
                 is_iterator: Callable[[str], bool]) -> None:
        self._args: tuple | None = (body, params, is_iterator)
        self._cfg: Cfg | None = None
        self._text: bytes | None = None

    def __call__(self) -> Cfg:
        if self._cfg is None:
            assert self._args is not None
            self._cfg = build(ir.lower(*self._args))
            self._args = self._text = None
        return self._cfg

    def text(self) -> bytes | None:
        """The body's source bytes while the CFG is not built (None after): a function
        whose text names none of what a question is about need not be lowered. (Read off
        the tree once: every site's read-back asks every function of the file.)"""
        if self._text is None and self._args is not None:
            self._text = self._args[0].text
        return self._text
