"""GS1 EPCIS 2.0 JSON-LD exports of a lot's and a piece's custody events.

Identifiers are URIs on the shop's own domain (``PUBLIC_BASE_URL``): a lot is an EPC class
(``…/lots/<code>``) measured in grams of fine gold (``GRM``), a piece a class
(``…/products/<slug>``) counted in units, parties are the Central, cooperatives and jewellers.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app

from marketplace.core.custody import iso_utc
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.provenance.models import CustodyEvent, CustodyEventKind, GoldLot

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _base() -> str:
    return str(current_app.config.get("PUBLIC_BASE_URL") or "https://oro-de-poto.example").rstrip(
        "/"
    )


def lot_uri(code: str) -> str:
    """The EPC class of a lot."""
    return f"{_base()}/lots/{code}"


def piece_uri(slug: str) -> str:
    """The EPC class of a piece."""
    return f"{_base()}/products/{slug}"


def party_uri(kind: str, ident: str | int) -> str:
    """A party: the Central, a cooperative or a jeweller."""
    return f"{_base()}/parties/{kind}/{ident}"


def _grams(mg: int | None) -> float:
    """EPCIS quantities are JSON numbers; grams with milligram precision."""
    return float(Decimal(mg or 0) / 1000)


def _common(event: CustodyEvent, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": f"{_base()}/events/{event.hash}",
        "eventTime": iso_utc(event.occurred_at),
        "eventTimeZoneOffset": "+00:00",
        "readPoint": {"id": party_uri("central", "cecomsap")},
    }


def epcis_event(event: CustodyEvent, lot: GoldLot, slugs: dict[int, str]) -> dict[str, Any]:
    """One custody event as an EPCIS 2.0 event."""
    lot_class = {"epcClass": lot_uri(lot.code), "quantity": _grams(event.fine_mg), "uom": "GRM"}
    coop = party_uri("cooperative", lot.cooperative.slug)
    kind = event.kind
    if kind == CustodyEventKind.REGISTERED.value:
        return {
            **_common(event, "ObjectEvent"),
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "quantityList": [lot_class],
            "bizLocation": {"id": coop},
            "ilmd": {
                "cooperative": lot.cooperative.name,
                "floId": lot.cooperative.flo_id,
                "extractionStart": lot.extraction_start.isoformat(),
                "extractionEnd": lot.extraction_end.isoformat() if lot.extraction_end else None,
                "traceabilityModel": lot.traceability_model,
                "grossMassGrams": _grams(lot.gross_mg),
                "assayedFinenessPerMille": str(lot.assayed_fineness),
            },
        }
    if kind in (CustodyEventKind.ASSAYED.value, CustodyEventKind.CERTIFIED.value):
        info = (
            event.details.get("certificate") or lot.certificate_number
            if kind == CustodyEventKind.CERTIFIED.value
            else event.details.get("report") or lot.assay_report_number
        )
        out = {
            **_common(event, "ObjectEvent"),
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "active",
            "quantityList": [{**lot_class, "quantity": _grams(lot.fine_mg)}],
        }
        if info:
            out["certificationInfo"] = f"{_base()}/lots/{lot.code}#{kind}:{info}"
        return out
    if kind == CustodyEventKind.TRANSFERRED.value:
        return {
            **_common(event, "ObjectEvent"),
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "quantityList": [lot_class],
            "sourceList": [{"type": "owning_party", "source": party_uri("central", "cecomsap")}],
            "destinationList": [
                {
                    "type": "owning_party",
                    "destination": party_uri("jeweller", event.jeweller_id or 0),
                }
            ],
            "bizTransactionList": [
                {
                    "type": "inv",
                    "bizTransaction": f"{_base()}/invoices/"
                    f"{event.details.get('invoice', 'unknown')}",
                }
            ],
        }
    if kind == CustodyEventKind.CRAFTED.value:
        slug = slugs.get(event.piece_id or 0, str(event.piece_id))
        return {
            **_common(event, "TransformationEvent"),
            "bizStep": "transforming",
            "disposition": "active",
            "inputQuantityList": [lot_class],
            "outputQuantityList": [
                {"epcClass": piece_uri(slug), "quantity": event.details.get("units", 1)}
            ],
            "bizLocation": {"id": party_uri("jeweller", event.jeweller_id or 0)},
        }
    if kind == CustodyEventKind.SOLD.value:
        slug = slugs.get(event.piece_id or 0, str(event.piece_id))
        return {
            **_common(event, "ObjectEvent"),
            "action": "OBSERVE",
            "bizStep": "retail_selling",
            "disposition": "retail_sold",
            "quantityList": [
                {"epcClass": piece_uri(slug), "quantity": event.details.get("units", 1)},
                lot_class,
            ],
            "bizTransactionList": [
                {"type": "po", "bizTransaction": f"{_base()}/orders/{event.details.get('order')}"}
            ],
        }
    return {  # shipped, or a kind added later: an observation
        **_common(event, "ObjectEvent"),
        "action": "OBSERVE",
        "bizStep": "shipping" if kind == CustodyEventKind.SHIPPED.value else "inspecting",
        "quantityList": [lot_class],
    }


def document(events: Iterable[tuple[CustodyEvent, GoldLot]]) -> dict[str, Any]:
    """An EPCISDocument holding ``events`` (in time order)."""
    rows = sorted(events, key=lambda pair: (pair[0].occurred_at, pair[0].lot_id, pair[0].seq))
    from marketplace.catalog.models import Piece

    piece_ids = {e.piece_id for e, _ in rows if e.piece_id}
    slugs = (
        dict(
            db.session.execute(sa.select(Piece.id, Piece.slug).where(Piece.id.in_(piece_ids))).all()
        )
        if piece_ids
        else {}
    )
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_utc(utcnow()),
        "epcisBody": {"eventList": [epcis_event(e, lot, slugs) for e, lot in rows]},
    }


def lot_document(lot: GoldLot) -> dict[str, Any]:
    """Every custody event of a lot."""
    return document((e, lot) for e in lot.custody_events)


def piece_document(piece_id: int, lot_ids: list[int]) -> dict[str, Any]:
    """A piece's story: its lots' origin, assay and certification, its crafting and sales."""
    rows = db.session.execute(
        sa.select(CustodyEvent, GoldLot)
        .join(GoldLot, GoldLot.id == CustodyEvent.lot_id)
        .where(CustodyEvent.lot_id.in_(lot_ids))
        .where(
            sa.or_(
                CustodyEvent.kind.in_(
                    [
                        CustodyEventKind.REGISTERED.value,
                        CustodyEventKind.ASSAYED.value,
                        CustodyEventKind.CERTIFIED.value,
                    ]
                ),
                CustodyEvent.piece_id == piece_id,
            )
        )
    ).all()
    return document((e, lot) for e, lot in rows)
