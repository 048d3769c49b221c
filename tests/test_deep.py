"""--deep: a wrapper's caller and release helper in sibling files of the directory."""

from __future__ import annotations

from conftest import FIXTURES

from gupaudit import pipeline

XDIR = FIXTURES / "trees" / "xdir"


def test_without_deep_the_release_is_not_found() -> None:
    (site,) = pipeline.scan(XDIR, jobs=1).sites
    assert (site.path, site.function, site.status.value) == (
        "drivers/bar/bar_pages.c", "bar_get_user_pages", "unknown")


def test_deep_follows_the_wrapper_into_its_callers_file() -> None:
    for jobs in (1, 2):
        (site,) = pipeline.scan(XDIR, jobs=jobs, deep=True).sites
        assert site.status.value == "converted"
        assert [(r.api, r.path, r.line, r.function) for r in site.releases] == [
            ("unpin_user_pages_dirty_lock", "drivers/bar/bar_pages.c", 13, "bar_release_pages")]
