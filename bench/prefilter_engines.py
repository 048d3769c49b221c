#!/usr/bin/env python3
"""Multi-literal search engines for the byte prefilter, against each other on one tree.

Usage:  bench/prefilter_engines.py TREE

Reads every .c/.h file the walk finds into memory (so only the search is timed), then for
each engine answers the prefilter's three questions per file (an acquisition name? the
export macro? the iterator type?) and prints its CPU seconds and the counts of files for
each question; every engine must print the same counts. Engines: glibc memmem() per
literal with the stem gate (the fallback), Hyperscan (one pass for all literals, the one
``discover.literals`` uses when installed), RE2's set, one Python ``re`` alternation as a
gate before memmem. An engine whose package is missing is reported as such.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from gupaudit import catalog, discover


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    cat = catalog.load()
    paths, _ = discover.walk(root, cat.skip_dirs)
    datas = []
    for rel in paths:
        with open(os.path.join(root, rel), "rb") as fh:
            datas.append(fh.read())
    print(f"{len(datas)} files, {sum(map(len, datas)) / 1e6:.0f} MB in memory")
    names = tuple(n.encode() for n in cat.acquire)
    stem, _ = discover._export()
    iters = tuple(n.encode() for n in cat.iterator_needles())
    groups = (names, (stem,), iters)
    gates = (cat.prefilter_needles(), (), ())
    memmem = discover.memmem_literals(groups, gates)
    engines = {"memmem (fallback)": lambda: memmem}
    engines["hyperscan"] = lambda: discover._hyperscan(groups)
    engines["re2 set"] = lambda: _re2(groups)
    gate = re.compile(b"|".join(re.escape(p) for p in sorted(set(gates[0]) | {stem} | set(iters))))
    engines["re alternation gate"] = lambda: (
        lambda d: memmem(d) if gate.search(d) else (False, False, False))
    for name, make in engines.items():
        try:
            present = make()
        except ImportError as exc:
            print(f"{name:22s} not installed ({exc.name})")
            continue
        start = time.process_time()
        out = [present(d) for d in datas]
        counts = [sum(o[i] for o in out) for i in range(3)]
        print(f"{name:22s} {time.process_time() - start:6.2f} s CPU   files: "
              f"names {counts[0]}, exports {counts[1]}, iterator {counts[2]}")
    return 0


def _re2(groups: tuple[tuple[bytes, ...], ...]):  # noqa: ANN202
    import re2  # noqa: PLC0415

    owner = [i for i, g in enumerate(groups) for _ in g]
    opts = re2.Options()
    opts.encoding = re2.Options.Encoding.LATIN1
    s = re2.Set.SearchSet(opts)
    for g in groups:
        for n in g:
            s.Add(re.escape(n.decode()))
    s.Compile()

    def present(d: bytes) -> tuple[bool, ...]:
        got = {owner[i] for i in (s.Match(d) or ())}
        return tuple(i in got for i in range(len(groups)))
    return present


if __name__ == "__main__":
    sys.exit(main())
