"""The command line as a user meets it: exit codes, one-line errors, path:line: output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from gupaudit.cli import main

MINI = FIXTURES / "trees" / "mini"


def _run(*args: str) -> subprocess.CompletedProcess:
    # Run from a neutral folder so "-m gupaudit" is the installed package, not ./gupaudit.
    return subprocess.run([sys.executable, "-m", "gupaudit", *args], capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), check=False)


def test_text_report_has_table_and_compiler_style_lines() -> None:
    result = CliRunner().invoke(main, ["scan", str(MINI)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Linux 6.1.0, API era pin: 2 sites in 1 files")
    # Grouped by the tree's MAINTAINERS section; --group-by path gives the folder.
    assert any(line.split()[:5] == ["FOO", "DRIVER", "2", "1", "1"] for line in lines)
    by_path = CliRunner().invoke(main, ["scan", str(MINI), "--group-by", "path"])
    assert any(line.split()[:4] == ["drivers/foo", "2", "1", "1"]
               for line in by_path.output.splitlines())
    gcc = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): "
                     r"(?P<level>error|warning|note): (?P<msg>.+) \[(?P<id>GUP\d{3})\]$")
    found = [m.groupdict() for m in map(gcc.match, lines) if m]
    assert {(f["path"], f["line"], f["col"], f["level"], f["id"]) for f in found} == {
        ("drivers/foo/foo.c", "5", "12", "warning", "GUP101"),
        ("drivers/foo/foo.c", "5", "12", "warning", "GUP109")}
    assert found[0]["msg"].startswith("get_user_pages_fast() pages are used for DMA")


def test_json_contract() -> None:
    result = CliRunner().invoke(main, ["scan", str(MINI), "--format", "json"])
    doc = json.loads(result.output)
    assert doc["schema"] == 1
    assert doc["tool"]["name"] == "gupaudit"
    assert doc["tree"]["kernel_version"] == "6.1.0" and doc["tree"]["api_era"] == "pin"
    by_line = {s["line"]: s for s in doc["sites"]}
    dma, pin = by_line[5], by_line[16]
    for key in ("path", "line", "column", "function", "api", "family", "status", "case",
                "rules", "releases", "subsystem"):
        assert key in dma
    assert (dma["subsystem"], dma["section"]) == ("FOO DRIVER", "FOO DRIVER")
    assert doc["sections"]["FOO DRIVER"]["maintainers"] == ["Foo Maintainer <foo@example.org>"]
    assert (dma["path"], dma["function"], dma["status"], dma["rules"]) == (
        "drivers/foo/foo.c", "foo_dma", "unconverted", ["GUP101", "GUP109"])
    assert dma["releases"][0]["api"] == "put_page" and dma["releases"][0]["line"] == 10
    assert (pin["status"], pin["family"]) == ("converted", "pin")
    assert doc["summary"]["by_status"]["unconverted"] == 1


def test_output_file_written(tmp_path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["scan", str(MINI), "--format", "json", "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text())["summary"]["sites"] == 2


@pytest.mark.parametrize(("args", "needle"), [
    (["scan", "/no/such/tree"], "does not exist"),
    (["scan", str(MINI / "Makefile")], "is a file"),
    (["scan", str(MINI), "--format", "xml"], "'xml' is not one of"),
])
def test_usage_errors_are_one_line_exit_2(args: list[str], needle: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_output_exit_4(tmp_path) -> None:
    proc = _run("scan", str(MINI), "-o", str(tmp_path / "missing" / "r.txt"))
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == [
        f"gupaudit: error: cannot write {tmp_path / 'missing' / 'r.txt'}: "
        "No such file or directory"]


def test_not_a_kernel_tree_is_scanned_and_said_once(tmp_path) -> None:
    (tmp_path / "a.c").write_text("int f(unsigned long u, struct page **p)\n{\n"
                                  "\treturn pin_user_pages_fast(u, 1, 0, p);\n}\n")
    proc = _run("scan", str(tmp_path))
    assert proc.returncode == 0
    warnings = [line for line in proc.stderr.splitlines() if "kernel tree" in line]
    assert len(warnings) == 1
    assert "a.c:3:9: note: unknown: pin_user_pages_fast() in f(): " in proc.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_warned(tmp_path) -> None:
    bad = tmp_path / "b.c"
    bad.write_text("int get_user_pages_fast;")
    bad.chmod(0)
    proc = _run("scan", str(tmp_path))
    assert proc.returncode == 0 and "could not be read" in proc.stderr


def test_binary_and_non_utf8_files(tmp_path) -> None:
    (tmp_path / "bin.c").write_bytes(b"\x7fELF\0\0get_user_pages_fast(\0")
    (tmp_path / "latin1.c").write_bytes(
        "/* caf\xe9 */\nint g(unsigned long u, struct page **p)\n{\n\t"
        "return get_user_pages_fast(u, 1, 0, p);\n}\n".encode("latin-1"))
    proc = _run("scan", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(s["path"], s["line"], s["function"]) for s in doc["sites"]] == [("latin1.c", 4, "g")]
    assert "bin.c: binary file, skipped" in proc.stderr


def test_help_explains_exit_codes() -> None:
    result = CliRunner().invoke(main, ["scan", "--help"])
    assert "Exit status: 0 when the scan ran" in result.output


def test_markdown_report_from_the_packaged_template() -> None:
    proc = _run("scan", str(MINI), "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "# gupaudit: mini"
    assert "| FOO DRIVER | 2 | 1 | 1 | 0 | 0 | 0 |" in lines
    assert "## FOO DRIVER" in lines
    assert any(line.startswith("- [ ] `drivers/foo/foo.c:5` foo_dma(): get_user_pages_fast()")
               for line in lines)
    assert any(line.startswith("- [x] `drivers/foo/foo.c:16` foo_pin()") for line in lines)


def test_explain_shows_flow_with_source_lines() -> None:
    proc = _run("explain", str(MINI), "drivers/foo/foo.c:5")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "drivers/foo/foo.c:5: get_user_pages_fast() in foo_dma()"
    assert "  verdict     unconverted (case 1), confidence high, difficulty easy" in out
    assert any(line.strip().startswith("dma      dma_map_page()   drivers/foo/foo.c:9")
               for line in out)
    assert "       10 |     put_page(pages[0]);" in out


def test_explain_wrong_line_lists_the_sites() -> None:
    proc = _run("explain", str(MINI), "drivers/foo/foo.c:7")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "gupaudit: error: drivers/foo/foo.c:7: no get_user_pages-family site there "
        "(2 in that file: lines 5, 16)")


def test_subsystem_filter() -> None:
    result = CliRunner().invoke(main, ["scan", str(MINI), "--format", "json",
                                       "--subsystem", "foo driver"])
    assert json.loads(result.output)["summary"]["sites"] == 2
    result = CliRunner().invoke(main, ["scan", str(MINI), "--format", "json",
                                       "--subsystem", "fuse"])
    assert json.loads(result.output)["summary"]["sites"] == 0


def test_todo_lists(tmp_path) -> None:
    mine = tmp_path / "notes.md"
    mine.write_text("my own notes\n")
    proc = _run("todo", str(MINI), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text() == "my own notes\n"          # the user's file is left alone
    text = (tmp_path / "foo-driver.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "# FOO DRIVER: get_user_pages() conversion"
    assert "To: Foo Maintainer <foo@example.org>" in lines
    assert "Cc: Foo Reviewer <rev@example.org>, foo-devel@example.org" in lines
    assert "### 1. easy conversions, one patchset (1 sites)" in lines
    assert any(line.startswith("- [ ] `drivers/foo/foo.c:5` foo_dma(): get_user_pages_fast() "
                               "-> pin_user_pages_fast() + unpin_user_pages()") for line in lines)
    assert "  - line 10 (foo_dma()): put_page() -> unpin_user_page()" in lines
    assert any(line.startswith("- [x] `drivers/foo/foo.c:16` foo_pin()") for line in lines)
    # Every heading has something under it.
    headings = [i for i, line in enumerate(lines) if line.startswith("#")]
    for i in headings:
        following = next((line for line in lines[i + 1:] if line.strip()), "#")
        assert not following.startswith("## ") or lines[i].startswith("# "), lines[i]
    index = (tmp_path / "index.md").read_text()
    assert "| [foo-driver.md](foo-driver.md) | FOO DRIVER | 1 | 0 | 0 | 1 | 0 |" in index


def test_todo_json(tmp_path) -> None:
    proc = _run("todo", str(MINI), "--out", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "todo.json").read_text())
    (foo,) = [f for f in doc["files"] if f["name"] == "foo-driver.md"]
    assert foo["to"] == ["Foo Maintainer <foo@example.org>"]
    assert foo["patchsets"][0]["sites"][0]["path"] == "drivers/foo/foo.c"
    assert foo["done"] == ["drivers/foo/foo.c:16"]
