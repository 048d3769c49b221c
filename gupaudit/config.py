"""A tree's own settings: ``.gupaudit.toml`` at its top, or ``--config FILE``.

    exclude = ["drivers/staging/*", "samples/*"]      # paths never scanned (globs)

    [acquire.mydrv_get_user_buf]                     # extra acquisition APIs: wrappers
    family = "get"                                   # the project's own code would not
    pages = 2                                        # otherwise know (keys as apis.toml)

    [release.mydrv_put_user_buf]                     # extra release APIs
    kind = "get"

    [group.mydrv]                                    # extra named groups (as groups.toml)
    title = "my driver family"
    paths = ["drivers/mydrv/", "drivers/mydrv-core/"]

    [links]                                          # source links in the dashboard/JSON
    url = "https://elixir.bootlin.com/linux/v{version}/source/{path}#L{line}"

    [accept."drivers/mydrv/mydrv.c:mydrv_peek"]      # a site judged by hand: gup-ok,
    reason = "reads one word, drops the page at once" # with this reason (required)
    by = "Jane Doe"                                   # optional

The settings are applied before any worker starts (workers inherit them), and their
digest is part of every cache key.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gupaudit.errors import UsageError

NAME = ".gupaudit.toml"
_KEYS = {"exclude", "acquire", "release", "group", "links", "accept"}


@dataclass(frozen=True)
class Config:
    path: str | None = None
    exclude: tuple[str, ...] = ()
    acquire: dict[str, Any] = field(default_factory=dict)
    release: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    digest: str = ""
    accept: dict[str, Any] = field(default_factory=dict)


def load(tree: Path, explicit: Path | None = None) -> Config:
    """``explicit``, else TREE/.gupaudit.toml, else no settings."""
    path = explicit or (tree / NAME)
    if explicit is None and not path.is_file():
        return Config()
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config {path}: {exc}") from exc
    unknown = set(data) - _KEYS
    if unknown:
        raise UsageError(f"config {path}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(_KEYS))})")
    url = data.get("links", {}).get("url")
    accept = data.get("accept", {})
    for key, rec in accept.items():
        if ":" not in key or not isinstance(rec, dict) or not str(rec.get("reason", "")).strip():
            raise UsageError(f"config {path}: accept.{key!r} needs the form "
                             '"path:function" and a reason = "..."')
    return Config(str(path), tuple(data.get("exclude", ())), data.get("acquire", {}),
                  data.get("release", {}), data.get("group", {}), url,
                  hashlib.sha1(raw).hexdigest()[:12], accept)


def apply(cfg: Config) -> None:
    """Make the settings part of the catalogue, the groups and the cache keys."""
    from gupaudit import accept, cache, catalog, group

    accept.configure(cfg.accept)
    catalog.configure(cfg.acquire, cfg.release)
    group.configure(cfg.groups)
    cache.configure(cfg.digest)
