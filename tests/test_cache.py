"""The cache makes a re-scan faster, never its result different."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import FIXTURES

from gupaudit import pipeline

MINI = FIXTURES / "trees" / "mini"


def _sites(result) -> list:
    return [(s.path, s.line, s.status, s.rules, s.releases) for s in result.sites]


def test_rescan_from_cache_is_identical(tmp_path) -> None:
    db = tmp_path / "c.sqlite3"
    plain = pipeline.scan(MINI, jobs=1)
    first = pipeline.scan(MINI, jobs=1, cache_path=db)
    second = pipeline.scan(MINI, jobs=2, cache_path=db)
    assert _sites(plain) == _sites(first) == _sites(second)
    assert db.stat().st_size > 0 and not second.warnings


def test_changed_file_is_analysed_again(tmp_path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(MINI, tree)
    db = tmp_path / "c.sqlite3"
    before = pipeline.scan(tree, jobs=1, cache_path=db)
    src = tree / "drivers" / "foo" / "foo.c"
    src.write_text(src.read_text().replace("put_page(pages[0]);", "unpin_user_page(pages[0]);"))
    os.utime(src, ns=(1, 1))  # a different stamp even within the same clock tick
    after = pipeline.scan(tree, jobs=1, cache_path=db)
    assert {s.line: s.status.value for s in before.sites}[5] == "unconverted"
    assert {s.line: s.status.value for s in after.sites}[5] == "mismatch"


def test_corrupt_cache_is_set_aside_with_one_warning(tmp_path) -> None:
    db = tmp_path / "c.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    result = pipeline.scan(MINI, jobs=1, cache_path=db)
    assert _sites(result) == _sites(pipeline.scan(MINI, jobs=1))
    assert len([w for w in result.warnings if "set it aside" in w]) == 1
    assert list(tmp_path.glob("c.sqlite3.corrupt-*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_read_only_cache_folder(tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = pipeline.scan(MINI, jobs=1, cache_path=folder / "c.sqlite3")
    assert any("running without it" in w for w in result.warnings)


def test_the_result_cache_goes_where_gupaudit_cache_says(tmp_path, monkeypatch) -> None:
    import subprocess
    import sys

    target = tmp_path / "elsewhere" / "results.sqlite3"
    monkeypatch.setenv("GUPAUDIT_CACHE", str(target))
    proc = subprocess.run([sys.executable, "-m", "gupaudit", "scan",
                           str(MINI), "--format", "json"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert target.is_file()
