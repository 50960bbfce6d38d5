"""Home, transparency and health."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from marketplace.caching import cached
from marketplace.catalog.models import Jeweller, JewellerStatus, Piece, PieceStatus
from marketplace.catalog.queries import card_options
from marketplace.extensions import db
from marketplace.http_caching import page_cached
from marketplace.ledger.services import lot_gold
from marketplace.premium.queries import premium_by_cooperative
from marketplace.provenance.models import Cooperative, GoldLot

bp = Blueprint("site", __name__)


@bp.get("/")
@page_cached
def home() -> str:
    """Newest pieces, the Central's cooperatives and the books in one line."""
    pieces = db.session.scalars(
        sa.select(Piece)
        .where(Piece.status == PieceStatus.ACTIVE.value)
        .order_by(Piece.created_at.desc(), Piece.id.desc())
        .limit(8)
        .options(*card_options())
    ).all()
    central = db.session.scalar(
        sa.select(Cooperative).where(Cooperative.parent_id.is_(None)).order_by(Cooperative.id)
    )
    members = db.session.scalars(
        sa.select(Cooperative).where(Cooperative.parent_id.is_not(None)).order_by(Cooperative.name)
    ).all()
    currency = current_app.config["PLATFORM_CURRENCY"]

    def books_in_one_line() -> dict[str, int]:
        figures = lot_gold()
        premium = premium_by_cooperative(currency=currency)
        return {
            "lot_count": len(figures),
            "registered": sum(f.registered for f in figures.values()),
            "sold": sum(f.sold for f in figures.values()),
            "premium_earned": sum(p.earned for p in premium.values()),
            "jeweller_count": int(
                db.session.scalar(
                    sa.select(sa.func.count(Jeweller.id)).where(
                        Jeweller.status == JewellerStatus.APPROVED.value
                    )
                )
                or 0
            ),
        }

    # Sums over the whole ledger: kept until a lot, a jeweller or the books change.
    return render_template(
        "site/home.html",
        pieces=pieces,
        central=central,
        members=members,
        currency=currency,
        **cached(f"home:{currency}", books_in_one_line),
    )


@bp.get("/transparency")
@page_cached
def transparency() -> str:
    """Community premium per cooperative and month, read from the ledger: booked, pending,
    available, paid (the same figures as ``/api/v1/transparency``)."""
    from marketplace.statements import services as statements

    currency = current_app.config["PLATFORM_CURRENCY"]

    def figures() -> dict[str, Any]:
        rows = statements.transparency(currency)
        total = {
            name: sum(r.total(name) for r in rows)
            for name in ("pending", "available", "paying", "paid")
        }
        total["booked"] = sum(r.booked for r in rows)
        lots = lot_gold()
        return {
            "rows": rows,
            "total": total,
            "registered": sum(f.registered for f in lots.values()),
            "sold": sum(f.sold for f in lots.values()),
            "lot_count": db.session.scalar(sa.select(sa.func.count(GoldLot.id))),
        }

    # Month-by-month sums over the whole ledger: kept until a lot or the books change (a sale,
    # a refund, an order completing, a payout).
    return render_template(
        "site/transparency.html",
        currency=currency,
        month_label=statements.month_label,
        api_url=statements.optional_url("api.transparency"),
        **cached(f"transparency:{currency}", figures),
    )


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness and a real round trip to the database."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        current_app.logger.warning("health check failed: %s", error)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
