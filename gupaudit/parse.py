"""Stage 2, parse: C source bytes -> tree-sitter tree and its function bodies.

Kernel code is full of constructs tree-sitter-c reads as errors: ``SYSCALL_DEFINE3(...) {``,
``for_each_sg(...) {`` (a call with a MISSING ``;`` before a block), attributes such as
``__must_check`` or ``__init``, and ``#ifdef``'d halves of a function header. An error node
therefore does not mean "unparseable". What matters is that every function *body* is found
with its right name, so this stage finds bodies two ways:

* ``function_definition`` nodes (queries/functions.scm), with one repair: when tree-sitter
  reads an unterminated macro line before a function as a K&R header, the name is read
  from the header above the body's column-0 brace instead;
* top-level blocks that no definition owns (SYSCALL_DEFINEn, #ifdef'd headers): their name
  is read from the header lines above the ``{``, kernel style (the brace at column 0).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cache

import tree_sitter as ts
import tree_sitter_c as tsc

from gupaudit.catalog import resource

C_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)  # a C comment, in bytes


@cache
def language() -> ts.Language:
    return ts.Language(tsc.language())


@cache
def parser() -> ts.Parser:
    return ts.Parser(language())


@cache
def query(*names: str) -> ts.Query:
    """One query from several queries/*.scm files, compiled once per process."""
    return ts.Query(language(), "\n".join(
        (resource("queries") / f"{name}.scm").read_text() for name in names))


def parse(data: bytes) -> ts.Tree:
    return parser().parse(data)


@dataclass(frozen=True)
class Unit:
    """A function body with its name and parameter names."""

    name: str
    body: ts.Node
    params: tuple[str, ...]
    line: int  # 1-based line of the header (or of the body when the header is unknown)
    static: bool = False  # declared static: no caller outside its file


_SYSCALL = re.compile(r"\b((?:COMPAT_)?SYSCALL_DEFINE\d|SYSCALL32_DEFINE\d)\s*\(\s*(\w+)")
_NAME_PAREN = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_KEYWORDS = frozenset({"if", "while", "for", "switch", "return", "sizeof", "__attribute__",
                       "__printf", "__aligned", "__section", "__must_hold", "__acquires",
                       "__releases", "__cond_lock", "typeof", "__typeof__"})


def syscall_name(macro: str, name: str) -> str:
    return ("compat_sys_" if macro.startswith("COMPAT") else "sys_") + name


def _innermost_identifier(node: ts.Node | None) -> ts.Node | None:
    while node is not None and node.type not in ("identifier", "field_identifier"):
        inner = node.child_by_field_name("declarator")
        if inner is None:
            return None
        node = inner
    return node


def _function_declarator(node: ts.Node | None) -> ts.Node | None:
    while node is not None and node.type != "function_declarator":
        node = node.child_by_field_name("declarator")
    return node


def _params(declarator: ts.Node | None) -> tuple[str, ...]:
    if declarator is None:
        return ()
    plist = declarator.child_by_field_name("parameters")
    if plist is None:
        return ()
    names = []
    for p in plist.named_children:
        ident = _innermost_identifier(p.child_by_field_name("declarator"))
        names.append(ident.text.decode("utf-8", "replace") if ident is not None else "")
    return tuple(names)


def _definition_unit(fn: ts.Node, body: ts.Node, lines: list[bytes]) -> Unit | None:
    declarator = fn.child_by_field_name("declarator")
    # "macro(x)\n\nstatic int real(...)\n{": tree-sitter reads macro(x) as the declarator
    # of a K&R definition whose "declarations" are the real header. The kernel has no K&R
    # code, so there the header above the column-0 brace names the function.
    knr = any(c.type == "declaration" for c in fn.named_children)
    if knr and body.start_point[1] == 0:
        header = header_before(lines, body.start_point[0])
        got = name_from_header(header)
        if got is not None:
            return Unit(got[0], body, got[1], body.start_point[0], _is_static(header))
    fdecl = _function_declarator(declarator)
    if fdecl is None:
        return None
    ident = _innermost_identifier(fdecl.child_by_field_name("declarator"))
    if ident is None:
        return None
    name = ident.text.decode("utf-8", "replace")
    params = _params(fdecl)
    m = _SYSCALL.match(fdecl.text.decode("utf-8", "replace"))
    if m:
        name, params = name_from_header(fdecl.text.decode("utf-8", "replace")) or (name, params)
    header = fn.text[: body.start_byte - fn.start_byte].decode("utf-8", "replace")
    return Unit(name, body, params, fdecl.start_point[0] + 1, _is_static(header))


def _is_static(header: str) -> bool:
    return re.search(r"\bstatic\b", header) is not None


def header_before(lines: list[bytes], brace_line: int) -> str:
    """The header text above a body's ``{`` (0-based line), preprocessor lines dropped.

    Walks up to a blank line, a previous top-level ``}`` or a line ending a statement or a
    comment: kernel style puts one of those before every function.
    """
    picked: list[str] = []
    first = lines[brace_line].decode("utf-8", "replace").split("{", 1)[0]
    if first.strip():
        picked.append(first)
    j = brace_line - 1
    while j >= 0 and brace_line - j <= 30:
        text = lines[j].decode("utf-8", "replace").rstrip()
        stripped = text.strip()
        if not stripped or text.startswith("}") or stripped.endswith((";", "*/")):
            break
        if not stripped.startswith("#"):
            picked.append(text)
        j -= 1
    return " ".join(reversed(picked))


def name_from_header(header: str) -> tuple[str, tuple[str, ...]] | None:
    """Function name and parameter names from a kernel-style header, or None."""
    m = _SYSCALL.search(header)
    if m:
        args = header[m.end():].split(")", 1)[0].split(",")[1:]
        return syscall_name(m.group(1), m.group(2)), tuple(a.strip() for a in args[1::2])
    name = None
    for m in _NAME_PAREN.finditer(header):
        before = header[: m.start()]
        if m.group(1) not in _KEYWORDS and before.count("(") == before.count(")"):
            name = m.group(1)
            break
    if name is None:
        return None
    params = header[m.end():]
    depth, end = 1, len(params)
    for i, ch in enumerate(params):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            end = i
            break
    params = params[:end]
    found = []
    for p in params.split(","):
        ids = re.findall(r"[A-Za-z_]\w*", p.split("[")[0])
        found.append(ids[-1] if len(ids) > 1 else "")
    return name, tuple(found)


_TOP_CONTAINERS = frozenset({"translation_unit", "preproc_if", "preproc_ifdef", "preproc_else",
                             "preproc_elif", "preproc_elifdef", "ERROR", "linkage_specification",
                             "declaration_list"})


def _orphan_blocks(node: ts.Node, out: list[ts.Node]) -> None:
    for child in node.named_children:
        if child.type == "compound_statement":
            out.append(child)
        elif child.type in _TOP_CONTAINERS:
            _orphan_blocks(child, out)


def file_scope_names(tree: ts.Tree, bodies: list[Unit]) -> frozenset[str]:
    """Variables declared at file scope (``static struct page **saved_pages;``): pages kept
    there are reached by name from the file's other functions, as through a struct field.

    Declarations overlapping the lines of a function body found by ``units`` are that
    function's header or locals, whatever tree-sitter's error recovery made of them."""
    spans = sorted((u.body.start_point[0], u.body.end_point[0]) for u in bodies)
    starts = [a for a, _ in spans]

    def in_body(node: ts.Node) -> bool:
        """Whether the node's lines overlap a body's."""
        i = bisect.bisect_right(starts, node.end_point[0]) - 1
        return i >= 0 and node.start_point[0] <= spans[i][1]

    out: set[str] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in node.named_children:
            if child.type in _TOP_CONTAINERS and child.type != "ERROR":
                # Not into ERROR nodes: error recovery spills function locals there.
                stack.append(child)
            elif child.type == "declaration" and not in_body(child):
                for decl in child.children_by_field_name("declarator"):
                    if _function_declarator(decl) is not None:
                        continue  # a prototype
                    ident = _innermost_identifier(decl)
                    if ident is not None and ident.type == "identifier":
                        out.add(ident.text.decode("utf-8", "replace"))
    return frozenset(n for n in out if n.isidentifier())


def units(tree: ts.Tree, data: bytes, needles: tuple[bytes, ...] = ()
          ) -> tuple[list[Unit], set[str]]:
    """Every function body of the file, sorted by position, and the macros it defines.

    Bodies from a second parse (see ``_reparsed``) hang off their own tree: compare them by
    line, not by byte offset.
    """
    q = query("functions")
    caps = ts.QueryCursor(q).captures(tree.root_node)
    lines = data.split(b"\n")
    found: list[Unit] = []
    for fn in caps.get("function", []):
        body = fn.child_by_field_name("body")
        if body is None:
            continue
        unit = _definition_unit(fn, body, lines)
        if unit is not None:
            found.append(unit)
    orphans: list[ts.Node] = []
    _orphan_blocks(tree.root_node, orphans)
    if orphans:
        for block in orphans:
            line = block.start_point[0]
            if block.start_point[1] != 0 and lines[line][: block.start_point[1]].strip():
                continue  # "= {" initialisers and the like, not a function body
            header = header_before(lines, line)
            got = name_from_header(header)
            if got is not None:
                found.append(Unit(got[0], block, got[1], line + 1, _is_static(header)))
    found.extend(_reparsed(data, lines, found, needles))
    found.sort(key=lambda u: (u.body.start_point, u.body.start_byte))
    macros = {n.text.decode("utf-8", "replace") for n in caps.get("macro.name", [])}
    return found, macros


def kernel_bodies(lines: list[bytes]) -> list[tuple[int, int]]:
    """(open, close) 0-based lines of every ``{`` ... ``}`` pair at column 0: kernel style
    for a function body, whatever tree-sitter made of the lines around it."""
    regions = []
    opened: int | None = None
    for i, line in enumerate(lines):
        if line.startswith(b"{"):
            opened = i
        elif line.startswith(b"}") and opened is not None:
            regions.append((opened, i))
            opened = None
    return regions


def _stray(data: bytes, found: list[Unit], needles: tuple[bytes, ...]) -> bool:
    """Whether some needle occurs outside every body found (else nothing was lost)."""
    spans = sorted((u.body.start_byte, u.body.end_byte) for u in found)
    starts = [start for start, _ in spans]
    for needle in needles:
        pos = data.find(needle)
        while pos != -1:
            i = bisect.bisect_right(starts, pos) - 1
            if i < 0 or pos >= spans[i][1]:
                return True
            pos = data.find(needle, pos + 1)
    return False


def _reparsed(data: bytes, lines: list[bytes], found: list[Unit],
              needles: tuple[bytes, ...]) -> list[Unit]:
    """Bodies tree-sitter lost in error recovery (an #ifdef'd header can swallow the rest of
    the file), parsed again on their own, at their own line numbers.

    Only kernel-style bodies holding one of ``needles`` (acquisition names) are redone.
    """
    if not needles or not _stray(data, found, needles):
        return []
    have = {u.body.start_point[0] for u in found}
    extra = []
    for opened, closed in kernel_bodies(lines):
        if opened in have:
            continue
        chunk = b"\n".join(lines[opened : closed + 1])
        if not any(n in chunk for n in needles):
            continue
        header = header_before(lines, opened)
        got = name_from_header(header)
        if got is None:
            continue
        tree = parse(b"\n" * opened + chunk)
        blocks: list[ts.Node] = []
        _orphan_blocks(tree.root_node, blocks)
        for block in blocks:
            if block.start_point[0] == opened:
                extra.append(Unit(got[0], block, got[1], opened + 1, _is_static(header)))
    return extra
