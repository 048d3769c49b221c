"""The dashboard: a self-contained folder; in headless Chromium, the filters work.

The browser test uses Debian's chromium (installed by .ci/run, never downloaded by the
test) driven by Playwright with its executable path pointed at it; it skips, saying why,
where either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_history import repo  # noqa: F401 - the two-tag repository fixture

from gupaudit import history, pipeline
from gupaudit.report import html

MINI = FIXTURES / "trees" / "mini"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("GUPAUDIT_SCREENSHOTS", "/tmp/gupaudit-screenshots"))


@pytest.fixture
def dashboard(repo, tmp_path) -> Path:  # noqa: F811
    path, _ = repo
    found = history.history(path, tags="v*", cache_path=None, jobs=1)
    out = tmp_path / "dash"
    html.write([(rev.name, res) for rev, res in found], out)
    return out


def test_folder_is_self_contained(dashboard: Path) -> None:
    page = (dashboard / "index.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)     # nothing fetched from outside
    assert "<svg" in page and 'aria-label="trend per status"' in page
    assert (dashboard / "todo" / "index.md").exists()
    # The summary reads without JavaScript: the cards carry the numbers.
    cards = re.findall(r'<div class="card ([a-z-]+)"><b>(\d+)</b>', page)
    assert dict(cards)["converted"] == "2" and dict(cards)["unconverted"] == "0"


def test_single_tree_has_no_trend(tmp_path) -> None:
    html.write([("mini", pipeline.scan(MINI, jobs=1))], tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "One revision only" in page and "trend per status" not in page


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian package 'chromium')")
def test_in_headless_chromium(dashboard: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    errors: list[str] = []
    outside: list[str] = []
    folder = dashboard.resolve().as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(folder) else None)
        page.goto((dashboard / "index.html").resolve().as_uri())
        rows = page.locator("#findings tbody tr")
        assert rows.count() == 2
        assert page.locator("#f-count").inner_text() == "2 of 2 sites"
        page.select_option("#f-status", "unconverted")
        assert page.locator("#f-count").inner_text() == "0 of 2 sites"
        page.select_option("#f-status", "")
        page.fill("#f-search", "foo_pin")
        assert page.locator("#f-count").inner_text() == "1 of 2 sites"
        page.fill("#f-search", "")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
        browser.close()
    assert errors == [] and outside == []
