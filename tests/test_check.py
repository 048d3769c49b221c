"""check: the sites a change touches, in a repository the test builds."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from test_history import _git, repo  # noqa: F401 - the two-tag repository fixture


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gupaudit", *args], capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), check=False)


def test_range_shows_the_conversion(repo) -> None:  # noqa: F811
    path, _ = repo
    proc = _run("check", str(path), "--range", "v1..v2", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "drivers/foo/foo.c:5:12: note: newly-converted: pin_user_pages_fast() in foo_dma(): "
        "unconverted -> converted [GUP109]"]   # converted, yet still not dirtied


def test_since_shows_a_new_problem_in_the_work_tree(repo, tmp_path) -> None:  # noqa: F811
    path, _ = repo
    src = path / "drivers" / "foo" / "foo.c"
    original = src.read_text()
    try:
        src.write_text(original.replace("unpin_user_page(pages[0]);\n\treturn got;",
                                        "put_page(pages[0]);\n\treturn got;"))
        proc = _run("check", str(path), "--since", "v2", "--format", "json", "--no-cache",
                    "--fail-on", "mismatch")
        assert proc.returncode == 1, proc.stderr
        (change,) = json.loads(proc.stdout)["changes"]
        assert change["kind"] == "new-problem"
        assert (change["after"]["function"], change["after"]["status"],
                change["after"]["rules"]) == ("foo_pin", "mismatch", ["GUP102"])
        assert change["before"]["status"] == "converted"
    finally:
        src.write_text(original)


def test_both_or_neither_is_a_usage_error(repo) -> None:  # noqa: F811
    path, _ = repo
    proc = _run("check", str(path), "--no-cache")
    assert proc.returncode == 2
    assert "give exactly one of --since REV and --range A..B" in proc.stderr
