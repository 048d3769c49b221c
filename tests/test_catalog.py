"""Data and code kept in step: catalogues complete, queries compile from the package."""

from __future__ import annotations

import re
import string

import tree_sitter as ts
from annotations import read_annotations
from conftest import FIXTURES

from gupaudit import catalog, parse
from gupaudit.catalog import resource


def test_every_query_compiles_through_the_packaged_folder() -> None:
    files = sorted(resource("queries").glob("*.scm"))
    assert {f.stem for f in files} >= {"calls", "assignments", "initializers", "functions"}
    for f in files:
        text = f.read_text()
        q = ts.Query(parse.language(), text)
        declared = set(re.findall(r";\s+(@[\w.]+)", text))
        used = {f"@{q.capture_name(i)}" for i in range(q.capture_count)}
        assert used == declared, f"{f.name}: captures used {used}, declared {declared}"


def test_rules_are_complete_and_format() -> None:
    fields = {"api", "target", "release", "function", "line", "detail"}
    for rule in catalog.load().rules.values():
        assert re.fullmatch(r"GUP\d{3}", rule.id) and re.fullmatch(r"[a-z0-9-]+", rule.slug)
        assert rule.confidence in ("high", "medium", "low")
        names = {n for _, n, _, _ in string.Formatter().parse(rule.message) if n}
        assert names <= fields, f"{rule.id}: unknown placeholders {names - fields}"


def test_every_rule_has_a_fixture_that_expects_it() -> None:
    expected = set()
    for path in FIXTURES.rglob("*.c"):
        notes, _, _ = read_annotations(path)
        expected |= {r for n in notes if not n.todo for r in n.rules}
    assert expected == set(catalog.load().rules)


def test_prefilter_covers_every_acquisition_api() -> None:
    needles = catalog.load().prefilter_needles()
    for name in catalog.load().acquire:
        assert any(n.decode() in name for n in needles)
