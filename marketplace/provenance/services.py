"""Use cases of provenance: register a lot, append custody events, transfer gold, verify chains."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.catalog.models import Jeweller
from marketplace.core.custody import (
    CONTENTS_CHANGED,
    GENESIS_HASH,
    LINK_BROKEN,
    ChainCheck,
    ChainLink,
    event_hash,
    verify_chain,
)
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
    LotEvidence,
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
        raise InvalidQuantity(_("A lot's gross mass must be a positive number of milligrams."))
    if data.traceability_model not in {m.value for m in TraceabilityModel}:
        raise DomainError(_("Unknown traceability model %(model)s.",
                            model=repr(data.traceability_model)))
    if db.session.get(Cooperative, data.cooperative_id) is None:
        raise DomainError(_("Choose one of the Central's cooperatives."))
    if db.session.scalar(sa.select(GoldLot.id).where(GoldLot.code == data.code)) is not None:
        raise DomainError(_("A lot with code %(code)s is already registered.", code=data.code))
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
        raise InvalidQuantity(_("Transfer a positive number of milligrams of fine gold."))
    if not jeweller.approved:
        raise DomainError(_("%(name)s is not approved to receive gold yet.",
                            name=jeweller.business_name))
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


def chain_fault(reason: str | None) -> str:
    """Why a chain does not verify (``ChainCheck.reason``), in the reader's language."""
    faults = {LINK_BROKEN: _("link broken"), CONTENTS_CHANGED: _("contents changed")}
    return faults.get(reason or "", reason or "")


# --- Recording what the Central learns about a lot after (or at) registration -----------------

#: Evidence documents may be PDF, JPEG or PNG; recognised by their first bytes, not their name.
EVIDENCE_SIGNATURES: dict[bytes, str] = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
EVIDENCE_LEVELS = ("evidenced", "verified")


class LotDataError(DomainError):
    """Lot data that breaks a rule; ``field`` names the LotRegistration field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        """Keep the message and the field it is about."""
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EvidenceDocument:
    """A document behind a lot's claims, as uploaded: its bytes and what it is."""

    title: str
    level: str
    issuer: str
    data: bytes
    filename: str = ""


def evidence_content_type(data: bytes) -> str | None:
    """The content type of an evidence file read from its first bytes (None if not allowed)."""
    for signature, content_type in EVIDENCE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    return None


def check_evidence_file(data: bytes, filename: str = "") -> str:
    """The content type of an evidence file; refuses one that is empty, too big or not allowed."""
    name = filename or _("The file")
    if not data:
        raise LotDataError(_("%(name)s is empty.", name=name), "evidence")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise LotDataError(
            _("%(name)s is %(size)s MB; each evidence file may be at most %(limit)s MB.",
              name=name, size=f"{len(data) / (1024 * 1024):.1f}",
              limit=MAX_EVIDENCE_BYTES // (1024 * 1024)),
            "evidence",
        )
    content_type = evidence_content_type(data)
    if content_type is None:
        raise LotDataError(_("%(name)s is not a PDF, JPEG or PNG file.", name=name), "evidence")
    return content_type


def check_evidence(doc: EvidenceDocument) -> str:
    """Refuse an evidence document that is empty, too big, of another type or unlabelled."""
    content_type = check_evidence_file(doc.data, doc.filename)
    if doc.level not in EVIDENCE_LEVELS:
        raise LotDataError(_("Say whether the document is evidenced or verified."), "evidence")
    if not doc.title.strip() or not doc.issuer.strip():
        raise LotDataError(_("Give %(name)s a title and an issuer.",
                              name=doc.filename or _("the file")), "evidence")
    return content_type


def add_lot_evidence(lot: GoldLot, doc: EvidenceDocument) -> LotEvidence:
    """Keep a document behind the lot: its bytes addressed by SHA-256, and what it shows."""
    from marketplace.media.services import store_bytes

    content_type = check_evidence(doc)
    media = store_bytes(doc.data, content_type, original_name=doc.filename[:255] or None)
    evidence = LotEvidence(
        lot_id=lot.id,
        title=doc.title.strip()[:200],
        level=doc.level,
        issuer=doc.issuer.strip()[:200],
        sha256=media.sha256,
        media_file_id=media.id,
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


def check_lot_registration(data: LotRegistration) -> None:
    """Refuse lot data whose parts contradict each other (raises LotDataError naming the field)."""
    if not data.code.strip():
        raise LotDataError(_("Give the lot a code."), "code")
    if data.extraction_end is not None and data.extraction_end < data.extraction_start:
        raise LotDataError(_("The extraction cannot end before it starts."), "extraction_end")
    if isinstance(data.gross_mg, bool) or not isinstance(data.gross_mg, int) or data.gross_mg <= 0:
        raise LotDataError(_("The gross mass must be more than 0 g."), "gross_mg")
    fineness = data.assayed_fineness
    if (
        not isinstance(fineness, Decimal)
        or not fineness.is_finite()
        or not (Decimal(0) < fineness <= Decimal(1000))
    ):
        raise LotDataError(_("The fineness must be above 0 and at most 1000 ‰."),
                           "assayed_fineness")
    if fineness != fineness.quantize(Decimal("0.1")):
        raise LotDataError(_("Give the fineness with at most one decimal."), "assayed_fineness")
    if bool(data.refiner) != bool(data.bar_serial):
        raise LotDataError(_("Give both the refiner and the bar serial, or neither."), "bar_serial")
    if data.certificate_number and (not data.certificate_body or not data.certificate_valid_from):
        raise LotDataError(
            _("A certificate needs its body and the day it is valid from."),
            "certificate_valid_from",
        )
    _check_validity(
        data.certificate_valid_from, data.certificate_valid_until, "certificate_valid_until"
    )
    used, recovered = data.mercury_used_g, data.mercury_recovered_g
    for value, name in ((used, "mercury_used_g"), (recovered, "mercury_recovered_g")):
        if value is not None and value < 0:
            raise LotDataError(_("Mercury is counted in grams, 0 or more."), name)
    if recovered is not None and used is None:
        raise LotDataError(
            _("Give the mercury used as well as the mercury recovered."), "mercury_used_g"
        )
    if used is not None and recovered is not None and recovered > used:
        raise LotDataError(
            _("More mercury recovered (%(recovered)s g) than used (%(used)s g) is not possible.",
              recovered=recovered, used=used),
            "mercury_recovered_g",
        )
    water = data.water_recycled_percent
    if water is not None and not 0 <= water <= 100:
        raise LotDataError(
            _("Water recycled is a percentage from 0 to 100."), "water_recycled_percent"
        )


def _check_validity(valid_from: date | None, valid_until: date | None, field: str) -> None:
    """A validity period ends on or after it starts."""
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise LotDataError(_("The validity cannot end before it starts."), field)


def record_assay(
    lot: GoldLot,
    *,
    lab: str,
    report_number: str,
    assayed_on: date,
    fineness: Decimal,
    actor: str,
) -> CustodyEvent:
    """Append an "assayed" event; the assay must confirm the fineness booked at registration.

    The lot's fine mass was booked into the gold ledger once, from the registered fineness, so a
    different figure cannot be recorded here (it would need a correcting transaction). The
    lot's own assay fields are filled in where they were still empty.
    """
    if Decimal(fineness) != Decimal(lot.assayed_fineness):
        raise LotDataError(
            _("This assay reads %(fineness)s ‰ but lot %(code)s was registered at "
              "%(registered)s ‰; its fine gold was booked from that figure at registration, so "
              "a different fineness cannot be recorded here.", fineness=fineness, code=lot.code,
              registered=lot.assayed_fineness),
            "fineness",
        )
    if not lab.strip() or not report_number.strip():
        raise LotDataError(_("Give the laboratory and the report number."), "lab")
    lot.assay_lab = lot.assay_lab or lab.strip()
    lot.assay_report_number = lot.assay_report_number or report_number.strip()
    lot.assayed_on = lot.assayed_on or assayed_on
    return append_custody_event(
        lot,
        CustodyEventKind.ASSAYED,
        actor=actor,
        details={
            "lab": lab.strip(),
            "report": report_number.strip(),
            "assayed_on": assayed_on.isoformat(),
            "fineness": str(lot.assayed_fineness),
        },
    )


def record_certification(
    lot: GoldLot,
    *,
    certificate_number: str,
    body: str,
    valid_from: date,
    valid_until: date | None,
    actor: str,
) -> CustodyEvent:
    """Set the lot's certificate and append a "certified" event to its chain."""
    if not certificate_number.strip() or not body.strip():
        raise LotDataError(
            _("Give the certificate number and the certification body."), "certificate_number"
        )
    _check_validity(valid_from, valid_until, "valid_until")
    lot.certificate_number = certificate_number.strip()
    lot.certificate_body = body.strip()
    lot.certificate_valid_from = valid_from
    lot.certificate_valid_until = valid_until
    return append_custody_event(
        lot,
        CustodyEventKind.CERTIFIED,
        actor=actor,
        details={
            "certificate": lot.certificate_number,
            "body": lot.certificate_body,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
        },
    )
