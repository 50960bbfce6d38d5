"""Public catalog pages: the list with search and filters, a piece, a jeweller."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy.orm import joinedload, selectinload

from marketplace.catalog.models import (
    Category,
    Jeweller,
    JewellerStatus,
    Piece,
    PieceGold,
    PiecePhoto,
    PieceStatus,
)
from marketplace.catalog.queries import (
    SORT_LABELS,
    card_options,
    parse_filters,
    piece_timeline,
    search_pieces,
)
from marketplace.core.errors import NoRateInForce
from marketplace.core.gold import KARAT_FINENESS
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.http_caching import page_cached
from marketplace.premium.services import piece_premium, premium_by_cooperative, rates_on
from marketplace.provenance.models import (
    Cooperative,
    GoldLot,
)

bp = Blueprint("catalog", __name__)


@bp.get("/products")
@page_cached
def index() -> str:
    """The catalog: search, filters, sort and pagination, all in the URL."""
    filters = parse_filters(request.args)
    per_page = int(current_app.config["CATALOG_PAGE_SIZE"])
    result = search_pieces(filters, per_page)
    cooperatives = db.session.execute(
        sa.select(Cooperative.slug, Cooperative.short_name)
        .where(Cooperative.parent_id.is_not(None))
        .order_by(Cooperative.short_name)
    ).all()
    return render_template(
        "catalog/index.html",
        filters=filters,
        result=result,
        categories=[c.value for c in Category],
        karats=sorted(k for k in KARAT_FINENESS if 9 < k < 24),
        cooperatives=cooperatives,
        sorts=SORT_LABELS,
    )


@bp.get("/products/<slug>")
@page_cached
def piece(slug: str) -> str:
    """A piece with its photos, gold and provenance panel."""
    found = db.session.scalar(
        sa.select(Piece)
        .where(Piece.slug == slug, Piece.status != PieceStatus.DRAFT.value)
        .options(
            joinedload(Piece.jeweller),
            selectinload(Piece.photos).options(
                joinedload(PiecePhoto.image), joinedload(PiecePhoto.thumb)
            ),
            selectinload(Piece.gold).joinedload(PieceGold.lot).joinedload(GoldLot.cooperative),
        )
    )
    if found is None:
        abort(404)
    timeline = piece_timeline(found)
    today = utcnow().date()
    try:
        quote = piece_premium(found, rates_on(today, found.currency))
        by_coop = premium_by_cooperative(found, quote)
    except NoRateInForce:
        quote, by_coop = None, []
    return render_template(
        "catalog/piece.html",
        piece=found,
        timeline=timeline,
        quote=quote,
        by_coop=by_coop,
        today=today,
    )


@bp.get("/jewellers/<slug>")
@page_cached
def jeweller(slug: str) -> str:
    """A jeweller's public page with its active pieces."""
    found = db.session.scalar(
        sa.select(Jeweller).where(
            Jeweller.slug == slug, Jeweller.status == JewellerStatus.APPROVED.value
        )
    )
    if found is None:
        abort(404)
    pieces = db.session.scalars(
        sa.select(Piece)
        .where(Piece.jeweller_id == found.id, Piece.status == PieceStatus.ACTIVE.value)
        .order_by(Piece.created_at.desc(), Piece.id.desc())
        .limit(48)
        .options(*card_options())
    ).all()
    return render_template("catalog/jeweller.html", jeweller=found, pieces=pieces)
