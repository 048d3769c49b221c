"""Frozen data shared by the stages. Nothing here knows about tree-sitter.

Stage by stage: ``parse``/``locate`` turn a C file into ``SourceFile`` (functions, their
acquisition calls, and each one's CFG over the IR of ``ir``/``cfg``), ``dataflow`` and
``flow`` turn a site into ``Flow`` (where its pages go, path by path),
``classify`` turns both into a ``Site`` (status, case, rules), ``report`` prints a ``ScanResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Family(StrEnum):
    GET = "get"
    PIN = "pin"
    ITER_GET = "iter-get"
    ITER_EXTRACT = "iter-extract"


class Status(StrEnum):
    UNCONVERTED = "unconverted"
    CONVERTED = "converted"
    MISMATCH = "mismatch"
    GUP_OK = "gup-ok"
    UNKNOWN = "unknown"


STATUS_ORDER = tuple(Status)


@dataclass(frozen=True, slots=True)
class Call:
    """An acquisition call: the site's identity, and its arguments as written."""

    name: str
    args: tuple[str, ...]
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    line: int
    end_line: int
    params: tuple[str, ...]
    calls: tuple[Call, ...]  # its acquisition calls
    path: str = ""  # the file it is defined in
    static: bool = False  # no caller outside its file
    # What builds the function's control-flow graph (cfg.Lazy), for the dataflow.
    cfg: object = field(default=None, compare=False, hash=False, repr=False)
    callees: frozenset[str] = frozenset()  # every name it calls


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One parsed file: its functions and the names it defines (functions and macros)."""

    path: str  # relative to the tree root, '/'-separated
    functions: tuple[Function, ...]
    defined: frozenset[str]
    parse_errors: int = 0
    globals: frozenset[str] = frozenset()  # file-scope variables
    # field -> (function, value) of every store into ``x->field`` / ``x.field`` in the
    # file (designated initialisers included; function "" at file scope)
    stores: dict[str, tuple[tuple[str, object], ...]] = field(default_factory=dict)
    # field -> the functions of the file an ops table or an assignment sets it to
    handlers: dict[str, frozenset[str]] = field(default_factory=dict)
    # functions of the file handed on as a value (a registration call's argument, an
    # initializer list, a local function pointer): called from where nobody can list
    taken: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Release:
    api: str
    kind: str  # get | pin | put_user | either
    path: str
    line: int
    function: str
    via: str = ""  # "" (direct), or the helper / caller it was reached through
    in_loop: bool = False  # one array element at a time, in a loop (GUP105)
    checked: bool = False  # decided on the paths of the site's CFG (not a joined or reader run)
    unwind: bool = False  # met only on paths to error exits: not the pages' lifetime

    @property
    def kept(self) -> bool:
        """Reached through storage that outlives the acquiring function (a struct field,
        a file-scope variable): a release in some other callback."""
        return self.via.startswith(("field", "global", "owned field", "struct field"))

    @property
    def by_field_name(self) -> bool:
        """Reached through a struct field, read from a function's entry: the same
        ``->pages`` may hold other pages, and what the object recorded of them (a flag, a
        type) is not known there. Only an "owned field" (one that holds nothing else in
        the unit: flow._owned) is as firm as a helper."""
        return self.via.startswith(("field", "struct field"))


@dataclass(frozen=True, slots=True)
class Use:
    evidence: str  # dma | dio | map | cpu | dirty | lock | struct | notifier
    api: str
    line: int
    function: str
    via: str = ""
    direction: str = ""  # DMA_FROM_DEVICE / DMA_TO_DEVICE / DMA_BIDIRECTIONAL when given
    path: str = ""

    @property
    def by_field_name(self) -> bool:
        """Reached by struct-field name only, in an object of unknown type: the same
        ``->mem`` may be another struct's (a "struct field" is of the site's type)."""
        return self.via.startswith("field")


@dataclass(frozen=True, slots=True)
class Flow:
    """Where one site's pages go."""

    names: tuple[str, ...]  # the page array and everything found to alias it
    releases: tuple[Release, ...]
    uses: tuple[Use, ...]
    escapes: tuple[str, ...]  # functions / fields / returns the pages leave through, unfollowed
    no_pages: bool = False  # the API was passed NULL: it faults pages in, takes no reference
    # (line, why, function) of exits the pages may reach still held: why is "partial"
    # (fewer pages than asked), "error" (a later failure) or "inconsistent" (released on
    # other paths); function: the one that leaves there (the site's, or a caller's)
    leaks: tuple[tuple[int, str, str], ...] = ()
    kernel_iter: str = ""  # why the extraction's iterator is kernel-backed (nothing pinned)
    owned: tuple[str, ...] = ()  # struct fields that hold only these pages (flow._owned)
    local: bool = False  # only ever held in the function's own locals (no field, parameter,
    #                      file-scope variable or return value)
    links: str = ""  # what other files may answer about these pages (link.py), as JSON
    guarded: str = ""  # the object holding them that an MMU notifier is registered with


@dataclass(frozen=True, slots=True)
class Site:
    path: str
    line: int
    column: int
    function: str
    api: str
    family: Family
    status: Status
    case: int | None
    rules: tuple[str, ...]
    releases: tuple[Release, ...]
    uses: tuple[Use, ...]
    subsystem: str
    difficulty: str
    confidence: str
    reason: str  # one sentence: why this status
    advice: str  # what to change, worded for the tree's API era
    messages: tuple[tuple[str, str], ...] = ()  # (rule id, formatted message)
    escapes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # what the pages were followed as
    owned: tuple[str, ...] = ()  # struct fields that hold only these pages in its file
    section: str = ""  # the MAINTAINERS section of its file
    leaks: tuple[tuple[int, str, str], ...] = ()  # Flow.leaks: where they leave held (GUP106)
    links: str = ""  # Flow.links: the open ends other files may answer (link.py)


@dataclass(frozen=True)
class Era:
    """Which APIs the tree has, read from its own headers."""

    name: str  # gup | put_user_page | pin | pin+extract
    kernel_version: str | None
    apis: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_pin(self) -> bool:
        return self.name in ("pin", "pin+extract")

    @property
    def has_extract(self) -> bool:
        return self.name == "pin+extract"


@dataclass(frozen=True)
class ScanResult:
    tree: str
    era: Era
    sites: tuple[Site, ...]
    files_scanned: int
    files_parsed: int
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    sections: dict = field(default_factory=dict)  # title -> maintainers.Section
    group_by: str = "path"
    url_template: str | None = None  # source links: {path} {line} {version}

    def url(self, path: str, line: int) -> str | None:
        if not self.url_template:
            return None
        return self.url_template.format(path=path, line=line,
                                        version=self.era.kernel_version or "")
