"""Public provenance pages: the lot registry, a lot with its custody chain, a cooperative."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import selectinload

from marketplace.caching import cached
from marketplace.catalog.models import Jeweller, Piece, PieceGold, PieceStatus
from marketplace.catalog.queries import card_options
from marketplace.extensions import db
from marketplace.http_caching import page_cached
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.premium.queries import PremiumTotals, premium_totals
from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot, LotEvidence
from marketplace.provenance.services import verify_lot_chain

bp = Blueprint("provenance", __name__)

LOTS_PER_PAGE = 50


@bp.get("/lots")
@page_cached
def lots() -> str:
    """The certified lot registry, with where each lot's fine gold is now (from the ledger)."""
    page = request.args.get("page", "1")
    plain = page.isascii() and page.isdigit() and len(page) < 5
    asked = int(page) if plain and int(page) > 0 else 1

    def registry_page() -> tuple[int, int, list[int], dict[int, LotGold]]:
        total = int(db.session.scalar(sa.select(sa.func.count(GoldLot.id))) or 0)
        pages = max(1, -(-total // LOTS_PER_PAGE))
        page_no = min(asked, pages)
        ids = list(
            db.session.scalars(
                sa.select(GoldLot.id)
                .order_by(GoldLot.extraction_start.desc(), GoldLot.code)
                .limit(LOTS_PER_PAGE)
                .offset((page_no - 1) * LOTS_PER_PAGE)
            )
        )
        return page_no, pages, ids, lot_gold(ids)

    # The gold figures come from the whole ledger: kept until a lot or the books change.
    page_no, pages, ids, figures = cached(f"lots:{asked}", registry_page)
    by_id = {
        lot.id: lot
        for lot in db.session.scalars(
            sa.select(GoldLot).where(GoldLot.id.in_(ids)).options(selectinload(GoldLot.cooperative))
        )
    }
    rows = [by_id[i] for i in ids if i in by_id]
    totals = LotGold(
        **{
            name: sum(getattr(f, name) for f in figures.values())
            for name in ("registered", "unallocated", "held", "committed", "reserved", "sold")
        }
    )
    return render_template(
        "provenance/lots.html",
        lots=rows,
        figures=figures,
        totals=totals,
        page=page_no,
        pages=pages,
        empty=LotGold(),
    )


#: A lot page shows a chain of at most this many events whole; a longer one, its first
#: ``CHAIN_START`` and latest ``CHAIN_LATEST`` events, with a link to all of it.
CHAIN_SHOWN = 60
CHAIN_START = 10
CHAIN_LATEST = 40


@bp.get("/lots/<code>")
@page_cached
def lot(code: str) -> str:
    """A lot: its data and evidence, its custody chain (verified now) and what it became."""
    found = db.session.scalar(
        sa.select(GoldLot)
        .where(GoldLot.code == code)
        .options(
            selectinload(GoldLot.cooperative).selectinload(Cooperative.certifications),
            selectinload(GoldLot.evidence).selectinload(LotEvidence.media_file),
        )
    )
    if found is None:
        abort(404)
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.lot_id == found.id)
        .order_by(CustodyEvent.seq)
        .options(selectinload(CustodyEvent.jeweller))
    ).all()
    check = verify_lot_chain(found, events)
    # Every event is verified; a long chain shows its start and its latest events, unless the
    # visitor asks for all of it (a lot sold into hundreds of pieces has hundreds of events).
    whole = request.args.get("chain") == "all" or len(events) <= CHAIN_SHOWN
    first, latest = (events, []) if whole else (events[:CHAIN_START], events[-CHAIN_LATEST:])
    pieces = db.session.scalars(
        sa.select(Piece)
        .where(Piece.status == PieceStatus.ACTIVE.value)
        .where(sa.exists().where(PieceGold.piece_id == Piece.id, PieceGold.lot_id == found.id))
        .order_by(Piece.created_at.desc(), Piece.id.desc())
        .limit(24)
        .options(*card_options())
    ).all()
    holders = db.session.scalars(
        sa.select(Jeweller)
        .where(
            sa.exists().where(
                CustodyEvent.lot_id == found.id, CustodyEvent.jeweller_id == Jeweller.id
            )
        )
        .order_by(Jeweller.business_name)
    ).all()
    return render_template(
        "provenance/lot.html",
        lot=found,
        events=first,
        latest=latest,
        hidden=len(events) - len(first) - len(latest),
        check=check,
        pieces=pieces,
        holders=holders,
        gold=lot_gold([found.id]).get(found.id, LotGold()),
    )


@bp.get("/cooperatives/<slug>")
@page_cached
def cooperative(slug: str) -> str:
    """A cooperative (or the Central): public facts with sources, lots, premium, pieces."""
    found = db.session.scalar(
        sa.select(Cooperative)
        .where(Cooperative.slug == slug)
        .options(
            selectinload(Cooperative.certifications),
            selectinload(Cooperative.membership_reports),
            selectinload(Cooperative.members),
            selectinload(Cooperative.lots),
            selectinload(Cooperative.parent),
        )
    )
    if found is None:
        abort(404)
    coop_ids = [found.id] + [m.id for m in found.members]

    def gold_and_premium() -> tuple[dict[int, LotGold], PremiumTotals]:
        lot_ids = db.session.scalars(
            sa.select(GoldLot.id).where(GoldLot.cooperative_id.in_(coop_ids))
        ).all()
        return lot_gold(lot_ids), premium_totals(coop_ids)

    # Read from the whole ledger: kept until a lot or the books change.
    figures, premium = cached(f"cooperative:{found.id}", gold_and_premium)
    pieces = db.session.scalars(
        sa.select(Piece)
        .where(Piece.status == PieceStatus.ACTIVE.value)
        .where(
            sa.exists().where(
                PieceGold.piece_id == Piece.id,
                PieceGold.lot_id == GoldLot.id,
                GoldLot.cooperative_id.in_(coop_ids),
            )
        )
        .order_by(Piece.created_at.desc(), Piece.id.desc())
        .limit(12)
        .options(*card_options())
    ).all()
    return render_template(
        "provenance/cooperative.html",
        coop=found,
        figures=figures,
        registered=sum(f.registered for f in figures.values()),
        sold=sum(f.sold for f in figures.values()),
        premium=premium,
        pieces=pieces,
    )
