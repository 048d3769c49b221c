"""Loads the API and rule catalogues (apis.toml, rules.toml) and the packaged resources.

Everything name-shaped that the analysis knows comes from here; the stages hold no name lists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from gupaudit.errors import CatalogError, UsageError
from gupaudit.model import Family

_HERE = Path(__file__).resolve().parent


def resource(kind: str) -> Path:
    """The folder of packaged resources ``queries`` or ``templates``.

    An installed wheel carries them inside the package (pyproject's force-include); a source
    checkout has them at the top level (``queries/``, ``reports/templates/``).
    """
    packaged = _HERE / kind
    if packaged.is_dir():
        return packaged
    source = _HERE.parent / ("reports/templates" if kind == "templates" else kind)
    if source.is_dir():
        return source
    raise CatalogError(f"gupaudit is installed without its {kind}/ folder; reinstall it")


@dataclass(frozen=True)
class AcquireApi:
    name: str
    family: Family
    pages: int | str  # argument index, or "return"
    flags: int | None
    pin: str | None
    by_argc: dict[int, dict[str, int]]
    count: int | None = None  # the argument with the number of pages asked for
    longterm: bool = False  # FOLL_LONGTERM implied by the API (get_user_pages_longterm)
    folios: bool = False  # it fills a folio array (memfd_pin_folios)
    always_gets: bool = False  # a reference even with a NULL array (gup-fast, FOLL_GET)

    def count_arg(self, argc: int) -> int | None:
        return self.by_argc.get(argc, {}).get("count", self.count)

    def pages_arg(self, argc: int) -> int | str:
        return self.by_argc.get(argc, {}).get("pages", self.pages)

    def flags_arg(self, argc: int) -> int | None:
        return self.by_argc.get(argc, {}).get("flags", self.flags)


@dataclass(frozen=True)
class ReleaseApi:
    name: str
    kind: str
    arg: int
    batch: bool
    dirty: bool


@dataclass(frozen=True)
class Rule:
    id: str
    slug: str
    title: str
    message: str
    why: str
    fix: str
    confidence: str
    example: str
    limitations: str = ""  # what the rule cannot see yet, for a maintainer to read first


@dataclass(frozen=True)
class Audited:
    """A site kept on FOLL_GET on purpose, and who decided it (apis.toml [[audited]])."""

    path: str  # glob
    function: str
    reason: str
    source: str
    case: int | None = None


@dataclass(frozen=True)
class Catalog:
    acquire: dict[str, AcquireApi]
    release: dict[str, ReleaseApi]
    use: dict[str, str]  # api name -> evidence kind
    containers: dict[str, int]
    iterators: dict[str, tuple[int, int]]
    definition_files: tuple[str, ...]
    rules: dict[str, Rule]
    accessors: frozenset[str]
    neutral: frozenset[str]
    not_pinned_flags: frozenset[str]  # MSG_SPLICE_PAGES: flags & it says kernel-backed
    skip_dirs: frozenset[str]
    kernel_iter: dict[str, int]  # iov_iter set-up call -> iterator argument (kernel memory)
    user_iter: dict[str, int]  # ... over user memory
    transparent: frozenset[str] = frozenset()  # likely(x): a condition's value is x's
    pin_predicate: frozenset[str] = frozenset()  # iov_iter_extract_will_pin(i)
    not_pinned_predicate: frozenset[str] = frozenset()  # iov_iter_is_kvec(i)
    error_pointer: frozenset[str] = frozenset()  # ERR_PTR
    error_code: frozenset[str] = frozenset()  # PTR_ERR
    is_error: frozenset[str] = frozenset()  # IS_ERR
    is_error_or_null: frozenset[str] = frozenset()  # IS_ERR_OR_NULL
    allocators: frozenset[str] = frozenset()  # kzalloc ...
    zeroing: frozenset[str] = frozenset()  # kzalloc: fields read 0 until assigned
    addresses: frozenset[str] = frozenset()  # page_address(page): the page's address
    physical: frozenset[str] = frozenset()  # page_to_phys(page): a device may use it
    device_address: frozenset[str] = frozenset()  # page_to_pfn, PFN_PHYS: handed over
    dirty_unlocked: frozenset[str] = frozenset()  # set_page_dirty() without the page lock
    longterm_flag: str = ""  # [flags]: FOLL_LONGTERM
    write_flag: str = ""  # FOLL_WRITE
    export_macro: str = ""  # [discover]: EXPORT_SYMBOL
    dma_directions: frozenset[str] = frozenset()  # DMA_TO_DEVICE ...
    device_writes: frozenset[str] = frozenset()  # ... of which the device writes the pages
    audited: tuple[Audited, ...] = ()
    iter_index: tuple[str, ...] = ()  # [iter_backing] index: files that may set one up
    iter_api_files: frozenset[str] = frozenset()  # ... and the iterator API's own files
    iter_copy: dict[str, tuple[int, int]] = field(default_factory=dict)  # memcpy: (dst, src)

    @cached_property
    def notifiers(self) -> frozenset[str]:
        """Calls that register an MMU notifier (pin_user_pages.rst case 3)."""
        return frozenset(n for n, ev in self.use.items() if ev == "notifier")

    def iterator_needles(self) -> tuple[str, ...]:
        """What marks a file that may set up, copy or hand on an iterator: the ``[iter_backing]
        index`` names, and every set-up call (``import_ubuf()`` names no iov_iter)."""
        names = {*self.iter_index, *self.kernel_iter, *self.user_iter}
        # a name holding another (iov_iter_kvec holds iov_iter) adds nothing to the search
        return tuple(sorted(n for n in names if not any(m != n and m in n for m in names)))

    def known_names(self) -> frozenset[str]:
        """Every function name the catalogue gives a meaning to."""
        return frozenset(self.acquire) | frozenset(self.release) | frozenset(self.use) | (
            frozenset(self.containers) | frozenset(self.iterators) | self.accessors
            | self.neutral | frozenset(self.kernel_iter) | frozenset(self.user_iter))

    def prefilter_needles(self) -> tuple[bytes, ...]:
        """Byte strings of which every file with an acquisition contains at least one.

        Shared stems keep the list short, since each needle costs a pass over the tree's bytes.
        """
        stems = ["_user_page", "iov_iter_", "_pin_folios", "extract_iter_to_sg"]
        # A configured wrapper no stem covers is a needle of its own.
        stems += sorted(n for n in self.acquire if not any(stem in n for stem in stems))
        return tuple(s.encode() for s in stems)


_REQUIRED_RULE_FIELDS = ("slug", "title", "message", "why", "fix", "confidence", "example")


def _load_toml(name: str) -> dict:
    try:
        with open(_HERE / name, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"cannot load {name}: {exc}") from exc


_EXTRA: dict[str, dict] = {"acquire": {}, "release": {}}


def configure(acquire: dict, release: dict) -> None:
    """Extra acquisition and release APIs from a tree's config (config.py)."""
    _EXTRA["acquire"], _EXTRA["release"] = dict(acquire), dict(release)
    load.cache_clear()


@cache
def load() -> Catalog:
    """Read and validate both catalogues (once per process), with the configured extras."""
    apis = _load_toml("apis.toml")
    for kind in ("acquire", "release"):
        for name, rec in _EXTRA[kind].items():
            if kind == "acquire" and rec.get("family") not in {f.value for f in Family}:
                raise UsageError(f"config: acquire.{name}: family must be one of "
                                 "get, pin, iter-get, iter-extract")
            apis[kind][name] = rec
    rules_raw = _load_toml("rules.toml")
    acquire = {}
    for name, rec in apis["acquire"].items():
        acquire[name] = AcquireApi(
            name=name,
            family=Family(rec["family"]),
            pages=rec["pages"],
            flags=rec.get("flags"),
            pin=rec.get("pin"),
            by_argc={int(k): v for k, v in rec.get("by_argc", {}).items()},
            count=rec.get("count"),
            longterm=rec.get("longterm", False), always_gets=rec.get("always_gets", False),
            folios=rec.get("folios", False),
        )
    release = {
        name: ReleaseApi(name, rec["kind"], rec.get("arg", 0), rec.get("batch", False),
                         rec.get("dirty", False))
        for name, rec in apis["release"].items()
    }
    use: dict[str, str] = {}
    for evidence, names in apis["use"].items():
        for name in names:
            use.setdefault(name, evidence)
    containers = {name: rec["container"] for name, rec in apis.get("container", {}).items()}
    iterators = {name: (rec["source"], rec["item"]) for name, rec in apis["iterator"].items()}
    rules = {}
    for rid, rec in rules_raw.items():
        missing = [f for f in _REQUIRED_RULE_FIELDS if f not in rec]
        if missing:
            raise CatalogError(f"rules.toml: {rid} lacks {', '.join(missing)}")
        rules[rid] = Rule(id=rid, **{f: rec[f] for f in _REQUIRED_RULE_FIELDS},
                          limitations=rec.get("limitations", ""))
    return Catalog(acquire, release, use, containers, iterators,
                   tuple(apis["definitions"]["files"]), rules,
                   frozenset(apis["accessors"]["names"]), frozenset(apis["neutral"]["names"]),
                   frozenset(apis["iter_backing"]["not_pinned_flags"]),
                   frozenset(apis["discover"]["skip_dirs"]),
                   dict(apis["iter_backing"]["kernel"]), dict(apis["iter_backing"]["user"]),
                   frozenset(apis["condition"]["transparent"]),
                   frozenset(apis["condition"]["pin_predicate"]),
                   frozenset(apis["condition"]["not_pinned_predicate"]),
                   frozenset(apis["errors"]["pointer"]), frozenset(apis["errors"]["code"]),
                   frozenset(apis["errors"]["is_error"]),
                   frozenset(apis["errors"]["is_error_or_null"]),
                   frozenset(apis["alloc"]["names"]), frozenset(apis["alloc"]["zeroing"]),
                   frozenset(apis["address"]["names"]),
                   frozenset(apis["address"]["physical"]),
                   frozenset(apis["address"]["device"]),
                   frozenset(apis["dirtying"]["unlocked"]),
                   apis["flags"]["longterm"], apis["flags"]["write"],
                   apis["discover"]["export_macro"],
                   frozenset(apis["dma"]["directions"]),
                   frozenset(apis["dma"]["device_writes"]),
                   tuple(Audited(a["path"], a["function"], a["reason"], a["source"],
                                 a.get("case")) for a in apis.get("audited", ())),
                   tuple(apis["iter_backing"]["index"]),
                   frozenset(apis["iter_backing"]["api_files"]),
                   {n: (d, src) for n, (d, src) in apis["iter_backing"]["copy"].items()})
