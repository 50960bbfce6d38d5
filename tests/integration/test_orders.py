"""Orders: reserving stock and gold, paying once, expiring, completing, refunding exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.catalog.models import Piece
from marketplace.core.errors import DomainError, InvalidQuantity
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.services import lot_gold
from marketplace.orders import aftersale
from marketplace.orders.models import OrderLine
from marketplace.orders.pricing import tax_included
from marketplace.orders.services import SoldOut, expire_due_orders, expire_order, mark_paid
from marketplace.payments.gateways import SandboxGateway
from marketplace.payments.services import PaymentRefused, pay
from tests import factories


def _balance(kind: AccountKind, **owner: int) -> int:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance), 0)).where(
        LedgerAccount.kind == kind.value
    )
    for name, value in owner.items():
        stmt = stmt.where(getattr(LedgerAccount, name) == value)
    return int(db.session.scalar(stmt))


def _piece(stock: int = 3, lots: int = 2) -> Piece:
    jeweller = factories.jeweller()
    if lots == 1:
        return factories.piece(jeweller, stock=stock)
    a, b = factories.lot(), factories.lot()
    from marketplace.provenance.services import transfer_to_jeweller

    for lot in (a, b):
        transfer_to_jeweller(lot, jeweller, 100_000, invoice_ref="T", actor="test")
    piece = factories.piece(jeweller, {}, stock=0)
    from marketplace.catalog.services import back_piece, publish, set_stock

    back_piece(
        piece, {a.id: piece.fine_mg // 3, b.id: piece.fine_mg - piece.fine_mg // 3}, actor="test"
    )
    set_stock(piece, stock, actor="test")
    publish(piece)
    return piece


def _transactions_balance() -> None:
    bad = db.session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerEntry.unit)
        .group_by(LedgerEntry.transaction_id, LedgerEntry.unit)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    ).all()
    assert bad == []


def test_placing_an_order_reserves_stock_and_gold_and_freezes_the_premium(app):
    piece = _piece(stock=3)
    order = factories.order({piece: 2})
    db.session.refresh(piece)
    assert piece.stock == 1
    line = order.lines[0]
    assert line.line_total_minor == 2 * piece.price_minor
    assert line.premium_minor == sum(p.amount_minor for p in line.premium_lines) > 0
    assert (
        line.line_total_minor == line.premium_minor + line.platform_fee_minor + line.jeweller_minor
    )
    for g in piece.gold:
        assert _balance(AccountKind.PIECE_RESERVED, piece_id=piece.id, lot_id=g.lot_id) == (
            2 * g.fine_mg_per_unit
        )
        assert _balance(AccountKind.PIECE_COMMITTED, piece_id=piece.id, lot_id=g.lot_id) == (
            g.fine_mg_per_unit
        )
    assert order.tax_included_minor == tax_included(order.total_minor)
    assert order.expires_at - order.placed_at == timedelta(minutes=30)


def test_an_order_abroad_carries_no_igv_and_international_shipping(app):
    piece = _piece()
    order = factories.order({piece: 1}, country="US", region="")
    assert order.tax_included_minor == 0
    assert order.shipping_minor == 12000


def test_asking_for_more_than_is_left_is_refused_and_changes_nothing(app):
    piece = _piece(stock=1)
    other = _piece(stock=5)
    with pytest.raises(SoldOut, match="Only 1"):
        factories.order({other: 1, piece: 2})
    db.session.expire_all()
    assert db.session.get(Piece, other.id).stock == 5
    assert (
        db.session.scalar(
            sa.select(sa.func.count(OrderLine.id)).where(OrderLine.piece_id == other.id)
        )
        == 0
    )


@pytest.mark.parametrize("quantity", [0, -1, 10**9, "2", 2.0, True])
def test_nonsense_quantities_are_refused(app, quantity):
    piece = _piece()
    with pytest.raises(InvalidQuantity):
        factories.order({piece: quantity})


def test_paying_books_the_sale_once_and_every_transaction_balances(app):
    piece = _piece(stock=2)
    order = factories.paid_order({piece: 1})
    assert order.status == "paid" and order.payment_status == "paid"
    assert not mark_paid(order, processor_fee=0, actor="again")  # a replay changes nothing
    paid = db.session.scalar(
        sa.select(sa.func.count(LedgerTransaction.id)).where(
            LedgerTransaction.idempotency_key == f"order:{order.id}:paid"
        )
    )
    assert paid == 1
    line = order.lines[0]
    for p in line.premium_lines:
        assert (
            _balance(
                AccountKind.COOP_PREMIUM_PENDING, cooperative_id=p.cooperative_id, lot_id=p.lot_id
            )
            >= p.amount_minor
        )
    assert _balance(AccountKind.JEWELLER_PENDING, jeweller_id=piece.jeweller_id) == (
        line.jeweller_minor + order.shipping_minor
    )
    for g in piece.gold:
        assert _balance(AccountKind.LOT_SOLD, piece_id=piece.id, lot_id=g.lot_id) == (
            g.fine_mg_per_unit
        )
        assert lot_gold([g.lot_id])[g.lot_id].balances
        kinds = [e.kind for e in g.lot.custody_events]
        assert kinds[-1] == "sold"
    _transactions_balance()


def test_a_declined_card_leaves_the_order_payable_with_another_card(app):
    order = factories.order({_piece(): 1})
    with pytest.raises(PaymentRefused, match="declined"):
        pay(
            order,
            SandboxGateway(),
            {**factories.GOOD_CARD, "card_number": "4000000000000002"},
            actor="test",
        )
    assert order.status == "pending_payment" and order.payment_status == "failed"
    with pytest.raises(PaymentRefused, match="insufficient funds"):
        pay(
            order,
            SandboxGateway(),
            {**factories.GOOD_CARD, "card_number": "4000000000009995"},
            actor="test",
        )
    assert pay(order, SandboxGateway(), factories.GOOD_CARD, actor="test")
    assert order.status == "paid" and len(order.payments) == 1


def test_an_unpaid_order_expires_after_30_minutes_and_releases_stock_and_gold(app):
    piece = _piece(stock=2)
    order = factories.order({piece: 2})
    assert not expire_order(order, now=utcnow() + timedelta(minutes=29))
    assert expire_due_orders(now=utcnow() + timedelta(minutes=31)) >= 1
    db.session.refresh(piece)
    assert order.status == "expired" and piece.stock == 2
    for g in piece.gold:
        assert _balance(AccountKind.PIECE_RESERVED, piece_id=piece.id, lot_id=g.lot_id) == 0
    with pytest.raises(DomainError, match="expired"):
        pay(order, SandboxGateway(), factories.GOOD_CARD, actor="test")
    assert not expire_order(order, now=utcnow() + timedelta(hours=1))  # once only
    _transactions_balance()


def test_completion_moves_pending_money_to_available_after_the_return_window(app):
    piece = _piece()
    order = factories.paid_order({piece: 1})
    jeweller_pending = _balance(AccountKind.JEWELLER_PENDING, jeweller_id=piece.jeweller_id)
    window = timedelta(days=14)
    assert not aftersale.complete_order(order, now=utcnow(), window=window, actor="t")
    aftersale.mark_shipped(order, piece.jeweller_id, "Olva Courier", "OLV123", "jeweller")
    aftersale.confirm_receipt(order, "shopper")
    assert not aftersale.complete_order(
        order, now=utcnow() + timedelta(days=13), window=window, actor="t"
    )
    assert aftersale.complete_order(
        order, now=utcnow() + timedelta(days=15), window=window, actor="t"
    )
    assert order.status == "completed"
    assert _balance(AccountKind.JEWELLER_PENDING, jeweller_id=piece.jeweller_id) == 0
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id) == (
        jeweller_pending
    )
    _transactions_balance()


def test_a_full_refund_before_shipping_cancels_and_returns_everything(app):
    piece = _piece(stock=2)
    order = factories.paid_order({piece: 2})
    clearing_before = _balance(AccountKind.GATEWAY_CLEARING)
    line = order.lines[0]
    refund = aftersale.refund(order, {line.id: 2}, SandboxGateway(), actor="admin", reason="test")
    assert refund.amount_minor == order.total_minor  # shipping of an unsent parcel too
    assert order.status == "cancelled" and order.payment_status == "refunded"
    db.session.refresh(piece)
    assert piece.stock == 2
    assert _balance(AccountKind.JEWELLER_PENDING, jeweller_id=piece.jeweller_id) == 0
    for p in line.premium_lines:
        assert (
            _balance(
                AccountKind.COOP_PREMIUM_PENDING, cooperative_id=p.cooperative_id, lot_id=p.lot_id
            )
            == 0
        )
    assert _balance(AccountKind.GATEWAY_CLEARING) == clearing_before + order.total_minor
    for g in piece.gold:
        assert _balance(AccountKind.LOT_SOLD, piece_id=piece.id, lot_id=g.lot_id) == 0
        assert lot_gold([g.lot_id])[g.lot_id].balances
    _transactions_balance()


def test_partial_refunds_sum_exactly_to_the_line(app):
    piece = _piece(stock=3)
    order = factories.paid_order({piece: 3})
    line = order.lines[0]
    aftersale.mark_shipped(order, piece.jeweller_id, "Serpost", "RR1", "jeweller")
    parts = [
        aftersale.refund(order, {line.id: 1}, SandboxGateway(), actor="a").amount_minor
        for _ in range(3)
    ]
    assert sum(parts) == line.line_total_minor  # shipped: shipping is not refunded
    assert order.status == "refunded"
    assert _balance(AccountKind.JEWELLER_PENDING, jeweller_id=piece.jeweller_id) == (
        order.shipping_minor
    )
    _transactions_balance()


def test_a_refund_after_completion_can_leave_a_negative_available_balance(app):
    piece = _piece()
    order = factories.paid_order({piece: 1})
    aftersale.mark_shipped(order, piece.jeweller_id, "Olva", "X", "j")
    aftersale.mark_delivered(order, piece.jeweller_id, "j")
    assert aftersale.complete_order(
        order, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="t"
    )
    # The payout of issue 5 would move available to paid; simulate it through the ledger.
    from marketplace.ledger.services import money_account, post_transaction

    available = _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id)
    post_transaction(
        "payout",
        "paid out",
        [
            (
                money_account(AccountKind.JEWELLER_AVAILABLE, "PEN", jeweller_id=piece.jeweller_id),
                -available,
            ),
            (
                money_account(AccountKind.JEWELLER_PAID, "PEN", jeweller_id=piece.jeweller_id),
                available,
            ),
        ],
    )
    aftersale.refund(order, {order.lines[0].id: 1}, SandboxGateway(), actor="a", reason="r")
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id) == (
        -order.lines[0].jeweller_minor
    )
    _transactions_balance()


def test_a_jeweller_cannot_cancel_after_shipping_or_cancel_anothers_pieces(app):
    mine, theirs = _piece(), _piece()
    order = factories.paid_order({mine: 1, theirs: 1})
    mine_line = next(line for line in order.lines if line.piece_id == mine.id)
    theirs_line = next(line for line in order.lines if line.piece_id == theirs.id)
    with pytest.raises(DomainError, match="only cancel your own"):
        aftersale.refund(
            order, {theirs_line.id: 1}, SandboxGateway(), actor="j", jeweller_id=mine.jeweller_id
        )
    aftersale.mark_shipped(order, mine.jeweller_id, "Olva", "X", "j")
    with pytest.raises(DomainError, match="has shipped"):
        aftersale.refund(
            order, {mine_line.id: 1}, SandboxGateway(), actor="j", jeweller_id=mine.jeweller_id
        )


def test_shipping_transitions_follow_the_table(app):
    piece = _piece()
    order = factories.paid_order({piece: 1})
    with pytest.raises(DomainError):
        aftersale.mark_delivered(order, piece.jeweller_id, "j")  # not shipped yet
    with pytest.raises(DomainError, match="carrier"):
        aftersale.mark_shipped(order, piece.jeweller_id, " ", "", "j")
    aftersale.mark_shipped(order, piece.jeweller_id, "Olva", "X", "j")
    with pytest.raises(DomainError):
        aftersale.mark_shipped(order, piece.jeweller_id, "Olva", "X", "j")


@settings(max_examples=40, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=9),
    weights=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=4),
    fee=st.integers(min_value=0, max_value=5000),
    unit=st.integers(min_value=1, max_value=500_000),
    refunds=st.lists(st.integers(min_value=1, max_value=3), max_size=5),
)
def test_refund_splits_always_sum_to_what_is_refunded(quantity, weights, fee, unit, refunds):
    from marketplace.orders.models import PremiumLine

    total = unit * quantity
    premium = min(sum(weights), total)
    premium_parts = [w * premium // max(sum(weights), 1) for w in weights]
    fee = min(fee, total - sum(premium_parts))
    line = OrderLine(
        unit_price_minor=unit,
        quantity=quantity,
        line_total_minor=total,
        premium_minor=sum(premium_parts),
        platform_fee_minor=fee,
        jeweller_minor=total - sum(premium_parts) - fee,
    )
    line.premium_lines = [
        PremiumLine(id=i + 1, amount_minor=a) for i, a in enumerate(premium_parts)
    ]
    whole = aftersale._split(line, quantity)
    assert whole.premium == {i + 1: a for i, a in enumerate(premium_parts)}
    assert (whole.fee, whole.jeweller) == (fee, line.jeweller_minor)
    kept = quantity
    for n in refunds:
        n = min(n, kept)
        before, after = aftersale._split(line, kept), aftersale._split(line, kept - n)
        back = (
            sum(before.premium.values())
            - sum(after.premium.values())
            + before.fee
            - after.fee
            + before.jeweller
            - after.jeweller
        )
        assert back == unit * n
        assert all(part >= 0 for part in after.premium.values())
        kept -= n


def test_a_refund_after_re_backing_returns_the_sold_gold_to_the_jeweller(app):
    from marketplace.catalog.services import back_piece
    from marketplace.ledger.services import jeweller_gold
    from marketplace.provenance.services import transfer_to_jeweller

    piece = _piece(stock=2)
    order = factories.paid_order({piece: 1})
    sold_lots = {p.lot_id: p.fine_mg for p in order.lines[0].premium_lines}
    new_lot = factories.lot()
    transfer_to_jeweller(new_lot, piece.jeweller, 100_000, invoice_ref="T2", actor="test")
    back_piece(piece, {new_lot.id: piece.fine_mg}, actor="test")
    held_before = jeweller_gold(piece.jeweller_id)
    stock_before = piece.stock

    aftersale.refund(order, {order.lines[0].id: 1}, SandboxGateway(), actor="a", reason="r")

    held_after = jeweller_gold(piece.jeweller_id)
    for lot_id, mg in sold_lots.items():
        assert held_after[lot_id] == held_before[lot_id] + mg
        assert _balance(AccountKind.LOT_SOLD, piece_id=piece.id, lot_id=lot_id) == 0
        assert lot_gold([lot_id])[lot_id].balances
    db.session.refresh(piece)
    assert piece.stock == stock_before
    _transactions_balance()


def test_money_that_arrives_after_the_order_expired_is_refunded_once(app):
    from marketplace.payments.gateways import ChargeResult
    from marketplace.payments.models import Refund
    from marketplace.payments.services import payment_for, settle

    piece = _piece(stock=1)
    order = factories.order({piece: 1})
    payment = payment_for(order, SandboxGateway())
    assert expire_order(order, now=utcnow() + timedelta(minutes=31))
    late = ChargeResult(succeeded=True, provider_ref="sbx_ch_late", processor_fee=10)
    assert not settle(order, payment, late, actor="webhook")
    assert not settle(order, payment, late, actor="webhook again")
    refunds = db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
    assert [r.amount_minor for r in refunds] == [order.total_minor]
    assert order.status == "expired" and payment.status == "refunded"
    db.session.refresh(piece)
    assert piece.stock == 1  # the piece stayed on the shelf for others
    _transactions_balance()
