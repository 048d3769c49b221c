#!/usr/bin/env bash
# Speed and memory of a gupaudit scan, next to a plain text search for the same API names.
#
# Usage:  bench/speed.sh TREE [TREE...]
#         PYTHON=/path/to/venv/bin/python RUNS=5 bench/speed.sh /src/linux-6.1 /src/linux
#         BASELINE=/tmp/old bench/speed.sh TREE   (a checkout of another commit, e.g.
#             `git worktree add /tmp/old 9264816`: its cold scan is timed in the same run,
#             as the row "baseline", for a paired comparison)
#
# For each TREE: one untimed `gupaudit scan` first (warms the page cache for all the tools
# and fills a fresh result cache), then, timed one after the other, each RUNS times
# (default 3; wall = median, memory = max):
#   gupaudit   gupaudit scan TREE --format json -o /dev/null --no-cache   (every file analysed)
#   cached     the same with that result cache: a re-scan of an unchanged tree
#   rg         rg -l -w -g '*.[ch]' REGEX TREE                  (if rg is installed)
#   git-grep   git -C TREE grep --no-index -l -w -E REGEX -- '*.[ch]'
# REGEX is (name|name|...) over the keys of [acquire] in gupaudit/apis.toml.  rg honours a
# .gitignore only inside a git repository; git grep --no-index does not honour it unless
# asked to (--exclude-standard); gupaudit never does.
#
# gupaudit is the one on PATH, else `$PYTHON -m gupaudit` (PYTHON defaults to python3, which
# needs 3.11+ for tomllib in any case).
#
# Columns:
#   wall s       elapsed time of the command, measured by the Python wrapper below (median).
#   peak MB      maximum resident set size over the command's whole process tree: the
#                command itself and every descendant that was waited for (the scan's worker
#                processes).  It is a max, not a sum.  Taken from GNU /usr/bin/time's %M when
#                that exists (wait4() rusage on Linux covers the waited-for descendants too),
#                else from the wrapper's getrusage(RUSAGE_CHILDREN).ru_maxrss, which has a
#                floor of the wrapper's own RSS (~14 MB: a child's pre-exec copy of its
#                parent is counted), so small numbers are meaningless in that case.
#   parent MB    VmHWM of the command's own process, from /proc, sampled every 100 ms until
#                it exits (may miss growth in its last 100 ms).
#   child MB     the largest VmHWM seen among its descendant processes, sampled the same way
#                ("-": it had none, e.g. rg and git grep only use threads).
#   files        lines printed (files listed) by rg / git grep; "-" for the scan.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 TREE [TREE...]" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
apis=${GUPAUDIT_APIS:-$here/../gupaudit/apis.toml}
py=${PYTHON:-python3}
runs=${RUNS:-3}

if command -v gupaudit >/dev/null 2>&1; then
    gup=(gupaudit)
else
    gup=("$py" -m gupaudit)
fi

regex=$("$py" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("(" + "|".join(sorted(tomllib.load(f)["acquire"])) + ")")
' "$apis")

gnu_time=""
if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    gnu_time=/usr/bin/time
fi

wrapper=$(mktemp --suffix=.py)
trap 'rm -f "$wrapper"' EXIT
cat >"$wrapper" <<'EOF'
"""measure GNU_TIME|'' RUNS CMD...: prints `wall peak_mb parent_mb child_mb lines rc`.

wall is the median over RUNS runs; the memory numbers are maxima over them.
"""

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time


def hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def run_once(gnu_time, cmd, seen):
    """One run: (wall, peak kB from GNU time or 0, lines, rc); updates seen."""
    out = None
    if gnu_time:
        fd, out = tempfile.mkstemp()
        os.close(fd)
        cmd = [gnu_time, "-f", "%M", "-o", out, *cmd]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    done = threading.Event()

    def sample():
        top = None
        while not done.is_set():
            if top is None:
                # Under GNU time the command is time's only child.
                kids = children(p.pid) if gnu_time else [p.pid]
                top = kids[0] if kids else None
            if top is not None:
                seen["parent"] = max(seen["parent"], hwm_kb(top))
                todo = children(top)
                while todo:
                    c = todo.pop()
                    seen["child"] = max(seen["child"], hwm_kb(c))
                    todo.extend(children(c))
            done.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    lines = sum(1 for _ in p.stdout)
    rc = p.wait()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    peak = 0
    if out:
        try:
            with open(out) as f:
                peak = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(out)
    return wall, peak, lines, rc


def main():
    gnu_time, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    seen = {"parent": 0, "child": 0}
    results = [run_once(gnu_time, cmd, seen) for _ in range(max(runs, 1))]
    walls = sorted(r[0] for r in results)
    wall = walls[len(walls) // 2]
    if gnu_time:
        peak = max(r[1] for r in results)
    else:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux
    lines, rc = results[-1][2], max(r[3] for r in results)
    child = f"{seen['child'] / 1024:.0f}" if seen["child"] else "-"
    print(f"{wall:.2f} {peak / 1024:.0f} {seen['parent'] / 1024:.0f} {child} {lines} {rc}")


main()
EOF

row() {  # row TREE TOOL OKRC CMD...: run CMD under the wrapper, print one table line
    local tree=$1 tool=$2 okrc=$3
    shift 3
    local wall peak parent child lines rc note=""
    read -r wall peak parent child lines rc < <("$py" "$wrapper" "$gnu_time" "$runs" "$@")
    if [ "$tool" = gupaudit ] || [ "$tool" = cached ] || [ "$tool" = baseline ]; then lines=-; fi
    # rg and git grep exit 1 when nothing matched; that is still a valid run.
    if [ "$rc" -ne 0 ] && [ "$rc" -gt "$okrc" ]; then note="  (exit $rc)"; fi
    printf '%-14s %-9s %8s %8s %9s %8s %6s%s\n' \
        "$tree" "$tool" "$wall" "$peak" "$parent" "$child" "$lines" "$note"
}

echo "gupaudit: ${gup[*]} ($("${gup[@]}" --version 2>&1 | tail -1)); cores: $(nproc)"
echo "peak RSS from: ${gnu_time:-getrusage(RUSAGE_CHILDREN) in the wrapper}; runs: $runs"
printf '%-14s %-9s %8s %8s %9s %8s %6s\n' tree tool "wall s" "peak MB" "parent MB" \
    "child MB" files
for tree in "$@"; do
    if [ ! -d "$tree" ]; then
        echo "$0: not a directory: $tree" >&2
        exit 2
    fi
    name=$(basename "$(cd "$tree" && pwd)")
    cache=$(mktemp -d)/cache.sqlite3
    "${gup[@]}" scan "$tree" --format json -o /dev/null --cache "$cache"  # warm-up, untimed
    row "$name" gupaudit 0 "${gup[@]}" scan "$tree" --format json -o /dev/null --no-cache
    if [ -n "${BASELINE:-}" ]; then  # run from / so that the checkout's package is the one
        row "$name" baseline 0 env -C / PYTHONPATH="$(cd "$BASELINE" && pwd)" \
            "$("$py" -c 'import sys; print(sys.executable)')" -m gupaudit \
            scan "$(cd "$tree" && pwd)" --format json -o /dev/null --no-cache
    fi
    row "$name" cached 0 "${gup[@]}" scan "$tree" --format json -o /dev/null --cache "$cache"
    rm -rf "$(dirname "$cache")"
    if command -v rg >/dev/null 2>&1; then
        row "$name" rg 1 rg -l -w -g '*.[ch]' "$regex" "$tree"
    else
        printf '%-14s %-9s %s\n' "$name" rg "(not installed)"
    fi
    row "$name" git-grep 1 git -C "$tree" grep --no-index -l -w -E "$regex" -- '*.[ch]'
done
