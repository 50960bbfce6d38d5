"""Stripe's webhooks: ``POST /webhooks/stripe``, verified, de-duplicated, applied once.

The signature is checked over the raw body (``Stripe-Signature``, 300 s tolerance). Each event
id is inserted into ``webhook_event`` in the same transaction as its effect, so an event that
arrives five times changes the books once; a second delivery racing the first waits on the
unique constraint and answers "duplicate". Events arrive out of order, so the PaymentIntent is
fetched again and its current state applied, whatever the event said. If Stripe cannot be
reached for that, nothing is kept and the answer is 503: Stripe delivers the event again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from marketplace.core.states import OrderStatus
from marketplace.extensions import csrf, db
from marketplace.orders.models import Order
from marketplace.orders.views import send_receipt
from marketplace.payments.gateways import GatewayError
from marketplace.payments.models import Payment, Refund, WebhookEvent
from marketplace.payments.services import settle

if TYPE_CHECKING:
    from marketplace.payments.stripe_gateway import StripeEvent

log = logging.getLogger(__name__)

bp = Blueprint("stripe_webhooks", __name__)
csrf.exempt(bp)  # Stripe cannot send our CSRF token; the signature authenticates it instead

ACTOR = "stripe webhook"


def _stripe() -> ModuleType:
    """The Stripe gateway module, imported on first use: the SDK is large, and a process that
    never sees a webhook (or uses the sandbox) need not hold it."""
    from marketplace.payments import stripe_gateway

    return stripe_gateway


def _answer(outcome: str, status: int = 200) -> ResponseReturnValue:
    """A short JSON answer (Stripe only reads the status; people reading its logs see why)."""
    return jsonify(outcome=outcome), status


def _payment_of_intent(intent_id: object) -> Payment | None:
    """Our payment for a PaymentIntent id, if the intent is ours."""
    if not isinstance(intent_id, str) or not intent_id:
        return None
    return db.session.scalar(
        sa.select(Payment).where(Payment.gateway == "stripe", Payment.provider_ref == intent_id)
    )


def apply_intent_state(payment: Payment, actor: str) -> tuple[str, Order | None]:
    """Fetch the payment's PaymentIntent from Stripe and record what it says.

    Returns what happened, and the order if this call booked it (its receipt goes out after
    the caller's commit). Booking is idempotent; a failure is never recorded over a payment
    that went through, nor on an order that is no longer waiting for payment.
    """
    order = payment.order
    if payment.status == "succeeded":
        return "already paid", None
    state = _stripe().StripeGateway().intent_state(payment)
    result = state.result
    if result.succeeded:
        was_pending = order.status == OrderStatus.PENDING_PAYMENT.value
        paid = settle(order, payment, result, actor=actor)
        if payment.status == "refunded":  # it came after the order expired: given back
            return f"paid after the order {order.status}; refunded in full", None
        if not (was_pending and paid):
            log.error(
                "payment %s of order %s succeeded while the order is %s: refund it",
                payment.id,
                order.number,
                order.status,
            )
            return f"paid, but the order is {order.status}: refund it", None
        return "paid", order
    if result.pending:
        return "processing", None
    if state.awaiting_card:
        return "waiting for the shopper", None
    if order.status != OrderStatus.PENDING_PAYMENT.value:
        return f"not paid; the order is {order.status}", None
    if payment.status == "failed" and payment.failure_message == result.message[:300]:
        return "failure already recorded", None
    settle(order, payment, result, actor=actor)
    return "failure recorded", None


Outcome = tuple[str, Order | None]


def _payment_intent_event(event: StripeEvent) -> Outcome:
    """payment_intent.succeeded / payment_failed: apply the intent's current state."""
    payment = _payment_of_intent(event.object.get("id"))
    if payment is None:
        return "not our payment", None
    return apply_intent_state(payment, ACTOR)


def _charge_refunded(event: StripeEvent) -> Outcome:
    """charge.refunded: update our refunds of that payment with Stripe's status; add none."""
    payment = _payment_of_intent(event.object.get("payment_intent"))
    if payment is None:
        return "not our payment", None
    gateway = _stripe().StripeGateway()
    changed = 0
    for refund in payment.refunds:
        if not refund.provider_ref:
            continue
        status = gateway.refund_status(refund.provider_ref)
        if refund.status != status:
            refund.status = status
            changed += 1
    return f"{changed} refund(s) updated", None


def _refund_updated(event: StripeEvent) -> Outcome:
    """refund.updated / refund.failed / charge.refund.updated: one refund's new status."""
    refund_id = event.object.get("id")
    if not isinstance(refund_id, str):
        return "not our refund", None
    refund = db.session.scalar(sa.select(Refund).where(Refund.provider_ref == refund_id))
    if refund is None:
        return "not our refund", None
    refund.status = _stripe().StripeGateway().refund_status(refund_id)
    return f"refund {refund.status}", None


HANDLERS: dict[str, Callable[[StripeEvent], Outcome]] = {
    "payment_intent.succeeded": _payment_intent_event,
    "payment_intent.payment_failed": _payment_intent_event,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund_updated,
    "refund.updated": _refund_updated,
    "refund.failed": _refund_updated,
}


@bp.post("/webhooks/stripe")
def stripe_webhook() -> ResponseReturnValue:
    """Verify, de-duplicate and apply one Stripe event; one commit."""
    payload = request.get_data()  # the raw bytes: the signature is over them, not over JSON
    try:
        event = _stripe().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except _stripe().InvalidWebhook as error:
        log.warning("refused a Stripe webhook: %s", error)
        return _answer("invalid signature", 400)
    handler = HANDLERS.get(event.type)
    if handler is None:
        return _answer("ignored")
    db.session.add(WebhookEvent(provider="stripe", event_id=event.id, event_type=event.type))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return _answer("duplicate")
    try:
        outcome, booked = handler(event)
    except GatewayError as error:
        db.session.rollback()  # the event row goes too, so Stripe's next delivery applies it
        log.warning("Stripe event %s not applied: %s", event.id, error)
        return _answer("stripe unreachable; deliver again", 503)
    db.session.commit()
    log.info("Stripe event %s (%s): %s", event.id, event.type, outcome)
    if booked is not None:
        send_receipt(booked)
    return _answer(outcome)
