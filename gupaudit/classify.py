"""Stage 6, classify: a site and its flow -> status, case, rules, difficulty, confidence.

The status comes from a decision table (``_PINNED``, ``_PLAIN``: the first row whose
condition holds gives status, case, reason and the finding it makes), read over the facts
the flow derived. The rows, in order (DESIGN.md "Domain model"; pin_user_pages.rst's five
cases):

* pin / iter-extract sites: a reachable put_page()-style release is a mismatch (GUP102);
  an unpin (or a flag-aware release such as bio_release_pages) makes the site converted.
* get / iter-get sites: a reachable unpin is a mismatch (GUP103); put_user_page*() in a
  5.3-5.5 tree is the conversion of that era. A get site in a driver that registers an MMU
  notifier with the object that holds the pages is gup-ok (case 3), whatever it does with
  the data.
  Otherwise the use evidence decides:
  DMA, bio/bvec or a long-lived vmap -> unconverted (cases 1, 2, 5), and so are pages
  marked dirty where no CPU access is seen (a device wrote them);
  struct-page-only use -> gup-ok (case 4).
  Data written by the kernel and the page dirtied (kmap/page_address + set_page_dirty*) is
  case 5: unconverted (s390's adapter indicators were converted for this). Other short-term
  CPU access (kmap/copy, released in the same function, its helpers or its callers) is the
  exec/uprobes pattern the core kernel keeps on plain GUP: gup-ok, medium confidence;
  released only through a struct field (kept for later), it is case 5.
  For iov_iter sites any data use is I/O on the iterator's memory: unconverted.
* Every release of the flow was met on a path of some CFG with the pages held (``flow``,
  ``dataflow``): a release reached on no such path is not in it. A release found only by
  struct-field name confirms a conversion but never makes a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gupaudit.catalog import AcquireApi, Catalog
from gupaudit.model import Call, Era, Family, Flow, Release, Site, Status, Use

_PIN_KINDS = {Family.PIN, Family.ITER_EXTRACT}
_DATA_EVIDENCE = {"dma", "dio", "map"}
_LEAK_WHY = {"partial": "fewer pages than asked were taken",
             "error": "a later step failed",
             "inconsistent": "other paths release them, this one does not"}


def targets(api: AcquireApi, era: Era, dirty: bool) -> tuple[str, str]:
    """(acquisition, release) this tree's era converts the site to."""
    if api.family is Family.ITER_GET:
        if era.has_extract:
            return "iov_iter_extract_pages()", "unpin_user_page() when iov_iter_extract_will_pin()"
        return ("a pinning iov_iter API (none in this tree: iov_iter_extract_pages() arrives "
                "in 6.3)", "unpin_user_pages()")
    if era.has_pin:
        acq = f"{api.pin or api.name}()"
        rel = "unpin_user_pages_dirty_lock()" if dirty else "unpin_user_pages()"
        return acq, rel
    if era.name == "put_user_page":
        return f"{api.name}()", "put_user_pages_dirty_lock()" if dirty else "put_user_pages()"
    return f"{api.name}()", "put_user_page() (proposed in 2018, not yet in this tree)"


def classify(path: str, function: str, call: Call, api: AcquireApi, flow: Flow, era: Era,
             subsystem: str, catalog: Catalog, flags: str | None,
             flags_complete: bool = True) -> Site:
    """The verdict on one site. ``flags``: the FOLL_* flags seen to reach the call (None:
    the API takes none); ``flags_complete``: False when part of them comes from outside
    the function."""
    family = api.family
    pinned = family in _PIN_KINDS
    # Every release of the flow was met on a path with the pages held. The lifetime
    # release first: an unwind release is never "the" release a message cites.
    reachable = sorted(flow.releases, key=lambda r: r.unwind)
    evidence = {u.evidence for u in flow.uses}
    dirty = "dirty" in evidence
    acq_target, rel_target = targets(api, era, dirty)
    rules: list[tuple[str, Release | None]] = []
    flagged = set(flags.split(" | ")) if flags else set()
    longterm = catalog.longterm_flag in flagged or _stored(flow)

    facts = _Facts(family, flow, reachable, frozenset(evidence), era, function,
                   _physical(flow, catalog), longterm, api.always_gets)
    row = next(r for r in (_PINNED if pinned else _PLAIN) if r.when(facts))
    status = row.status
    case = _case(evidence, longterm, family) if row.case == "evidence" else row.case
    reason = row.reason(facts) if callable(row.reason) else row.reason
    if row.rule:
        rules.extend((row.rule, r) for r in row.cite(facts)[:1])

    if status in (Status.UNCONVERTED, Status.CONVERTED, Status.MISMATCH) and _has_batch(era):
        # A loop of the wrong kind of release is GUP102/GUP103's to fix, not GUP105's.
        wrong = "get" if pinned else "pin"
        loops = [r for r in reachable if r.in_loop and r.kind not in (wrong, "either")
                 and not catalog.release[r.api].batch]  # one page a call, in a loop
        if loops:
            rules.append(("GUP105", loops[0]))
    # A use found by struct-field name only (the same ->mem may be another struct's) can
    # say what the pages are for, never make a finding on its own.
    firm_uses = [u for u in flow.uses if not u.by_field_name]
    unlocked = [u for u in firm_uses if u.api in catalog.dirty_unlocked]
    if unlocked and "lock" not in evidence:
        rules.append(("GUP104", None))
    extra: dict[str, tuple[int, str, str]] = {}  # rule -> (line, detail, target)
    if flow.leaks and status is not Status.GUP_OK:
        line, why, leaving = flow.leaks[0]
        where = "" if leaving == function else f"in its caller {leaving}(): "
        release = ("unpin_folios(folios, got)" if api.folios else
                   "unpin_user_pages(pages, got)" if pinned else "put_page() each page taken")
        extra["GUP106"] = (line, where + _LEAK_WHY[why], release)
    device = evidence & {"dma", "dio"}
    if (device and _stored(flow) and status in (Status.CONVERTED, Status.UNCONVERTED)
            and family in (Family.GET, Family.PIN) and flags_complete
            and catalog.longterm_flag not in flagged
            and not api.longterm
            and not any(_releases_here(r, function) for r in reachable)):
        extra["GUP107"] = (call.line, _describe(evidence), "add FOLL_LONGTERM")
    if family is Family.ITER_GET and device and era.has_extract and not flow.kernel_iter:
        # (a kernel-backed iterator holds no user memory: page references are right there)
        extra["GUP108"] = (call.line, _describe(evidence), "iov_iter_extract_pages()")
    written = catalog.write_flag in flagged and (
        "map" in evidence or any(u.direction in catalog.device_writes
                                 for u in firm_uses))
    plain = [r for r in reachable if not catalog.release[r.api].dirty]
    if (written and plain and not dirty and len(plain) == len(reachable)
            and status is not Status.GUP_OK):
        # The fix dirties: unpin_user_pages_dirty_lock(..., true) (after converting, for an
        # unconverted site), set_page_dirty_lock() before the put otherwise.
        fix = (f"{targets(api, era, True)[1].removesuffix('()')}(..., true)"
               if pinned or status is Status.UNCONVERTED else "set_page_dirty_lock()")
        extra["GUP109"] = (_at(plain[0], path), "device or kernel writes", fix)
    rules.extend((rid, None) for rid in extra)

    messages = []
    for rid, rel in rules:
        rule = catalog.rules[rid]
        line = (_at(rel, path) if rel else _at(unlocked[0], path) if rid == "GUP104"
                else extra[rid][0])
        detail = extra[rid][1] if rid in extra else _describe(evidence)
        if rid in extra:
            target = extra[rid][2]
        elif rid == "GUP104":
            target = ("unpin_user_pages_dirty_lock()" if family in _PIN_KINDS
                      else "set_page_dirty_lock()")
        elif rid == "GUP105":
            target = ("unpin_user_pages_dirty_lock()" if dirty else "unpin_user_pages()") \
                if era.has_pin else "put_user_pages()"
        elif rid == "GUP102":
            target = rel_target if family is Family.PIN else "unpin_user_page()"
        elif rid == "GUP103":
            target = acq_target
        else:
            target = f"{acq_target} + {rel_target}"
        messages.append((rid, rule.message.format(
            api=api.name, target=target,
            release=rel.api if rel else unlocked[0].api if unlocked else "",
            function=function, line=line, detail=detail)))

    difficulty = _difficulty(flow, family, evidence, reachable)
    confidence = _confidence(status, reachable, flow)
    advice = _advice(status, api, acq_target, rel_target, reachable)
    return Site(path=path, line=call.line, column=call.column, function=function, api=api.name,
                family=family, status=status, case=case,
                rules=tuple(dict.fromkeys(rid for rid, _ in rules)),
                releases=tuple(flow.releases), uses=flow.uses, subsystem=subsystem,
                difficulty=difficulty, confidence=confidence, reason=reason, advice=advice,
                messages=tuple(messages), escapes=flow.escapes, names=flow.names,
                owned=flow.owned,
                leaks=flow.leaks if status is not Status.GUP_OK else (), links=flow.links)


# ---------------------------------------------------------------- the decision table


@dataclass(frozen=True)
class _Facts:
    """What the decision table reads of a site."""

    family: Family
    flow: Flow
    reachable: list[Release]  # every release met with the pages held, lifetime first
    evidence: frozenset[str]  # what the uses say the data is for
    era: Era
    function: str
    physical: str  # the call a physical address of the pages leaves through, if any
    longterm: bool
    always_gets: bool = False  # the API takes references even with no page array

    @property
    def wrong(self) -> list[Release]:
        """Firm releases of the other kind of reference."""
        other = "get" if self.family in _PIN_KINDS else "pin"
        return [r for r in self.reachable if r.kind == other and _firm(r)]

    @property
    def unpins(self) -> list[Release]:
        return [r for r in self.reachable if r.kind in ("pin", "either")]

    @property
    def puts(self) -> list[Release]:
        return [r for r in self.reachable if r.kind == "get"]

    def has(self, *kinds: str) -> bool:
        return bool(self.evidence & set(kinds))


@dataclass(frozen=True)
class _Row:
    when: Callable[[_Facts], object]
    status: Status
    case: int | str | None  # "evidence": read off the uses (_case)
    reason: str | Callable[[_Facts], str]
    rule: str = ""  # the finding the row makes, citing the first of ``cite``
    cite: Callable[[_Facts], list[Release]] = lambda f: []


def _always(f: _Facts) -> bool:
    return True


_NO_PAGES = _Row(lambda f: f.flow.no_pages, Status.GUP_OK, 4,
                 "no page array (NULL): faults the range in or checks it, keeps no reference")
# gup-fast forces FOLL_GET (apis.toml always_gets): with no array to return them in, the
# references taken are never dropped (later trees WARN and fail the call instead)
_NO_PAGES_YET_GOT = _Row(lambda f: f.flow.no_pages and f.always_gets, Status.UNCONVERTED, None,
                         "no page array (NULL), but gup-fast always takes references "
                         "(FOLL_GET): nothing can drop them; fault the range in without "
                         "gup-fast (fault_in_*(), or get_user_pages*() with no array)")

# Pinned (FOLL_PIN) and extracted pages: the release decides.
_PINNED = (
    _NO_PAGES,
    _Row(lambda f: f.wrong, Status.MISMATCH, "evidence",
         lambda f: f"pinned, but released with {f.wrong[0].api}()", "GUP102",
         lambda f: f.wrong),
    _Row(lambda f: f.unpins, Status.CONVERTED, "evidence",
         lambda f: f"pinned and released with {f.unpins[0].api}()"),
    _Row(lambda f: f.flow.kernel_iter, Status.CONVERTED, "evidence",
         lambda f: (f"extracted from a kernel-backed iterator ({f.flow.kernel_iter}): no "
                    "page reference is taken, so there is nothing to unpin")),
    _Row(_always, Status.UNKNOWN, "evidence",
         lambda f: "pinned; no release found" + _where(f.flow)),
)

# Plain references (FOLL_GET, iov_iter_get_pages*()): what the pages are used for decides
# (pin_user_pages.rst's five cases), once the release is not of the wrong kind.
_PLAIN = (
    _NO_PAGES_YET_GOT,
    _NO_PAGES,
    _Row(lambda f: f.wrong, Status.MISMATCH, None,
         lambda f: f"plain references released with {f.wrong[0].api}()", "GUP103",
         lambda f: f.wrong),
    # iov_iter_get_pages*() on a bvec/kvec/xarray iterator: page-cache or kernel pages
    _Row(lambda f: f.family is Family.ITER_GET and f.flow.kernel_iter, Status.GUP_OK, None,
         lambda f: (f"pages of a kernel-backed iterator ({f.flow.kernel_iter}): references "
                    "to kernel or page-cache pages, no user memory to pin")),
    _Row(lambda f: f.era.name == "put_user_page" and any(r.kind == "put_user"
                                                         for r in f.reachable),
         Status.CONVERTED, None, "released with put_user_page*() (5.3-5.5 era)"),
    _Row(lambda f: f.flow.guarded and f.family is Family.GET, Status.GUP_OK, 3,
         lambda f: (f"an MMU notifier is registered with {f.flow.guarded}, which holds the "
                    "pages: they are dropped on invalidate, so plain GUP is enough "
                    "(pin_user_pages.rst case 3)")),
    # DMA, block I/O, a long-lived mapping, I/O on an iterator, or written by a device
    _Row(lambda f: f.has(*_DATA_EVIDENCE) or (f.family is Family.ITER_GET and f.has("cpu"))
         or _device_wrote(f.evidence), Status.UNCONVERTED, "evidence",
         lambda f: f"FOLL_GET pages used for {_describe(f.evidence)}", "GUP101",
         lambda f: f.puts),
    _Row(lambda f: f.has("cpu") and f.has("dirty"), Status.UNCONVERTED, 5,
         "the kernel writes the data and dirties the page while it holds a plain "
         "reference (pin_user_pages.rst case 5)"),
    _Row(lambda f: f.has("cpu", "dirty") and any(not r.kept and not r.unwind
                                                 for r in f.reachable),
         Status.GUP_OK, None, "short-term CPU access, released in the same function "
         "(the ptrace/exec/uprobes pattern): plain GUP"),
    _Row(lambda f: f.has("cpu", "dirty"), Status.UNCONVERTED, 5,
         "data accessed through pages kept beyond the function (released only through a "
         "struct field, or not at all)"),
    # struct page checks, then the physical address goes to a hypervisor or device
    _Row(lambda f: f.has("struct") and f.physical, Status.UNKNOWN, None,
         lambda f: ("struct page checks, and the physical address is handed on "
                    f"({f.physical}): a device, firmware or hypervisor may use the memory; "
                    "check by hand")),
    _Row(lambda f: f.has("struct") and not (f.family is Family.ITER_GET and f.flow.escapes),
         Status.GUP_OK, 4, "only struct page is touched"),
    # iov_iter_get_pages*() exists for I/O on the iterator's memory: pages handed on (a
    # request, a pipe, a bvec) are read or written by whoever takes them.
    _Row(lambda f: f.family is Family.ITER_GET and (f.flow.escapes or f.reachable),
         Status.UNCONVERTED, 1,
         lambda f: ("iov_iter pages handed on for I/O" + _where(f.flow) if f.flow.escapes
                    else "iov_iter pages taken for I/O and released here")),
    # take the page, compare the pointer, put it (iommufd's selftest)
    _Row(lambda f: (f.reachable and f.flow.local and not f.flow.uses and not f.flow.escapes
                    and all(r.function == f.function and not r.via for r in f.reachable)),
         Status.GUP_OK, 4, "held only inside the function and released there; nothing "
         "reads or writes the data (at most the page pointer is compared)"),
    _Row(lambda f: not f.flow.releases and not f.flow.uses and not f.flow.escapes
         and f.flow.names, Status.UNKNOWN, None, "pages neither used nor released here"),
    _Row(_always, Status.UNKNOWN, None,
         lambda f: ("released, but no use of the pages seen" if f.reachable
                    else "no use or release found") + _where(f.flow)),
)


def _at(r: Release | Use, path: str) -> str:
    """A line of the site's file, or of another file (the link pass found it there);
    an unwind release says so."""
    where = str(r.line) if not r.path or r.path == path else f"{r.line} of {r.path}"
    return where + (" (on an error path)" if isinstance(r, Release) and r.unwind else "")


def _releases_here(r: Release, function: str) -> bool:
    """Released by the acquiring function itself or a helper it calls: short-lived."""
    return r.function == function or not (r.kept or r.via.startswith("caller"))


def _firm(r: Release) -> bool:
    """A release that can make a mismatch: reached in the site's own function, a helper or
    a caller. Releases matched only by field name (the same ``->folios`` may hold page-cache
    folios elsewhere in the file) can confirm a conversion, never accuse one."""
    return not r.by_field_name


def _physical(flow: Flow, catalog: Catalog) -> str:
    """The call through which a physical address of the pages leaves, if any."""
    return next((e for e in flow.escapes if e[:-2] in catalog.physical), "")


def _device_wrote(evidence: set[str]) -> bool:
    """Marked dirty, yet no CPU access (a kernel mapping is one) or struct-page work
    seen: something else wrote them (a device behind page_to_phys() or an address the
    driver computed)."""
    return "dirty" in evidence and not evidence & {"cpu", "struct", "map"}


def _stored(flow: Flow) -> bool:
    """The pages are kept in a struct field: they outlive the function."""
    return any("->" in n or "." in n for n in flow.names)


def _has_batch(era: Era) -> bool:
    return era.has_pin or era.name == "put_user_page"


def _case(evidence: set[str], longterm: bool, family: Family) -> int | None:
    if "dio" in evidence or (family in (Family.ITER_GET, Family.ITER_EXTRACT) and evidence):
        return 1
    if "dma" in evidence or _device_wrote(evidence):
        return 2 if longterm else 1
    if "map" in evidence or "cpu" in evidence or "dirty" in evidence:
        return 5
    if "struct" in evidence:
        return 4
    return None


def _describe(evidence: set[str]) -> str:
    words = {"dma": "DMA", "dio": "block I/O (bio/bvec)", "map": "a kernel mapping (vmap)",
             "cpu": "CPU access to the data", "dirty": "writes (marked dirty)"}
    found = [words[e] for e in ("dma", "dio", "map", "cpu", "dirty") if e in evidence]
    return ", ".join(found) or "unknown purposes"


def _where(flow: Flow) -> str:
    return f" (pages go to {', '.join(flow.escapes[:3])})" if flow.escapes else ""


def _difficulty(flow: Flow, family: Family, evidence: set[str],
                reachable: list[Release]) -> str:
    if family in (Family.ITER_GET, Family.ITER_EXTRACT) or "dio" in evidence:
        return "hard"
    if not reachable:
        return "hard" if flow.escapes else "moderate"
    if any(r.via.startswith("caller") for r in reachable) or _stored(flow):
        return "moderate"
    return "easy"


def _confidence(status: Status, reachable: list[Release], flow: Flow) -> str:
    if status is Status.UNKNOWN:
        return "low"
    if flow.kernel_iter and not reachable:
        # Set up in sight, or a MSG_SPLICE_PAGES test around the call: seen. Through the
        # callers of a static function: seen too, but one step removed.
        return "medium" if flow.kernel_iter.startswith("every caller") else "high"
    direct = any(not r.via for r in reachable)
    if direct and flow.uses and not flow.escapes:
        return "high"
    if reachable or flow.uses:
        return "medium"
    return "low"


def _advice(status: Status, api: AcquireApi, acq: str, rel: str,
            reachable: list[Release]) -> str:
    lines = ", ".join(str(r.line) for r in reachable[:6])
    if status is Status.UNCONVERTED:
        return f"acquire with {acq} and release with {rel}" + (
            f" (release points: lines {lines})" if lines else "")
    if status is Status.MISMATCH:
        wrong = "get" if api.family in _PIN_KINDS else "pin"
        bad = [r for r in reachable if r.kind == wrong and _firm(r)]
        where = ", ".join(f"{r.path}:{r.line}" for r in bad[:6])
        return f"make the release at {where} match {api.name}()"
    if status is Status.CONVERTED:
        return "done"
    if status is Status.GUP_OK:
        return "none: plain GUP is right here"
    return "follow the pages by hand: " + (f"released at line(s) {lines}" if lines else
                                           "no release found")
