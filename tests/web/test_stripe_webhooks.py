"""Stripe through the test client: ``POST /webhooks/stripe`` (signed, de-duplicated, out of
order) and the pay page with Stripe's card form, against localstripe."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask

from marketplace.extensions import db
from marketplace.mail import outbox
from marketplace.orders.models import Order
from marketplace.payments.models import Payment, Refund, WebhookEvent
from marketplace.payments.services import pay, payment_for
from marketplace.payments.stripe_gateway import StripeGateway
from tests.stripe_fixtures import (  # the *_fixture names are fixtures, used as parameters
    DECLINED_WHEN_CHARGED,
    VISA,
    confirm_with_card,
    event,
    free_port,
    localstripe_server_fixture,  # noqa: F401
    localstripe_url_fixture,  # noqa: F401
    paid_bookings,
    placed_order,
    signed,
    stripe_api_fixture,  # noqa: F401
    stripe_on_fixture,  # noqa: F401
)

WEBHOOK = "/webhooks/stripe"


def _prepared(order: Order) -> Payment:
    """The order's payment with its PaymentIntent at Stripe, committed."""
    gateway = StripeGateway()
    payment = payment_for(order, gateway)
    gateway.prepare(payment)
    db.session.commit()
    return payment


def _intent(api: stripe.StripeClient, payment: Payment) -> dict[str, Any]:
    """The PaymentIntent as Stripe would put it in an event."""
    assert payment.provider_ref
    return api.v1.payment_intents.retrieve(payment.provider_ref).to_dict(for_json=True)


def _deliver(client, body: bytes, signature: str | None):  # type: ignore[no-untyped-def]
    if "stripe_webhooks" not in client.application.blueprints:
        pytest.fail("create_app must register marketplace.payments.webhooks.bp")
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post(WEBHOOK, data=body, headers=headers, content_type="application/json")


def _send(client, evt: dict[str, Any]):  # type: ignore[no-untyped-def]
    return _deliver(client, *signed(evt))


def _events_recorded() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) or 0)


def _receipts(order: Order) -> int:
    return sum(1 for mail in outbox() if mail.to == order.email and order.number in mail.subject)


@pytest.mark.parametrize(
    "forgery",
    ["signed with another secret", "body changed after signing", "older than five minutes",
     "no signature"],
)
def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    client, stripe_on, stripe_api, forgery
):
    order = placed_order()
    payment = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)  # accepted, it would book it
    evt = event("payment_intent.succeeded", _intent(stripe_api, payment))
    body, signature = signed(evt)
    if forgery == "signed with another secret":
        body, signature = signed(evt, secret="whsec_someone_else")
    elif forgery == "body changed after signing":
        body = body.replace(b'"livemode": false', b'"livemode": true', 1)
    elif forgery == "older than five minutes":
        body, signature = signed(evt, at=int(time.time()) - 301)
    else:
        signature = None

    response = _deliver(client, body, signature)

    assert response.status_code == 400
    db.session.expire_all()
    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert paid_bookings(order) == 0 and _events_recorded() == 0


def test_the_same_webhook_five_times_and_out_of_order_books_the_payment_once(
    client, csrf_on, stripe_on, stripe_api
):
    order = placed_order()
    payment = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)
    intent = _intent(stripe_api, payment)
    failed_earlier = event(
        "payment_intent.payment_failed",
        {**intent, "status": "requires_payment_method",
         "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}},
    )
    succeeded = event("payment_intent.succeeded", intent)
    receipts_before = _receipts(order)

    deliveries = [failed_earlier, succeeded, succeeded, failed_earlier, succeeded, succeeded,
                  succeeded]
    answers = [_send(client, evt) for evt in deliveries]

    assert [a.status_code for a in answers] == [200] * 7
    # the late "failed" event is applied as what Stripe says now: paid
    assert [a.json["outcome"] for a in answers] == [
        "paid", "already paid", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate",
    ]
    db.session.expire_all()
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert payment.status == "succeeded" and payment.failure_message is None
    assert paid_bookings(order) == 1
    assert _events_recorded() == 2
    assert _receipts(order) == receipts_before + 1


def test_a_payment_failed_webhook_records_the_decline_and_the_order_stays_payable(
    client, stripe_on, stripe_api
):
    order = placed_order()
    payment = _prepared(order)
    with pytest.raises(stripe.CardError):
        confirm_with_card(stripe_api, payment.provider_ref, DECLINED_WHEN_CHARGED)
    failed = event("payment_intent.payment_failed", _intent(stripe_api, payment))

    first, again = _send(client, failed), _send(client, failed)

    assert (first.status_code, first.json["outcome"]) == (200, "failure recorded")
    assert (again.status_code, again.json["outcome"]) == (200, "duplicate")
    db.session.expire_all()
    assert (order.status, order.payment_status) == ("pending_payment", "failed")
    assert payment.status == "failed" and "declined" in (payment.failure_message or "")
    assert paid_bookings(order) == 0


def test_a_charge_refunded_webhook_updates_our_refund_and_invents_none(
    client, stripe_on, stripe_api
):
    order = placed_order()
    payment = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)
    gateway = StripeGateway()
    assert pay(order, gateway, {}, actor="shopper@example.test")
    key = f"order-{order.id}-refund-1-1000"
    result = gateway.refund(payment, 1_000, key)
    db.session.add(
        Refund(payment_id=payment.id, amount_minor=1_000, provider_ref=result.provider_ref,
               idempotency_key=key, status="pending")
    )
    db.session.commit()
    # someone refunds more from Stripe's dashboard: not ours to book
    stripe_api.v1.refunds.create(params={"payment_intent": payment.provider_ref, "amount": 500})
    charge_id = _intent(stripe_api, payment)["latest_charge"]["id"]
    charge = stripe_api.v1.charges.retrieve(charge_id).to_dict(for_json=True)

    response = _send(client, event("charge.refunded", charge))

    assert (response.status_code, response.json["outcome"]) == (200, "1 refund(s) updated")
    db.session.expire_all()
    refunds = db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
    assert [(r.provider_ref, r.status) for r in refunds] == [(result.provider_ref, "succeeded")]


def test_events_we_do_not_handle_or_do_not_know_are_acknowledged(client, stripe_on):
    ignored = _send(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
    stranger = _send(
        client, event("payment_intent.succeeded", {"id": "pi_not_ours", "object": "payment_intent"})
    )

    assert (ignored.status_code, ignored.json["outcome"]) == (200, "ignored")
    assert (stranger.status_code, stranger.json["outcome"]) == (200, "not our payment")
    assert _events_recorded() == 1  # only the handled type is remembered


def test_a_webhook_that_cannot_reach_stripe_is_refused_with_503_and_applied_when_sent_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, stripe_on, stripe_api, localstripe_url
):
    order = placed_order()
    payment = _prepared(order)
    confirm_with_card(stripe_api, payment.provider_ref, VISA)
    succeeded = event("payment_intent.succeeded", _intent(stripe_api, payment))

    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    down = _send(client, succeeded)
    db.session.expire_all()
    assert down.status_code == 503
    assert order.status == "pending_payment" and _events_recorded() == 0

    monkeypatch.setitem(app.config, "STRIPE_API_BASE", localstripe_url)
    back = _send(client, succeeded)
    assert (back.status_code, back.json["outcome"]) == (200, "paid")
    db.session.expire_all()
    assert order.status == "paid" and paid_bookings(order) == 1


# The pay page with Stripe's card form.


def _open_pay_page(client, order: Order) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """As the browser that placed the order: the pay page's HTML and its URL."""
    with client.session_transaction() as session:
        session["orders"] = [order.number]
    url = f"/orders/{order.number}/pay"
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True), url


def _form_value(html: str, attribute: str) -> str:
    match = re.search(rf'{attribute}="([^"]+)"', html)
    assert match, f"no {attribute} on the pay page"
    return match.group(1)


def test_the_pay_page_loads_stripe_js_mounts_the_card_form_and_says_it_needs_javascript(
    client, stripe_on, localstripe_url
):
    order = placed_order()

    html, _ = _open_pay_page(client, order)

    js_url = f"{localstripe_url}/js.stripe.com/v3/"
    assert f'<script src="{js_url}"></script>' in html
    assert "/static/js/pay.js" in html
    assert 'id="card-element"' in html and 'aria-live="polite"' in html
    assert _form_value(html, "data-client-secret").startswith("pi_")
    assert _form_value(html, "data-publishable-key") == "pk_test_x"
    assert "<noscript>" in html and "needs JavaScript" in html
    assert 'name="csrf_token"' in html
    script = client.get("/static/js/pay.js").get_data(as_text=True)
    assert "confirmCardPayment" in script and "card-element" in script
    with urllib.request.urlopen(js_url, timeout=5) as fake_stripe_js:  # what the browser loads
        assert b"confirmCardPayment" in fake_stripe_js.read()


def test_paying_on_the_pay_page_after_stripe_js_confirmed_the_card_books_the_order_once(
    client, csrf_on, stripe_on, stripe_api
):
    order = placed_order()
    html, url = _open_pay_page(client, order)
    intent_id = _form_value(html, "data-client-secret").split("_secret_")[0]
    token = _form_value(html, 'name="csrf_token" value')
    receipts_before = _receipts(order)

    assert client.post(url, data={}).status_code == 400  # no CSRF token, no payment
    confirm_with_card(stripe_api, intent_id, VISA)  # what Stripe.js does in the browser
    first = client.post(url, data={"csrf_token": token})
    second = client.post(url, data={"csrf_token": token})  # pressed twice

    assert first.status_code == 302 and first.location.endswith(f"/orders/{order.number}")
    assert second.status_code == 302
    db.session.expire_all()
    assert order.status == "paid" and paid_bookings(order) == 1
    assert _receipts(order) == receipts_before + 1
    assert "Thank you! Your order is paid." in client.get(first.location).get_data(as_text=True)


def test_a_declined_card_on_the_pay_page_says_why_and_offers_the_same_payment_again(
    client, stripe_on, stripe_api
):
    order = placed_order()
    html, url = _open_pay_page(client, order)
    secret = _form_value(html, "data-client-secret")
    with pytest.raises(stripe.CardError):
        confirm_with_card(stripe_api, secret.split("_secret_")[0], DECLINED_WHEN_CHARGED)

    response = client.post(url, data={})

    page = response.get_data(as_text=True)
    assert response.status_code == 402
    assert "Your card was declined. Try another card." in page
    assert _form_value(page, "data-client-secret") == secret
    db.session.expire_all()
    assert (order.status, order.payment_status) == ("pending_payment", "failed")


def test_the_pay_page_says_so_when_stripe_cannot_be_reached(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, stripe_on
):
    order = placed_order()
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    with client.session_transaction() as session:
        session["orders"] = [order.number]

    response = client.get(f"/orders/{order.number}/pay")

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The card processor did not answer" in page
    assert "Card payments are not available at this moment" in page
    assert 'id="card-element"' not in page
    db.session.expire_all()
    # The payment row is kept (its id is the idempotency key of the retry); no intent exists.
    assert db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Payment)
        .where(Payment.order_id == order.id, Payment.provider_ref.is_not(None))
    ) == 0
