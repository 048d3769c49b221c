"""Stage 3, locate: a parsed file -> ``SourceFile``, its functions as plain data.

Runs queries/calls.scm, assignments.scm and initializers.scm once over the file and files
each capture under the function body that holds it: per function, the names it calls and
its acquisition calls (the sites); per struct field, the stores into it and the functions
of the file an ops table sets it to. Each function it describes gets what builds its
control-flow graph on first use (``cfg.Lazy``: ``ir.lower``, then ``cfg.build``), for the
dataflow. No tree-sitter object leaves the process that parsed it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

import tree_sitter as ts

from gupaudit import cfg as cfg_mod
from gupaudit import ir
from gupaudit.catalog import Catalog
from gupaudit.model import Call, Function, SourceFile
from gupaudit.parse import file_scope_names, query, units

_SPACE_AROUND_PUNCT = re.compile(r"\s*([^\w\s])\s*")
_SPACES = re.compile(r"\s+")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def norm(text: bytes | str) -> str:
    """Source text with comments dropped and white space only where it separates words."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if " " not in text and "\n" not in text and "\t" not in text and "/" not in text:
        return text  # the common case: a bare name or constant
    if "/" in text:
        text = _COMMENT.sub(" ", text)
    return _SPACE_AROUND_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


def _is_iterator_name(catalog: Catalog) -> Callable[[str], bool]:
    known = set(catalog.iterators)
    return lambda name: name in known or "for_each" in name


def _tree_root(node: ts.Node) -> ts.Node:
    while node.parent is not None:
        node = node.parent
    return node


def _function_ref(node: ts.Node) -> str | None:
    """The name a value refers to when it may be a function's address: ``foo``, ``&foo``."""
    if node.type == "pointer_expression" and node.child_by_field_name("operator") is not None \
            and node.child_by_field_name("operator").type == "&":
        node = node.child_by_field_name("argument") or node
    return node.text.decode("utf-8", "replace") if node.type == "identifier" else None


def _stored_value(node: ts.Node) -> ir.Expr:
    """What a store into a field writes, as far as ``flow`` asks (NULL, 0, or a plain
    name; anything else is some other value)."""
    while node.type in ("parenthesized_expression", "cast_expression"):
        inner = node.child_by_field_name("value") or (
            node.named_children[-1] if node.named_children else None)
        if inner is None:
            break
        node = inner
    text = node.text.decode("utf-8", "replace")
    if node.type == "identifier":
        return ir.Name(text)
    if node.type in ("null", "number_literal") or text == "NULL":
        return ir.Const(text)
    return ir.Const("?")


def _enclosing(nodes: list[ts.Node]) -> list[int]:
    """For nodes sorted by start: the index of each one's nearest enclosing node, -1 for
    none."""
    out: list[int] = []
    stack: list[int] = []
    for k, n in enumerate(nodes):
        while stack and nodes[stack[-1]].end_byte < n.end_byte:
            stack.pop()
        out.append(stack[-1] if stack else -1)
        stack.append(k)
    return out


def source_file(path: str, tree: ts.Tree, data: bytes, catalog: Catalog,
                rounds: int = 3, every: bool = False) -> SourceFile:
    """The file's functions, their calls, and the stores into struct fields.

    Only functions that can matter are described: those with an acquisition, a release, a
    use or a container hand-off (sg table, bio), and the same-file functions they call or
    are called by, ``rounds`` hops out. With ``every`` (a file answering another file's
    questions, ``link``) every function is described. The others are still in
    ``SourceFile.defined``, so their names are known to be local.
    """
    bodies, macros = units(tree, data, tuple(n.encode() for n in catalog.acquire))
    local_names = {u.name for u in bodies} | macros
    functions_here = {u.name for u in bodies}
    is_iterator = _is_iterator_name(catalog)

    raw: list[list[ts.Node]] = [[] for _ in bodies]  # the calls of each body
    stores: dict[str, list[tuple[str, ir.Expr]]] = {}  # field -> (function, value)
    handlers: dict[str, set[str]] = {}  # field -> functions of the file it is set to
    callees: list[set[str]] = [set() for _ in bodies]
    passed: set[str] = set()  # functions of the file handed to a call as a value
    q = query("calls", "assignments", "initializers")
    # Bodies re-parsed on their own hang off their own tree: query each tree for its bodies.
    by_tree: dict[int, list[int]] = {}
    for i, u in enumerate(bodies):
        by_tree.setdefault(_tree_root(u.body).id, []).append(i)
    for members in by_tree.values():
        members.sort(key=lambda i: bodies[i].body.start_byte)
        starts = [bodies[i].body.start_byte for i in members]
        # Error recovery can plant a unit inside a real body (``#if ... else if (x) {``
        # read as a function): each member's nearest enclosing member, so that a call
        # after the planted unit still belongs to the body around it.
        outer = _enclosing([bodies[i].body for i in members])
        for _, caps in ts.QueryCursor(q).matches(_tree_root(bodies[members[0]].body)):
            if "fnref" in caps:
                if (name := caps["fnref"][0].text.decode()) in functions_here:
                    passed.add(name)
                continue
            if "init" in caps:  # { .field = value }: at file scope too
                node = caps["init"][0]
                fld = caps["init.field"][0].text.decode("utf-8", "replace")
                value = caps["init.value"][0]
            elif "assign" in caps:
                node = caps["assign"][0]
                lhs = caps["assign.lhs"][0]
                if lhs.type != "field_expression":
                    ref = _function_ref(caps["assign.rhs"][0])
                    if ref in functions_here:
                        passed.add(ref)  # fn = foo; fn(x): called through a local
                    continue
                f = lhs.child_by_field_name("field")
                if f is None:
                    continue
                fld = f.text.decode("utf-8", "replace")
                value = caps["assign.rhs"][0]
            else:
                node, value, fld = caps["call"][0], None, ""
            j = bisect.bisect_right(starts, node.start_byte) - 1
            while j >= 0 and node.end_byte > bodies[members[j]].body.end_byte:
                j = outer[j]
            inside = j >= 0
            where = bodies[members[j]].name if inside else ""
            if value is not None:
                stored = _stored_value(value)
                stores.setdefault(fld, []).append((where, stored))
                ref = _function_ref(value)
                if ref in functions_here:
                    handlers.setdefault(fld, set()).add(ref)  # .op = foo, .op = &foo
                continue
            if not inside:
                continue
            i = members[j]
            raw[i].append(node)
            called = caps["call.name"][0].text.decode("utf-8", "replace")
            while j >= 0:  # the bodies around a planted unit hold its calls too
                callees[members[j]].add(called)
                j = outer[j]
            args = node.child_by_field_name("arguments")
            for a in args.named_children if args else ():
                if a.type == "identifier" and (name := a.text.decode()) in functions_here:
                    passed.add(name)  # register(fn): called back by whoever keeps it

    # Seeds: acquisitions, and the releases and DMA/bio hand-offs a struct field can lead to.
    seeds = (set(catalog.acquire) | set(catalog.release) | set(catalog.containers)
             | set(catalog.use))
    keep = {i for i, names in enumerate(callees) if names & seeds or every}
    index: dict[str, list[int]] = {}
    for i, u in enumerate(bodies):
        index.setdefault(u.name, []).append(i)
    for _ in range(rounds):
        names = {bodies[i].name for i in keep}
        grow = {j for i in keep for n in callees[i] & local_names for j in index.get(n, ())}
        grow |= {i for i, c in enumerate(callees) if c & names}
        # a handler of an ops table is reached through the table
        grow |= {j for fs in handlers.values() if fs & names for n in fs
                 for j in index.get(n, ())}
        if grow <= keep:
            break
        keep |= grow

    functions = []
    for i in sorted(keep):
        unit = bodies[i]
        calls = []
        for node in raw[i]:
            name = node.child_by_field_name("function").text.decode("utf-8", "replace")
            if name not in catalog.acquire:
                continue
            args = node.child_by_field_name("arguments")
            argv = tuple(norm(a.text) for a in (args.named_children if args else ())
                         if a.type != "comment")
            calls.append(Call(name, argv, node.start_point[0] + 1, node.start_point[1] + 1))
        graph = cfg_mod.Lazy(unit.body, unit.params, is_iterator)
        functions.append(Function(unit.name, unit.line, unit.body.end_point[0] + 1, unit.params,
                                  tuple(calls), path, unit.static, graph,
                                  frozenset(callees[i])))
    return SourceFile(path, tuple(functions), frozenset(local_names),
                      parse_errors=int(tree.root_node.has_error),
                      globals=file_scope_names(tree, bodies),
                      stores={f: tuple(v) for f, v in stores.items()},
                      handlers={f: frozenset(v) for f, v in handlers.items()},
                      taken=frozenset(passed))
