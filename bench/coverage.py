#!/usr/bin/env python3
"""Independent recall check for gupaudit: does the scan find every acquisition call?

What it measures: gupaudit's recall against a plain text search, and whether both agree on
the enclosing function of each call.  Nothing here imports gupaudit's analysis code; the only
thing shared with the tool is its API catalogue, gupaudit/apis.toml, read with tomllib for the
acquisition names (the keys of [acquire]) and the files that implement them ([definitions]
files, fnmatch globs on the path relative to the tree root).

How to run (from the repository root, with a Python that has gupaudit installed, or with
`gupaudit` on PATH):

    python bench/coverage.py /path/to/linux
    python bench/coverage.py /path/to/linux --json scan.json    # reuse a saved scan

The text side, file by file (every .c/.h under TREE; os.walk, .git skipped, symlinks neither
followed nor read, .gitignore not honoured; files matching a [definitions] glob skipped):

  * comments, string and character literals are blanked (line numbers kept);
  * every `NAME(` / `NAME (` of an acquisition NAME (word boundary before) is a candidate;
  * not a call: candidates on #define lines and their backslash continuations, and those at
    brace depth 0 (prototypes, declarations; depth counted on the blanked text with every
    preprocessor line left out);
  * not a site: calls whose enclosing function is itself an acquisition API (a wrapper);
  * enclosing function, kernel-style: the body opens at the last line above the call that
    starts with `{` in column 0, with no column-0 `}` in between; the name is the first
    identifier followed by `(` in the header lines above that brace (walking up, preprocessor
    lines ignored, until a line that is blank once comments are blanked, i.e. blank or
    comment-only, or that ends with `;`); SYSCALL_DEFINEn(x, ...) names sys_x and
    COMPAT_SYSCALL_DEFINEn(x, ...) compat_sys_x.  No such brace: the function is "?".

A text hit is FOUND when the scan has a site with the same path, line and api, and FOUND with
the right function when the function names agree too.  Printed: totals (text hits, found, same
function, missing, extra scan sites with no text hit, internal errors), then every missing hit,
every function disagreement (`path:line: api: text says F1, gupaudit says F2`) and every extra
site.  Exit status 0, whatever the numbers; 1 when the scan crashed (or its JSON is unreadable).
"""

from __future__ import annotations

import argparse
import bisect
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

APIS_TOML = Path(__file__).resolve().parent.parent / "gupaudit" / "apis.toml"

# Comments, then string and character literals; whichever starts first wins.
STRIP_RE = re.compile(
    r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S
)
IDENT_CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
SYSCALL_RE = re.compile(r"(COMPAT_)?SYSCALL_DEFINE\d*\s*\(\s*([A-Za-z_]\w*)")
# Attribute-like macros that take arguments and may come before the function name.
ATTRIBUTES = {
    "__attribute__", "__attribute", "__printf", "__scanf", "__section", "__aligned",
    "__diag_ignore", "__no_sanitize_address", "__weak", "__alias", "__cleanup",
    "__must_hold", "__acquires", "__releases", "__cond_acquires", "__releases_shared",
}


@dataclass
class Hit:
    path: str
    line: int
    api: str
    function: str


def blank(m: re.Match[str]) -> str:
    """The matched text with everything but newlines turned into spaces."""
    return re.sub(r"[^\n]", " ", m.group(0))


def directive_lines(lines: list[str]) -> tuple[set[int], set[int]]:
    """0-based indices of preprocessor lines (with continuations), and of #define ones."""
    pre: set[int] = set()
    define: set[int] = set()
    i = 0
    while i < len(lines):
        s = lines[i].lstrip()
        if s.startswith("#"):
            is_define = re.match(r"#\s*define\b", s) is not None
            while True:
                pre.add(i)
                if is_define:
                    define.add(i)
                if not lines[i].rstrip().endswith("\\") or i + 1 >= len(lines):
                    break
                i += 1
        i += 1
    return pre, define


def function_name(header: str) -> str:
    """The first identifier followed by `(` in a function header, attribute macros skipped."""
    for cm in IDENT_CALL_RE.finditer(header):
        sm = SYSCALL_RE.match(header, cm.start(1))
        if sm is not None:
            return ("compat_sys_" if sm.group(1) else "sys_") + sm.group(2)
        if cm.group(1) not in ATTRIBUTES:
            return cm.group(1)
    return "?"


def enclosing_function(code_lines: list[str], pre: set[int], idx: int) -> str:
    """Kernel-style enclosing function of 0-based line idx, from comment-blanked lines."""
    brace = -1
    j = idx
    while j >= 0:
        if j not in pre:
            s = code_lines[j]
            if s.startswith("{") and j <= idx:
                brace = j
                break
            if s.startswith("}") and j < idx:
                return "?"
        j -= 1
    if brace < 0:
        return "?"
    header: list[str] = []
    j = brace - 1
    while j >= 0:
        if j in pre:
            j -= 1
            continue
        s = code_lines[j].strip()
        if not s or s.endswith(";") or s.endswith("}"):
            break
        header.append(s)
        j -= 1
    header.reverse()
    return function_name(" ".join(header))


def text_hits(
    tree: Path, names: list[str], excluded: list[str], skipped: dict[str, int]
) -> list[Hit]:
    name_alt = "|".join(sorted(names, key=len, reverse=True))
    # Cheap prefilter: a file is looked at only if it holds one of the names (substring
    # search; names that contain another name are covered by the shorter one).
    needles = [n.encode() for n in names if not any(o != n and o in n for o in names)]
    call_re = re.compile(rf"\b({name_alt})\s*\(")
    scan_re = re.compile(rf"[{{}}]|{call_re.pattern}")
    api_set = set(names)
    hits: list[Hit] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for fn in sorted(filenames):
            if not fn.endswith((".c", ".h")):
                continue
            full = os.path.join(dirpath, fn)
            if os.path.islink(full):
                continue
            rel = os.path.relpath(full, tree).replace(os.sep, "/")
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except OSError:
                skipped["unreadable"] += 1
                continue
            if not any(n in data for n in needles):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in excluded):
                skipped["definition file"] += 1
                continue
            text = data.decode("latin-1")
            code = STRIP_RE.sub(blank, text)
            code_lines = code.split("\n")
            pre, define = directive_lines(code_lines)
            # Depth is counted without preprocessor lines (#if/#else arms that each open a
            # brace would unbalance it otherwise).
            counted = "\n".join(
                (" " * len(s) if i in pre else s) for i, s in enumerate(code_lines)
            )
            starts = [0]
            starts.extend(m.end() for m in re.finditer("\n", code))
            depth = 0
            for m in scan_re.finditer(counted):
                tok = m.group(0)
                if tok == "{":
                    depth += 1
                    continue
                if tok == "}":
                    depth = max(depth - 1, 0)
                    continue
                api = m.group(1)
                idx = bisect.bisect_right(starts, m.start(1)) - 1
                if depth <= 0:
                    skipped["declaration (depth 0)"] += 1
                    continue
                func = enclosing_function(code_lines, pre, idx)
                if func in api_set:
                    skipped["inside an API wrapper"] += 1
                    continue
                hits.append(Hit(rel, idx + 1, api, func))
            # Candidates on #define lines were blanked out above; count them for the report.
            for i in define:
                skipped["#define"] += len(call_re.findall(code_lines[i]))
    return hits


def run_scan(tree: Path) -> tuple[dict | None, str]:
    exe = shutil.which("gupaudit")
    cmd = [exe] if exe else [sys.executable, "-m", "gupaudit"]
    cmd += ["scan", str(tree), "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    try:
        return json.loads(proc.stdout), ""
    except json.JSONDecodeError as e:
        return None, f"unreadable JSON from {' '.join(cmd)}: {e}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("--json", type=Path, help="read this scan JSON instead of running the scan")
    ap.add_argument("--apis", type=Path, default=APIS_TOML, help="API catalogue (apis.toml)")
    args = ap.parse_args()
    tree = args.tree.resolve()

    with open(args.apis, "rb") as f:
        cat = tomllib.load(f)
    names = sorted(cat["acquire"])
    excluded = list(cat.get("definitions", {}).get("files", []))

    t0 = time.perf_counter()
    if args.json:
        try:
            doc = json.loads(args.json.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"coverage: cannot read {args.json}: {e}", file=sys.stderr)
            return 1
    else:
        doc, err = run_scan(tree)
        if doc is None:
            print(f"coverage: the scan crashed: {err}", file=sys.stderr)
            return 1
    t1 = time.perf_counter()
    skipped: dict[str, int] = dict.fromkeys(
        ["#define", "declaration (depth 0)", "inside an API wrapper", "definition file",
         "unreadable"], 0)
    hits = text_hits(tree, names, excluded, skipped)
    t2 = time.perf_counter()

    sites = doc.get("sites", [])
    by_key: dict[tuple[str, int, str], list[dict]] = {}
    for s in sites:
        by_key.setdefault((s["path"], s["line"], s["api"]), []).append(s)
    hit_keys = {(h.path, h.line, h.api) for h in hits}

    found = same = 0
    missing: list[Hit] = []
    disagree: list[tuple[Hit, str]] = []
    for h in hits:
        cands = by_key.get((h.path, h.line, h.api))
        if not cands:
            missing.append(h)
            continue
        found += 1
        funcs = [c.get("function") or "" for c in cands]
        if h.function in funcs:
            same += 1
        else:
            disagree.append((h, funcs[0] or "(none)"))
    extra = [s for s in sites if (s["path"], s["line"], s["api"]) not in hit_keys]

    print(f"tree: {tree}")
    source = f"from {args.json}" if args.json else f"{t1 - t0:.1f} s"
    print(f"scan: {len(sites)} sites ({source}); text search {t2 - t1:.1f} s")
    print(f"text hits:            {len(hits)}")
    print(f"found:                {found}")
    print(f"found, same function: {same}")
    print(f"missing:              {len(missing)}")
    print(f"extra scan sites:     {len(extra)}  (no text hit at that path:line:api)")
    summary = doc.get("summary", {})
    if "internal_errors" in summary:
        print(f"internal errors:      {summary['internal_errors']}")
    print("text candidates not counted: "
          + ", ".join(f"{k} {v}" for k, v in skipped.items() if v))
    if len(hits) != len(hit_keys):
        print(f"note: {len(hits) - len(hit_keys)} text hits share a path:line:api with another")

    if missing:
        print(f"\nmissing ({len(missing)}):")
        for h in missing:
            print(f"  {h.path}:{h.line}: {h.api}: in {h.function}")
    if disagree:
        print(f"\nfunction disagreements ({len(disagree)}):")
        for h, f2 in disagree:
            print(f"  {h.path}:{h.line}: {h.api}: text says {h.function}, gupaudit says {f2}")
    if extra:
        print(f"\nextra scan sites ({len(extra)}):")
        for s in extra:
            print(f"  {s['path']}:{s['line']}: {s['api']}: gupaudit says {s.get('function')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
