"""What the premium dashboards, the monthly statements and the transparency page show.

Built from ``marketplace.ledger.reports`` (a fixed number of grouped queries). Money stays in
integer minor units until it is written. Nothing here names a shopper: order lines are traced
by order number and line position only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from babel.dates import format_date
from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from marketplace.core.money import Money, format_money
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.reports import (
    COOPERATIVE,
    JEWELLER,
    Balances,
    EarningLine,
    Group,
    MonthEnd,
    MonthFlows,
    Movement,
    PremiumLineRow,
    Side,
    StatementTotals,
)

#: How many months the chart shows (the newest with a booking); every month is in the table
#: of statements.
CHART_MONTHS = 12
#: Rows shown per breakdown on a dashboard (the statements carry every line).
BREAKDOWN_ROWS = 25
LINE_ROWS = 40


# --- words and formats ------------------------------------------------------------------------


def month_label(period: str, lang: str, fmt: str = "long") -> str:
    """``"2025-06"`` → "junio de 2025" / "June 2025" (``fmt="short"``: "jun 25")."""
    year, month = (int(x) for x in period.split("-"))
    if fmt == "short":
        pattern = "LLL yy"
    else:
        pattern = "MMMM 'de' y" if lang == "es" else "MMMM y"
    return str(format_date(date(year, month, 1), pattern, locale=lang))


def day_label(value: datetime | date | None, lang: str) -> str:
    """"3 jun 2025" / "3 Jun 2025"."""
    if value is None:
        return ""
    return str(format_date(value, "d MMM y", locale=lang))


def money_text(amount: int, currency: str) -> str:
    """Minor units as "S/ 1,234.50" (soles are always written the Peruvian way)."""
    return format_money(Money(int(amount), currency), "en")


def decimal_text(amount: int, currency: str) -> str:
    """Minor units as a plain decimal for spreadsheets: 123450 → "1234.50"."""
    return str(Money(int(amount), currency).to_decimal())


def optional_url(endpoint: str, **values: Any) -> str | None:
    """``url_for``, or None while the endpoint's blueprint is not registered."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


# --- dashboards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    """One month of the chart: booked, refunds, net."""

    month: str
    booked: int
    refunds: int

    @property
    def net(self) -> int:
        """Booked net of refunds: the bar."""
        return self.booked - self.refunds


def chart_points(flows: Sequence[MonthFlows], months: int = CHART_MONTHS) -> list[ChartPoint]:
    """The newest ``months`` months with a booking or a refund, oldest first."""
    points = [ChartPoint(f.month, f.booked, f.refunds) for f in flows if f.booked or f.refunds]
    return points[-months:]


@dataclass
class PayeeFigures:
    """What both dashboards show: balances, months, statements, payouts."""

    currency: str
    balances: Balances
    flows: list[MonthFlows]
    chart: list[ChartPoint]
    payouts: list[Any]

    @property
    def statement_months(self) -> list[str]:
        """Months with a statement, newest first."""
        return [f.month for f in reversed(self.flows)]

    @property
    def has_money(self) -> bool:
        """Anything was ever booked."""
        return bool(self.flows)


def payee_figures(side: Side, owner_id: int, currency: str) -> PayeeFigures:
    """Balances, month flows and payouts of one payee: three queries."""
    flows = reports.monthly_flows(side, [owner_id], currency).get(owner_id, [])
    return PayeeFigures(
        currency=currency,
        balances=reports.balances(side, [owner_id], currency).get(owner_id, reports.Balances()),
        flows=flows,
        chart=chart_points(flows),
        payouts=reports.payouts_of(side, owner_id, currency),
    )


@dataclass(frozen=True)
class Breakdown:
    """The first rows of a breakdown, and whether more exist."""

    rows: list[Group]
    more: bool


def _first(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    return rows[:limit], len(rows) > limit


def _breakdown(cooperative_id: int, currency: str, by: str) -> Breakdown:
    rows, more = _first(
        reports.premium_breakdown(cooperative_id, currency, by, limit=BREAKDOWN_ROWS + 1),
        BREAKDOWN_ROWS,
    )
    return Breakdown(rows, more)


@dataclass
class CooperativeDashboard:
    """The officer's premium dashboard."""

    figures: PayeeFigures
    by_lot: Breakdown
    by_jeweller: Breakdown
    by_piece: Breakdown
    total: Group | None
    lines: list[PremiumLineRow]
    more_lines: bool

    @property
    def lines_agree(self) -> bool:
        """The premium lines add up to what the ledger holds for the cooperative."""
        return (self.total.net if self.total else 0) == self.figures.balances.earned


def cooperative_dashboard(cooperative_id: int, currency: str) -> CooperativeDashboard:
    """Everything on ``/cooperative/`` about money: eight queries, whatever the data."""
    totals = reports.premium_breakdown(cooperative_id, currency, "all")
    lines, more = _first(
        reports.premium_lines(
            cooperative_id, currency, limit=LINE_ROWS + 1, newest_first=True, booked_only=True
        ),
        LINE_ROWS,
    )
    return CooperativeDashboard(
        figures=payee_figures(COOPERATIVE, cooperative_id, currency),
        by_lot=_breakdown(cooperative_id, currency, "lot"),
        by_jeweller=_breakdown(cooperative_id, currency, "jeweller"),
        by_piece=_breakdown(cooperative_id, currency, "piece"),
        total=totals[0] if totals else None,
        lines=lines,
        more_lines=more,
    )


@dataclass
class JewellerEarnings:
    """The jeweller's earnings page."""

    figures: PayeeFigures
    by_piece: reports.EarningTotals
    lines: list[EarningLine]
    more_lines: bool

    @property
    def lines_agree(self) -> bool:
        """The order lines (and shipping) add up to what the ledger holds for the jeweller."""
        return self.by_piece.net == self.figures.balances.earned


def jeweller_earnings(jeweller_id: int, currency: str) -> JewellerEarnings:
    """Everything on ``/jeweller/earnings``: a fixed number of queries."""
    lines, more = _first(
        reports.earning_lines(jeweller_id, currency, limit=LINE_ROWS + 1, newest_first=True),
        LINE_ROWS,
    )
    return JewellerEarnings(
        figures=payee_figures(JEWELLER, jeweller_id, currency),
        by_piece=reports.earnings_by_piece(jeweller_id, currency),
        lines=lines,
        more_lines=more,
    )


# --- statements -------------------------------------------------------------------------------


def _words() -> dict[str, str]:
    """A statement's words, in the language of the moment."""
    return {
        "title_cooperative": _("Community premium statement"),
        "title_jeweller": _("Earnings statement"),
        "payee_cooperative": _("Cooperative"),
        "payee_jeweller": _("Workshop"),
        "period": _("Period"),
        "currency": _("Currency"),
        "generated": _("Issued"),
        "opening": _("Opening balance"),
        "booked": _("Premium booked"),
        "booked_jeweller": _("Earnings booked"),
        "refunds": _("Refunds"),
        "payouts": _("Payouts"),
        "closing": _("Closing balance"),
        "pending": _("of which pending"),
        "available": _("of which available"),
        "sales": _("Sales in the period"),
        "refund_rows": _("Refunds in the period"),
        "payout_rows": _("Payouts in the period"),
        "payout_records": _("Payout records for the period"),
        "section": _("section"),
        "date": _("date"),
        "order": _("order"),
        "line": _("line"),
        "piece": _("piece"),
        "jeweller": _("jeweller"),
        "lot": _("lot"),
        "fine_g": _("fine gold (g)"),
        "amount": _("amount"),
        "detail": _("detail"),
        "sale": _("sale"),
        "refund": _("refund"),
        "payout": _("payout"),
        "reference": _("reference"),
        "status": _("status"),
        "shipping": _("shipping"),
        "none": _("None."),
        "mismatch": _("The lines do not add up to what the ledger booked; tell the Central."),
        "note": _(
            "Figures read from the ledger (months in UTC). This is the marketplace's community "
            "premium, not the Fairtrade Premium."
        ),
        "note_jeweller": _("Figures read from the ledger (months in UTC)."),
        "page": _("Page"),
        "paid": _("paid"),
        "pending_status": _("in payment"),
        "failed": _("failed"),
    }


def statement_labels(lang: str) -> dict[str, str]:
    """The words of a statement in ``lang`` ("es" or "en"), whatever the page's language."""
    with force_locale(lang):
        return _words()


@dataclass(frozen=True)
class SaleRow:
    """A sale line of a statement."""

    at: datetime
    order_number: str
    line_no: int  # 0: a parcel's shipping
    piece: str
    jeweller: str
    lot: str
    fine_mg: int | None
    amount: int


@dataclass
class Statement:
    """One payee's statement for one month, all from the ledger; lines from the sale lines."""

    side: Side
    lang: str
    payee: str
    currency: str
    totals: StatementTotals
    sales: list[SaleRow]
    refunds: list[Movement]
    payout_moves: list[Movement]
    payout_records: list[Any]
    generated_at: datetime
    labels: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        """Pick the words."""
        self.labels = statement_labels(self.lang)

    @property
    def period(self) -> str:
        """``YYYY-MM``."""
        return self.totals.period

    @property
    def title(self) -> str:
        """The document's title."""
        return self.labels[f"title_{self.side.name}"]

    @property
    def sales_total(self) -> int:
        """What the sale lines add up to."""
        return sum(r.amount for r in self.sales)

    @property
    def lines_agree(self) -> bool:
        """Sale lines = booked, refund rows = refunds, payout rows = payouts."""
        return (
            self.sales_total == self.totals.booked
            and sum(-m.net for m in self.refunds) == self.totals.refunds
            and sum(m.payout for m in self.payout_moves) == self.totals.payouts
        )

    def summary(self) -> list[tuple[str, int]]:
        """The totals, labelled, in order."""
        t, w = self.totals, self.labels
        booked = w["booked"] if self.side is COOPERATIVE else w["booked_jeweller"]
        return [
            (w["opening"], t.opening),
            (booked, t.booked),
            (w["refunds"], t.refunds),
            (w["payouts"], t.payouts),
            (w["closing"], t.closing),
            (w["pending"], t.pending),
            (w["available"], t.available),
        ]

    def money(self, amount: int) -> str:
        """For the PDF: "S/ 1,234.50"."""
        return money_text(amount, self.currency)

    def status(self, status: str) -> str:
        """A payout's status in the statement's words ("in payment" for a pending one)."""
        key = {"pending": "pending_status", "paid": "paid", "failed": "failed"}.get(status)
        return self.labels[key] if key else status


def build_statement(
    side: Side, owner_id: int, payee: str, period: str, currency: str, lang: str
) -> Statement | None:
    """The statement of ``period`` for the payee, or None (not a month, or nothing moved)."""
    bounds = reports.parse_period(period)
    if bounds is None:
        return None
    start, end = bounds
    flows = reports.monthly_flows(side, [owner_id], currency).get(owner_id, [])
    totals = reports.statement_totals(flows, period)
    if totals is None:
        return None
    moves = reports.movements(side, owner_id, currency, start, end)
    if side is COOPERATIVE:
        sales = [
            SaleRow(
                r.booked_at, r.order_number, r.line_no, r.piece_title, r.jeweller, r.lot_code,
                r.fine_mg, r.amount,
            )
            for r in reports.premium_lines(owner_id, currency, start=start, end=end)
        ]
    else:
        shipping = statement_labels(lang)["shipping"]
        sales = [
            SaleRow(
                r.booked_at, r.order_number, r.line_no,
                shipping if r.is_shipping else f"{r.quantity} × {r.piece_title}",
                "", "", None, r.amount,
            )
            for r in reports.earning_lines(owner_id, currency, start=start, end=end)
        ]
    from marketplace.payouts.models import Payout

    column = Payout.cooperative_id if side is COOPERATIVE else Payout.jeweller_id
    records = list(
        db.session.scalars(
            sa.select(Payout)
            .where(column == owner_id, Payout.period == period, Payout.currency == currency)
            .order_by(Payout.id)
        )
    )
    from marketplace.db import utcnow

    return Statement(
        side=side,
        lang=lang,
        payee=payee,
        currency=currency,
        totals=totals,
        sales=sales,
        refunds=[m for m in moves if m.net < 0],
        payout_moves=[m for m in moves if m.payout],
        payout_records=records,
        generated_at=utcnow(),
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text for a spreadsheet cell: one that would start a formula is quoted."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def statement_csv(statement: Statement) -> str:
    """The statement as CSV: a header block with the totals, then one row per line."""
    w, cur = statement.labels, statement.currency
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([statement.title])
    writer.writerow([w[f"payee_{statement.side.name}"], _cell(statement.payee)])
    writer.writerow([w["period"], statement.period])
    writer.writerow([w["currency"], cur])
    writer.writerow([w["generated"], statement.generated_at.strftime("%Y-%m-%d %H:%M UTC")])
    for label, amount in statement.summary():
        writer.writerow([label, decimal_text(amount, cur)])
    writer.writerow([])
    writer.writerow(
        [
            w["section"], w["date"], w["order"], w["line"], w["piece"], w["jeweller"],
            w["lot"], w["fine_g"], w["amount"], w["detail"],
        ]
    )
    for r in statement.sales:
        writer.writerow(
            [
                w["sale"],
                r.at.strftime("%Y-%m-%d"),
                r.order_number,
                r.line_no or "",
                _cell(r.piece),
                _cell(r.jeweller),
                r.lot,
                "" if r.fine_mg is None else f"{Decimal(r.fine_mg) / 1000:.3f}",
                decimal_text(r.amount, cur),
                "",
            ]
        )
    for m in statement.refunds:
        writer.writerow(
            [
                w["refund"], m.at.strftime("%Y-%m-%d"), "", "", "", "", m.lot_code or "", "",
                decimal_text(m.net, cur), _cell(m.memo),
            ]
        )
    for m in statement.payout_moves:
        writer.writerow(
            [
                w["payout"], m.at.strftime("%Y-%m-%d"), "", "", "", "", m.lot_code or "", "",
                decimal_text(-m.payout, cur), _cell(m.memo),
            ]
        )
    for p in statement.payout_records:
        writer.writerow(
            [
                w["payout_records"], p.created_at.strftime("%Y-%m-%d"), "", "", "", "", "", "",
                decimal_text(p.amount_minor, cur),
                _cell(f"{w['status']}: {statement.status(p.status)}; "
                      f"{w['reference']}: {p.reference or '—'}"),
            ]
        )
    return out.getvalue()


def csv_totals(text: str) -> dict[str, str]:
    """The label → value pairs of a statement CSV's header block (for checks and tests)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    result: dict[str, str] = {}
    for row in rows:
        if not row:
            break
        if len(row) >= 2:
            result[row[0]] = row[1]
    return result


# --- transparency -----------------------------------------------------------------------------


@dataclass
class CooperativePremium:
    """One cooperative's premium, month by month (balances at each month's end)."""

    id: int
    slug: str
    name: str
    short_name: str
    months: list[MonthEnd]

    @property
    def booked(self) -> int:
        """Booked net of refunds, all time."""
        return sum(m.booked for m in self.months)

    @property
    def now(self) -> MonthEnd | None:
        """The balances now (those at the end of the last month with a movement)."""
        return self.months[-1] if self.months else None

    def total(self, name: str) -> int:
        """Current pending / available / paying / paid."""
        return int(getattr(self.now, name)) if self.now else 0


def transparency(currency: str) -> list[CooperativePremium]:
    """Every member cooperative (the Central's members), with its premium from the ledger;
    two queries."""
    from marketplace.provenance.models import Cooperative

    coops = db.session.execute(
        sa.select(Cooperative.id, Cooperative.slug, Cooperative.name, Cooperative.short_name)
        .where(Cooperative.parent_id.is_not(None))
        .order_by(Cooperative.name)
    ).all()
    flows = reports.monthly_flows(COOPERATIVE, None, currency)
    return [
        CooperativePremium(
            int(cid), str(slug), str(name), str(short), reports.month_ends(flows.get(cid, []))
        )
        for cid, slug, name, short in coops
    ]


def transparency_json(rows: Sequence[CooperativePremium], currency: str) -> dict[str, Any]:
    """The API document (amounts in integer minor units), without ``generated_at``."""

    def figures(booked: int, end: MonthEnd | None) -> dict[str, int]:
        return {
            "booked": booked,
            "pending": end.pending if end else 0,
            "available": end.available if end else 0,
            "in_payment": end.paying if end else 0,
            "paid": end.paid if end else 0,
        }

    return {
        "currency": currency,
        "amounts_in": "minor units",
        "months_in": "UTC",
        "cooperatives": [
            {
                "slug": c.slug,
                "name": c.name,
                "months": [{"month": m.month, **figures(m.booked, m)} for m in c.months],
                "totals": figures(c.booked, c.now),
            }
            for c in rows
        ],
    }
