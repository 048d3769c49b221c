"""``gupaudit check``: the sites a patch series touches, and how their verdicts moved.

Compares two states of a git repository — a base revision and either the work tree
(``--since REV``: what a developer is about to send) or another revision (``--range A..B``:
a series under review). Only sites whose acquisition, uses or releases sit on lines the
diff adds or changes are reported, each with its verdict before and after, matched by
(path, function): a conversion changes the API but not the function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import git

from gupaudit import cache as cache_mod
from gupaudit import history, pipeline
from gupaudit.errors import BadRevision, UsageError
from gupaudit.model import ScanResult, Site, Status

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BAD = (Status.UNCONVERTED, Status.MISMATCH)


@dataclass(frozen=True)
class Change:
    site: Site | None  # after (None: the site is gone)
    before: Site | None
    kind: str  # new-problem | newly-converted | fixed | still-unconverted | changed | gone | new

    @property
    def anchor(self) -> Site:
        return self.site or self.before  # type: ignore[return-value]


def changed_lines(repo: git.Repo, base: str, head: str | None) -> tuple[dict[str, set[int]],
                                                                        dict[str, set[int]]]:
    """Lines the diff touches, per file: on the new side, and on the old side."""
    args = ["-U0", "--no-color", "--no-ext-diff", base] + ([head] if head else []) + ["--"]
    try:
        text = repo.git.diff(*args)
    except git.GitCommandError as exc:
        raise BadRevision(f"{base}: no such revision in {repo.working_dir}") from exc
    new: dict[str, set[int]] = {}
    old: dict[str, set[int]] = {}
    path = old_path = None
    for line in text.splitlines():
        if line.startswith("--- "):
            old_path = line[6:] if line.startswith("--- a/") else None
        elif line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif (m := _HUNK.match(line)):
            o_start, o_len = int(m.group(1)), int(m.group(2) or 1)
            n_start, n_len = int(m.group(3)), int(m.group(4) or 1)
            if path:
                # A pure deletion touches the line it happened before.
                new.setdefault(path, set()).update(range(n_start, n_start + max(n_len, 1)))
            if old_path:
                old.setdefault(old_path, set()).update(range(o_start, o_start + max(o_len, 1)))
    return new, old


def _touched(s: Site, lines: dict[str, set[int]]) -> bool:
    mine = lines.get(s.path, set())
    if s.line in mine:
        return True
    return any(r.line in lines.get(r.path, set()) for r in s.releases) or any(
        u.line in mine for u in s.uses)


def _kind(before: Site | None, after: Site | None) -> str:
    if after is None:
        return "gone"
    if before is None:
        return "new-problem" if after.status in _BAD or after.rules else "new"
    if after.status is Status.CONVERTED and before.status in _BAD:
        return "newly-converted"
    if before.status in _BAD and after.status not in _BAD:
        return "fixed"
    if after.status in _BAD and before.status not in _BAD:
        return "new-problem"
    if set(after.rules) - set(before.rules):
        return "new-problem"
    if after.status in _BAD:
        return "still-unconverted" if after.status is Status.UNCONVERTED else "changed"
    return "changed"


def compare(before: ScanResult, after: ScanResult, new_lines: dict[str, set[int]],
            old_lines: dict[str, set[int]]) -> list[Change]:
    old_by = {}
    for s in before.sites:
        old_by.setdefault((s.path, s.function), []).append(s)
    changes: list[Change] = []
    matched: set[int] = set()
    for s in after.sites:
        if not _touched(s, new_lines):
            continue
        candidates = old_by.get((s.path, s.function), [])
        prior = min(candidates, key=lambda o: abs(o.line - s.line), default=None)
        if prior is not None:
            matched.add(id(prior))
        changes.append(Change(s, prior, _kind(prior, s)))
    for s in before.sites:
        if id(s) in matched or not _touched(s, old_lines):
            continue
        if not any((a.path, a.function) == (s.path, s.function) for a in after.sites):
            changes.append(Change(None, s, "gone"))
    changes.sort(key=lambda c: (c.anchor.path, c.anchor.line))
    return changes


def check(path: Path, since: str | None, range_: str | None, cache_path: Path | None,
          jobs: int | None, deep: bool = True) -> tuple[list[Change], ScanResult]:
    """The changes, and the scan of the state after them."""
    if bool(since) == bool(range_):
        raise UsageError("give exactly one of --since REV and --range A..B")
    repo = history.open_repo(path)
    store = cache_mod.Cache.open(cache_path)
    if since:
        base_rev = history.revisions(repo, revs=since)[0]
        after = pipeline.scan(path, jobs=jobs, cache_path=cache_path, deep=deep)
        new_lines, old_lines = changed_lines(repo, base_rev.commit.hexsha, None)
    else:
        if ".." not in range_:
            raise UsageError(f"{range_}: --range wants A..B")
        a, b = range_.split("..", 1)
        base_rev = history.revisions(repo, revs=a)[0]
        head_rev = history.revisions(repo, revs=b or "HEAD")[0]
        after = history.scan_revision(repo, head_rev, store, None, deep=deep)
        new_lines, old_lines = changed_lines(repo, base_rev.commit.hexsha,
                                             head_rev.commit.hexsha)
    before = history.scan_revision(repo, base_rev, store, None, deep=deep)
    return compare(before, after, new_lines, old_lines), after
