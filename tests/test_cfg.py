"""The CFG of small functions: each construct gives the edges C gives it."""

from __future__ import annotations

from gupaudit import cfg, ir
from gupaudit.catalog import load
from gupaudit.parse import parse, units


def _graph(src: str) -> cfg.Cfg:
    data = src.encode()
    bodies, _ = units(parse(data), data, ())
    cat = load()
    return cfg.build(ir.lower(bodies[0].body, bodies[0].params,
                              lambda n: n in cat.iterators or "for_each" in n))


def _node(g: cfg.Cfg, text: str) -> int:
    return next(i for i, n in enumerate(g.nodes) if n.expr is not None and text in ir.show(n.expr))


def _reaches(g: cfg.Cfg, a: int, b: int) -> bool:
    """Whether a path of at least one edge leads from a to b."""
    seen, work = set(), [j for j, _ in g.nodes[a].succ]
    while work:
        i = work.pop()
        if i == b:
            return True
        if i not in seen:
            seen.add(i)
            work.extend(j for j, _ in g.nodes[i].succ)
    return False


def test_switch_falls_through_and_defaults() -> None:
    g = _graph("int f(int m) { switch (m) { case 0: a(); case 1: b(); break; "
               "default: c(); } return d(); }")
    a, b, c, d = (_node(g, x + "()") for x in "abcd")
    assert _reaches(g, a, b)  # case 0 falls into case 1
    assert not _reaches(g, b, c)  # break leaves before default
    assert _reaches(g, c, d) and _reaches(g, b, d)
    switch = next(n for n in g.nodes if n.kind == "switch")
    edges = {e for _, e in switch.succ}
    assert ("0",) in edges and ("1",) in edges and ("default", "0", "1") in edges


def test_loops_and_loop_macros_have_back_edges() -> None:
    g = _graph("void f(struct sg_table *t, int n) { int i; struct scatterlist *sg; "
               "for (i = 0; i < n; i++) a(); while (n--) b(); do c(); while (0); "
               "for_each_sg(t->sgl, sg, n, i) e(sg); }")
    for name in ("a()", "b()", "e(sg)"):
        n = _node(g, name)
        assert _reaches(g, n, n), f"{name} is not in a loop"
    assert len(g.loops) == 4


def test_goto_break_continue_return() -> None:
    g = _graph("int f(int x) { for (;;) { if (x) continue; if (x > 2) break; "
               "if (x > 3) goto out; a(); } b(); out: c(); return 0; }")
    a, b, c = (_node(g, x + "()") for x in "abc")
    assert _reaches(g, a, a) and _reaches(g, a, b) and _reaches(g, b, c)
    ret = next(i for i, n in enumerate(g.nodes) if n.kind == "return" and n.line)
    assert _reaches(g, c, ret) and (1, None) in g.nodes[ret].succ


def test_statement_expressions_and_scoped_guards_run_their_statements() -> None:
    g = _graph("int f(struct d *d) { int r = ({ int y = a(); y; }); "
               "scoped_guard(mutex, &d->lock) { b(); } return r; }")
    assert _reaches(g, _node(g, "a()"), _node(g, "b()"))
    assert not _reaches(g, _node(g, "b()"), _node(g, "b()"))  # once, not a loop


def test_code_nested_deeper_than_the_analysis_recurses_keeps_its_site() -> None:
    from gupaudit import analyse, era
    arms = "".join(f" else if (k == {i}) k = {i + 1};" for i in range(1, 1500))
    src = ("static int deep(unsigned long uaddr, int n, struct page **pages, int k)\n{\n"
           "\tint got = pin_user_pages_fast(uaddr, n, 0, pages);\n"
           "\tif (got != n) { if (got > 0) unpin_user_pages(pages, got); return -EFAULT; }\n"
           f"\tif (k == 0) k = 1;{arms}\n"
           "\tunpin_user_pages(pages, n);\n\treturn k;\n}\n").encode()
    found, warning = analyse.analyse_bytes(("drivers/x/deep.c", src, era.newest(load())))
    assert warning is None
    assert [(s.function, s.status.value) for s in found] == [("deep", "converted")]
