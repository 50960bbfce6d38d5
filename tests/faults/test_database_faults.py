"""A database error in the middle of a purchase leaves nothing half-written.

Each test makes one statement fail with ``sqlalchemy.exc.OperationalError`` part-way through
placing an order, booking its payment or booking a refund (see ``tests/faults/state.py``), then
checks that orders, lines, premium lines, stock, gold and money balances and the ledger are
exactly as before, that the shopper (or the Central) is told, and that trying again finishes the
job once. Runs on SQLite and, with ``TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace.catalog.models import Piece
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from marketplace.orders.models import Order
from marketplace.payments.models import Refund
from tests.factories import ADDRESS_FORM as ADDRESS
from tests.factories import GOOD_CARD
from tests.faults.state import assert_books_verify, database_fails_on, snapshot
from tests.stripe_fixtures import (  # the *_fixture names are fixtures, used as parameters
    FakeStripe,
    fake_api,
    fake_stripe_fixture,  # noqa: F401
    fake_stripe_server_fixture,  # noqa: F401
    paid_bookings,
)


def _piece_from_two_lots() -> Piece:
    """A piece in stock whose gold comes from more than one lot (so several premium lines)."""
    pieces = db.session.scalars(
        sa.select(Piece).where(Piece.status == "active", Piece.stock >= 2).order_by(Piece.id)
    ).all()
    piece = next((p for p in pieces if len(p.gold) > 1), None)
    assert piece is not None, "the demo has no piece backed by two lots"
    return piece


def _to_review(client, piece: Piece, quantity: int) -> None:  # type: ignore[no-untyped-def]
    client.post("/cart", data={"piece_id": piece.id, "quantity": quantity, "action": "add"})
    assert client.post("/checkout", data=ADDRESS).status_code == 302


def _order(number: str) -> Order:
    order = db.session.scalar(sa.select(Order).where(Order.number == number))
    assert order is not None
    return order


@pytest.fixture
def error_pages(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unexpected errors end in the 500 page, as in production (tests propagate them)."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


@pytest.mark.parametrize(
    "failing",
    [
        "INSERT INTO premium_line",
        "UPDATE ledger_account",  # the gold moving from committed to reserved
        "INSERT INTO ledger_entry",
        "INSERT INTO order_event",  # the very last write
    ],
)
def test_a_database_error_while_placing_an_order_writes_nothing_and_keeps_the_cart(
    client, failing: str
):
    piece = _piece_from_two_lots()
    _to_review(client, piece, 2)
    before = snapshot()

    with database_fails_on(failing) as failed:
        response = client.post("/checkout/review")

    assert failed, f"no statement started with {failing}"
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "could not be placed because of a problem on our side" in page
    assert "Nothing was reserved or charged and your cart is kept" in page
    assert snapshot() == before
    assert_books_verify()
    with client.session_transaction() as session:
        assert session["cart"] == {str(piece.id): 2}

    again = client.post("/checkout/review")

    assert again.status_code == 302 and "/pay" in again.location
    after = snapshot()
    assert after.orders == before.orders + 1
    assert after.premium_lines == before.premium_lines + len(piece.gold)
    assert after.stock[piece.id] == before.stock[piece.id] - 2
    assert_books_verify()


@pytest.mark.parametrize(
    "failing",
    [
        "INSERT INTO ledger_entry",  # the money split of the payment
        "INSERT INTO custody_event",  # the sale in the lot's custody chain
        "INSERT INTO certificate",  # the provenance certificate, issued last
    ],
)
def test_a_database_error_while_booking_a_payment_leaves_the_order_payable_once(
    client, error_pages, failing: str
):
    piece = _piece_from_two_lots()
    _to_review(client, piece, 1)
    pay_url = client.post("/checkout/review").location
    order = _order(pay_url.split("/")[2])
    before = snapshot()

    with database_fails_on(failing) as failed:
        response = client.post(pay_url, data=GOOD_CARD)

    assert failed
    assert response.status_code == 500
    assert "Nothing you sent was half-saved" in response.get_data(as_text=True)
    assert snapshot() == before
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert paid_bookings(order) == 0

    paid = client.post(pay_url, data=GOOD_CARD)

    assert paid.status_code == 302
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert paid_bookings(order) == 1
    assert snapshot().payments == {"succeeded": before.payments.get("succeeded", 0) + 1}
    assert_books_verify()


def _paid_through_stripe(client, fake: FakeStripe) -> Order:  # type: ignore[no-untyped-def]
    """An order placed and paid on the pages, its card confirmed at the fake Stripe."""
    piece = _piece_from_two_lots()
    _to_review(client, piece, 1)
    pay_url = client.post("/checkout/review").location
    assert client.get(pay_url).status_code == 200  # creates the PaymentIntent
    (intent_id,) = fake.intents
    fake_api(fake).v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    assert client.post(pay_url, data={}).status_code == 302
    order = _order(pay_url.split("/")[2])
    assert order.status == "paid"
    return order


@pytest.mark.parametrize("failing", ["INSERT INTO ledger_entry", "UPDATE piece"])
def test_a_database_error_after_stripe_refunded_books_the_refund_once_when_tried_again(
    client, as_user, error_pages, fake_stripe: FakeStripe, failing: str
):
    order = _paid_through_stripe(client, fake_stripe)
    as_user("admin@demo.test")
    form = {f"units-{line.id}": str(line.quantity) for line in order.lines}
    form["reason"] = "The shopper changed their mind"
    before = snapshot()

    with database_fails_on(failing) as failed:
        response = client.post(f"/admin/orders/{order.number}", data=form)

    assert failed
    assert response.status_code == 500
    assert snapshot() == before
    assert len(fake_stripe.refunds) == 1  # Stripe gave the money back; our books do not say so

    again = client.post(f"/admin/orders/{order.number}", data=form, follow_redirects=True)

    assert "Refunded." in again.get_data(as_text=True)
    assert len(fake_stripe.refunds) == 1  # the same idempotency key: replayed, not repeated
    (stripe_refund,) = fake_stripe.refunds.values()
    assert stripe_refund["amount"] == order.total_minor
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    refunds = db.session.scalars(sa.select(Refund)).all()
    assert [(r.provider_ref, r.amount_minor) for r in refunds] == [
        (stripe_refund["id"], order.total_minor)
    ]
    after = snapshot()
    line = order.lines[0]
    assert after.stock[line.piece_id] == before.stock[line.piece_id] + line.quantity
    refund_postings = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.memo == f"Refund on order {order.number}")
    )
    assert refund_postings == 1
    assert_books_verify()
