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
