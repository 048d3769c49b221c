"""Shared helpers: analyse a fixture file the way a scan analyses a tree's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gupaudit import catalog, era, pipeline
from gupaudit.model import Era, Site

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_era(flags: dict[str, str]) -> Era:
    cat = catalog.load()
    name = flags.get("era")
    if name is None:
        return era.newest(cat)
    return era.Era(name=name, kernel_version=None)


def analyse_fixture(path: Path, flags: dict[str, str] | None = None) -> list[Site]:
    return pipeline.analyse_source(path.name, path.read_bytes(), fixture_era(flags or {}))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session", autouse=True)
def _private_result_cache(tmp_path_factory):
    """Every gupaudit the tests start (subprocesses included) caches into the session's
    own file, never the user's ~/.cache/gupaudit (kernels fetched there stay shared)."""
    import os

    before = os.environ.get("GUPAUDIT_CACHE")
    os.environ["GUPAUDIT_CACHE"] = str(tmp_path_factory.mktemp("cache") / "cache.sqlite3")
    yield
    if before is None:
        os.environ.pop("GUPAUDIT_CACHE", None)
    else:
        os.environ["GUPAUDIT_CACHE"] = before
