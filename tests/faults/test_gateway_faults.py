"""The card processor failing while a shopper pays or the Central refunds: nothing half-done.

Stripe is the real ``stripe`` SDK over HTTP against the local fake of ``tests/stripe_fixtures.py``,
made to misbehave three ways: the answer is lost after Stripe did the work (a timeout), Stripe
answers 500 without doing it, or nobody listens on its port (connection refused). After each
fault the order keeps its status, payment status, stock, gold reservations and books; nothing
is charged or refunded twice; and doing the same again finishes the job. The sandbox's own
failure path (cards it refuses) and the order clock racing a payment are checked the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace.catalog.models import Piece
from marketplace.config import Defaults
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.mail import outbox
from marketplace.orders.models import Order
from marketplace.orders.services import expire_order
from marketplace.payments.gateways import GatewayUnavailable, SandboxGateway
from marketplace.payments.models import Payment, Refund
from marketplace.payments.services import pay, payment_for
from marketplace.payments.stripe_gateway import StripeGateway, intent_key
from marketplace.payments.webhooks import apply_intent_state
from tests.factories import ADDRESS_FORM as ADDRESS
from tests.factories import GOOD_CARD
from tests.faults.state import assert_books_verify, snapshot
from tests.stripe_fixtures import (  # the *_fixture names are fixtures, used as parameters
    FakeStripe,
    fake_api,
    fake_stripe_fixture,  # noqa: F401
    fake_stripe_server_fixture,  # noqa: F401
    free_port,
    paid_bookings,
    placed_order,
)

FAULTS = ["timeout", "server error", "connection refused"]
NOT_ANSWERED = "The card processor did not answer"


@contextmanager
def stripe_fails(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe, fault: str
) -> Iterator[None]:
    """Make the next call to Stripe fail with ``fault``; Stripe works again afterwards."""
    if fault == "timeout":
        fake.fail_next("timeout")  # carried out at Stripe, the answer arrives too late
    elif fault == "server error":
        fake.fail_next("500")  # refused by Stripe, nothing done
    else:
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    try:
        yield
    finally:
        fake.faults.clear()
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.url)


def _a_piece() -> Piece:
    piece = db.session.scalar(
        sa.select(Piece).where(Piece.status == "active", Piece.stock >= 2).order_by(Piece.id)
    )
    assert piece is not None
    return piece


def _placed_on_the_pages(client) -> tuple[Order, str]:  # type: ignore[no-untyped-def]
    """An order of one unit placed through cart, checkout and review; its pay page's URL."""
    piece = _a_piece()
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    assert client.post("/checkout", data=ADDRESS).status_code == 302
    pay_url = client.post("/checkout/review").location
    order = db.session.scalar(sa.select(Order).where(Order.number == pay_url.split("/")[2]))
    assert order is not None
    return order, pay_url


def _confirmed_in_the_browser(client, fake: FakeStripe, pay_url: str) -> str:  # type: ignore[no-untyped-def]
    """Open the pay page (its PaymentIntent is created) and confirm the card as Stripe.js does."""
    assert client.get(pay_url).status_code == 200
    (intent_id,) = fake.intents
    fake_api(fake).v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    return intent_id


def _gold(order: Order) -> dict[int, LotGold]:
    """Gold figures of the lots in the order's pieces."""
    db.session.expire_all()
    return lot_gold([p.lot_id for line in order.lines for p in line.premium_lines])


def _keys_sent(fake: FakeStripe, path: str) -> list[str | None]:
    """The idempotency keys of the POSTs to ``path`` the fake received, in order."""
    return [key for method, p, key in fake.requests if (method, p) == ("POST", path)]


def _charges(fake: FakeStripe) -> int:
    return sum(1 for intent in fake.intents.values() if intent.get("_charge"))


@pytest.mark.parametrize("fault", FAULTS)
def test_a_stripe_fault_while_confirming_a_payment_changes_nothing_and_paying_again_books_it_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, fake_stripe: FakeStripe, fault: str
):
    order, pay_url = _placed_on_the_pages(client)
    intent_id = _confirmed_in_the_browser(client, fake_stripe, pay_url)
    before, gold_before = snapshot(), _gold(order)

    with stripe_fails(app, monkeypatch, fake_stripe, fault):
        failed = client.post(pay_url, data={})

    assert failed.status_code == 503
    assert NOT_ANSWERED in failed.get_data(as_text=True)
    assert snapshot() == before  # status, payment, stock, gold and money as they were
    assert _gold(order) == gold_before
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert db.session.scalar(sa.select(Payment.status).where(Payment.order_id == order.id)) == (
        "processing"  # not left "charging": the next press may claim it
    )
    assert_books_verify()

    receipts = len(outbox())
    paid = client.post(pay_url, data={})

    assert paid.status_code == 302
    assert paid.location.split("?")[0].endswith(f"/orders/{order.number}")
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert paid_bookings(order) == 1
    assert list(fake_stripe.intents) == [intent_id] and _charges(fake_stripe) == 1
    after, gold_after = snapshot(), _gold(order)
    assert after.stock == before.stock  # the unit was reserved when the order was placed
    for lot_id, figures in gold_after.items():
        sold = sum(
            p.fine_mg for line in order.lines for p in line.premium_lines if p.lot_id == lot_id
        )
        assert figures.reserved == gold_before[lot_id].reserved - sold
        assert figures.sold == gold_before[lot_id].sold + sold
    assert len(outbox()) == receipts + 1
    assert_books_verify()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_stripe_fault_while_opening_the_pay_page_ends_in_one_payment_intent(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, fake_stripe: FakeStripe, fault: str
):
    order, pay_url = _placed_on_the_pages(client)
    before = snapshot()

    with stripe_fails(app, monkeypatch, fake_stripe, fault):
        failed = client.get(pay_url)

    assert failed.status_code == 503
    assert "Card payments are not available at this moment" in failed.get_data(as_text=True)
    assert 'id="card-element"' not in failed.get_data(as_text=True)
    assert snapshot().stock == before.stock and snapshot().balances == before.balances

    opened = client.get(pay_url)

    page = opened.get_data(as_text=True)
    assert opened.status_code == 200 and 'id="card-element"' in page
    payments = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).all()
    assert len(payments) == 1 and payments[0].provider_ref in fake_stripe.intents
    intent_id = payments[0].provider_ref
    assert f'data-client-secret="{intent_id}_secret_' in page
    fake_api(fake_stripe).v1.payment_intents.confirm(
        intent_id, params={"payment_method": "pm_card_visa"}
    )
    assert client.post(pay_url, data={}).status_code == 302
    assert paid_bookings(order) == 1
    # On PostgreSQL a lost answer can leave a second intent behind (see
    # test_with_network_retries_a_lost_answer_on_the_pay_page_leaves_one_payment_intent): its
    # client secret was never shown, so it can be neither confirmed nor charged.
    assert _charges(fake_stripe) == 1
    assert all(
        i["status"] == "requires_payment_method"
        for k, i in fake_stripe.intents.items()
        if k != intent_id
    )
    assert_books_verify()


def test_with_network_retries_a_lost_answer_on_the_pay_page_leaves_one_payment_intent(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, fake_stripe: FakeStripe
):
    retries = Defaults.STRIPE_MAX_NETWORK_RETRIES  # as in production
    monkeypatch.setitem(app.config, "STRIPE_MAX_NETWORK_RETRIES", retries)
    order, pay_url = _placed_on_the_pages(client)

    fake_stripe.fail_next("timeout")
    opened = client.get(pay_url)

    assert opened.status_code == 200
    (intent_id,) = fake_stripe.intents
    payments = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).all()
    assert [p.provider_ref for p in payments] == [intent_id]


def _paid_through_stripe(client, fake: FakeStripe) -> Order:  # type: ignore[no-untyped-def]
    order, pay_url = _placed_on_the_pages(client)
    _confirmed_in_the_browser(client, fake, pay_url)
    assert client.post(pay_url, data={}).status_code == 302
    db.session.refresh(order)
    assert order.status == "paid"
    return order


@pytest.mark.parametrize("fault", FAULTS)
def test_a_stripe_fault_while_refunding_changes_nothing_and_refunding_again_gives_back_once(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    client,
    as_user,
    fake_stripe: FakeStripe,
    fault: str,
):
    order = _paid_through_stripe(client, fake_stripe)
    as_user("admin@demo.test")
    line = order.lines[0]
    form = {f"units-{line.id}": str(line.quantity), "reason": "Scratched in the workshop"}
    before, gold_before = snapshot(), _gold(order)

    with stripe_fails(app, monkeypatch, fake_stripe, fault):
        failed = client.post(f"/admin/orders/{order.number}", data=form, follow_redirects=True)

    assert NOT_ANSWERED in failed.get_data(as_text=True)
    assert snapshot() == before
    assert _gold(order) == gold_before
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("paid", "paid")
    # A lost answer means Stripe refunded; the retry below must replay that refund.
    assert len(fake_stripe.refunds) == (1 if fault == "timeout" else 0)

    again = client.post(f"/admin/orders/{order.number}", data=form, follow_redirects=True)

    assert "Refunded." in again.get_data(as_text=True)
    (stripe_refund,) = fake_stripe.refunds.values()
    assert stripe_refund["amount"] == order.total_minor  # every unit, and the unsent parcel
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    refunds = db.session.scalars(sa.select(Refund)).all()
    assert [(r.provider_ref, r.amount_minor) for r in refunds] == [
        (stripe_refund["id"], order.total_minor)
    ]
    after, gold_after = snapshot(), _gold(order)
    assert after.stock[line.piece_id] == before.stock[line.piece_id] + line.quantity
    for p in line.premium_lines:
        assert gold_after[p.lot_id].sold == gold_before[p.lot_id].sold - p.fine_mg
        assert gold_after[p.lot_id].committed == gold_before[p.lot_id].committed + p.fine_mg
    assert_books_verify()


@pytest.mark.parametrize("fault", ["timeout", "server error"])
def test_network_retries_absorb_a_blip_with_the_same_idempotency_key(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake_stripe: FakeStripe, fault: str
):
    monkeypatch.setitem(app.config, "STRIPE_MAX_NETWORK_RETRIES", 2)
    order = placed_order()
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    db.session.commit()

    fake_stripe.fail_next("timeout" if fault == "timeout" else "500")
    gateway.prepare(payment)  # no error: the SDK asked again
    db.session.commit()

    assert _keys_sent(fake_stripe, "/v1/payment_intents") == [intent_key(payment)] * 2
    assert list(fake_stripe.intents) == [payment.provider_ref]

    fake_api(fake_stripe).v1.payment_intents.confirm(
        payment.provider_ref, params={"payment_method": "pm_card_visa"}
    )
    assert pay(order, gateway, {}, actor="shopper@example.test")
    db.session.commit()
    fake_stripe.fail_next("timeout" if fault == "timeout" else "500")
    refund_key = f"order-{order.id}-refund-1-1000"
    result = gateway.refund(payment, 1_000, refund_key)
    assert result.succeeded and len(fake_stripe.refunds) == 1
    assert _keys_sent(fake_stripe, "/v1/refunds") == [refund_key] * 2


def test_the_stripe_client_waits_the_configured_time_and_asks_the_configured_number_of_times(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake_stripe: FakeStripe
):
    order = placed_order()
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    db.session.commit()

    monkeypatch.setitem(app.config, "STRIPE_MAX_NETWORK_RETRIES", 0)
    fake_stripe.fail_next("timeout")
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        gateway.prepare(payment)
    assert time.monotonic() - started < fake_stripe.hang_seconds  # gave up at the timeout
    db.session.rollback()

    monkeypatch.setitem(app.config, "STRIPE_MAX_NETWORK_RETRIES", 1)
    for _ in range(2):
        fake_stripe.fail_next("500")
    with pytest.raises(GatewayUnavailable):
        gateway.prepare(payment)
    db.session.rollback()
    # once with no retries, then twice
    assert _keys_sent(fake_stripe, "/v1/payment_intents") == [intent_key(payment)] * 3
    assert payment.provider_ref is None


def test_production_settings_retry_a_blip_and_bound_the_wait():
    # Every POST we send carries an idempotency key, so retrying is safe; retries must be on.
    assert Defaults.STRIPE_MAX_NETWORK_RETRIES >= 1
    # Stripe's SDK waits 80 s by default: far longer than a shopper (or a worker) waits.
    assert 0 < Defaults.STRIPE_TIMEOUT_SECONDS <= 30


@pytest.mark.parametrize(
    "card",
    ["4000 0000 0000 0002", "4000 0000 0000 9995", "4242 4242 4242 4241"],
    ids=["declined", "insufficient funds", "not a card number"],
)
def test_a_card_the_sandbox_refuses_leaves_the_reservation_and_books_and_another_card_pays(
    client, card: str
):
    order, pay_url = _placed_on_the_pages(client)
    before = snapshot()

    refused = client.post(pay_url, data={**GOOD_CARD, "card_number": card})

    assert refused.status_code == 402
    after = snapshot()
    assert after.payments == {**before.payments, "failed": before.payments.get("failed", 0) + 1}
    assert (after.stock, after.balances, after.transactions) == (
        before.stock,
        before.balances,
        before.transactions,
    )
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("pending_payment", "failed")

    assert client.post(pay_url, data=GOOD_CARD).status_code == 302
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("paid", "paid")
    payments = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).all()
    assert [p.status for p in payments] == ["succeeded"]  # the failed attempt, paid on retry
    assert paid_bookings(order) == 1
    assert_books_verify()


def _expired_elsewhere(app: Flask, order: Order) -> None:
    """The expiry job, in its own session, expires the order after this request read it."""
    assert order.status == "pending_payment"  # what this request has read
    # Tests share one connection, so a transaction open here would hold (and, rolled back,
    # undo) the job's commit; end it while keeping what was read, as a stale request would.
    session = db.session()
    session.expire_on_commit = False
    session.commit()
    session.expire_on_commit = True
    with app.app_context():
        other = db.session.get(Order, order.id)
        assert other is not None and other is not order
        assert expire_order(other, now=other.expires_at + timedelta(seconds=1))
        db.session.commit()


def test_an_order_expired_by_the_clock_while_being_paid_is_not_charged(app: Flask):
    order = placed_order()
    _expired_elsewhere(app, order)
    before = snapshot()

    with pytest.raises(DomainError, match="expired"):
        pay(order, SandboxGateway(), GOOD_CARD, actor="ana@example.org")
    db.session.rollback()

    assert snapshot() == before
    assert before.payments.get("succeeded", 0) == 0
    db.session.refresh(order)
    assert (order.status, order.payment_status) == ("expired", "unpaid")
    assert_books_verify()


def test_a_card_payment_that_succeeds_as_the_order_expires_is_refunded_in_full(
    app: Flask, fake_stripe: FakeStripe
):
    order = placed_order()
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    gateway.prepare(payment)
    db.session.commit()
    assert payment.provider_ref
    fake_api(fake_stripe).v1.payment_intents.confirm(
        payment.provider_ref, params={"payment_method": "pm_card_visa"}
    )
    _expired_elsewhere(app, order)
    before = snapshot()

    outcome, booked = apply_intent_state(payment, "stripe webhook")  # the webhook's work
    db.session.commit()

    assert booked is None and "refunded in full" in outcome
    (stripe_refund,) = fake_stripe.refunds.values()
    assert stripe_refund["amount"] == order.total_minor
    db.session.refresh(order)
    assert order.status == "expired" and payment.status == "refunded"
    assert paid_bookings(order) == 0
    after = snapshot()
    assert (after.stock, after.balances) == (before.stock, before.balances)
    assert after.refunds == before.refunds + 1
    assert_books_verify()
