"""Use cases of provenance: register a lot, append custody events, transfer gold, verify chains."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from marketplace.catalog.models import Jeweller
from marketplace.core.custody import GENESIS_HASH, ChainCheck, ChainLink, event_hash, verify_chain
from marketplace.core.errors import DomainError, InvalidQuantity
from marketplace.core.gold import lot_fine_mg
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind
from marketplace.ledger.services import gold_account, post_transaction
from marketplace.provenance.models import (
    Cooperative,
    CustodyEvent,
    CustodyEventKind,
    GoldLot,
    TraceabilityModel,
)


@dataclass(frozen=True)
class LotRegistration:
    """What the Central records when a certified lot comes in (DESIGN §7)."""

    code: str
    cooperative_id: int
    traceability_model: str
    extraction_start: date
    extraction_end: date | None
    gross_mg: int
    assayed_fineness: Decimal
    assay_lab: str | None = None
    assay_report_number: str | None = None
    assayed_on: date | None = None
    refiner: str | None = None
    bar_serial: str | None = None
    bar_year: int | None = None
    certificate_number: str | None = None
    certificate_body: str | None = None
    certificate_valid_from: date | None = None
    certificate_valid_until: date | None = None
    mercury_used_g: int | None = None
    mercury_recovered_g: int | None = None
    water_recycled_percent: int | None = None
    notes: str = ""
    #: When the Central received the lot (now, unless recording an earlier arrival).
    registered_at: datetime | None = None
    is_demo: bool = False


def append_custody_event(
    lot: GoldLot,
    kind: CustodyEventKind,
    *,
    actor: str,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    jeweller_id: int | None = None,
    piece_id: int | None = None,
    fine_mg: int | None = None,
) -> CustodyEvent:
    """Add the next link of the lot's chain, hashed over the previous one.

    The lot row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL) so two writers cannot
    both append event N; the unique (lot, seq) constraint backs that up.
    """
    last = db.session.execute(
        sa.select(CustodyEvent.seq, CustodyEvent.hash)
        .where(CustodyEvent.lot_id == lot.id)
        .order_by(CustodyEvent.seq.desc())
        .limit(1)
        .with_for_update()
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    event = CustodyEvent(
        lot_id=lot.id,
        seq=seq,
        kind=kind.value,
        occurred_at=(occurred_at or utcnow()).replace(microsecond=0),
        actor=actor,
        jeweller_id=jeweller_id,
        piece_id=piece_id,
        fine_mg=fine_mg,
        details=details or {},
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event.payload(lot.code), prev_hash)
    db.session.add(event)
    db.session.flush()
    return event


def register_lot(data: LotRegistration, *, actor: str) -> GoldLot:
    """Register a certified lot: book its fine gold once and open its custody chain."""
    if not isinstance(data.gross_mg, int) or data.gross_mg <= 0:
        raise InvalidQuantity("A lot's gross mass must be a positive number of milligrams.")
    if data.traceability_model not in {m.value for m in TraceabilityModel}:
        raise DomainError(f"Unknown traceability model {data.traceability_model!r}.")
    if db.session.get(Cooperative, data.cooperative_id) is None:
        raise DomainError("Choose one of the Central's cooperatives.")
    if db.session.scalar(sa.select(GoldLot.id).where(GoldLot.code == data.code)) is not None:
        raise DomainError(f"A lot with code {data.code} is already registered.")
    fine = lot_fine_mg(data.gross_mg, data.assayed_fineness)
    fields = {k: v for k, v in vars(data).items() if k != "registered_at"}
    lot = GoldLot(**fields, fine_mg=fine, registered_at=data.registered_at or utcnow())
    db.session.add(lot)
    db.session.flush()
    post_transaction(
        "lot_registered",
        f"Lot {lot.code} registered: {fine} mg fine gold",
        [
            (gold_account(AccountKind.LOT_REGISTERED, lot.id), -fine),
            (gold_account(AccountKind.LOT_UNALLOCATED, lot.id), fine),
        ],
        idempotency_key=f"lot:{lot.id}:registered",
    )
    append_custody_event(
        lot,
        CustodyEventKind.REGISTERED,
        actor=actor,
        occurred_at=lot.registered_at,
        fine_mg=fine,
        details={
            "gross_mg": data.gross_mg,
            "traceability_model": data.traceability_model,
            "extraction_start": data.extraction_start.isoformat(),
            "extraction_end": data.extraction_end.isoformat() if data.extraction_end else None,
        },
    )
    return lot


def transfer_to_jeweller(
    lot: GoldLot,
    jeweller: Jeweller,
    fine_mg: int,
    *,
    invoice_ref: str,
    actor: str,
    occurred_at: datetime | None = None,
) -> CustodyEvent:
    """Move fine gold of a lot from the Central to a jeweller (a sale of metal, by invoice)."""
    if not isinstance(fine_mg, int) or isinstance(fine_mg, bool) or fine_mg <= 0:
        raise InvalidQuantity("Transfer a positive number of milligrams of fine gold.")
    if not jeweller.approved:
        raise DomainError(f"{jeweller.business_name} is not approved to receive gold yet.")
    post_transaction(
        "gold_transfer",
        f"{fine_mg} mg of lot {lot.code} to {jeweller.business_name} ({invoice_ref})",
        [
            (
                gold_account(AccountKind.LOT_UNALLOCATED, lot.id, label=f"lot {lot.code}"),
                -fine_mg,
            ),
            (
                gold_account(AccountKind.JEWELLER_HELD, lot.id, jeweller_id=jeweller.id),
                fine_mg,
            ),
        ],
    )
    return append_custody_event(
        lot,
        CustodyEventKind.TRANSFERRED,
        actor=actor,
        occurred_at=occurred_at,
        jeweller_id=jeweller.id,
        fine_mg=fine_mg,
        details={"invoice": invoice_ref, "to": jeweller.business_name},
    )


def chain_links(lot: GoldLot, events: Iterable[CustodyEvent] | None = None) -> list[ChainLink]:
    """The lot's stored events as chain links, in order."""
    rows = list(events) if events is not None else list(lot.custody_events)
    return [
        ChainLink(ref=e.ref, payload=e.payload(lot.code), prev_hash=e.prev_hash, hash=e.hash)
        for e in sorted(rows, key=lambda e: e.seq)
    ]


def verify_lot_chain(lot: GoldLot, events: Iterable[CustodyEvent] | None = None) -> ChainCheck:
    """Recompute the lot's hash chain from the stored rows and name the first bad event."""
    return verify_chain(chain_links(lot, events))
