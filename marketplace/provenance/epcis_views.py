"""EPCIS 2.0 exports: ``/api/v1/lots/<code>/epcis`` and ``/api/v1/products/<slug>/epcis``."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import Blueprint, Response, abort, json, request
from sqlalchemy.orm import selectinload

from marketplace.catalog.models import Piece, PieceStatus
from marketplace.extensions import db
from marketplace.provenance.epcis import lot_document, piece_document
from marketplace.provenance.models import GoldLot

bp = Blueprint("epcis", __name__, url_prefix="/api/v1")


def _json_ld(doc: dict[str, object]) -> Response:
    """Send an EPCIS document with an ETag (from its events) and a short public cache life."""
    events = doc["epcisBody"]["eventList"]  # type: ignore[index]
    body = json.dumps(doc, sort_keys=True)
    etag_source = json.dumps(events, sort_keys=True)
    etag = hashlib.sha256(etag_source.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/ld+json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/lots/<code>/epcis")
def lot(code: str) -> Response:
    """Every custody event of a lot as an EPCISDocument."""
    found = db.session.scalar(
        sa.select(GoldLot)
        .where(GoldLot.code == code)
        .options(selectinload(GoldLot.custody_events), selectinload(GoldLot.cooperative))
    )
    if found is None:
        abort(404)
    return _json_ld(lot_document(found))


@bp.get("/products/<slug>/epcis")
def piece(slug: str) -> Response:
    """A piece's lots, their assay and certification, its crafting and its sales."""
    found = db.session.scalar(
        sa.select(Piece)
        .where(Piece.slug == slug, Piece.status != PieceStatus.DRAFT.value)
        .options(selectinload(Piece.gold))
    )
    if found is None:
        abort(404)
    return _json_ld(piece_document(found.id, [g.lot_id for g in found.gold]))
