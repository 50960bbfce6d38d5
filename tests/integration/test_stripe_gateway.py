"""Card payments through Stripe: the gateway and ``flask payments reconcile``, with the real
``stripe`` SDK over HTTP against localstripe, and against a local fake of Stripe's documented
answers for what localstripe lacks (confirming with a payment method, idempotent replays,
balance transaction fees, timeouts and 500s)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask

from marketplace.extensions import db
from marketplace.orders.models import Order, OrderEvent
from marketplace.payments.gateways import GatewayUnavailable
from marketplace.payments.models import Payment
from marketplace.payments.services import PaymentRefused, pay, payment_for, settle
from marketplace.payments.stripe_gateway import StripeGateway
from tests.stripe_fixtures import (  # the *_fixture names are fixtures, used as parameters
    DECLINED_WHEN_CHARGED,
    FEE_FIXED_MINOR,
    FEE_PERCENT,
    NEEDS_AUTHENTICATION,
    VISA,
    FakeStripe,
    confirm_with_card,
    fake_api,
    fake_stripe_fixture,  # noqa: F401
    fake_stripe_server_fixture,  # noqa: F401
    free_port,
    localstripe_server_fixture,  # noqa: F401
    localstripe_url_fixture,  # noqa: F401
    paid_bookings,
    placed_order,
    stripe_api_fixture,  # noqa: F401
    stripe_on_fixture,  # noqa: F401
)

SHOPPER = "shopper@example.test"


def _prepared(order: Order) -> tuple[StripeGateway, Payment, dict[str, str]]:
    """Open the order's pay page, as far as the gateway is concerned: its PaymentIntent."""
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    client = gateway.prepare(payment)
    db.session.commit()
    return gateway, payment, client


def _reconcile(app: Flask):  # type: ignore[no-untyped-def]
    """Run ``flask payments reconcile``."""
    if "payments" not in app.cli.commands:
        pytest.fail("create_app must call marketplace.payments.cli.register(app)")
    return app.test_cli_runner().invoke(args=["payments", "reconcile"])


def _estimated_fee(amount: int) -> int:
    exact = Decimal(amount) * FEE_PERCENT / 100
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN)) + FEE_FIXED_MINOR


def _paid_status_events(order: Order) -> int:
    return len(
        db.session.scalars(
            sa.select(OrderEvent).where(
                OrderEvent.order_id == order.id,
                OrderEvent.field == "status",
                OrderEvent.to_value == "paid",
            )
        ).all()
    )


def test_a_card_that_succeeds_pays_the_order_and_books_it_once(stripe_on, stripe_api):
    order = placed_order()
    gateway, payment, client = _prepared(order)

    intent = stripe_api.v1.payment_intents.retrieve(payment.provider_ref)
    assert (intent.amount, intent.currency) == (order.total_minor, "pen")
    assert intent.metadata["order_number"] == order.number
    assert intent.metadata["payment_id"] == str(payment.id)
    assert client["client_secret"] == intent.client_secret
    assert client["publishable_key"] == "pk_test_x"
    assert client["js_url"].endswith("/js.stripe.com/v3/")
    assert client["return_url"].startswith("http")
    assert client["return_url"].split("?")[0].endswith(f"/orders/{order.number}/pay")

    assert confirm_with_card(stripe_api, intent.id, VISA) == "succeeded"
    assert pay(order, gateway, {}, actor=SHOPPER) is True
    db.session.commit()

    assert (order.status, order.payment_status) == ("paid", "paid")
    assert payment.status == "succeeded" and payment.provider_ref == intent.id
    # localstripe reports no fee, so the configured tariff is booked
    assert payment.processor_fee_minor == _estimated_fee(order.total_minor)
    assert paid_bookings(order) == 1


def test_a_declined_card_leaves_the_order_payable_and_the_retry_reuses_the_payment_intent(
    stripe_on, stripe_api
):
    order = placed_order()
    gateway, payment, client = _prepared(order)
    with pytest.raises(stripe.CardError):
        confirm_with_card(stripe_api, payment.provider_ref, DECLINED_WHEN_CHARGED)

    with pytest.raises(PaymentRefused, match="Your card was declined") as refused:
        pay(order, gateway, {}, actor=SHOPPER)
    db.session.commit()  # as the pay page does, so the failure stays on record

    assert "Try another card" in refused.value.message
    assert (order.status, order.payment_status) == ("pending_payment", "failed")
    assert payment.status == "failed" and "declined" in (payment.failure_message or "")
    assert paid_bookings(order) == 0

    # The shopper tries again: same payment, same PaymentIntent, no second one at Stripe.
    again = payment_for(order, gateway)
    retry = gateway.prepare(again)
    db.session.commit()
    assert again.id == payment.id
    assert retry["client_secret"] == client["client_secret"]
    assert [i.id for i in stripe_api.v1.payment_intents.list().data] == [payment.provider_ref]


def test_after_a_decline_another_card_pays_on_the_same_payment_intent(fake_stripe: FakeStripe):
    api = fake_api(fake_stripe)
    order = placed_order()
    gateway, payment, client = _prepared(order)
    intent_id = payment.provider_ref
    assert intent_id is not None
    with pytest.raises(stripe.CardError):
        api.v1.payment_intents.confirm(
            intent_id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    with pytest.raises(PaymentRefused, match="declined"):
        pay(order, gateway, {}, actor=SHOPPER)
    db.session.commit()

    retry = gateway.prepare(payment_for(order, gateway))
    db.session.commit()
    assert retry["client_secret"] == client["client_secret"]
    api.v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    assert pay(order, gateway, {}, actor=SHOPPER) is True
    db.session.commit()

    assert list(fake_stripe.intents) == [intent_id]
    assert order.status == "paid" and payment.provider_ref == intent_id
    # Stripe's balance transaction is in soles here, so its fee is booked, not the estimate
    assert payment.processor_fee_minor == fake_stripe.fee
    assert paid_bookings(order) == 1


def test_confirming_the_same_payment_twice_books_it_once(stripe_on, stripe_api):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)

    assert pay(order, gateway, {}, actor=SHOPPER) is True
    db.session.commit()
    assert pay(order, gateway, {}, actor=SHOPPER) is True  # the browser sent it again
    db.session.commit()
    settle(order, payment, gateway.charge(payment, {}), actor="a late retry")
    db.session.commit()

    assert paid_bookings(order) == 1
    assert _paid_status_events(order) == 1
    assert order.status == "paid"


def test_a_card_that_asks_for_authentication_leaves_the_payment_processing(
    stripe_on, stripe_api
):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    assert confirm_with_card(stripe_api, payment.provider_ref, NEEDS_AUTHENTICATION) == (
        "requires_action"
    )

    assert pay(order, gateway, {}, actor=SHOPPER) is False
    db.session.commit()

    assert (order.status, order.payment_status) == ("pending_payment", "processing")
    assert payment.status == "processing"
    assert paid_bookings(order) == 0


def test_coming_back_without_confirming_the_card_books_nothing(stripe_on):
    order = placed_order()
    gateway, _, _ = _prepared(order)

    with pytest.raises(PaymentRefused, match="not confirmed"):
        pay(order, gateway, {"payment_intent": "pi_someone_elses"}, actor=SHOPPER)
    db.session.commit()

    assert order.status == "pending_payment"
    assert paid_bookings(order) == 0


def test_refunds_in_part_and_then_in_full_go_back_to_the_card(stripe_on, stripe_api):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)
    pay(order, gateway, {}, actor=SHOPPER)
    db.session.commit()

    part = gateway.refund(payment, 1_000, f"order-{order.id}-refund-1-1000")
    rest = order.total_minor - 1_000
    full = gateway.refund(payment, rest, f"order-{order.id}-refund-2-{rest}")

    assert part.succeeded and full.succeeded
    assert part.provider_ref and full.provider_ref and part.provider_ref != full.provider_ref
    assert stripe_api.v1.refunds.retrieve(part.provider_ref).amount == 1_000
    assert stripe_api.v1.refunds.retrieve(full.provider_ref).amount == rest
    intent = stripe_api.v1.payment_intents.retrieve(payment.provider_ref)
    charge = stripe_api.v1.charges.retrieve(
        intent.latest_charge if isinstance(intent.latest_charge, str) else intent.latest_charge.id
    )
    assert charge.amount_refunded == order.total_minor


def test_a_refund_retried_with_the_same_key_is_replayed_not_made_twice(
    fake_stripe: FakeStripe,
):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    assert payment.provider_ref
    fake_api(fake_stripe).v1.payment_intents.confirm(
        payment.provider_ref, params={"payment_method": "pm_card_visa"}
    )
    pay(order, gateway, {}, actor=SHOPPER)
    db.session.commit()

    key = f"order-{order.id}-refund-1-1000"
    first = gateway.refund(payment, 1_000, key)
    second = gateway.refund(payment, 1_000, key)  # e.g. after our side timed out

    assert first.succeeded and second.succeeded
    assert first.provider_ref == second.provider_ref
    assert len(fake_stripe.refunds) == 1

    too_much = gateway.refund(payment, order.total_minor, f"order-{order.id}-refund-2-all")
    assert not too_much.succeeded
    assert "Stripe refused the refund" in too_much.message and "greater" in too_much.message


def test_a_payment_intent_whose_answer_was_lost_is_not_created_twice(fake_stripe: FakeStripe):
    order = placed_order()
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    db.session.commit()

    fake_stripe.fail_next("timeout")  # Stripe creates the intent, its answer never arrives
    with pytest.raises(GatewayUnavailable):
        gateway.prepare(payment)
    db.session.rollback()
    assert payment.provider_ref is None

    gateway.prepare(payment)
    db.session.commit()

    assert list(fake_stripe.intents) == [payment.provider_ref]
    keys = [key for _, path, key in fake_stripe.requests if path == "/v1/payment_intents"]
    assert keys == [f"order-{order.id}-payment-{payment.id}-intent"] * 2


@pytest.mark.parametrize("failure", ["timeout", "server error", "connection refused"])
def test_an_unreachable_stripe_changes_nothing_and_paying_again_finishes_the_order(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake_stripe: FakeStripe, failure: str
):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    assert payment.provider_ref
    fake_api(fake_stripe).v1.payment_intents.confirm(
        payment.provider_ref, params={"payment_method": "pm_card_visa"}
    )
    if failure == "timeout":
        fake_stripe.fail_next("timeout")
    elif failure == "server error":
        fake_stripe.fail_next("500")
    else:
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")

    with pytest.raises(GatewayUnavailable, match="did not answer"):
        pay(order, gateway, {}, actor=SHOPPER)
    db.session.rollback()  # as the pay page does

    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert payment.status == "processing"  # not left "charging": a retry may claim it
    assert paid_bookings(order) == 0

    monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake_stripe.url)
    assert pay(order, gateway, {}, actor=SHOPPER) is True
    db.session.commit()
    assert order.status == "paid" and paid_bookings(order) == 1


def test_a_refund_stripe_does_not_answer_raises_and_changes_nothing(fake_stripe: FakeStripe):
    order = placed_order()
    gateway, payment, _ = _prepared(order)
    assert payment.provider_ref
    fake_api(fake_stripe).v1.payment_intents.confirm(
        payment.provider_ref, params={"payment_method": "pm_card_visa"}
    )
    pay(order, gateway, {}, actor=SHOPPER)
    db.session.commit()

    fake_stripe.fail_next("500")
    with pytest.raises(GatewayUnavailable):
        gateway.refund(payment, 1_000, f"order-{order.id}-refund-1-1000")
    assert fake_stripe.refunds == {}
    assert gateway.refund(payment, 1_000, f"order-{order.id}-refund-1-1000").succeeded


def test_reconcile_settles_a_paid_intent_whose_webhook_never_came(
    app: Flask, stripe_on, stripe_api
):
    paid = placed_order()
    _, paid_payment, _ = _prepared(paid)
    confirm_with_card(stripe_api, paid_payment.provider_ref, VISA)
    waiting = placed_order()
    _, waiting_payment, _ = _prepared(waiting)

    result = _reconcile(app)

    assert result.exit_code == 0, result.output
    assert f"{paid.number} ({paid_payment.provider_ref}): paid" in result.output
    assert f"{waiting.number} ({waiting_payment.provider_ref}): waiting for the shopper" in (
        result.output
    )
    assert "2 pending Stripe payment(s): 1 paid, 0 declined, 1 still waiting" in result.output
    db.session.expire_all()
    assert paid.status == "paid" and paid_bookings(paid) == 1
    assert waiting.status == "pending_payment" and waiting.payment_status == "unpaid"

    again = _reconcile(app)
    assert "Checked 1 pending Stripe payment(s)" in again.output
    assert paid_bookings(paid) == 1


def test_reconcile_says_which_payments_it_could_not_check(
    app: Flask, monkeypatch: pytest.MonkeyPatch, stripe_on, stripe_api
):
    order = placed_order()
    _, payment, _ = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")

    result = _reconcile(app)

    assert result.exit_code == 1
    assert f"{order.number} ({payment.provider_ref}): not checked" in result.output
    db.session.expire_all()
    assert order.status == "pending_payment" and paid_bookings(order) == 0
