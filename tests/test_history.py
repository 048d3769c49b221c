"""history: each revision's numbers equal a plain scan of that revision; bad revisions."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile

import pytest
from conftest import FIXTURES

from gupaudit import history, pipeline

MINI = FIXTURES / "trees" / "mini"


def _git(repo, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                        "PATH": "/usr/bin:/bin", "HOME": str(repo)})


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("no git")
    root = tmp_path_factory.mktemp("hist")
    repo = root / "linux"
    shutil.copytree(MINI, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "v1")
    _git(repo, "tag", "v1")
    snapshot = root / "v1"
    shutil.copytree(repo, snapshot, ignore=shutil.ignore_patterns(".git"))
    src = repo / "drivers" / "foo" / "foo.c"
    src.write_text(src.read_text().replace("get_user_pages_fast(uaddr, 1, FOLL_WRITE, pages)",
                                           "pin_user_pages_fast(uaddr, 1, FOLL_WRITE, pages)")
                   .replace("put_page(pages[0]);", "unpin_user_page(pages[0]);"))
    _git(repo, "commit", "-q", "-am", "convert foo_dma")
    _git(repo, "tag", "v2")
    return repo, snapshot


def _counts(result) -> list:
    return sorted((s.path, s.line, s.function, s.status.value, s.rules, s.subsystem)
                  for s in result.sites)


def test_each_revision_equals_a_plain_scan(repo, tmp_path) -> None:
    path, v1_tree = repo
    results = history.history(path, tags="v*", cache_path=tmp_path / "c.sqlite3", jobs=1)
    assert [rev.name for rev, _ in results] == ["v1", "v2"]
    assert _counts(results[0][1]) == _counts(pipeline.scan(v1_tree, jobs=1))
    assert _counts(results[1][1]) == _counts(pipeline.scan(path, jobs=1))
    statuses = [sorted(s.status.value for s in r.sites) for _, r in results]
    assert statuses == [["converted", "unconverted"], ["converted", "converted"]]
    # Warm: the same answer from the cache, the work tree untouched.
    again = history.history(path, tags="v*", cache_path=tmp_path / "c.sqlite3", jobs=2)
    assert [_counts(r) for _, r in again] == [_counts(r) for _, r in results]
    status = subprocess.run(["git", "-C", str(path), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == ""


def test_range_and_every(repo) -> None:
    path, _ = repo
    revs = history.revisions(history.open_repo(path), revs="v1..v2")
    assert len(revs) == 1 and revs[0].commit.message.strip() == "convert foo_dma"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gupaudit", *args], capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), check=False)


def test_bad_revision_is_one_line_exit_2(repo) -> None:
    path, _ = repo
    proc = _run("history", str(path), "--revs", "nosuch..v2", "--no-cache")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"gupaudit: error: nosuch..v2: no such revision in {path}"]


def test_not_a_repository(tmp_path) -> None:
    proc = _run("history", str(tmp_path), "--no-cache")
    assert proc.returncode == 2
    assert "is not a git repository" in proc.stderr and "Traceback" not in proc.stderr


def test_json_per_revision(repo) -> None:
    path, _ = repo
    proc = _run("history", str(path), "--format", "json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    import json
    doc = json.loads(proc.stdout)
    assert [r["revision"] for r in doc["revisions"]] == ["v1", "v2"]
    assert doc["revisions"][1]["summary"]["by_status"]["converted"] == 2
