"""The Central's use cases on certified lots: register one with its evidence, add documents,
record an assay or a certificate, and sell fine gold to a jeweller. Each goes through the
provenance services (gold ledger and custody chain) and is written to the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import User
from marketplace.admin import audit
from marketplace.admin.services import FieldError, application_status_word
from marketplace.catalog.models import Jeweller
from marketplace.core.errors import InsufficientGold, InvalidQuantity
from marketplace.core.gold import format_grams
from marketplace.extensions import db
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.provenance import services as provenance
from marketplace.provenance.models import (
    Cooperative,
    CustodyEvent,
    CustodyEventKind,
    GoldLot,
    LotEvidence,
)
from marketplace.provenance.services import EvidenceDocument, LotDataError, LotRegistration

LOTS_PER_PAGE = 50


def central_actor() -> str:
    """How the Central signs the custody events it appends (no staff names on public pages)."""
    name = db.session.scalar(
        sa.select(Cooperative.short_name).where(Cooperative.parent_id.is_(None))
        .order_by(Cooperative.id).limit(1))
    return f"{name} (the Central)" if name else "The Central"


def _audit_evidence(actor: User, lot: GoldLot, evidence: LotEvidence) -> None:
    """One audit record per document kept."""
    audit.record(actor, "lot.evidence_added", evidence, after=audit.snapshot(evidence),
                 summary=f"“{evidence.title}” added to lot {lot.code} "
                         f"(SHA-256 {evidence.sha256[:12]}…)")


def register_lot(
    data: LotRegistration, documents: list[EvidenceDocument], *, actor: User
) -> GoldLot:
    """Register a certified lot with its documents: books its fine gold, opens its chain.

    Everything is checked before anything is written: the data, every document and that the
    code is free.
    """
    provenance.check_lot_registration(data)
    for doc in documents:
        provenance.check_evidence(doc)
    if db.session.scalar(sa.select(GoldLot.id).where(GoldLot.code == data.code)) is not None:
        raise LotDataError(_("A lot with code %(code)s is already registered.", code=data.code),
                           "code")
    lot = provenance.register_lot(data, actor=central_actor())
    audit.record(actor, "lot.registered", lot, after=audit.snapshot(lot),
                 summary=f"Lot {lot.code} registered: {format_grams(lot.fine_mg, 'en')} fine")
    for doc in documents:
        _audit_evidence(actor, lot, provenance.add_lot_evidence(lot, doc))
    return lot


def add_evidence(lot: GoldLot, documents: list[EvidenceDocument], *, actor: User) -> int:
    """Keep more documents behind a lot; returns how many."""
    if not documents:
        raise FieldError(_("Choose at least one file."), "evidence")
    for doc in documents:
        provenance.check_evidence(doc)
    for doc in documents:
        _audit_evidence(actor, lot, provenance.add_lot_evidence(lot, doc))
    return len(documents)


def record_assay(
    lot: GoldLot,
    *,
    lab: str,
    report_number: str,
    assayed_on: date,
    fineness: Decimal,
    actor: User,
) -> CustodyEvent:
    """Record an assay report that confirms the lot's fineness, as an "assayed" event."""
    before = audit.snapshot(lot)
    event = provenance.record_assay(lot, lab=lab, report_number=report_number,
                                    assayed_on=assayed_on, fineness=fineness, actor=lab.strip())
    audit.record(actor, "lot.assay_recorded", lot, before=before, after=audit.snapshot(lot),
                 summary=f"Assay {report_number} ({lab}) of lot {lot.code}: {fineness} ‰, "
                         f"custody event {event.ref}")
    return event


def certify_lot(
    lot: GoldLot,
    *,
    certificate_number: str,
    body: str,
    valid_from: date,
    valid_until: date | None,
    actor: User,
) -> CustodyEvent:
    """Set the certificate that covers the lot and append a "certified" event."""
    before = audit.snapshot(lot)
    event = provenance.record_certification(
        lot, certificate_number=certificate_number, body=body, valid_from=valid_from,
        valid_until=valid_until, actor=body.strip())
    audit.record(actor, "lot.certified", lot, before=before, after=audit.snapshot(lot),
                 summary=f"Lot {lot.code} certified: {certificate_number} ({body}), "
                         f"custody event {event.ref}")
    return event


def transfer_gold(
    lot: GoldLot, jeweller_id: int, fine_mg: int, *, invoice_ref: str, actor: User
) -> CustodyEvent:
    """Sell ``fine_mg`` of the lot's unallocated fine gold to an approved jeweller.

    The same invoice cannot move gold of the same lot to the same jeweller twice, so a form
    sent twice moves the gold once.
    """
    jeweller = db.session.get(Jeweller, jeweller_id) if jeweller_id else None
    if jeweller is None:
        raise FieldError(_("Choose a jeweller."), "jeweller_id")
    if not jeweller.approved:
        raise FieldError(
            _("%(name)s is not approved to receive gold (its application is %(status)s).",
              name=jeweller.business_name, status=application_status_word(jeweller.status)),
            "jeweller_id")
    invoice = invoice_ref.strip()
    if not invoice:
        raise FieldError(_("Enter the invoice reference."), "invoice_ref")
    earlier = db.session.scalars(
        sa.select(CustodyEvent).where(
            CustodyEvent.lot_id == lot.id,
            CustodyEvent.kind == CustodyEventKind.TRANSFERRED.value,
            CustodyEvent.jeweller_id == jeweller.id,
        )
    ).all()
    if any(e.details.get("invoice") == invoice for e in earlier):
        raise FieldError(
            _("Invoice %(invoice)s already moved gold of lot %(code)s to %(name)s; nothing was "
              "transferred again.", invoice=invoice, code=lot.code, name=jeweller.business_name),
            "invoice_ref")
    try:
        event = provenance.transfer_to_jeweller(lot, jeweller, fine_mg, invoice_ref=invoice,
                                                actor=central_actor())
    except (InsufficientGold, InvalidQuantity) as error:
        raise FieldError(error.message, "fine_g") from error
    audit.record(actor, "lot.gold_transferred", event, after=audit.snapshot(event),
                 summary=f"{format_grams(fine_mg, 'en')} fine gold of lot {lot.code} to "
                         f"{jeweller.business_name}, invoice {invoice}")
    return event


# --- Reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotsPage:
    """A page of lots with their gold figures."""

    lots: list[GoldLot]
    figures: dict[int, LotGold]
    page: int
    pages: int


def lots_page(page: int = 1) -> LotsPage:
    """Lots, newest registration first, with where each one's gold is now."""
    total = int(db.session.scalar(sa.select(sa.func.count(GoldLot.id))) or 0)
    pages = max(1, -(-total // LOTS_PER_PAGE))
    page = min(max(page, 1), pages)
    lots = list(db.session.scalars(
        sa.select(GoldLot).options(selectinload(GoldLot.cooperative))
        .order_by(GoldLot.registered_at.desc(), GoldLot.id.desc())
        .limit(LOTS_PER_PAGE).offset((page - 1) * LOTS_PER_PAGE)))
    return LotsPage(lots, lot_gold([lot.id for lot in lots]), page, pages)


def find_lot(code: str) -> GoldLot | None:
    """A lot by code, with what its admin page shows."""
    return db.session.scalar(
        sa.select(GoldLot).where(GoldLot.code == code).options(
            selectinload(GoldLot.cooperative),
            selectinload(GoldLot.evidence).selectinload(LotEvidence.media_file),
            selectinload(GoldLot.custody_events).selectinload(CustodyEvent.jeweller),
        ))
