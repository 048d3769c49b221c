"""What a finding tells the maintainer to do: the fix must be a change, not the call the
code already makes."""

from __future__ import annotations

from conftest import FIXTURES, analyse_fixture


def _message(fixture: str, line: int, rule: str) -> str:
    (site,) = [s for s in analyse_fixture(FIXTURES / "rules" / fixture) if s.line == line]
    return dict(site.messages)[rule]


def test_written_not_dirtied_asks_for_the_dirtying_unpin() -> None:
    text = _message("GUP109-written-not-dirtied.c", 9, "GUP109")
    assert text.endswith("use unpin_user_pages_dirty_lock(..., true)"), text


def test_unlocked_dirtying_asks_for_the_locked_call() -> None:
    text = _message("GUP104-set-page-dirty-unlocked.c", 21, "GUP104")
    assert "set_page_dirty()" in text and text.endswith("use set_page_dirty_lock()"), text


def _site(path: str, line: int):
    (site,) = [s for s in analyse_fixture(FIXTURES / path) if s.line == line]
    return site


def test_a_leak_in_a_caller_names_the_caller_and_its_line() -> None:
    # paths/callers.c: pin_buf() hands its pages back; do_io() returns an error with them.
    site = _site("paths/callers.c", 10)
    text = dict(site.messages)["GUP106"]
    assert "at line 31" in text and "in its caller do_io()" in text, text
    assert site.leaks == ((31, "error", "do_io"),)


def test_an_unwind_release_is_not_cited_as_the_release() -> None:
    # paths/error-exits.c p6: the put_page() loop runs only on the error path.
    site = _site("paths/error-exits.c", 80)
    assert "(on an error path)" in dict(site.messages)["GUP102"]
    unwinds = {r.line: r.unwind for r in site.releases}
    assert unwinds == {87: True, 90: False}, unwinds
