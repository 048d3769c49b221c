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
        "(known: acquire, exclude, group, links, release)"]
