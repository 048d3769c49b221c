"""The result cache: SQLite from the standard library, in the user's cache folder.

Two tables, both keyed so that a stale entry can never be read back:

* ``prefilter``: a file's byte-prefilter answer, keyed by its absolute path and stamped
  with (mtime, size, analyser version): a re-scan of an unchanged tree reads no file twice;
* ``sites``: a file's classified sites, keyed by a hash of (content, path, era, notifier
  flag, analyser version); git blobs with the same content share it across revisions.

ANALYSER_VERSION hashes the package's code, catalogues and queries, so any change to the
analysis starts afresh. A corrupt database is set aside (renamed) and rebuilt with one
warning; an unwritable folder means no cache, with one warning. A cache makes a run faster,
never its result different.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from gupaudit import __version__
from gupaudit.catalog import resource
from gupaudit.model import Family, Release, Site, Status, Use

SCHEMA = 3


_SALT = {"config": ""}


def configure(digest: str) -> None:
    """The tree's config digest becomes part of every key (config.py)."""
    _SALT["config"] = digest
    analyser_version.cache_clear()


@cache
def analyser_version() -> str:
    """A digest of everything that decides a verdict: code, catalogues, queries, config."""
    h = hashlib.sha1((__version__ + _SALT["config"]).encode())
    here = Path(__file__).resolve().parent
    for path in sorted([*here.rglob("*.py"), *here.glob("*.toml"),
                        *resource("queries").glob("*.scm")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def default_path() -> Path:
    """$GUPAUDIT_CACHE, else $XDG_CACHE_HOME/gupaudit/cache.sqlite3."""
    if os.environ.get("GUPAUDIT_CACHE"):
        return Path(os.environ["GUPAUDIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gupaudit" / "cache.sqlite3"


def site_key(data: bytes, rel: str, era: str) -> str:
    h = hashlib.sha1(data)
    h.update(f"\0{rel}\0{era}\0{analyser_version()}".encode())
    return h.hexdigest()


def _site_from(d: dict[str, Any]) -> Site:
    d = dict(d)
    d["family"] = Family(d["family"])
    d["status"] = Status(d["status"])
    d["releases"] = tuple(Release(**r) for r in d["releases"])
    d["uses"] = tuple(Use(**u) for u in d["uses"])
    for key in ("rules", "escapes", "names", "owned"):
        d[key] = tuple(d[key])
    d["messages"] = tuple(tuple(m) for m in d["messages"])
    d["leaks"] = tuple(tuple(k) for k in d.get("leaks", ()))
    return Site(**d)


def _site_to(s: Site) -> dict[str, Any]:
    return dataclasses.asdict(s)


class Cache:
    """One open cache database; ``Cache.open`` never raises, it warns."""

    def __init__(self, db: sqlite3.Connection | None, warnings: list[str]) -> None:
        self.db = db
        self.warnings = warnings
        self._sites: list[tuple[str, str]] = []
        self._filters: list[tuple[str, str, int, str]] = []
        self._values: list[tuple[str, str]] = []

    @classmethod
    def open(cls, path: Path | None) -> Cache:
        """``path`` None: no cache at all (``--no-cache``)."""
        if path is None:
            return cls(None, [])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls(_connect(path), [])
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            try:
                os.replace(path, aside)
                return cls(_connect(path), [f"cache {path} was unreadable ({exc}); set it "
                                            f"aside as {aside.name} and started a new one"])
            except (OSError, sqlite3.DatabaseError) as again:
                return cls(None, [f"cache {path} unusable ({again}); running without it"])
        except OSError as exc:
            return cls(None, [f"cannot use cache {path} ({exc.strerror}); running without it"])

    def prefilter_known(self, stamps: dict[str, str]
                        ) -> dict[str, tuple[bool, list[str], bool]]:
        """Files whose prefilter answer is cached for their current stamp: whether they
        hold an acquisition name, the functions they export, whether they name the
        iterator type (``hit``: bit 0 and bit 1)."""
        if self.db is None or not stamps:
            return {}
        known: dict[str, tuple[bool, list[str], bool]] = {}
        try:
            for path, stamp, hit, exports in self.db.execute(
                    "SELECT path, stamp, hit, exports FROM prefilter"):
                if stamps.get(path) == stamp:
                    known[path] = (bool(hit & 1), exports.split() if exports else [],
                                   bool(hit & 2))
        except sqlite3.DatabaseError as exc:
            self._fail(exc)
        return known

    def remember_prefilter(self, rows: Iterable[tuple[str, str, bool, list[str], bool]]
                           ) -> None:
        self._filters.extend((p, s, int(h) | 2 * int(i), " ".join(e))
                             for p, s, h, e, i in rows)

    def sites(self, key: str) -> list[Site] | None:
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT data FROM sites WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._fail(exc)
            return None
        return [_site_from(d) for d in json.loads(row[0])] if row else None

    def tree_candidates(self, tree: str) -> list[str] | None:
        """The files of a git tree (by id) that the prefilter kept, if known."""
        found = self.value(tree)
        return found if isinstance(found, list) else None

    def remember_tree_candidates(self, tree: str, paths: list[str]) -> None:
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO trees VALUES (?, ?)",
                                (f"{tree}:{analyser_version()}", json.dumps(paths)))
        except sqlite3.Error as exc:
            self.warnings.append(f"could not save to the cache ({exc}); results are unaffected")

    def value(self, key: str) -> object | None:
        """A JSON value stored under ``key`` for this analyser version, if any."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT data FROM trees WHERE key = ?",
                                  (f"{key}:{analyser_version()}",)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._fail(exc)
            return None
        return json.loads(row[0]) if row else None

    def remember_value(self, key: str, value: object) -> None:
        """Kept until ``commit()``, with the run's other results."""
        self._values.append((f"{key}:{analyser_version()}", json.dumps(value)))

    def remember_sites(self, key: str, sites: list[Site]) -> None:
        self._sites.append((key, json.dumps([_site_to(s) for s in sites])))

    def commit(self) -> None:
        """Write what this run learnt, in one transaction (all or nothing)."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO prefilter VALUES (?, ?, ?, ?)",
                                    self._filters)
                self.db.executemany("INSERT OR REPLACE INTO sites VALUES (?, ?)", self._sites)
                self.db.executemany("INSERT OR REPLACE INTO trees VALUES (?, ?)", self._values)
        except sqlite3.Error as exc:
            self.warnings.append(f"could not save to the cache ({exc}); results are unaffected")
        self._filters.clear()
        self._sites.clear()
        self._values.clear()

    def _fail(self, exc: Exception) -> None:
        self.warnings.append(f"cache unreadable ({exc}); running without it")
        self.db = None


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA):
        db.execute("DROP TABLE IF EXISTS prefilter")
        db.execute("DROP TABLE IF EXISTS sites")
        db.execute("DROP TABLE IF EXISTS trees")
    db.execute("CREATE TABLE IF NOT EXISTS prefilter (path TEXT PRIMARY KEY, stamp TEXT, "
               "hit INTEGER, exports TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS sites (key TEXT PRIMARY KEY, data TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS trees (key TEXT PRIMARY KEY, data TEXT)")
    db.execute(f"PRAGMA user_version = {SCHEMA}")
    db.commit()
    return db
