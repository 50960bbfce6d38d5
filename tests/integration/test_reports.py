"""The ledger reports behind the dashboards and statements: months, balances, statements, the
sale lines they are traced to, and the CSV, PDF and SVG they are written as."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.reports import COOPERATIVE, JEWELLER, MonthFlows
from marketplace.ledger.services import money_account, post_transaction
from marketplace.orders import aftersale
from marketplace.orders.models import Order
from marketplace.payments.gateways import SandboxGateway
from marketplace.provenance.models import Cooperative, GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from marketplace.statements import services
from marketplace.statements.pdf import latin1, statement_pdf
from marketplace.statements.svg import bar_chart
from tests import factories

# --- helpers ----------------------------------------------------------------------------------


def _coops() -> tuple[Cooperative, Cooperative]:
    found = db.session.scalars(
        sa.select(Cooperative).where(Cooperative.parent_id.is_not(None)).order_by(Cooperative.id)
    ).all()
    return found[0], found[1]


def _piece(jeweller: Jeweller, lots: list[GoldLot], *, stock: int = 10,
           title: str | None = None, price_minor: int = 150_000) -> Piece:
    """A piece backed by ``lots`` (split evenly) with ``stock`` units."""
    piece = factories.piece(jeweller, {}, stock=0, title=title, price_minor=price_minor)
    share = piece.fine_mg // len(lots)
    backing = {}
    for i, lot in enumerate(lots):
        mg = piece.fine_mg - share * (len(lots) - 1) if i == 0 else share
        transfer_to_jeweller(lot, jeweller, mg * stock, invoice_ref="T", actor="test")
        backing[lot.id] = mg
    back_piece(piece, backing, actor="test")
    set_stock(piece, stock, actor="test")
    publish(piece)
    return piece


def _complete(order: Order) -> None:
    for shipment in order.shipments:
        aftersale.mark_shipped(order, shipment.jeweller_id, "Olva", "X1", "j")
        aftersale.mark_delivered(order, shipment.jeweller_id, "j")
    assert aftersale.complete_order(
        order, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="t"
    )


def _at(memo_part: str, when: datetime) -> None:
    db.session.execute(
        sa.update(LedgerTransaction)
        .where(LedgerTransaction.memo.contains(memo_part))
        .values(created_at=when)
        .execution_options(synchronize_session=False)
    )


def _sum(kinds: tuple[AccountKind, ...], owner: str, owner_id: int,
         start: datetime | None = None, end: datetime | None = None) -> int:
    stmt = (
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerAccount.kind.in_([k.value for k in kinds]),
               getattr(LedgerAccount, owner) == owner_id)
    )
    if start is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= start)
    if end is not None:
        stmt = stmt.where(LedgerTransaction.created_at < end)
    return int(db.session.scalar(stmt))


def _move(kind_from: AccountKind, kind_to: AccountKind, amount: int, memo: str, **owner: int):
    return post_transaction(
        "payout", memo,
        [(money_account(kind_from, "PEN", **owner), -amount),
         (money_account(kind_to, "PEN", **owner), amount)],
    )


APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 1, tzinfo=UTC)
COOP_KINDS = (AccountKind.COOP_PREMIUM_PENDING, AccountKind.COOP_PREMIUM_AVAILABLE,
              AccountKind.COOP_PREMIUM_PAYING, AccountKind.COOP_PREMIUM_PAID)
JEWELLER_KINDS = (AccountKind.JEWELLER_PENDING, AccountKind.JEWELLER_AVAILABLE,
                  AccountKind.JEWELLER_PAYING, AccountKind.JEWELLER_PAID)
OWED_COOP = (AccountKind.COOP_PREMIUM_PENDING, AccountKind.COOP_PREMIUM_AVAILABLE)


@pytest.fixture
def books(app):  # type: ignore[no-untyped-def]
    """April: two sales of a piece made of two lots of cooperative A and one of B (one sale
    completed); a payout to A that is sent, fails and is sent again. May: a partial refund of
    the completed sale (after the payout: A's available goes negative) and a cancelled sale."""
    a, b = _coops()
    jeweller = factories.jeweller()
    piece = _piece(jeweller, [factories.lot(coop=a), factories.lot(coop=a), factories.lot(coop=b)],
                   title="=HYPERLINK(\"x\") ring — oro")
    first = factories.paid_order({piece: 3})
    second = factories.paid_order({piece: 1})
    _complete(first)
    _at(first.number, APRIL + timedelta(days=3))
    _at(second.number, APRIL + timedelta(days=4))
    accounts = db.session.scalars(
        sa.select(LedgerAccount).where(
            LedgerAccount.kind == AccountKind.COOP_PREMIUM_AVAILABLE.value,
            LedgerAccount.cooperative_id == a.id,
        )
    ).all()
    for account in accounts:
        owner = {"cooperative_id": a.id, "lot_id": account.lot_id}
        amount = account.balance
        _move(AccountKind.COOP_PREMIUM_AVAILABLE, AccountKind.COOP_PREMIUM_PAYING, amount,
              "payout sent", **owner)
        _move(AccountKind.COOP_PREMIUM_PAYING, AccountKind.COOP_PREMIUM_AVAILABLE, amount,
              "payout failed", **owner)
        _move(AccountKind.COOP_PREMIUM_AVAILABLE, AccountKind.COOP_PREMIUM_PAYING, amount,
              "payout retried", **owner)
        _move(AccountKind.COOP_PREMIUM_PAYING, AccountKind.COOP_PREMIUM_PAID, amount,
              "payout confirmed", **owner)
    _at("payout", APRIL + timedelta(days=20))
    aftersale.refund(first, {first.lines[0].id: 2}, SandboxGateway(), actor="a")
    cancelled = factories.paid_order({piece: 1})
    aftersale.refund(cancelled, {cancelled.lines[0].id: 1}, SandboxGateway(), actor="a")
    _at(f"Refund on order {first.number}", MAY + timedelta(days=2))
    _at(cancelled.number, MAY + timedelta(days=9))
    db.session.flush()
    db.session.expire_all()
    return {"a": a, "b": b, "jeweller": jeweller, "piece": piece,
            "orders": (first, second, cancelled)}


# --- months -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2025-06", (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))),
        ("2025-12", (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))),
        ("2025-13", None),
        ("2025-00", None),
        ("2025-6", None),
        ("1999-12", None),
        ("2025-06x", None),
        ("", None),
    ],
)
def test_a_period_is_a_calendar_month_in_utc(period, expected):
    assert reports.parse_period(period) == expected


def test_the_month_of_a_timestamp_is_read_in_utc_on_both_databases():
    column = LedgerTransaction.created_at
    pg = str(sa.select(reports.year_month(column)).compile(dialect=postgresql.dialect()))
    lite = str(sa.select(reports.year_month(column)).compile(dialect=sqlite.dialect()))
    assert "to_char((ledger_transaction.created_at) AT TIME ZONE 'UTC', 'YYYY-MM')" in pg
    assert "strftime('%Y-%m', ledger_transaction.created_at)" in lite


def test_month_ends_carry_balances_forward():
    flows = [MonthFlows("2025-03", booked=100, pending=100),
             MonthFlows("2025-04", booked=50, refunds=10, pending=-60, available=100),
             MonthFlows("2025-06", payouts=100, available=-100, paid=100)]
    ends = reports.month_ends(flows)
    assert [(e.month, e.booked, e.pending, e.available, e.paid) for e in ends] == [
        ("2025-03", 100, 100, 0, 0),
        ("2025-04", 40, 40, 100, 0),
        ("2025-06", 0, 40, 0, 100),
    ]
    june = reports.statement_totals(flows, "2025-06")
    assert june is not None and june.opening == 140 and june.closing == 40 and june.balanced
    assert reports.statement_totals(flows, "2025-05") is None


# --- the ledger read per month -----------------------------------------------------------------


def test_monthly_flows_are_the_sums_of_the_ledger_entries(books):
    a = books["a"]
    flows = {f.month: f for f in reports.monthly_flows(COOPERATIVE, [a.id], "PEN")[a.id]}
    assert list(flows) == ["2025-04", "2025-05"]
    for month, (start, end) in {"2025-04": (APRIL, MAY), "2025-05": (MAY, JUNE)}.items():
        f = flows[month]
        assert f.net == _sum(COOP_KINDS, "cooperative_id", a.id, start, end)
        assert f.payouts == _sum(
            (AccountKind.COOP_PREMIUM_PAYING, AccountKind.COOP_PREMIUM_PAID),
            "cooperative_id", a.id, start, end,
        )
        assert f.owed_change == _sum(OWED_COOP, "cooperative_id", a.id, start, end)
    assert flows["2025-04"].refunds == 0 and flows["2025-05"].booked > 0  # the cancelled sale
    assert flows["2025-05"].refunds > 0
    balances = reports.balances(COOPERATIVE, [a.id], "PEN")[a.id]
    assert balances.available < 0 and balances.owed_back == -balances.available
    assert balances.available_now == 0 and balances.paying == 0
    assert balances.paid == flows["2025-04"].payouts > 0


def test_a_statement_balances_and_its_lines_add_up(books):
    a = books["a"]
    for period, (start, end) in {"2025-04": (APRIL, MAY), "2025-05": (MAY, JUNE)}.items():
        statement = services.build_statement(COOPERATIVE, a.id, a.name, period, "PEN", "es")
        assert statement is not None
        t = statement.totals
        assert t.opening == _sum(OWED_COOP, "cooperative_id", a.id, end=start)
        assert t.closing == _sum(OWED_COOP, "cooperative_id", a.id, end=end)
        assert t.balanced and statement.lines_agree
        assert t.booked == statement.sales_total
    april = services.build_statement(COOPERATIVE, a.id, a.name, "2025-04", "PEN", "es")
    assert april is not None
    assert {r.order_number for r in april.sales} == {o.number for o in books["orders"][:2]}
    assert {m.memo for m in april.payout_moves} == {
        "payout sent", "payout failed", "payout retried"
    }  # confirming moves paying to paid: no change of what went out
    failed = [m for m in april.payout_moves if m.memo == "payout failed"]
    assert failed and all(m.payout < 0 for m in failed)
    assert services.build_statement(COOPERATIVE, a.id, a.name, "2025-03", "PEN", "es") is None
    assert services.build_statement(COOPERATIVE, a.id, a.name, "2025-4", "PEN", "es") is None


def test_the_statement_csv_carries_the_ledger_totals_and_defuses_formulas(books):
    a = books["a"]
    statement = services.build_statement(COOPERATIVE, a.id, a.name, "2025-04", "PEN", "es")
    assert statement is not None
    text = services.statement_csv(statement)
    totals = services.csv_totals(text)
    assert totals["Saldo inicial"] == "0.00"
    assert round(float(totals["Prima registrada"]) * 100) == statement.totals.booked
    assert round(float(totals["Abonos"]) * 100) == statement.totals.payouts
    assert round(float(totals["Saldo final"]) * 100) == statement.totals.closing
    assert "\n=HYPERLINK" not in text and ',=HYPERLINK' not in text
    assert "'=HYPERLINK" in text


def test_the_pdf_generator_writes_the_totals_it_was_given(books):
    a = books["a"]
    statement = services.build_statement(COOPERATIVE, a.id, a.name, "2025-05", "PEN", "es")
    assert statement is not None
    body = statement_pdf(statement)
    assert body.startswith(b"%PDF-")
    drawn = b" ".join(re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body)).decode("latin-1")
    drawn = drawn.replace("\xa0", " ").replace("\\(", "(").replace("\\)", ")")
    for label, amount in statement.summary():
        assert latin1(label) in drawn
        assert statement.money(amount).replace("\xa0", " ") in drawn, label
    assert "ring - oro" in drawn  # the em dash drawn in Latin-1


def test_premium_lines_and_breakdowns_add_up_to_the_ledger(books):
    a, b = books["a"], books["b"]
    for coop in (a, b):
        earned = reports.balances(COOPERATIVE, [coop.id], "PEN")[coop.id].earned
        assert earned == _sum(COOP_KINDS, "cooperative_id", coop.id)
        total = reports.premium_breakdown(coop.id, "PEN", "all")[0]
        assert total.net == earned
        for by in ("lot", "jeweller", "piece"):
            assert sum(g.net for g in reports.premium_breakdown(coop.id, "PEN", by)) == earned
        lines = reports.premium_lines(coop.id, "PEN", booked_only=True)
        assert sum(line.net for line in lines) == earned
        assert all(line.line_no == 1 for line in lines)
    lots = reports.premium_breakdown(a.id, "PEN", "lot")
    assert len(lots) == 2  # A's two lots; B's lot is not A's


def test_the_jewellers_earnings_by_piece_equal_the_ledger_after_refunds(books):
    jeweller = books["jeweller"]
    earned = reports.balances(JEWELLER, [jeweller.id], "PEN")[jeweller.id].earned
    assert earned == _sum(JEWELLER_KINDS, "jeweller_id", jeweller.id)
    totals = reports.earnings_by_piece(jeweller.id, "PEN")
    assert totals.net == earned
    assert totals.shipping_amount > totals.shipping_net > 0  # the cancelled parcel's shipping
    lines = reports.earning_lines(jeweller.id, "PEN")
    assert sum(line.net for line in lines) == earned
    first = next(line for line in lines if line.order_number == books["orders"][0].number)
    assert first.refunded_quantity == 2 and 0 < first.net < first.amount
    for period in ("2025-04", "2025-05"):
        statement = services.build_statement(
            JEWELLER, jeweller.id, jeweller.business_name, period, "PEN", "en"
        )
        assert statement is not None and statement.lines_agree and statement.totals.balanced


def test_transparency_is_zero_for_a_cooperative_without_sales_and_agrees_with_the_books(books):
    rows = {r.id: r for r in services.transparency("PEN")}
    a, b = books["a"], books["b"]
    document = services.transparency_json(list(rows.values()), "PEN")
    by_slug = {c["slug"]: c for c in document["cooperatives"]}
    for coop in (a, b):
        row = rows[coop.id]
        now = reports.balances(COOPERATIVE, [coop.id], "PEN")[coop.id]
        assert (row.total("pending"), row.total("available"), row.total("paid")) == (
            now.pending, now.available, now.paid
        )
        assert by_slug[coop.slug]["totals"]["booked"] == now.earned
    quiet = [r for r in rows.values() if r.id not in (a.id, b.id)]
    assert quiet
    for row in quiet:
        assert row.months == [] and by_slug[row.slug]["totals"] == {
            "booked": 0, "pending": 0, "available": 0, "in_payment": 0, "paid": 0
        }


def test_the_reports_run_a_fixed_number_of_statements(books, count_queries):
    a_id, jeweller_id = books["a"].id, books["jeweller"].id
    db.session.expunge_all()
    count_queries.clear()
    services.cooperative_dashboard(a_id, "PEN")
    assert len(count_queries) == 8
    count_queries.clear()
    services.jeweller_earnings(jeweller_id, "PEN")
    assert len(count_queries) == 10


# --- the chart ----------------------------------------------------------------------------------


def test_the_chart_draws_one_bar_per_point_below_the_axis_when_negative():
    svg = str(
        bar_chart(
            [("2025-03", 1200), ("2025-04", 0), ("2025-05", -300)],
            chart_id="c",
            title="Premium <per> month",
            description="d",
            label=lambda m: m[5:],
            value=lambda v: f"{v / 100:.2f}",
        )
    )
    assert svg.count('<rect class="bar"') == 3
    assert 'role="img"' in svg and '<title id="c-title">Premium &lt;per&gt; month</title>' in svg
    heights = [float(h) for h in re.findall(r'class="bar"[^>]*height="([\d.]+)"', svg)]
    assert heights[0] > heights[2] > heights[1] == 0
    assert "#b3261e" in svg  # the negative month


def test_an_empty_chart_is_still_a_named_image():
    svg = str(bar_chart([], chart_id="e", title="t", description="d",
                        label=str, value=str))
    assert svg.startswith("<svg") and "<rect" not in svg and "<title" in svg
