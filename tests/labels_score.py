"""Scoring a scan against an answer key of tests/labels/ (shared by the test and the bench)."""

from __future__ import annotations


def match(entry: dict, sites: list[dict]) -> dict | None:
    """The scan's site for a key entry: same path, function and API, the nearest line."""
    same = [s for s in sites if (s["path"], s["function"], s["api"])
            == (entry["path"], entry["function"], entry["api"])]
    return min(same, key=lambda s: abs(s["line"] - entry["line"]), default=None)


def score(key: list[dict], sites: list[dict]
          ) -> tuple[int, list[tuple[str, str]], list[tuple[dict, dict | None]]]:
    """(entries whose status the scan gives, (key, scan) status pairs, disagreements)."""
    agree = 0
    pairs = []
    misses = []
    for entry in key:
        site = match(entry, sites)
        got = site["status"] if site else "missing"
        pairs.append((entry["status"], got))
        if got == entry["status"]:
            agree += 1
        else:
            misses.append((entry, site))
    return agree, pairs, misses
