"""Never crash, never lose: mangled sources, CRLF, interrupts, shared caches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, analyse_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_history import repo  # noqa: F401 - the two-tag repository fixture
from test_real_kernel import kernel_tree

from gupaudit import analyse, catalog, era, pipeline

SOURCES = sorted(p for p in FIXTURES.rglob("*.c") if "trees" not in p.parts)
NOISE = ["{", "}", "(", ")", ";", "__must_check ", "__user ", "#ifdef CONFIG_X\n",
         "#endif\n", "#else\n", "for_each_sg(sgl, sg, n, i)\n", "SYSCALL_DEFINE2(x, int, a)\n",
         "list_for_each_entry(p, &h, node) {\n", "\\\n", "/*", "*/", "\"", "'", "\n\n",
         "get_user_pages_fast(", "pin_user_pages(", "unpin_user_page(", "put_page(",
         "static inline ", "struct page **", "#define get_user_pages_fast(a, b, c, d) 0\n"]
RENAMES = ["get_user_pages_fast", "pin_user_pages_fast", "get_user_pages_remote",
           "iov_iter_get_pages2", "iov_iter_extract_pages", "put_page", "unpin_user_pages",
           "release_pages", "not_an_api"]


@st.composite
def mangled(draw) -> bytes:
    text = SOURCES[draw(st.integers(0, len(SOURCES) - 1))].read_text()
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["insert", "delete", "rename", "split", "nest"]))
        pos = draw(st.integers(0, max(0, len(text) - 1)))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(NOISE)) + text[pos:]
        elif op == "delete":
            end = pos + draw(st.integers(1, 40))
            text = text[:pos] + text[end:]
        elif op == "rename":
            old, new = draw(st.sampled_from(RENAMES)), draw(st.sampled_from(RENAMES))
            text = text.replace(old, new)
        elif op == "split":
            text = text.replace(" ", "\n", draw(st.integers(1, 20)))
        else:
            depth = draw(st.integers(1, 60))
            text = text[:pos] + "M(" * depth + "x" + ")" * depth + text[pos:]
    return text.encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangled_kernel_code_never_raises(data: bytes) -> None:
    sites = pipeline.analyse_source("mangled.c", data, era.newest(catalog.load()))
    for s in sites:
        assert s.function or s.status.value == "unknown"
        assert 1 <= s.line <= data.count(b"\n") + 1


def test_crlf_sources_give_the_same_findings() -> None:
    for path in SOURCES:
        crlf = path.read_bytes().replace(b"\n", b"\r\n")
        want = [(s.line, s.function, s.status, s.rules) for s in analyse_fixture(path)]
        got = [(s.line, s.function, s.status, s.rules) for s in pipeline.analyse_source(
            path.name, crlf, era.newest(catalog.load()))]
        assert got == want, path.name


def test_a_bug_in_one_file_costs_that_file_only(monkeypatch, tmp_path) -> None:
    body = "int {f}(struct page **p)\n{{\n\treturn {api}(0, 1, 0, p);\n}}\n"
    (tmp_path / "a.c").write_text(body.format(f="f", api="pin_user_pages_fast"))
    (tmp_path / "b.c").write_text(body.format(f="g", api="get_user_pages_fast"))
    real = analyse.analyse_source

    def broken(rel, data, *args):
        if rel == "b.c":
            raise RuntimeError("boom")
        return real(rel, data, *args)

    monkeypatch.setattr(analyse, "analyse_source", broken)
    result = pipeline.scan(tmp_path, jobs=1)
    assert [s.path for s in result.sites] == ["a.c"]
    assert pipeline.count_internal_errors(result.warnings) == 1


def test_two_runs_share_one_cache(tmp_path) -> None:
    db = tmp_path / "c.sqlite3"
    tree = FIXTURES / "trees" / "mini"
    results: list = []

    def run() -> None:
        results.append(subprocess.run([sys.executable, "-m", "gupaudit", "scan", str(tree),
                                       "--format", "json", "--cache", str(db)],
                                      capture_output=True, text=True, check=False,
                                      cwd=tempfile.gettempdir()))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    docs = [json.loads(r.stdout)["sites"] for r in results if r.returncode == 0]
    assert len(docs) == 3 and docs[0] == docs[1] == docs[2], [r.stderr for r in results]


def test_ctrl_c_mid_scan_then_the_next_run_completes(tmp_path) -> None:
    tree = kernel_tree()
    if tree is None:
        pytest.skip("no Linux 6.1 tree to interrupt a long scan on")
    db = tmp_path / "c.sqlite3"
    args = [sys.executable, "-m", "gupaudit", "scan", str(tree), "--format", "json",
            "--cache", str(db)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tempfile.gettempdir(), start_new_session=True)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "gupaudit: interrupted"
    assert "Traceback" not in err
    again = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir(),
                           check=False)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["summary"]["internal_errors"] == 0
    plain = subprocess.run(args[:-2] + ["--no-cache"], capture_output=True, text=True,
                           cwd=tempfile.gettempdir(), check=False)
    assert json.loads(again.stdout)["sites"] == json.loads(plain.stdout)["sites"]


def test_symlink_loop_and_empty_dir(tmp_path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "empty").mkdir()
    result = pipeline.scan(tmp_path, jobs=1)
    assert result.sites == () and result.files_scanned == 0


def test_big_generated_header_is_skipped_with_a_warning(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(analyse, "MAX_PARSE_BYTES", 1000)
    big = tmp_path / "gen.h"
    big.write_text("#define X 1\n" * 200
                   + "static inline int f(void) { return get_user_pages_fast(0, 1, 0, 0); }\n")
    result = pipeline.scan(tmp_path, jobs=1)
    assert any("larger than gupaudit parses" in w for w in result.warnings)


def test_missing_path_is_a_one_line_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "gupaudit", "scan", str(Path("/no/such/x"))],
                          capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_unreadable_file_is_warned_even_as_root(monkeypatch, tmp_path) -> None:
    from gupaudit import discover

    (tmp_path / "a.c").write_text("int x;\n")
    (tmp_path / "secret.c").write_text("int get_user_pages_fast;\n")
    real_open = os.open

    def guarded(path, *args, **kwargs):
        if str(path).endswith("secret.c"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(discover.os, "open", guarded)
    result = pipeline.scan(tmp_path, jobs=1)
    assert any("could not be read" in w and "secret.c" in w for w in result.warnings)


def test_cache_folder_that_cannot_be_made(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be\n")
    result = pipeline.scan(FIXTURES / "trees" / "mini", jobs=1,
                           cache_path=blocker / "c.sqlite3")
    assert [w for w in result.warnings if "running without it" in w]
    assert len(result.sites) == 2


def _history_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gupaudit", "history", *args, "--no-cache"],
                          capture_output=True, text=True, cwd=tempfile.gettempdir(),
                          check=False)


def test_shallow_clone_and_missing_objects(repo, tmp_path) -> None:  # noqa: F811
    import shutil

    path, _ = repo
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", path.as_uri(), str(shallow)],
                   check=True, capture_output=True)
    proc = _history_cli(str(shallow), "--revs", "HEAD~1..HEAD")   # HEAD~1 is not there
    assert proc.returncode in (2, 3), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    # Missing objects: the loose blobs of the files under drivers/ disappear.
    for line in subprocess.run(["git", "-C", str(broken), "ls-tree", "-r", "v1", "drivers"],
                               capture_output=True, text=True, check=True).stdout.splitlines():
        sha = line.split()[2]
        (broken / ".git" / "objects" / sha[:2] / sha[2:]).unlink(missing_ok=True)
    proc = _history_cli(str(broken), "--tags", "v*")
    assert proc.returncode in (2, 3), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


HISTORY = Path(os.environ.get("GUPAUDIT_HISTORY_REPO",
                              Path.home() / ".cache/gupaudit-corpus/history"))


@pytest.mark.skipif(not (HISTORY / ".git").is_dir(),
                    reason="no release-history repository (../shared/corpus/make-history-repo)")
def test_ctrl_c_mid_history_then_the_next_run_completes(tmp_path) -> None:
    db = tmp_path / "c.sqlite3"
    args = [sys.executable, "-m", "gupaudit", "history", str(HISTORY), "--tags", "v6.1",
            "--format", "json", "--cache", str(db)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tempfile.gettempdir(), start_new_session=True)
    time.sleep(3.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "gupaudit: interrupted" and "Traceback" not in err
    again = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir(),
                           check=False)
    assert again.returncode == 0, again.stderr
    (rev,) = json.loads(again.stdout)["revisions"]
    assert rev["summary"]["internal_errors"] == 0 and rev["summary"]["sites"] > 0
    tree = kernel_tree()  # the same release unpacked: its plain scan must agree
    if tree is not None and rev["kernel_version"] == era.kernel_version(tree):
        plain = pipeline.scan(tree, cache_path=None)
        assert rev["summary"]["by_status"] == {
            st: sum(1 for s in plain.sites if s.status.value == st)
            for st in rev["summary"]["by_status"]}


def test_unreadable_folder_is_warned_even_as_root(monkeypatch, tmp_path) -> None:
    from gupaudit import discover

    (tmp_path / "locked").mkdir()
    (tmp_path / "open.c").write_text("int x;\n")
    real = os.scandir

    def guarded(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(discover.os, "scandir", guarded)
    result = pipeline.scan(tmp_path, jobs=1)
    assert any("could not be read" in w and "locked" in w for w in result.warnings)


def test_truncated_cache(tmp_path) -> None:
    db = tmp_path / "c.sqlite3"
    tree = FIXTURES / "trees" / "mini"
    first = pipeline.scan(tree, jobs=1, cache_path=db)
    db.write_bytes(db.read_bytes()[:1000])
    again = pipeline.scan(tree, jobs=1, cache_path=db)
    assert [(s.path, s.line, s.status) for s in again.sites] == [
        (s.path, s.line, s.status) for s in first.sites]
    assert len([w for w in again.warnings if "cache" in w]) <= 1


def test_a_missing_blob_is_an_error_not_an_absent_file(tmp_path) -> None:
    """git says "missing" for both; a file the tree lists but the repository lacks must
    not silently drop out of a revision's figures."""
    import git as gitmod

    from gupaudit import history
    from gupaudit.errors import InputError

    where = tmp_path / "r"
    (where / "d").mkdir(parents=True)
    (where / "d" / "a.c").write_text("int a;\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True)
    commit = gitmod.Repo(where).commit("HEAD")
    assert history.blob(commit, "d/a.c") == b"int a;\n"
    assert history.blob(commit, "d/none.c") is None
    assert history.blob(commit, "d") is None  # a folder is not a file
    sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD:d/a.c"],
                         capture_output=True, text=True, check=True).stdout.strip()
    (where / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    commit = gitmod.Repo(where).commit("HEAD")
    with pytest.raises(InputError, match="cannot read the git object"):
        history.blob(commit, "d/a.c")
