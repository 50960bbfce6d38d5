"""The cooperative workspace at /cooperative/: the community premium dashboard, its lots, their
custody chains, where the gold went; in Spanish unless the officer chose English.

An officer sees only the cooperative their account is tied to; another cooperative's lot is a
404, as if it did not exist, and its figures are never read.
"""

from __future__ import annotations

from itertools import groupby
from operator import attrgetter

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.caching import cached
from marketplace.catalog.models import Jeweller, Piece, PieceGold
from marketplace.core.custody import ChainCheck
from marketplace.extensions import db
from marketplace.i18n import language
from marketplace.ledger.models import AccountKind, LedgerAccount
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.provenance.models import Cooperative, CustodyEvent, CustodyEventKind, GoldLot
from marketplace.provenance.services import verify_lot_chain
from marketplace.statements import services as statements
from marketplace.statements.svg import bar_chart

bp = Blueprint("cooperative", __name__, url_prefix="/cooperative")


def _my_cooperative() -> Cooperative:
    """The officer's cooperative."""
    user = signed_in_user()
    coop = db.session.get(Cooperative, user.cooperative_id) if user.cooperative_id else None
    if coop is None:
        abort(403)
    return coop


def _chain_checks(cooperative_id: int) -> dict[int, ChainCheck]:
    """Verify the custody chain of each of the cooperative's lots: their events read in one
    statement, in batches, one lot's chain held at a time (at 100,000 sales a cooperative's
    lots hold some 44,000 events; all of them at once took a worker's memory up by 120 MB)."""
    lots = {
        lot.id: lot
        for lot in db.session.scalars(
            sa.select(GoldLot).where(GoldLot.cooperative_id == cooperative_id)
        )
    }
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.lot_id.in_(list(lots)))
        .order_by(CustodyEvent.lot_id, CustodyEvent.seq)
        .execution_options(yield_per=1000)
    )
    checks = {
        lot_id: verify_lot_chain(lots[lot_id], list(chain))
        for lot_id, chain in groupby(events, key=attrgetter("lot_id"))
    }
    for lot_id, lot in lots.items():
        checks.setdefault(lot_id, verify_lot_chain(lot, []))
    return checks


@bp.get("/")
@role_required(Role.OFFICER)
def index() -> str:
    """The premium dashboard: totals, month by month, by lot, jeweller, piece and order line,
    payouts and statements; then the lots with where their gold is and whether each chain
    verifies."""
    coop = _my_cooperative()
    currency = current_app.config["PLATFORM_CURRENCY"]
    # Sums over the cooperative's share of the ledger: kept until the books change.
    dashboard = cached(
        f"cooperative-dashboard:{coop.id}:{currency}",
        lambda: statements.cooperative_dashboard(coop.id, currency),
    )
    points = dashboard.figures.chart
    chart = bar_chart(
        [(p.month, p.net) for p in points],
        chart_id="premium-chart",
        title=_("Community premium booked per month"),
        description=ngettext(
            "Bars: the premium that each month's sales booked, net of refunds, for the last "
            "%(num)d month with sales. The same figures are in the table below.",
            "Bars: the premium that each month's sales booked, net of refunds, for the last "
            "%(num)d months with sales. The same figures are in the table below.",
            len(points),
        ),
        label=lambda m: statements.month_label(m, language(), "short"),
        value=lambda v: statements.money_text(v, currency),
    )
    statement_links = {
        month: (
            statements.optional_url("statements.cooperative_statement_csv", period=month),
            statements.optional_url("statements.cooperative_statement_pdf", period=month),
        )
        for month in dashboard.figures.statement_months
    }
    lots = db.session.scalars(
        sa.select(GoldLot)
        .where(GoldLot.cooperative_id == coop.id)
        .order_by(GoldLot.extraction_start.desc(), GoldLot.code)
    ).all()
    figures = cached(f"cooperative-lot-gold:{coop.id}", lambda: lot_gold([lot.id for lot in lots]))
    # Every chain is recomputed from its rows, once per change of the public figures (any new
    # custody event changes them) or every CACHE_DEFAULT_TIMEOUT, not on every view.
    checks = cached(f"cooperative-chains:{coop.id}", lambda: _chain_checks(coop.id))
    held = db.session.execute(
        sa.select(Jeweller.id, Jeweller.business_name, Jeweller.slug,
                  sa.func.sum(LedgerAccount.balance))
        .join(LedgerAccount, LedgerAccount.jeweller_id == Jeweller.id)
        .join(GoldLot, GoldLot.id == LedgerAccount.lot_id)
        .where(
            LedgerAccount.kind == AccountKind.JEWELLER_HELD.value,
            GoldLot.cooperative_id == coop.id,
        )
        .group_by(Jeweller.id, Jeweller.business_name, Jeweller.slug)
        .order_by(Jeweller.business_name)
    ).all()
    return render_template(
        "cooperative/index.html",
        coop=coop,
        d=dashboard,
        chart=chart,
        currency=currency,
        statement_links=statement_links,
        statements_url=statements.optional_url("statements.cooperative_statements"),
        s=statements,
        lots=lots,
        figures=figures,
        checks=checks,
        held=held,
        empty=LotGold(),
    )


@bp.get("/lots/<code>")
@role_required(Role.OFFICER)
def lot(code: str) -> str:
    """One of the cooperative's lots: its chain, the transfers and the pieces made from it."""
    coop = _my_cooperative()
    found = db.session.scalar(
        sa.select(GoldLot).where(GoldLot.code == code, GoldLot.cooperative_id == coop.id)
    )
    if found is None:
        abort(404)
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.lot_id == found.id)
        .order_by(CustodyEvent.seq)
        .options(selectinload(CustodyEvent.jeweller))
    ).all()
    transfers = [e for e in events if e.kind == CustodyEventKind.TRANSFERRED.value]
    committed = dict(
        db.session.execute(
            sa.select(LedgerAccount.piece_id, sa.func.sum(LedgerAccount.balance))
            .where(
                LedgerAccount.lot_id == found.id,
                LedgerAccount.kind.in_(
                    [AccountKind.PIECE_COMMITTED.value, AccountKind.PIECE_RESERVED.value]
                ),
            )
            .group_by(LedgerAccount.piece_id)
        ).all()
    )
    sold = dict(
        db.session.execute(
            sa.select(LedgerAccount.piece_id, sa.func.sum(LedgerAccount.balance))
            .where(
                LedgerAccount.lot_id == found.id,
                LedgerAccount.kind == AccountKind.LOT_SOLD.value,
                LedgerAccount.piece_id.is_not(None),
            )
            .group_by(LedgerAccount.piece_id)
        ).all()
    )
    pieces = db.session.scalars(
        sa.select(Piece)
        .join(PieceGold, PieceGold.piece_id == Piece.id)
        .where(PieceGold.lot_id == found.id)
        .order_by(Piece.title)
        .options(selectinload(Piece.jeweller), selectinload(Piece.gold))
    ).all()
    return render_template(
        "cooperative/lot.html",
        coop=coop,
        lot=found,
        events=events,
        check=verify_lot_chain(found, events),
        transfers=transfers,
        pieces=pieces,
        committed=committed,
        sold=sold,
        gold=lot_gold([found.id]).get(found.id, LotGold()),
    )
