"""The both-ways test: every annotated expectation is found, and nothing else is."""

from __future__ import annotations

from pathlib import Path

import pytest
from annotations import read_annotations, read_leaks
from conftest import FIXTURES, analyse_fixture

ALL = sorted(p for p in FIXTURES.rglob("*.c") if "trees" not in p.parts)


def _describe(name: str, missing: set, noisy: set) -> str:
    lines = [f"{name}:"]
    noisy_by_line = {k[0]: k for k in noisy}
    for line, status, rules in sorted(missing):
        got = noisy_by_line.pop(line, None)
        want = f"{status} {' '.join(sorted(rules))}".strip()
        if got:
            lines.append(f"  line {line}: expected {want}, got {got[1]} "
                         f"{' '.join(sorted(got[2]))}".rstrip())
        else:
            lines.append(f"  line {line}: expected {want}, found no site")
    for line, status, rules in sorted(noisy_by_line.values()):
        lines.append(f"  line {line}: unexpected site {status} {' '.join(sorted(rules))}")
    return "\n".join(lines)


@pytest.mark.parametrize("fixture", ALL, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_findings_match_annotations(fixture: Path) -> None:
    notes, release_lines, flags = read_annotations(fixture)
    sites = analyse_fixture(fixture, flags)
    got = {(s.line, s.status.value, frozenset(s.rules)) for s in sites}
    want = {n.key for n in notes if not n.todo}
    gap_lines = {n.line for n in notes if n.todo}
    missing = want - got
    noisy = {k for k in got - want if k[0] not in gap_lines}
    assert not missing and not noisy, _describe(fixture.name, missing, noisy)
    assert not {n.key for n in notes if n.todo} & got, (
        f"{fixture.name}: a todo: now passes, make it expect:")


@pytest.mark.parametrize("fixture", ALL, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_functions_and_releases_match(fixture: Path) -> None:
    notes, release_lines, flags = read_annotations(fixture)
    sites = {s.line: s for s in analyse_fixture(fixture, flags)}
    for note in notes:
        if note.function and note.line in sites:
            assert sites[note.line].function == note.function, (
                f"{fixture.name}:{note.line}: in {sites[note.line].function}(), "
                f"expected {note.function}()")
    reached = {r.line for s in sites.values() for r in s.releases if r.path == fixture.name}
    assert reached == release_lines, (
        f"{fixture.name}: releases not reached: {sorted(release_lines - reached)}; "
        f"reached but not marked: {sorted(reached - release_lines)}")


@pytest.mark.parametrize("fixture", ALL, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_leaks_match(fixture: Path) -> None:
    """Every ``/* leak */`` line is where some site's pages leave still held, and no site
    reports a leak anywhere else."""
    _, _, flags = read_annotations(fixture)
    got = {line for s in analyse_fixture(fixture, flags) for line, _, _ in s.leaks}
    want = read_leaks(fixture)
    assert got == want, (f"{fixture.name}: leaks not reported: {sorted(want - got)}; "
                         f"reported but not marked: {sorted(got - want)}")


def test_pages_written_through_a_kernel_mapping_are_case_5() -> None:
    """vmap() is CPU access: pages kept mapped and dirtied at release were written by the
    kernel (pin_user_pages.rst case 5), not by a device (case 2)."""
    sites = {s.function: s for s in analyse_fixture(FIXTURES / "status/kernel-writes.c")}
    ring = sites["ring_setup"]
    assert (ring.status.value, ring.case) == ("unconverted", 5)
