"""Era detection reads the tree's own headers; advice follows the era."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from gupaudit import catalog, era
from gupaudit.classify import targets

TREES = FIXTURES / "trees"


@pytest.mark.parametrize(("tree", "name"), [
    ("era-gup", "gup"), ("era-put-user", "put_user_page"), ("era-pin", "pin"),
    ("era-extract", "pin+extract"),
])
def test_era_from_headers(tree: str, name: str) -> None:
    assert era.detect(TREES / tree, catalog.load()).name == name


def test_not_a_kernel_tree_has_no_era(tmp_path) -> None:
    assert era.detect(tmp_path, catalog.load()) is None


def test_kernel_version_from_makefile() -> None:
    assert era.kernel_version(TREES / "mini") == "6.1.0"


@pytest.mark.parametrize(("tree", "acq", "rel"), [
    ("era-gup", "get_user_pages_fast()",
     "put_user_page() (proposed in 2018, not yet in this tree)"),
    ("era-put-user", "get_user_pages_fast()", "put_user_pages()"),
    ("era-pin", "pin_user_pages_fast()", "unpin_user_pages()"),
])
def test_advice_fits_the_era(tree: str, acq: str, rel: str) -> None:
    cat = catalog.load()
    tree_era = era.detect(TREES / tree, cat)
    assert targets(cat.acquire["get_user_pages_fast"], tree_era, dirty=False) == (acq, rel)


def test_iov_iter_advice_needs_the_extract_api() -> None:
    cat = catalog.load()
    api = cat.acquire["iov_iter_get_pages2"]
    assert targets(api, era.detect(TREES / "era-extract", cat), False)[0] == (
        "iov_iter_extract_pages()")
    assert "none in this tree" in targets(api, era.detect(TREES / "era-pin", cat), False)[0]
