"""What a user reads for an extraction from a kernel-backed iterator: the evidence in the
reason, and a confidence that says how far away it was seen."""

from __future__ import annotations

from conftest import FIXTURES, analyse_fixture


def _by_function() -> dict:
    return {s.function: s for s in analyse_fixture(FIXTURES / "flow" / "kernel-iterators.c")}


def test_the_reason_names_the_evidence() -> None:
    sites = _by_function()
    assert "iov_iter_kvec() at line 14" in sites["peek_kvec"].reason
    assert "iov_iter_bvec() at line 21 in load_bvec()" in sites["peek_bvec"].reason
    assert "under `if (flags&MSG_SPLICE_PAGES)`" in sites["push_frags"].reason
    assert "every caller: send_locked()" in sites["splice_one"].reason


def test_confidence_is_lower_when_seen_through_callers() -> None:
    sites = _by_function()
    assert sites["peek_kvec"].confidence == "high"
    assert sites["push_frags"].confidence == "high"
    assert sites["splice_one"].confidence == "medium"
    assert sites["splice_two"].confidence == "low"  # unknown
