"""Custody chains: canonical JSON, SHA-256 links, and detection of any edit."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.custody import (
    GENESIS_HASH,
    ChainCheck,
    ChainLink,
    canonical_json,
    event_hash,
    iso_utc,
    verify_chain,
)
from marketplace.core.errors import DomainError

EVENTS: list[tuple[str, dict[str, object]]] = [
    ("#1 registered", {"type": "registered", "lot": "CEC-2024-01", "gross_mg": 1_000_000}),
    ("#2 assayed", {"type": "assayed", "fineness": "912.4", "fine_mg": 912_400, "lab": "Demo"}),
    ("#3 certified", {"type": "certified", "certificate": "DEMO-38522", "valid_to": "2026-01-01"}),
    ("#4 transferred", {"type": "transferred", "to": "jeweller:7", "fine_mg": 50_000}),
]


def build_chain(events: list[tuple[str, dict[str, object]]]) -> list[ChainLink]:
    """Link the events one after another from the genesis hash."""
    links: list[ChainLink] = []
    prev = GENESIS_HASH
    for ref, payload in events:
        link = ChainLink.create(ref, payload, prev)
        links.append(link)
        prev = link.hash
    return links


def test_an_intact_chain_verifies_and_an_empty_one_is_ok() -> None:
    assert verify_chain(build_chain(EVENTS)) == ChainCheck(
        ok=True, checked=4, first_bad=None, reason=None
    )
    empty = verify_chain([])
    assert empty.ok and empty.checked == 0 and empty.first_bad is None


def test_editing_an_event_breaks_the_chain_at_that_event() -> None:
    links = build_chain(EVENTS)
    edited = dict(links[1].payload, fine_mg=950_000)
    links[1] = replace(links[1], payload=edited)
    result = verify_chain(links)
    assert not result.ok
    assert (result.first_bad, result.reason, result.checked) == (
        "#2 assayed",
        "contents changed",
        1,
    )


def test_rehashing_an_edited_event_breaks_the_link_after_it() -> None:
    links = build_chain(EVENTS)
    edited = dict(links[1].payload, fine_mg=950_000)
    links[1] = ChainLink.create(links[1].ref, edited, links[1].prev_hash)
    result = verify_chain(links)
    assert (result.ok, result.first_bad, result.reason) == (False, "#3 certified", "link broken")


def test_removing_an_event_or_not_starting_at_genesis_is_detected() -> None:
    links = build_chain(EVENTS)
    without_second = [links[0], *links[2:]]
    result = verify_chain(without_second)
    assert (result.ok, result.first_bad, result.reason) == (False, "#3 certified", "link broken")
    result = verify_chain(links[1:])
    assert (result.ok, result.first_bad, result.reason) == (False, "#2 assayed", "link broken")


@given(
    st.integers(min_value=0, max_value=len(EVENTS) - 1),
    st.sampled_from(["payload", "hash", "prev_hash"]),
    st.text(min_size=1, max_size=8),
)
def test_any_edit_to_any_event_is_detected(index: int, field: str, junk: str) -> None:
    links = build_chain(EVENTS)
    link = links[index]
    if field == "payload":
        links[index] = replace(link, payload={**link.payload, "note": junk})
    else:
        links[index] = replace(link, **{field: getattr(link, field)[:-1] + "x" + junk})
    result = verify_chain(links)
    assert not result.ok
    assert result.first_bad == link.ref
    assert result.checked == index


def test_canonical_json_is_the_same_whatever_the_key_order() -> None:
    assert canonical_json({"b": [1, True, None], "a": "Señor de Ananea"}) == (
        '{"a":"Señor de Ananea","b":[1,true,null]}'.encode()
    )
    assert canonical_json({"x": 1, "y": {"q": 2, "p": 3}}) == canonical_json(
        {"y": {"p": 3, "q": 2}, "x": 1}
    )


def test_canonical_json_refuses_floats_anywhere() -> None:
    for value in (1.5, {"a": 1.0}, {"a": [1, {"b": float("nan")}]}):
        with pytest.raises(DomainError):
            canonical_json(value)
    with pytest.raises(DomainError):
        canonical_json({1: "non-string key"})


def test_event_hash_covers_the_previous_hash_and_the_payload() -> None:
    payload = {"type": "registered", "lot": "CEC-2024-01"}
    expected = hashlib.sha256(
        b'{"event":{"lot":"CEC-2024-01","type":"registered"},"prev":"' + b"0" * 64 + b'"}'
    ).hexdigest()
    assert event_hash(payload, GENESIS_HASH) == expected
    assert event_hash(payload, "1" * 64) != expected


def test_iso_utc_writes_utc_to_the_second() -> None:
    lima = timezone(timedelta(hours=-5))
    assert iso_utc(datetime(2024, 5, 1, 9, 3, 7, 999_999, tzinfo=lima)) == "2024-05-01T14:03:07Z"
    assert iso_utc(datetime(2024, 12, 31, 23, 59, 59)) == "2024-12-31T23:59:59Z"
