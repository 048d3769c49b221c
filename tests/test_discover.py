"""The prefilter's search gives the same answers with Hyperscan and with its fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gupaudit import catalog, discover

SAMPLES = {
    b"static int f(void) { return get_user_pages_fast(a, n, 0, p); }": (True, False, False),
    b"EXPORT_SYMBOL_GPL(frob_pages);": (False, True, False),
    b"size_t g(struct iov_iter *from);": (False, False, True),
    b"/* get_user_pag is not a name */ int x;": (False, False, False),
    b"": (False, False, False),
    b"pin_user_pages_remote(); EXPORT_SYMBOL(h); import_ubuf();": (True, True, True),
}


def _groups() -> tuple[tuple[tuple[bytes, ...], ...], tuple[tuple[bytes, ...], ...]]:
    cat = catalog.load()
    stem, _ = discover._export()
    names = tuple(n.encode() for n in cat.acquire)
    iters = tuple(n.encode() for n in cat.iterator_needles())
    return (names, (stem,), iters), (cat.prefilter_needles(), (), ())


@pytest.mark.parametrize("engine", ["default", "fallback"])
def test_literals_answer_each_question(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    groups, gates = _groups()
    discover.literals.cache_clear()
    if engine == "fallback":
        def missing(_groups: object) -> None:
            raise ImportError("hyperscan")
        monkeypatch.setattr(discover, "_hyperscan", missing)
    try:
        present = discover.literals(groups, gates)
        for data, expected in SAMPLES.items():
            assert present(data) == expected, data
    finally:
        discover.literals.cache_clear()


def test_literals_hyperscan_refuses_fall_back_to_memmem() -> None:
    """An empty literal (Hyperscan will not compile one) is answered by the fallback."""
    discover.literals.cache_clear()
    try:
        present = discover.literals(((b"",), (b"frob",)))
        assert present(b"a frob") == (True, True)
        assert present(b"") == (True, False)
    finally:
        discover.literals.cache_clear()


def test_the_prefilter_started_during_the_walk_finds_what_a_serial_one_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With no cache, the workers search the walk's first files while it goes on."""
    from conftest import FIXTURES

    from gupaudit import pipeline

    tree = FIXTURES / "trees" / "iters"
    serial = pipeline.scan(tree, jobs=1, cache_path=None)
    monkeypatch.setattr(discover, "EMIT_EVERY", 3)  # several early jobs on a small tree
    early = pipeline.scan(tree, jobs=2, cache_path=None)
    assert early.files_scanned == serial.files_scanned > 3
    assert [(s.path, s.line, s.status) for s in early.sites] == [
        (s.path, s.line, s.status) for s in serial.sites]


def test_exporters_are_listed_in_path_order() -> None:
    """Slices of the prefilter finish in any order; a name's exporters do not."""
    tree = discover.WorkTree(Path("."))
    tree.exported = {"frob": ["mm/z.c", "arch/a.c", "lib/m.c"]}
    assert tree.exporters(["frob", "none"]) == {"frob": ["arch/a.c", "lib/m.c", "mm/z.c"]}
