"""MAINTAINERS matching as scripts/get_maintainer.pl does it, on a small fixture file."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from gupaudit import maintainers

MINI = FIXTURES / "trees" / "mini"


@pytest.fixture(scope="module")
def table() -> maintainers.Maintainers:
    return maintainers.load(MINI)


@pytest.mark.parametrize(("path", "title"), [
    ("drivers/foo/foo.c", "FOO DRIVER"),                   # directory pattern, deepest wins
    ("drivers/foo/sub/deep.c", "FOO DRIVER"),              # a trailing slash reaches below
    ("drivers/foo/foo.h", "FOO DRIVER HEADERS"),           # a glob one level deeper wins
    ("drivers/foo/sub/x.h", "FOO DRIVER"),                 # ... but globs stay at their level
    ("drivers/other/x.c", "ALL DRIVERS"),
    ("drivers/foo/legacy/old.c", "FOO DRIVER"),            # X: drops ALL DRIVERS only
    ("drivers/other/barrier.c", "ALL DRIVERS"),            # F: depth beats an N: regex
    ("lib/bar_helpers.c", "BAR REGEX"),                    # N: beats THE REST's F: *
    ("lib/rebar.c", "THE REST"),                           # [^a-z]bar needs a non-letter
    ("Makefile", "THE REST"),
])
def test_most_specific_section(table: maintainers.Maintainers, path: str, title: str) -> None:
    assert table.section_of(path).title == title


def test_exclusion_removes_the_section(table: maintainers.Maintainers) -> None:
    legacy = [s for s in table.sections if s.title == "ALL DRIVERS"][0]
    assert legacy.excludes == ("drivers/foo/legacy/",)
    assert table.section_of("drivers/foo/legacy/old.c").title != "ALL DRIVERS"


def test_fields_are_read(table: maintainers.Maintainers) -> None:
    foo = table.section_of("drivers/foo/foo.c")
    assert foo.maintainers == ("Foo Maintainer <foo@example.org>",)
    assert foo.reviewers == ("Foo Reviewer <rev@example.org>",)
    assert foo.lists == ("foo-devel@example.org",)
    assert foo.status == "Maintained" and foo.trees == ("git git://example.org/foo.git",)


def test_header_lines_are_not_sections(table: maintainers.Maintainers) -> None:
    titles = [s.title for s in table.sections]
    assert titles == ["FOO DRIVER", "FOO DRIVER HEADERS", "ALL DRIVERS", "BAR REGEX",
                      "THE REST"]


def test_no_maintainers_file(tmp_path) -> None:
    assert maintainers.load(tmp_path) is None
