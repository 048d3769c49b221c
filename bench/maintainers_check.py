#!/usr/bin/env python3
"""Compare gupaudit's MAINTAINERS section per file with scripts/get_maintainer.pl's.

For every file holding a site (or the first --limit of them), runs
``perl scripts/get_maintainer.pl --no-git --no-keywords --sections -f FILE`` inside the
tree and takes the first section it prints (the most specific one), then compares it with
the section gupaudit assigns. --no-keywords: K: lines match patch contents, not paths.

Usage: bench/maintainers_check.py TREE [--limit N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def perl_section(tree: str, path: str) -> str:
    out = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git", "--no-keywords",
                          "--sections", "-f", path], cwd=tree, capture_output=True,
                         text=True, check=False).stdout
    return next((line.strip() for line in out.splitlines() if line.strip()), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    scan = subprocess.run([sys.executable, "-m", "gupaudit", "scan", args.tree, "--format",
                           "json"], capture_output=True, text=True, check=False, cwd="/")
    if scan.returncode != 0:
        sys.exit(scan.stderr)
    ours: dict[str, str] = {}
    for s in json.loads(scan.stdout)["sites"]:
        ours.setdefault(s["path"], s["section"])
    paths = sorted(ours)[: args.limit or None]
    agree = 0
    for path in paths:
        theirs = perl_section(args.tree, path)
        same = theirs == ours[path]
        agree += same
        print(f"{'same' if same else 'DIFF'}  {path}: gupaudit {ours[path]!r}"
              + ("" if same else f", get_maintainer.pl {theirs!r}"))
    print(f"{agree}/{len(paths)} files in the same section; "
          f"{sum(1 for p in ours if not ours[p])} of {len(ours)} files with no section")


if __name__ == "__main__":
    main()
