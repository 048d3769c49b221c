"""A tree's .gupaudit.toml: excludes, extra wrapper and release APIs, groups, source links."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile

from conftest import FIXTURES

MINI = FIXTURES / "trees" / "mini"

CONFIG = """\
exclude = ["drivers/legacy/*"]

[acquire.bar_grab_pages]
family = "get"
pages = 1

[release.bar_drop_pages]
kind = "get"

[group.bar]
title = "the bar family"
paths = ["drivers/bar/"]

[links]
url = "https://elixir.example/linux/v{version}/source/{path}#L{line}"
"""

BAR = """\
/* A driver wrapper the catalogue cannot know: declared in the tree's config. */
static int bar_map(struct device *dev, unsigned long uaddr, struct page **pages)
{
\tint got = bar_grab_pages(uaddr, pages);

\tif (got != 1)
\t\treturn -EFAULT;
\tdma_map_page(dev, pages[0], 0, PAGE_SIZE, DMA_TO_DEVICE);
\tbar_drop_pages(pages, 1);
\treturn 0;
}
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gupaudit", *args], capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), check=False)


def test_config_settings_apply(tmp_path) -> None:
    tree = tmp_path / "linux"
    shutil.copytree(MINI, tree)
    (tree / "drivers" / "bar").mkdir()
    (tree / "drivers" / "bar" / "bar.c").write_text(BAR)
    (tree / "drivers" / "legacy").mkdir()
    shutil.copy(tree / "drivers" / "foo" / "foo.c", tree / "drivers" / "legacy" / "old.c")
    (tree / ".gupaudit.toml").write_text(CONFIG)
    proc = _run("scan", str(tree), "--format", "json", "--no-cache", "--group-by", "group")
    assert proc.returncode == 0, proc.stderr
    sites = {(s["path"], s["line"]): s for s in json.loads(proc.stdout)["sites"]}
    assert not [p for p, _ in sites if p.startswith("drivers/legacy/")]   # excluded
    bar = sites[("drivers/bar/bar.c", 4)]
    assert (bar["api"], bar["status"], bar["subsystem"]) == ("bar_grab_pages", "unconverted",
                                                             "bar")
    assert [(r["api"], r["line"]) for r in bar["releases"]] == [("bar_drop_pages", 9)]
    assert bar["url"] == "https://elixir.example/linux/v6.1.0/source/drivers/bar/bar.c#L4"


def test_bad_config_is_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n")
    proc = _run("scan", str(MINI), "--config", str(bad), "--no-cache")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"gupaudit: error: config {bad}: unknown key(s) colour "
        "(known: accept, acquire, exclude, group, links, release)"]


ACCEPT = """\
[accept."drivers/bar/bar.c:bar_map"]
reason = "reviewed: the device only reads one page, briefly"
by = "A. Maintainer"

[accept."drivers/gone/gone.c:nothing"]
reason = "a site that is not there"
"""


def test_an_accepted_site_is_gup_ok_with_its_reason_and_leaves_the_findings(tmp_path) -> None:
    tree = tmp_path / "linux"
    shutil.copytree(MINI, tree)
    shutil.rmtree(tree / "drivers" / "foo")  # its own findings would hide the point
    (tree / "drivers" / "bar").mkdir()
    (tree / "drivers" / "bar" / "bar.c").write_text(BAR)
    (tree / ".gupaudit.toml").write_text(CONFIG + "\n" + ACCEPT)
    proc = _run("scan", str(tree), "--format", "json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    bar = next(s for s in json.loads(proc.stdout)["sites"] if s["path"] == "drivers/bar/bar.c")
    assert (bar["status"], bar["rules"]) == ("gup-ok", [])
    assert bar["reason"] == "accepted: reviewed: the device only reads one page, briefly"
    assert "gupaudit: warning: config: accept.\"drivers/gone/gone.c:nothing\" matches no site" \
        in proc.stderr
    # Out of the findings: --fail-on any passes where it failed before.
    assert _run("scan", str(tree), "--no-cache", "--fail-on", "any").returncode == 0
    (tree / ".gupaudit.toml").write_text(CONFIG)
    assert _run("scan", str(tree), "--no-cache", "--fail-on", "any").returncode == 1


def test_an_accept_entry_needs_a_reason(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[accept."drivers/x.c:f"]\nby = "someone"\n')
    proc = _run("scan", str(MINI), "--config", str(bad), "--no-cache")
    assert proc.returncode == 2
    assert "needs the form \"path:function\" and a reason" in proc.stderr


def test_the_audited_list_makes_ptrace_style_remote_access_gup_ok(tmp_path) -> None:
    """apis.toml [[audited]]: mm/memory.c's __access_remote_vm() writes through a FOLL_GET
    page and is flagged by the analysis; the maintainers keep it so on purpose."""
    tree = tmp_path / "linux"
    shutil.copytree(MINI, tree)
    (tree / "mm").mkdir()
    body = ("int %s(struct mm_struct *mm, unsigned long addr, void *buf, int len)\n{\n"
            "\tstruct page *page;\n\tvoid *maddr;\n\n"
            "\tif (get_user_pages_remote(mm, addr, 1, FOLL_WRITE, &page, NULL) <= 0)\n"
            "\t\treturn 0;\n\tmaddr = kmap(page);\n\tmemcpy(maddr, buf, len);\n"
            "\tset_page_dirty_lock(page);\n\tkunmap(page);\n\tput_page(page);\n"
            "\treturn len;\n}\n")
    (tree / "mm" / "memory.c").write_text(body % "__access_remote_vm")
    (tree / "mm" / "other.c").write_text(body % "poke_remote")  # the same code, not audited
    proc = _run("scan", str(tree), "--format", "json", "--no-cache")
    found = {s["path"]: s for s in json.loads(proc.stdout)["sites"]}
    audited = found["mm/memory.c"]
    assert audited["status"] == "gup-ok"
    assert audited["reason"].startswith("audited: ptrace-style remote access")
    assert found["mm/other.c"]["status"] == "unconverted"
