#!/usr/bin/env bash
# History speed: gupaudit history over a repository's tags, cold (empty cache) and warm,
# and a whole-tree re-scan from the cache, on 2 cores.
#
# Usage:  bench/history_bench.sh REPO TREE
#         REPO: ../shared/corpus/make-history-repo DEST (v5.10, v6.1, v6.12, newest)
#         TREE: a plain tree for the re-scan figure (../shared/corpus/get-kernel 6.1)
# Targets (issue #6): history cold <= 90 s, warm <= 10 s; re-scan from cache <= 1.5 s.
set -euo pipefail
repo=${1:?usage: history_bench.sh REPO TREE}
tree=${2:?usage: history_bench.sh REPO TREE}
gup=(gupaudit)
command -v gupaudit >/dev/null || gup=("${PYTHON:-python3}" -m gupaudit)
cache=$(mktemp -d)/cache.sqlite3
t() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v s="$s" -v e="$EPOCHREALTIME" 'BEGIN { print e - s }'; }
cold=$(t "${gup[@]}" history "$repo" --tags 'v*' --cache "$cache")
warm=$(t "${gup[@]}" history "$repo" --tags 'v*' --cache "$cache")
"${gup[@]}" scan "$tree" --cache "$cache" --format json -o /dev/null
rescan=$(t "${gup[@]}" scan "$tree" --cache "$cache" --format json -o /dev/null)
nocache=$(t "${gup[@]}" scan "$tree" --no-cache --format json -o /dev/null)
printf '%-32s %8s\n' "measure" "wall s"
printf '%-32s %8.1f\n' "history, 4 tags, cold cache" "$cold" "history, 4 tags, warm cache" "$warm" \
  "scan, re-scan from cache" "$rescan" "scan, no cache" "$nocache"
"${gup[@]}" history "$repo" --tags 'v*' --cache "$cache"
rm -rf "$(dirname "$cache")"
