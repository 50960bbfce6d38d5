"""Shoppers racing for the last unit, and a double-clicked Pay: stock, gold and money stay exact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, create_piece, publish, set_stock
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from marketplace.ledger.services import lot_gold
from marketplace.orders.models import Order, ShippingRate
from marketplace.orders.services import Address, place_order
from marketplace.payments.gateways import SandboxGateway
from marketplace.payments.models import Payment
from marketplace.payments.services import pay
from marketplace.premium.models import PremiumPolicy
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests.concurrency.test_gold_races import _no_negative_balance, _race, _setup

CARD = {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}


def _shop_with_one_unit(app) -> tuple[int, int]:
    """A piece with exactly one unit in stock, and the rates checkout needs."""
    lot_id, (jeweller_id,) = _setup(app, 1, 50_000)
    with app.app_context():
        if db.session.scalar(sa.select(PremiumPolicy.id)) is None:
            db.session.add(
                PremiumPolicy(effective_from=date(2013, 8, 1), usd_per_fine_kg=Decimal("2000"))
            )
            db.session.add(
                PremiumPolicy(effective_from=date(2013, 8, 2), usd_per_fine_kg=Decimal("2000"))
            )
        if db.session.scalar(sa.select(ShippingRate.id)) is None:
            db.session.add(ShippingRate(zone="domestic", currency="USD", amount_minor=500))
        jeweller = db.session.get(Jeweller, jeweller_id)
        lot = db.session.get(GoldLot, lot_id)
        transfer_to_jeweller(lot, jeweller, 10_000, invoice_ref="RACE", actor="test")
        piece = create_piece(
            jeweller,
            title=f"Last ring {lot_id}",
            category="ring",
            karat=18,
            gross_mg=4_000,
            price_minor=90_000,
            currency="USD",
        )
        back_piece(piece, {lot_id: piece.fine_mg}, actor="test")
        set_stock(piece, 1, actor="test")
        publish(piece)
        db.session.commit()
        ids = piece.id, lot_id
        db.session.remove()
    return ids


def _address(n: int) -> Address:
    return Address(
        email=f"shopper{n}@example.org",
        name=f"Shopper {n}",
        country="PE",
        region="Lima Metropolitana",
        city="Lima",
        address_line1="Av. Arequipa 1",
    )


def test_twenty_shoppers_buying_the_last_unit_make_one_order(race_app):
    piece_id, lot_id = _shop_with_one_unit(race_app)

    def buy(n: int) -> Callable[[], None]:
        def work() -> None:
            place_order(
                {piece_id: 1}, _address(n), user_id=None, currency="USD", fee_percent=Decimal("8")
            )

        return work

    outcomes = _race(race_app, [buy(n) for n in range(20)])

    assert outcomes.count("ok") == 1
    assert sum("is sold out" in o for o in outcomes) == 19
    with race_app.app_context():
        assert db.session.get(Piece, piece_id).stock == 0
        orders = db.session.scalars(
            sa.select(Order).join(Order.lines).where(Order.lines.any(piece_id=piece_id))
        ).all()
        assert len(orders) == 1
        assert lot_gold([lot_id])[lot_id].balances
        _no_negative_balance()


def test_a_double_clicked_pay_charges_once(race_app):
    piece_id, _ = _shop_with_one_unit(race_app)
    with race_app.app_context():
        order = place_order(
            {piece_id: 1}, _address(99), user_id=None, currency="USD", fee_percent=Decimal("8")
        )
        db.session.commit()
        order_id = order.id
        db.session.remove()

    def click() -> None:
        with race_app.test_request_context():
            pay(db.session.get(Order, order_id), SandboxGateway(), CARD, actor="double click")

    outcomes = _race(race_app, [click for _ in range(6)])

    with race_app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "paid"
        payments = db.session.scalars(sa.select(Payment).where(Payment.order_id == order_id)).all()
        assert len(payments) == 1 and payments[0].status == "succeeded"
        paid = db.session.scalar(
            sa.select(sa.func.count(LedgerTransaction.id)).where(
                LedgerTransaction.idempotency_key == f"order:{order_id}:paid"
            )
        )
        assert paid == 1
        assert outcomes.count("ok") >= 1
        _no_negative_balance()
