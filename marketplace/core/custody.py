"""Custody hash chains: each lot's events are chained by SHA-256 so any edit is detectable.

Owns the canonical JSON encoding (the bytes that are hashed), the event hash, the UTC timestamp
format stored in events, and the verification of a chain. Floats are refused in hashed data so
a hash never depends on how a float happens to be printed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import DomainError

__all__ = [
    "GENESIS_HASH",
    "ChainCheck",
    "ChainLink",
    "canonical_json",
    "event_hash",
    "iso_utc",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event of every chain."""

LINK_BROKEN = "link broken"
CONTENTS_CHANGED = "contents changed"


def _plain(obj: object, path: str) -> object:
    """A copy of ``obj`` made only of JSON types; floats and other types raise DomainError."""
    if obj is None or isinstance(obj, str | bool):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        raise DomainError(
            f"Canonical JSON refuses floats ({path} = {obj!r}); use an int or a decimal string"
        )
    if isinstance(obj, Mapping):
        result: dict[str, object] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise DomainError(f"Canonical JSON keys must be strings ({path} has {key!r})")
            result[key] = _plain(value, f"{path}.{key}")
        return result
    if isinstance(obj, list | tuple):
        return [_plain(value, f"{path}[{i}]") for i, value in enumerate(obj)]
    raise DomainError(
        f"Canonical JSON cannot encode {type(obj).__name__} at {path}; convert it to a string first"
    )


def canonical_json(obj: object) -> bytes:
    """The canonical UTF-8 JSON bytes of ``obj``: sorted keys, no spaces, no floats."""
    return json.dumps(
        _plain(obj, "$"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def iso_utc(dt: datetime) -> str:
    """A timestamp as UTC to the second, e.g. "2024-05-01T14:03:00Z" (naive is taken as UTC)."""
    if not isinstance(dt, datetime):
        raise DomainError(f"Expected a datetime, not {type(dt).__name__} {dt!r}")
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_hash(payload: Mapping[str, object], prev_hash: str) -> str:
    """SHA-256 hex of canonical_json({"prev": prev_hash, "event": payload})."""
    data = canonical_json({"prev": prev_hash, "event": payload})
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    """One stored custody event: a human ``ref`` (e.g. "#3 assayed"), its payload and hashes."""

    ref: str
    payload: Mapping[str, object]
    prev_hash: str
    hash: str

    @classmethod
    def create(cls, ref: str, payload: Mapping[str, object], prev_hash: str) -> ChainLink:
        """A new link after ``prev_hash`` (GENESIS_HASH for the first), with its hash computed."""
        return cls(
            ref=ref, payload=payload, prev_hash=prev_hash, hash=event_hash(payload, prev_hash)
        )


@dataclass(frozen=True)
class ChainCheck:
    """Result of verifying a chain.

    ``checked`` counts the links found good before stopping (all of them when ``ok``);
    ``first_bad`` is the ref of the first bad link and ``reason`` is "link broken" or
    "contents changed".
    """

    ok: bool
    checked: int
    first_bad: str | None
    reason: str | None


def verify_chain(links: Sequence[ChainLink]) -> ChainCheck:
    """Verify a lot's chain in order, stopping at the first bad link and naming it.

    The first link must follow GENESIS_HASH and each next one the previous link's hash
    ("link broken"); each link's hash must be the hash of its payload and prev_hash
    ("contents changed"). An empty chain is ok with nothing checked.
    """
    expected_prev = GENESIS_HASH
    for checked, link in enumerate(links):
        if link.prev_hash != expected_prev:
            return ChainCheck(ok=False, checked=checked, first_bad=link.ref, reason=LINK_BROKEN)
        try:
            recomputed = event_hash(link.payload, link.prev_hash)
        except DomainError:
            recomputed = None
        if recomputed != link.hash:
            return ChainCheck(
                ok=False, checked=checked, first_bad=link.ref, reason=CONTENTS_CHANGED
            )
        expected_prev = link.hash
    return ChainCheck(ok=True, checked=len(links), first_bad=None, reason=None)
