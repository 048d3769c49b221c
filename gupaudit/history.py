"""Conversion progress over git history: a scan per revision, read from git objects.

No checkout: each revision's blobs are read through gitpython, the user's work tree and
index are untouched. The prefilter of a revision is ``git grep -l`` on that revision (one
process per revision, not per file), remembered in the cache by tree id; each candidate
blob's sites come from the cache by content, so a file unchanged between releases is
analysed once. A revision is a source of files for ``pipeline.run`` (``GitRevision``), so
its result is the same ``ScanResult`` a plain scan of that revision's files gives.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import git

from gupaudit import cache as cache_mod
from gupaudit import catalog as catalog_mod
from gupaudit import discover, pipeline
from gupaudit import era as era_mod
from gupaudit import maintainers as maintainers_mod
from gupaudit.errors import BadRevision, InputError, UsageError
from gupaudit.model import Era, ScanResult


@dataclass(frozen=True)
class Revision:
    name: str  # what the user would call it: a tag, or a short id
    commit: git.Commit


def open_repo(path: Path) -> git.Repo:
    if not path.exists():
        raise UsageError(f"{path}: no such directory")
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UsageError(f"{path} is not a git repository; pass a kernel git checkout") from exc


def revisions(repo: git.Repo, revs: str | None = None, tags: str | None = None,
              every: int | None = None) -> list[Revision]:
    """The revisions to scan, oldest first.

    ``revs``: ``A..B`` (the commits of the range, with every ``every``-th kept and B always)
    or a single revision; ``tags``: a glob over tag names (``v6.*``); neither: every tag,
    or HEAD when the repository has none.
    """
    try:
        if tags is not None or (revs is None and repo.tags):
            pattern = tags or "*"
            found = [Revision(t.name, t.commit) for t in repo.tags
                     if fnmatch.fnmatchcase(t.name, pattern)]
            if not found:
                raise BadRevision(f"no tag matches {pattern!r}")
            return _oldest_first(repo, found)
        if revs is None:
            return [Revision("HEAD", repo.head.commit)]
        if ".." in revs:
            commits = list(reversed(list(repo.iter_commits(revs))))
            if not commits:
                raise BadRevision(f"{revs} holds no commit")
            if every and every > 1:
                commits = commits[::every] + ([commits[-1]] if (len(commits) - 1) % every else [])
            return [Revision(c.hexsha[:12], c) for c in commits]
        return [Revision(revs, repo.commit(revs))]
    except (git.BadName, git.GitCommandError, ValueError) as exc:
        raise BadRevision(f"{revs or tags}: no such revision in {repo.working_dir}") from exc


def _oldest_first(repo: git.Repo, revs: list[Revision]) -> list[Revision]:
    """By the number of commits behind each (its place in history), not by commit date:
    dates lie (a repository of release tarballs dates each commit by a file's mtime)."""
    depth = {r.commit.hexsha: int(repo.git.rev_list("--count", r.commit.hexsha)) for r in revs}
    return sorted(revs, key=lambda r: (depth[r.commit.hexsha], r.commit.committed_date))


def blob(commit: git.Commit, path: str) -> bytes | None:
    """A file's bytes at a commit, or None when there is no such file.

    Read through git's own ``cat-file --batch`` (one process kept open by gitpython):
    walking ``commit.tree[path]`` parses every tree object on the way again for each file,
    which made most of a warm history run.
    """
    try:
        _, kind, _, data = commit.repo.git.get_object_data(f"{commit.hexsha}:{path}")
    except ValueError as exc:
        # git says "missing" both for a path the tree lacks and for an object the
        # repository lacks; only the tree tells them apart.
        try:
            listed = commit.repo.git.ls_tree(commit.hexsha, "--", path)
        except git.GitCommandError as inner:
            raise _damaged(commit, path, inner) from exc
        if listed:
            raise _damaged(commit, path, exc) from exc
        return None
    except (OSError, git.GitCommandError) as exc:
        raise _damaged(commit, path, exc) from exc
    return data if kind == b"blob" else None


def _damaged(commit: git.Commit, path: str, exc: Exception) -> InputError:
    # A shallow or damaged repository: the object is not there.
    return InputError(f"{commit.hexsha[:12]}:{path}: cannot read the git object ({exc}); "
                      "is the repository complete (not shallow, no missing objects)?")


def _git_lister(commit: git.Commit) -> Callable[[str], list[str]]:
    def list_dir(folder: str) -> list[str]:
        try:
            out = commit.repo.git.ls_tree(f"{commit.hexsha}:{folder}")
        except git.GitCommandError:
            return []
        # "<mode> <type> <sha>\t<name>" per entry; files only
        return [line.split("\t", 1)[1] for line in out.splitlines()
                if "\t" in line and line.split()[1] == "blob"]
    return list_dir


def _grep(repo: git.Repo, commit: git.Commit, names: list[str]) -> list[str]:
    """The revision's C files holding one of the fixed strings ``names``."""
    return sorted(path for path, _ in _git_grep(repo, commit, "-l", names))


def _grep_each(repo: git.Repo, commit: git.Commit, groups: dict[str, list[str]]
               ) -> dict[str, list[str]]:
    """For each group of fixed strings, the revision's files holding one of them: one
    ``git grep -o`` for all (each match names what it matched)."""
    group_of = {name: group for group, names in groups.items() for name in names}
    found: dict[str, set[str]] = {group: set() for group in groups}
    for path, match in _git_grep(repo, commit, "-o", list(group_of)):
        for name, group in group_of.items():
            if name in match:  # -o prints the longest match: it holds the name
                found[group].add(path)
    return {group: sorted(paths) for group, paths in found.items()}


def _git_grep(repo: git.Repo, commit: git.Commit, mode: str, names: list[str]
              ) -> Iterator[tuple[str, str]]:
    """(path, what matched) per line of ``git grep MODE -F`` over the revision's C files;
    "" as the match for ``-l``."""
    args = [mode, "-F", "--no-color"] + [a for name in names for a in ("-e", name)]
    # git grep reports a blob it cannot read on stderr, whether or not other files match:
    # a file silently missing from the candidates would lose its sites.
    status, out, problem = repo.git.grep(*args, commit.hexsha, "--", "*.c", "*.h",
                                         with_extended_output=True, with_exceptions=False)
    problem = str(problem or "").strip()
    if problem or status not in (0, 1):
        raise InputError(f"cannot search {commit.hexsha[:12]} ({_last_line(problem)}); is the "
                         "repository complete (not shallow, no missing objects)?")
    prefix = commit.hexsha + ":"
    for line in out.splitlines():
        if line.startswith(prefix):
            rest = line[len(prefix):]
            path, _, match = rest.rpartition(":") if mode == "-o" else (rest, "", "")
            yield path, match


def _last_line(text: str) -> str:
    lines = [line.strip(" '") for line in text.splitlines() if line.strip(" '")]
    return lines[-1] if lines else "git grep failed"


class GitRevision:
    """A revision's git objects as the pipeline's source of files (``pipeline.run``): its
    candidates from ``git grep`` on the revision (cached by tree id), its blobs."""

    def __init__(self, repo: git.Repo, rev: Revision, exclude: tuple[str, ...] = ()) -> None:
        self.repo = repo
        self.rev = rev
        self.commit = rev.commit
        self.exclude = exclude
        self.label = f"{repo.working_dir}@{rev.name}"
        self.scanned = 0  # git grep searches the revision; no file count of our own
        self.warnings: list[str] = []
        self._candidates: list[str] = []
        self._iterating: list[str] | None = None
        self._store: cache_mod.Cache | None = None

    def era(self) -> tuple[Era, list[str]]:
        cat = catalog_mod.load()
        texts = [b.decode("utf-8", "replace") for b in
                 (blob(self.commit, h) for h in era_mod.HEADERS) if b is not None]
        makefile = blob(self.commit, "Makefile")
        version = era_mod.version_of_makefile(makefile[:4096]) if makefile else None
        era = era_mod.from_headers(texts, version, cat)
        if era is None:
            return era_mod.newest(cat), [
                f"{self.rev.name} does not look like a kernel tree (no include/linux/mm.h)"]
        return era, []

    def maintainers(self, pool: object) -> Callable[[], object]:
        def load() -> object:
            text = blob(self.commit, "MAINTAINERS")
            return maintainers_mod.parse(text.decode("utf-8", "replace")) if text else None
        return load

    def prepare(self, store: cache_mod.Cache, pool: ProcessPoolExecutor | None = None) -> None:
        cat = catalog_mod.load()
        self._store = store
        tree_id = self.commit.tree.hexsha
        candidates = store.tree_candidates(tree_id)
        if candidates is None:
            # one search of the revision for both: the API names, and the iterator's
            found = _grep_each(self.repo, self.commit, {
                "acquire": sorted(cat.acquire), "iterating": list(cat.iterator_needles())})
            candidates = [p for p in found["acquire"]
                          if not discover.is_definition_file(p, cat.definition_files)
                          and not any(p.startswith(d + "/") for d in cat.skip_dirs)]
            store.remember_tree_candidates(tree_id, candidates)
            self._iterating = found["iterating"]
            store.remember_value(f"iterating:{tree_id}", self._iterating)
        self._candidates = [p for p in candidates if not (
            self.exclude and discover.is_definition_file(p, self.exclude))]

    def candidates(self, store: cache_mod.Cache, pool: object, jobs: int,
                   only: frozenset[str] | None = None) -> Iterator[list[str]]:
        yield [p for p in self._candidates if only is None or p in only]

    def iterator_files(self) -> list[str]:
        """The revision's files naming the iterator type (``git grep``, once per tree id:
        kept in the cache like the candidates)."""
        if self._iterating is None:
            key = f"iterating:{self.commit.tree.hexsha}"
            known = self._store.value(key) if self._store is not None else None
            if isinstance(known, list):
                self._iterating = known
            else:
                self._iterating = _grep(self.repo, self.commit,
                                        list(catalog_mod.load().iterator_needles()))
                if self._store is not None:
                    self._store.remember_value(key, self._iterating)
        return self._iterating

    def mentioning(self, words: list[str]) -> list[str]:
        """The revision's files containing one of ``words`` (``git grep``; once per tree
        id and words, through the cache)."""
        if not words:
            return []
        found = self._remembered("mentioning", words,
                                 lambda: _grep(self.repo, self.commit, words))
        return found if isinstance(found, list) else []

    def _remembered(self, what: str, words: list[str], search: Callable[[], object]
                    ) -> object:
        """A search of this revision for ``words``, from the cache when this tree id was
        searched for them before (a tree's bytes never change)."""
        key = f"{what}:{self.commit.tree.hexsha}:" + hashlib.sha1(
            "\0".join(words).encode()).hexdigest()
        known = self._store.value(key) if self._store is not None else None
        if known is not None:
            return known
        found = search()
        if self._store is not None:
            self._store.remember_value(key, found)
        return found

    def read(self, rel: str) -> bytes | None:
        return blob(self.commit, rel)

    def list_dir(self, folder: str) -> list[str]:
        return _git_lister(self.commit)(folder)

    def exporters(self, names: list[str]) -> dict[str, list[str]]:
        """The files of the revision exporting each of ``names`` (``EXPORT_SYMBOL*()``;
        once per tree id and names, through the cache)."""
        if not names:
            return {}
        found = self._remembered("exporters", names, lambda: self._exporters(names))
        return found if isinstance(found, dict) else {}

    def _exporters(self, names: list[str]) -> dict[str, list[str]]:
        stem = re.escape(catalog_mod.load().export_macro)
        pattern = stem + r"[A-Z_]*\( *(" + "|".join(re.escape(n) for n in names) + r")\b"
        try:
            out = self.repo.git.grep("-o", "-E", pattern, self.commit.hexsha, "--", "*.c")
        except git.GitCommandError:
            return {}  # none (git grep exits 1), or a damaged repository: no links
        found: dict[str, list[str]] = {}
        prefix = self.commit.hexsha + ":"
        for line in out.splitlines():
            if line.startswith(prefix):
                path, _, match = line[len(prefix):].partition(":")
                name = match.rsplit("(", 1)[-1].strip()
                found.setdefault(name, []).append(path)
        return found


def scan_revision(repo: git.Repo, rev: Revision, store: cache_mod.Cache,
                  pool: ProcessPoolExecutor | None, group_by: str | None = None,
                  exclude: tuple[str, ...] = (), deep: bool = True,
                  jobs: int = 1) -> ScanResult:
    """One revision, through the same pipeline as a scan of a tree."""
    return pipeline.run(GitRevision(repo, rev, exclude), store, pool, jobs, deep=deep,
                        group_by=group_by)


def history(path: Path, revs: str | None = None, tags: str | None = None,
            every: int | None = None, cache_path: Path | None = None,
            jobs: int | None = None, group_by: str | None = None,
            exclude: tuple[str, ...] = (), deep: bool = True
            ) -> list[tuple[Revision, ScanResult]]:
    """One result per revision, oldest first."""
    repo = open_repo(path)
    chosen = revisions(repo, revs, tags, every)
    store = cache_mod.Cache.open(cache_path)
    pool, jobs = pipeline.open_pool(jobs)
    try:
        out = [(rev, scan_revision(repo, rev, store, pool, group_by, exclude, deep, jobs))
               for rev in chosen]
    finally:
        pipeline.close_pool(pool)
    if store.warnings and out:
        rev, last = out[-1]
        out[-1] = (rev, dataclasses.replace(last, warnings=last.warnings + tuple(store.warnings)))
    return out
