#!/usr/bin/env python3
"""Build a labelled set from real kernel history and measure gupaudit's verdicts on it.

Labels come from what the kernel community later did, never from gupaudit's verdicts:

* converted-later: a FOLL_GET site (get_user_pages*, iov_iter_get_pages*) in the OLD tree
  whose function acquires with pin_user_pages*() / iov_iter_extract_pages() (or another
  FOLL_PIN API), and no longer with FOLL_GET, in the NEW tree. gupaudit should call it
  unconverted (or mismatch) in OLD. Functions that do both in NEW (KVM picks per caller)
  are left unlabelled.
* gup-ok example: a FOLL_GET site in OLD under mm/, kernel/, fs/exec.c or security/ whose
  function still uses plain GUP in NEW. gupaudit should not flag it.

A function is matched by (path, function), with known renames (fs/cifs -> fs/smb/client),
else by a function name that is unique among NEW's sites, else, for a function gone from
its file, by the file's new pinning functions that OLD did not have.
gupaudit's scan only enumerates the acquisition sites here (bench/coverage.py checks that
enumeration against a text search); the labels are the APIs each tree calls.

Usage: bench/labelled_set.py OLD_TREE NEW_TREE [--out docs/labelled-set.md]
       (trees: ../shared/corpus/get-kernel 5.10 and latest). Prints the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

GET = {"get", "iter-get"}
PIN = {"pin", "iter-extract"}
CORE = ("mm/", "kernel/", "fs/exec.c", "security/")
RENAMES = (("fs/cifs/", "fs/smb/client/"),)
FLAGGED = {"unconverted", "mismatch"}


def scan(tree: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "gupaudit", "scan", tree, "--format", "json"],
                         capture_output=True, text=True, check=False, cwd="/")
    if out.returncode != 0:
        sys.exit(f"gupaudit failed on {tree}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def renamed(path: str) -> list[str]:
    paths = [path]
    for old, new in RENAMES:
        if path.startswith(old):
            paths.append(new + path[len(old):])
    return paths


def label(old: dict, new: dict) -> list[tuple[dict, str, str]]:
    """(old site, label, where in NEW) for every labelled OLD site."""
    by_fn: dict[tuple[str, str], set[str]] = {}
    by_name: dict[str, set[tuple[str, str]]] = {}
    new_fns: dict[str, set[str]] = {}
    old_fns: dict[str, set[str]] = {}
    for s in new["sites"]:
        by_fn.setdefault((s["path"], s["function"]), set()).add(s["family"])
        by_name.setdefault(s["function"], set()).add((s["path"], s["family"]))
        new_fns.setdefault(s["path"], set()).add(s["function"])
    for s in old["sites"]:
        old_fns.setdefault(s["path"], set()).add(s["function"])
    out = []
    for s in old["sites"]:
        if s["family"] not in GET:
            continue
        families: set[str] = set()
        where = ""
        for path in renamed(s["path"]):
            if (path, s["function"]) in by_fn:
                families, where = by_fn[(path, s["function"])], path
                break
        if not families:
            hits = by_name.get(s["function"], set())
            if len({p for p, _ in hits}) == 1:
                families = {f for _, f in hits}
                where = next(iter(hits))[0]
        if not families:
            # Renamed in the conversion (s390's get_map_page -> pin_map_page): the same file
            # now pins only in functions the old file did not have.
            for path in renamed(s["path"]):
                fresh = new_fns.get(path, set()) - old_fns.get(s["path"], set())
                fams = set().union(*(by_fn[(path, f)] for f in fresh)) if fresh else set()
                if fams and fams <= PIN:
                    families, where = fams, f"{path} ({', '.join(sorted(fresh))})"
                    break
        if families & PIN and not families & GET:
            out.append((s, "converted-later", where))
        elif families & GET and not families & PIN and s["path"].startswith(CORE):
            out.append((s, "gup-ok-example", where))
    return out


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--out", type=Path, help="write the labelled table (Markdown) here")
    args = ap.parse_args()
    old, new = scan(args.old), scan(args.new)
    labelled = label(old, new)
    conv = [s for s, lab, _ in labelled if lab == "converted-later"]
    ok = [s for s, lab, _ in labelled if lab == "gup-ok-example"]
    conv_hit = [s for s in conv if s["status"] in FLAGGED]
    ok_flagged = [s for s in ok if s["status"] in FLAGGED]
    unknown = [s for s in old["sites"] if s["status"] == "unknown"]
    pins = [s for s in new["sites"] if s["family"] in PIN]
    pins_conv = [s for s in pins if s["status"] == "converted"]
    ov, nv = old["tree"]["kernel_version"], new["tree"]["kernel_version"]
    lines = [
        f"Labelled set: Linux {ov} (old) against {nv} (new)",
        "",
        "| measure | target | result |",
        "|---|---|---|",
        f"| {ov}: converted-later sites called unconverted or mismatch | >= 90% | "
        f"{percent(len(conv_hit), len(conv))} |",
        f"| {ov}: gup-ok examples flagged (unconverted or mismatch) | <= 10% | "
        f"{percent(len(ok_flagged), len(ok))} |",
        f"| {ov}: unknown among all sites | <= 10% | "
        f"{percent(len(unknown), len(old['sites']))} |",
        f"| {nv}: pin / iov_iter_extract sites converted | >= 90% | "
        f"{percent(len(pins_conv), len(pins))} |",
    ]
    print("\n".join(lines))
    print()
    print(f"{ov} status of converted-later sites:", dict(Counter(s["status"] for s in conv)))
    print(f"{ov} status of gup-ok examples:", dict(Counter(s["status"] for s in ok)))
    for s in conv:
        if s["status"] not in FLAGGED:
            print(f"  missed  {s['path']}:{s['line']}: {s['function']}() {s['api']} -> "
                  f"{s['status']}: {s['reason']}")
    for s in ok_flagged:
        print(f"  flagged {s['path']}:{s['line']}: {s['function']}() {s['api']} -> "
              f"{s['status']}: {s['reason']}")
    for s in pins:
        if s["status"] != "converted":
            print(f"  {nv} pin not converted {s['path']}:{s['line']}: {s['function']}() "
                  f"-> {s['status']}: {s['reason']}")
    if args.out:
        table = ["| old site | function | API | label | new file | gupaudit in old |",
                 "|---|---|---|---|---|---|"]
        for s, lab, where in sorted(labelled, key=lambda x: (x[1], x[0]["path"], x[0]["line"])):
            table.append(f"| {s['path']}:{s['line']} | {s['function']} | {s['api']} | {lab} "
                         f"| {where} | {s['status']} |")
        args.out.write_text("# Labelled set\n\nMade by `bench/labelled_set.py` (see its "
                            "docstring for how labels are chosen).\n\n" + "\n".join(lines)
                            + "\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
