"""Stage 3, locate: a parsed file -> ``SourceFile``, its functions as plain data.

Runs queries/calls.scm, assignments.scm and returns.scm once over the file and files each
capture under the function body that holds it. For the calls that can matter to a site
(catalogue names, loop macros, functions of the same file) it also records the branches
they sit in (``Guard``) and whether they are in a loop, and gives each function it
describes what builds its control-flow graph on first use (``cfg.Lazy``: ``ir.lower``, then
``cfg.build``), for the dataflow. No tree-sitter object leaves the process that parsed it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

import tree_sitter as ts

from gupaudit import cfg as cfg_mod
from gupaudit.catalog import Catalog
from gupaudit.model import Assign, Call, Function, Guard, SourceFile
from gupaudit.parse import file_scope_names, query, units

_SPACE_AROUND_PUNCT = re.compile(r"\s*([^\w\s])\s*")
_SPACES = re.compile(r"\s+")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# The capture that stands for each pattern of calls/assignments/returns.scm.
_ANCHORS = ("call", "assign", "return")
_LOOPS = frozenset({"for_statement", "while_statement", "do_statement"})


def norm(text: bytes | str) -> str:
    """Source text with comments dropped and white space only where it separates words."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if " " not in text and "\n" not in text and "\t" not in text and "/" not in text:
        return text  # the common case: a bare name or constant
    if "/" in text:
        text = _COMMENT.sub(" ", text)
    return _SPACE_AROUND_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


def _strip_condition(cond: str) -> tuple[str, bool]:
    """``(!unlikely(x))`` -> ("x", False): the condition and whether it holds as written."""
    positive = True
    while True:
        if cond.startswith("(") and cond.endswith(")") and balanced(cond[1:-1]):
            cond = cond[1:-1]
        elif cond.startswith("!") and not cond.startswith("!=") and _one_operand(cond[1:]):
            positive = not positive
            cond = cond[1:]
        elif cond.startswith(("likely(", "unlikely(", "WARN_ON(", "WARN_ON_ONCE(")) and \
                cond.endswith(")") and balanced(cond[cond.index("(") + 1 : -1]):
            cond = cond[cond.index("(") + 1 : -1]
        else:
            return cond, positive


_BINARY = "&|=<>?:+-*/%^,"


def top_level_operator(text: str, ops: str, start: int = 0) -> int:
    """Index of the first character of ``ops`` outside parentheses and brackets, ``-`` of
    ``->`` excepted; -1 when there is none. Shared by condition and lvalue parsing."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif (depth == 0 and i >= start and ch in ops
              and not (ch == "-" and text[i + 1 : i + 2] == ">")):
            return i
    return -1


def _one_operand(text: str) -> bool:
    """Whether ``!`` before ``text`` negates all of it: ``!(a&&b)``, ``!p->x``, ``!f(a,b)``;
    not ``!(flags&W)&&x``, where it negates the first term only."""
    return top_level_operator(text, _BINARY) < 0


def balanced(text: str) -> bool:
    """Whether the parentheses of ``text`` close in order."""
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _case_labels(case: ts.Node) -> set[str]:
    """This case's label and those of the empty cases right above it (fallthrough)."""
    labels = set()
    node: ts.Node | None = case
    while node is not None and node.type == "case_statement":
        value = node.child_by_field_name("value")
        labels.add(norm(value.text) if value is not None else "default")
        node = node.prev_named_sibling
        if node is None or node.type != "case_statement" or any(
            c.type not in ("comment",) and c != node.child_by_field_name("value")
            for c in node.named_children
        ):
            break
    return labels


def _is_loop_macro(stmt: ts.Node | None, is_iterator: Callable[[str], bool]) -> bool:
    if stmt is None or stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return False
    call = stmt.named_children[0]
    if call.type != "call_expression":
        return False
    fn = call.child_by_field_name("function")
    return fn is not None and is_iterator(fn.text.decode("utf-8", "replace"))


def _context(node: ts.Node, body: ts.Node, is_iterator: Callable[[str], bool]
             ) -> tuple[tuple[Guard, ...], bool, str | None, bool]:
    """Guards, in-loop, assigned-to lvalue and returned-ness of a call node."""
    guards: list[Guard] = []
    in_loop = False
    result: str | None = None
    returned = False
    child = node
    parent = node.parent
    # The value: through parentheses and casts to an assignment, declaration or return.
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        child, parent = parent, parent.parent
    if parent is not None:
        if parent.type == "assignment_expression" and parent.child_by_field_name("right") == child:
            result = norm(parent.child_by_field_name("left").text)
        elif parent.type == "init_declarator":
            result = norm(parent.child_by_field_name("declarator").text).lstrip("*")
        elif parent.type == "return_statement":
            returned = True
    child, parent = node, node.parent
    body_id = body.id
    while parent is not None and child.id != body_id:
        kind = parent.type
        if kind in ("if_statement", "conditional_expression"):
            cond = parent.child_by_field_name("condition")
            if cond is not None and child.id != cond.id:
                text, positive = _strip_condition(norm(cond.text))
                alt = parent.child_by_field_name("alternative")
                in_else = alt is not None and child.id == alt.id
                guards.append(Guard(text, "true" if positive != in_else else "false"))
        elif kind == "case_statement":
            switch = parent.parent
            while switch is not None and switch.type != "switch_statement":
                switch = switch.parent
            if switch is not None:
                cond = switch.child_by_field_name("condition")
                guards.append(Guard("switch" + norm(cond.text if cond else b""),
                                    "|".join(sorted(_case_labels(parent)))))
        elif kind in _LOOPS:
            in_loop = True
        if not in_loop and _is_loop_macro(child.prev_named_sibling, is_iterator):
            in_loop = True  # for_each_sg(...) stmt;  /  for_each_sg(...) { ... }
        child, parent = parent, parent.parent
    return tuple(reversed(guards)), in_loop, result, returned


_FIELD = re.compile(rb"(?:->|\.)\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*$")


def _is_iterator_name(catalog: Catalog) -> Callable[[str], bool]:
    known = set(catalog.iterators)
    return lambda name: name in known or "for_each" in name


def _tree_root(node: ts.Node) -> ts.Node:
    while node.parent is not None:
        node = node.parent
    return node


def source_file(path: str, tree: ts.Tree, data: bytes, catalog: Catalog,
                rounds: int = 3, extra_seeds: frozenset[str] = frozenset()) -> SourceFile:
    """The file's functions with their calls, assignments and returns.

    Only functions that can matter are described: those with an acquisition, a release or a
    container hand-off (sg table, bio), and the same-file functions they call or are called
    by, ``rounds`` hops out. With ``extra_seeds`` (a directory analysed as one unit, where
    calls cross files) every function and every call's context is described. The others are
    still in ``SourceFile.defined``, so their names are known to be local.
    """
    bodies, macros = units(tree, data, tuple(n.encode() for n in catalog.acquire))
    local_names = {u.name for u in bodies} | macros
    interesting = (set(catalog.acquire) | set(catalog.release) | set(catalog.use)
                   | set(catalog.containers) | local_names)
    is_iterator = _is_iterator_name(catalog)

    raw: list[list[dict[str, list[ts.Node]]]] = [[] for _ in bodies]
    stores: dict[str, list[tuple[str, bytes]]] = {}  # field -> (function, value), every body
    callees: list[set[str]] = [set() for _ in bodies]
    q = query("calls", "assignments", "returns")
    # Bodies re-parsed on their own hang off their own tree: query each tree for its bodies.
    by_tree: dict[int, list[int]] = {}
    for i, u in enumerate(bodies):
        by_tree.setdefault(_tree_root(u.body).id, []).append(i)
    for members in by_tree.values():
        members.sort(key=lambda i: bodies[i].body.start_byte)
        starts = [bodies[i].body.start_byte for i in members]
        for _, caps in ts.QueryCursor(q).matches(_tree_root(bodies[members[0]].body)):
            node = next(caps[k] for k in _ANCHORS if k in caps)[0]
            j = bisect.bisect_right(starts, node.start_byte) - 1
            if j < 0 or node.end_byte > bodies[members[j]].body.end_byte:
                continue
            i = members[j]
            raw[i].append(caps)
            if "call.name" in caps:
                callees[i].add(caps["call.name"][0].text.decode("utf-8", "replace"))
            elif "assign" in caps:
                lhs = caps["assign.lhs"][0].text
                if b"->" in lhs or b"." in lhs:
                    field = _FIELD.search(lhs)
                    if field:  # the value is normalised only if someone asks (rarely)
                        stores.setdefault(field.group(1).decode(), []).append(
                            (bodies[i].name, caps["assign.rhs"][0].text))

    # Seeds: acquisitions, and the releases and DMA/bio hand-offs a struct field can lead to.
    seeds = (set(catalog.acquire) | set(catalog.release) | set(catalog.containers)
             | set(catalog.use) | extra_seeds)
    keep = {i for i, names in enumerate(callees) if names & seeds or extra_seeds}
    index: dict[str, list[int]] = {}
    for i, u in enumerate(bodies):
        index.setdefault(u.name, []).append(i)
    for _ in range(rounds):
        names = {bodies[i].name for i in keep}
        grow = {j for i in keep for n in callees[i] & local_names for j in index.get(n, ())}
        grow |= {i for i, c in enumerate(callees) if c & names}
        if grow <= keep:
            break
        keep |= grow

    functions = []
    for i in sorted(keep):
        unit = bodies[i]
        calls: list[Call] = []
        assigns: list[Assign] = []
        returns: list[str] = []
        for caps in raw[i]:
            if "call" in caps:
                node = caps["call"][0]
                name = caps["call.name"][0].text.decode("utf-8", "replace")
                args = tuple(norm(a.text) for a in caps["call.args"][0].named_children
                             if a.type != "comment")
                if name in interesting or is_iterator(name) or extra_seeds:
                    guards, in_loop, result, returned = _context(node, unit.body, is_iterator)
                else:
                    guards, in_loop, result, returned = (), False, None, False
                calls.append(Call(name, args, node.start_point[0] + 1, node.start_point[1] + 1,
                                  guards, result, in_loop, returned))
            elif "assign" in caps:
                assigns.append(Assign(norm(caps["assign.lhs"][0].text),
                                      norm(caps["assign.rhs"][0].text),
                                      caps["assign"][0].start_point[0] + 1))
            else:
                returns.append(norm(caps["return.value"][0].text))
        graph = cfg_mod.Lazy(unit.body, unit.params, is_iterator)
        functions.append(Function(unit.name, unit.line, unit.body.end_point[0] + 1, unit.params,
                                  tuple(calls), tuple(assigns), tuple(returns), path,
                                  unit.static, graph))
    return SourceFile(path, tuple(functions), frozenset(local_names),
                      parse_errors=int(tree.root_node.has_error),
                      globals=file_scope_names(tree, bodies),
                      field_stores={f: tuple(v) for f, v in stores.items()})
