#!/usr/bin/env python3
"""Agreement of a scan with an answer key made by reading the code (tests/labels/).

Usage:  bench/answer_key.py TREE KEY.json [--scan SCAN.json]
        bench/answer_key.py "$(../shared/corpus/get-kernel 6.1)" tests/labels/6.1.json

Scans TREE (``gupaudit scan --format json --no-cache``) unless ``--scan`` gives one, matches
each key entry to the site at the same path, function and API (the nearest line), and
prints the agreement on status, the table of key status against scan status, and every
disagreement with the key's reason and the scan's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from labels_score import score  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("key", type=Path)
    ap.add_argument("--scan", type=Path, help="a scan's JSON instead of scanning TREE")
    args = ap.parse_args()
    if args.scan:
        scan = json.loads(args.scan.read_text())
    else:
        out = subprocess.run([sys.executable, "-m", "gupaudit", "scan", str(args.tree),
                              "--format", "json", "--no-cache"], capture_output=True,
                             text=True, check=True)
        scan = json.loads(out.stdout)
    key = json.loads(args.key.read_text())
    agree, pairs, misses = score(key, scan["sites"])
    print(f"{args.key}: status agreement {agree}/{len(key)} "
          f"({100 * agree / max(1, len(key)):.0f}%)")
    print("\n| key \\ scan | " + " | ".join(sorted({s for _, s in pairs})) + " |")
    table = Counter(pairs)
    for k in sorted({k for k, _ in pairs}):
        print(f"| {k} | " + " | ".join(str(table[(k, s)]) for s in sorted({s for _, s in pairs}))
              + " |")
    print("\ndisagreements:")
    for entry, site in misses:
        got = site["status"] if site else "no site"
        print(f"  {entry['path']}:{entry['line']} {entry['function']}(): key {entry['status']}"
              f", scan {got}\n      key:  {entry['reason'][:150]}"
              + (f"\n      scan: {site['reason'][:150]}" if site else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
