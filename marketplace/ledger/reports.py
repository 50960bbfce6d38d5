"""Grouped read queries over the money ledger and the frozen sale lines, shared by the
cooperative dashboard, the jeweller's earnings page, the monthly statements and the
transparency page and API.

Every figure about money held for a payee comes from ledger entries; the breakdowns by lot,
jeweller, piece and order line come from the premium lines and order lines frozen at the sale.
Each function runs a fixed number of SQL statements, however much data there is.

Months are calendar months in UTC (``YYYY-MM``), taken from the ledger transaction's time.

How a movement is read (per transaction and lot, over the payee's four accounts of one side):

- its net into the four accounts is money coming in (> 0: *booked*, a sale) or going back
  (< 0: *refunds*); moves between the payee's own accounts (completion, payouts) net to zero;
- its net into the "paying" and "paid" accounts is *payouts* (a failed payout coming back to
  "available" is a negative payout);
- what is still owed to the payee is pending + available, so every month
  ``closing = opening + booked - refunds - payouts`` holds exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, contains_eager, selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction

# --- months -----------------------------------------------------------------------------------

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(period: str) -> tuple[datetime, datetime] | None:
    """``"2025-06"`` → [1 June 2025, 1 July 2025) in UTC; None when it is not a month."""
    match = PERIOD_RE.match(period)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if year < 2000:
        return None
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


class year_month(sa.sql.functions.FunctionElement[str]):  # noqa: N801 - an SQL function
    """``YYYY-MM`` of a UTC timestamp column, on SQLite and PostgreSQL alike."""

    type = sa.String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month)
def _year_month_default(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    """PostgreSQL (timestamptz): the month of the instant, read in UTC."""
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite keeps UTC timestamps as text without a zone."""
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


# --- which books ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One kind of payee and its four money accounts."""

    name: str
    owner: str  # the LedgerAccount column naming the payee
    pending: AccountKind
    available: AccountKind
    paying: AccountKind
    paid: AccountKind

    @property
    def kinds(self) -> tuple[str, ...]:
        """The four account kinds, as stored."""
        return (self.pending.value, self.available.value, self.paying.value, self.paid.value)

    def owner_column(self) -> sa.orm.InstrumentedAttribute[int | None]:
        """``LedgerAccount.cooperative_id`` or ``LedgerAccount.jeweller_id``."""
        column: sa.orm.InstrumentedAttribute[int | None] = getattr(LedgerAccount, self.owner)
        return column


COOPERATIVE = Side(
    "cooperative",
    "cooperative_id",
    AccountKind.COOP_PREMIUM_PENDING,
    AccountKind.COOP_PREMIUM_AVAILABLE,
    AccountKind.COOP_PREMIUM_PAYING,
    AccountKind.COOP_PREMIUM_PAID,
)
JEWELLER = Side(
    "jeweller",
    "jeweller_id",
    AccountKind.JEWELLER_PENDING,
    AccountKind.JEWELLER_AVAILABLE,
    AccountKind.JEWELLER_PAYING,
    AccountKind.JEWELLER_PAID,
)


# --- balances now -----------------------------------------------------------------------------


@dataclass
class Balances:
    """A payee's balances in one currency, minor units."""

    pending: int = 0
    available: int = 0
    paying: int = 0
    paid: int = 0

    @property
    def earned(self) -> int:
        """Everything booked, net of refunds: pending + available + in payment + paid."""
        return self.pending + self.available + self.paying + self.paid

    @property
    def owed(self) -> int:
        """Still to be paid to the payee: pending + available (may be negative)."""
        return self.pending + self.available

    @property
    def available_now(self) -> int:
        """Available for the next payout (0 when the balance is negative)."""
        return max(self.available, 0)

    @property
    def owed_back(self) -> int:
        """A negative available balance (a refund after a payout), carried into the next one."""
        return max(-self.available, 0)


def balances(
    side: Side, owner_ids: Iterable[int] | None, currency: str
) -> dict[int, Balances]:
    """Current balances per payee, in one grouped query (all payees when ``owner_ids`` is None)."""
    owner = side.owner_column()
    stmt = (
        sa.select(owner, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance))
        .where(
            LedgerAccount.kind.in_(side.kinds),
            LedgerAccount.unit == currency,
            owner.is_not(None),
        )
        .group_by(owner, LedgerAccount.kind)
    )
    if owner_ids is not None:
        stmt = stmt.where(owner.in_(list(owner_ids)))
    names = {
        side.pending.value: "pending",
        side.available.value: "available",
        side.paying.value: "paying",
        side.paid.value: "paid",
    }
    result: dict[int, Balances] = {}
    for owner_id, kind, total in db.session.execute(stmt):
        if owner_id is None:
            continue
        row = result.setdefault(int(owner_id), Balances())
        setattr(row, names[kind], int(total or 0))
    return result


# --- month by month ---------------------------------------------------------------------------


@dataclass
class MonthFlows:
    """What moved in a payee's accounts in one month."""

    month: str
    booked: int = 0
    refunds: int = 0
    payouts: int = 0
    #: net change of each account kind in the month
    pending: int = 0
    available: int = 0
    paying: int = 0
    paid: int = 0

    @property
    def net(self) -> int:
        """Booked net of refunds."""
        return self.booked - self.refunds

    @property
    def owed_change(self) -> int:
        """Change of pending + available: booked - refunds - payouts."""
        return self.pending + self.available


def _per_movement(
    side: Side,
    owner_ids: Iterable[int] | None,
    currency: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> sa.Select[Any]:
    """One row per (payee, transaction, lot) with its net in each of the four accounts."""
    owner = side.owner_column()
    amount = LedgerEntry.amount

    def part(*kinds: AccountKind) -> ColumnElement[Any]:
        return sa.func.coalesce(
            sa.func.sum(
                sa.case((LedgerAccount.kind.in_([k.value for k in kinds]), amount), else_=0)
            ),
            0,
        )

    stmt = (
        sa.select(
            owner.label("owner"),
            LedgerTransaction.id.label("txn"),
            LedgerTransaction.created_at.label("at"),
            LedgerTransaction.kind.label("kind"),
            LedgerTransaction.memo.label("memo"),
            LedgerAccount.lot_id.label("lot_id"),
            sa.func.sum(amount).label("net"),
            part(side.pending).label("pending"),
            part(side.available).label("available"),
            part(side.paying).label("paying"),
            part(side.paid).label("paid"),
            part(side.paying, side.paid).label("payout"),
        )
        .select_from(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind.in_(side.kinds),
            LedgerAccount.unit == currency,
            owner.is_not(None),
        )
        .group_by(
            owner,
            LedgerTransaction.id,
            LedgerTransaction.created_at,
            LedgerTransaction.kind,
            LedgerTransaction.memo,
            LedgerAccount.lot_id,
        )
    )
    if owner_ids is not None:
        stmt = stmt.where(owner.in_(list(owner_ids)))
    if start is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= start)
    if end is not None:
        stmt = stmt.where(LedgerTransaction.created_at < end)
    return stmt


def monthly_flows(
    side: Side, owner_ids: Iterable[int] | None, currency: str
) -> dict[int, list[MonthFlows]]:
    """Every month with a movement, per payee, oldest first; one grouped query."""
    moves = _per_movement(side, owner_ids, currency).subquery()
    net = moves.c.net
    stmt = (
        sa.select(
            moves.c.owner,
            year_month(moves.c.at).label("month"),
            sa.func.sum(sa.case((net > 0, net), else_=0)),
            sa.func.sum(sa.case((net < 0, -net), else_=0)),
            sa.func.sum(moves.c.payout),
            sa.func.sum(moves.c.pending),
            sa.func.sum(moves.c.available),
            sa.func.sum(moves.c.paying),
            sa.func.sum(moves.c.paid),
        )
        .group_by(moves.c.owner, year_month(moves.c.at))
        .order_by(moves.c.owner, year_month(moves.c.at))
    )
    result: dict[int, list[MonthFlows]] = {}
    for owner_id, month, *figures in db.session.execute(stmt):
        booked, refunds, payouts, pending, available, paying, paid = (int(f or 0) for f in figures)
        result.setdefault(int(owner_id), []).append(
            MonthFlows(str(month), booked, refunds, payouts, pending, available, paying, paid)
        )
    return result


@dataclass(frozen=True)
class MonthEnd:
    """A month's net booking and the balances at its end."""

    month: str
    booked: int  # net of refunds, in the month
    pending: int
    available: int
    paying: int
    paid: int


def month_ends(flows: Sequence[MonthFlows]) -> list[MonthEnd]:
    """Running balances at the end of each month with a movement (``flows`` oldest first)."""
    pending = available = paying = paid = 0
    result = []
    for f in flows:
        pending += f.pending
        available += f.available
        paying += f.paying
        paid += f.paid
        result.append(MonthEnd(f.month, f.net, pending, available, paying, paid))
    return result


@dataclass(frozen=True)
class StatementTotals:
    """The figures of one month's statement, from the ledger."""

    period: str
    opening: int
    booked: int
    refunds: int
    payouts: int
    closing: int
    #: pending / available at the close (closing = pending + available)
    pending: int
    available: int

    @property
    def balanced(self) -> bool:
        """Opening + booked - refunds - payouts = closing."""
        return self.opening + self.booked - self.refunds - self.payouts == self.closing


def statement_totals(flows: Sequence[MonthFlows], period: str) -> StatementTotals | None:
    """The statement of ``period`` (None when nothing moved that month)."""
    pending = available = 0
    for f in flows:
        if f.month < period:
            pending += f.pending
            available += f.available
        elif f.month == period:
            opening = pending + available
            return StatementTotals(
                period=period,
                opening=opening,
                booked=f.booked,
                refunds=f.refunds,
                payouts=f.payouts,
                closing=opening + f.owed_change,
                pending=pending + f.pending,
                available=available + f.available,
            )
    return None


@dataclass(frozen=True)
class Movement:
    """One transaction's effect on one of a payee's lots (or on the payee, for jewellers)."""

    at: datetime
    kind: str
    memo: str
    lot_code: str | None
    net: int
    payout: int


def movements(
    side: Side, owner_id: int, currency: str, start: datetime, end: datetime
) -> list[Movement]:
    """The payee's movements in [start, end), oldest first; one query."""
    from marketplace.provenance.models import GoldLot

    moves = _per_movement(side, [owner_id], currency, start, end).subquery()
    stmt = (
        sa.select(
            moves.c.at,
            moves.c.kind,
            moves.c.memo,
            GoldLot.code,
            moves.c.net,
            moves.c.payout,
        )
        .outerjoin(GoldLot, GoldLot.id == moves.c.lot_id)
        .order_by(moves.c.at, moves.c.txn, GoldLot.code)
    )
    return [
        Movement(at, str(kind), str(memo), code, int(net or 0), int(payout or 0))
        for at, kind, memo, code, net, payout in db.session.execute(stmt)
    ]


# --- sale lines -------------------------------------------------------------------------------


def _paid_transaction(order_id: Any) -> ColumnElement[bool]:
    """Join condition: the ledger transaction that booked the order's sale."""
    key = sa.literal("order:") + sa.cast(order_id, sa.String) + sa.literal(":paid")
    return LedgerTransaction.idempotency_key == key


def _line_number() -> sa.ScalarSelect[int]:
    """The order line's position in its order (1, 2, ...)."""
    from marketplace.orders.models import OrderLine

    other = aliased(OrderLine)
    return (
        sa.select(sa.func.count(other.id))
        .where(other.order_id == OrderLine.order_id, other.id <= OrderLine.id)
        .correlate(OrderLine)
        .scalar_subquery()
    )


#: Orders whose premium lines count in the breakdowns (an order cancelled before shipping was
#: refunded in full: its lines net to zero anyway).
BOOKED_STATUSES = ("paid", "completed", "refunded")


@dataclass(frozen=True)
class PremiumLineRow:
    """One premium line, traced to its order line. No shopper data."""

    id: int
    booked_at: datetime
    order_number: str
    line_no: int
    piece_title: str
    jeweller: str
    lot_code: str
    fine_mg: int
    amount: int
    refunded: int

    @property
    def net(self) -> int:
        """What the cooperative keeps of it."""
        return self.amount - self.refunded


def premium_lines(
    cooperative_id: int,
    currency: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    booked_only: bool = False,
) -> list[PremiumLineRow]:
    """The cooperative's premium lines, with the sale's ledger time; one query.

    ``start``/``end`` select the lines booked in that range (the statement's sales);
    ``booked_only`` keeps orders that are paid, completed or refunded (the dashboard).
    """
    from marketplace.catalog.models import Jeweller
    from marketplace.orders.models import Order, OrderLine, PremiumLine
    from marketplace.provenance.models import GoldLot

    stmt = (
        sa.select(
            PremiumLine.id,
            LedgerTransaction.created_at,
            Order.number,
            _line_number(),
            OrderLine.title,
            Jeweller.business_name,
            GoldLot.code,
            PremiumLine.fine_mg,
            PremiumLine.amount_minor,
            PremiumLine.refunded_minor,
        )
        .select_from(PremiumLine)
        .join(OrderLine, OrderLine.id == PremiumLine.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(LedgerTransaction, _paid_transaction(Order.id))
        .join(Jeweller, Jeweller.id == OrderLine.jeweller_id)
        .join(GoldLot, GoldLot.id == PremiumLine.lot_id)
        .where(PremiumLine.cooperative_id == cooperative_id, Order.currency == currency)
    )
    if booked_only:
        stmt = stmt.where(Order.status.in_(BOOKED_STATUSES))
    if start is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= start)
    if end is not None:
        stmt = stmt.where(LedgerTransaction.created_at < end)
    if newest_first:
        stmt = stmt.order_by(LedgerTransaction.created_at.desc(), PremiumLine.id.desc())
    else:
        stmt = stmt.order_by(LedgerTransaction.created_at, PremiumLine.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        PremiumLineRow(
            int(pid), at, str(number), int(line_no), str(title), str(jeweller), str(code),
            int(fine_mg), int(amount), int(refunded),
        )
        for pid, at, number, line_no, title, jeweller, code, fine_mg, amount, refunded
        in db.session.execute(stmt)
    ]


@dataclass(frozen=True)
class Group:
    """A breakdown row: premium (or earnings) of one lot, jeweller or piece."""

    key: int
    label: str
    slug: str | None
    lines: int
    fine_mg: int
    amount: int
    refunded: int

    @property
    def net(self) -> int:
        """Amount kept after refunds."""
        return self.amount - self.refunded


def premium_breakdown(
    cooperative_id: int, currency: str, by: str, limit: int | None = None
) -> list[Group]:
    """The cooperative's premium grouped ``by`` "lot", "jeweller" or "piece" (largest net first),
    or over everything (``by="all"``, one row); one query."""
    from marketplace.catalog.models import Jeweller, Piece
    from marketplace.orders.models import Order, OrderLine, PremiumLine
    from marketplace.provenance.models import GoldLot

    dims: dict[str, tuple[Any, Any, Any]] = {
        "lot": (GoldLot.id, GoldLot.code, sa.null()),
        "jeweller": (Jeweller.id, Jeweller.business_name, Jeweller.slug),
        "piece": (Piece.id, Piece.title, Piece.slug),
        "all": (sa.literal(0), sa.literal(""), sa.null()),
    }
    key, label, slug = dims[by]
    net = sa.func.sum(PremiumLine.amount_minor - PremiumLine.refunded_minor)
    stmt = (
        sa.select(
            key,
            label,
            slug,
            sa.func.count(PremiumLine.id),
            sa.func.coalesce(sa.func.sum(PremiumLine.fine_mg), 0),
            sa.func.coalesce(sa.func.sum(PremiumLine.amount_minor), 0),
            sa.func.coalesce(sa.func.sum(PremiumLine.refunded_minor), 0),
        )
        .select_from(PremiumLine)
        .join(OrderLine, OrderLine.id == PremiumLine.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(LedgerTransaction, _paid_transaction(Order.id))
        .where(
            PremiumLine.cooperative_id == cooperative_id,
            Order.currency == currency,
            Order.status.in_(BOOKED_STATUSES),
        )
    )
    if by == "lot":
        stmt = stmt.join(GoldLot, GoldLot.id == PremiumLine.lot_id)
    elif by == "jeweller":
        stmt = stmt.join(Jeweller, Jeweller.id == OrderLine.jeweller_id)
    elif by == "piece":
        stmt = stmt.join(Piece, Piece.id == OrderLine.piece_id)
    if by != "all":
        # PostgreSQL refuses a constant (the lot's NULL slug) in GROUP BY; group by columns only.
        columns = [c for c in (key, label, slug) if not isinstance(c, sa.sql.elements.Null)]
        stmt = stmt.group_by(*columns).order_by(net.desc(), label)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        Group(int(k), str(lab), s, int(n), int(mg), int(amount), int(refunded))
        for k, lab, s, n, mg, amount, refunded in db.session.execute(stmt)
        if by != "all" or n
    ]


# --- the jeweller's side of sale lines ----------------------------------------------------------


def jeweller_share(line: Any) -> int:
    """What the jeweller keeps of an order line after its refunds, exactly as the ledger moved it
    (the refund split of ``orders.aftersale``)."""
    from marketplace.orders.aftersale import _net

    if not line.refunded_quantity:
        return int(line.jeweller_minor)
    return _net(line)[2]


@dataclass(frozen=True)
class EarningLine:
    """One order line of the jeweller, or the shipping of one of its parcels (``line_no`` 0)."""

    booked_at: datetime
    order_number: str
    line_no: int
    piece_title: str
    quantity: int
    refunded_quantity: int
    amount: int  # booked at the sale
    net: int  # kept after refunds

    @property
    def refunded(self) -> int:
        """Taken back by refunds."""
        return self.amount - self.net

    @property
    def is_shipping(self) -> bool:
        """A parcel's shipping, not a piece."""
        return self.line_no == 0


def _jeweller_lines_stmt(jeweller_id: int, currency: str) -> Any:
    """The jeweller's booked order lines with the sale's ledger time and line position."""
    from marketplace.orders.models import Order, OrderLine

    return (
        sa.select(OrderLine, LedgerTransaction.created_at, _line_number())
        .join(Order, Order.id == OrderLine.order_id)
        .join(LedgerTransaction, _paid_transaction(Order.id))
        .where(OrderLine.jeweller_id == jeweller_id, Order.currency == currency)
        .options(contains_eager(OrderLine.order), selectinload(OrderLine.premium_lines))
    )


def earning_lines(
    jeweller_id: int,
    currency: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[EarningLine]:
    """The jeweller's order lines and parcels' shipping, booked in [start, end); 3 queries."""
    from marketplace.orders.models import Order, OrderLine, Shipment

    stmt = _jeweller_lines_stmt(jeweller_id, currency)
    ship = (
        sa.select(
            LedgerTransaction.created_at,
            Order.number,
            Shipment.shipping_minor,
            Shipment.status,
        )
        .select_from(Shipment)
        .join(Order, Order.id == Shipment.order_id)
        .join(LedgerTransaction, _paid_transaction(Order.id))
        .where(
            Shipment.jeweller_id == jeweller_id,
            Order.currency == currency,
            Shipment.shipping_minor != 0,
        )
    )
    if start is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= start)
        ship = ship.where(LedgerTransaction.created_at >= start)
    if end is not None:
        stmt = stmt.where(LedgerTransaction.created_at < end)
        ship = ship.where(LedgerTransaction.created_at < end)
    order = (
        (LedgerTransaction.created_at.desc(), OrderLine.id.desc())
        if newest_first
        else (LedgerTransaction.created_at, OrderLine.id)
    )
    stmt = stmt.order_by(*order)
    ship = ship.order_by(
        LedgerTransaction.created_at.desc() if newest_first else LedgerTransaction.created_at,
        Shipment.id,
    )
    if limit is not None:
        stmt = stmt.limit(limit)
        ship = ship.limit(limit)
    rows = [
        EarningLine(
            at,
            line.order.number,
            int(line_no),
            line.title,
            line.quantity,
            line.refunded_quantity,
            int(line.jeweller_minor),
            jeweller_share(line),
        )
        for line, at, line_no in db.session.execute(stmt).unique()
    ]
    rows += [
        EarningLine(
            at, str(number), 0, "", 0, 0, int(amount), 0 if status == "cancelled" else int(amount)
        )
        for at, number, amount, status in db.session.execute(ship)
    ]
    rows.sort(key=lambda r: (r.booked_at, r.order_number, r.line_no == 0), reverse=newest_first)
    return rows[:limit] if limit is not None else rows


@dataclass
class EarningTotals:
    """The jeweller's booked earnings from sale lines: pieces and shipping."""

    pieces: list[Group] = field(default_factory=list)
    shipping_amount: int = 0
    shipping_net: int = 0

    @property
    def amount(self) -> int:
        """Booked at the sales."""
        return sum(g.amount for g in self.pieces) + self.shipping_amount

    @property
    def net(self) -> int:
        """Kept after refunds (equals the ledger's earned total)."""
        return sum(g.net for g in self.pieces) + self.shipping_net


def earnings_by_piece(jeweller_id: int, currency: str) -> EarningTotals:
    """The jeweller's earnings per piece (largest first) and shipping, net of refunds; 4 queries.

    Lines never refunded are summed in SQL; the few with refunds are loaded to split their
    refunds exactly as the ledger did.
    """
    from marketplace.catalog.models import Piece
    from marketplace.orders.models import Order, OrderLine, Shipment

    grouped = (
        sa.select(
            Piece.id,
            Piece.title,
            Piece.slug,
            sa.func.count(OrderLine.id),
            sa.func.coalesce(sa.func.sum(OrderLine.fine_mg_per_unit * OrderLine.quantity), 0),
            sa.func.coalesce(sa.func.sum(OrderLine.jeweller_minor), 0),
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(LedgerTransaction, _paid_transaction(Order.id))
        .join(Piece, Piece.id == OrderLine.piece_id)
        .where(OrderLine.jeweller_id == jeweller_id, Order.currency == currency)
        .group_by(Piece.id, Piece.title, Piece.slug)
    )
    refunded_lines = db.session.scalars(
        _jeweller_lines_stmt(jeweller_id, currency)
        .where(OrderLine.refunded_quantity > 0)
        .with_only_columns(OrderLine)
    ).unique()
    taken: dict[int, int] = {}
    for line in refunded_lines:
        taken[line.piece_id] = taken.get(line.piece_id, 0) + (
            line.jeweller_minor - jeweller_share(line)
        )
    pieces = [
        Group(int(pid), str(title), str(slug), int(n), int(mg), int(amount), taken.get(pid, 0))
        for pid, title, slug, n, mg, amount in db.session.execute(grouped)
    ]
    pieces.sort(key=lambda g: (-g.net, g.label))
    shipping = sa.select(
        sa.func.coalesce(sa.func.sum(Shipment.shipping_minor), 0),
        sa.func.coalesce(
            sa.func.sum(
                sa.case((Shipment.status == "cancelled", 0), else_=Shipment.shipping_minor)
            ),
            0,
        ),
    ).select_from(Shipment).join(Order, Order.id == Shipment.order_id).join(
        LedgerTransaction, _paid_transaction(Order.id)
    ).where(Shipment.jeweller_id == jeweller_id, Order.currency == currency)
    amount, net = db.session.execute(shipping).one()
    return EarningTotals(pieces, int(amount or 0), int(net or 0))


# --- payouts ----------------------------------------------------------------------------------


def payouts_of(side: Side, owner_id: int, currency: str, limit: int = 36) -> list[Any]:
    """The payee's payouts (newest period first); read only."""
    from marketplace.payouts.models import Payout

    column = Payout.cooperative_id if side is COOPERATIVE else Payout.jeweller_id
    return list(
        db.session.scalars(
            sa.select(Payout)
            .where(column == owner_id, Payout.currency == currency)
            .order_by(Payout.period.desc(), Payout.id.desc())
            .limit(limit)
        )
    )
