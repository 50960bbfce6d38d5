"""Paying an order through a gateway, exactly once however often Pay is pressed.

A payment row is claimed with a compare-and-set (``processing``/``failed`` → ``charging``)
before the gateway is called, so two simultaneous submissions cannot both charge; the order is
then booked with ``orders.services.mark_paid``, which is itself idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.core.errors import DomainError
from marketplace.core.states import OrderStatus, PaymentStatus
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.orders.services import mark_paid, record_event, set_payment_status
from marketplace.payments.gateways import ChargeResult, PaymentGateway, get_gateway
from marketplace.payments.models import Payment, Refund


class PaymentRefused(DomainError):
    """The card was declined or failed; the shopper may try another."""


def payment_for(order: Order, gateway: PaymentGateway) -> Payment:
    """The order's open payment with this gateway, created on first use (reused on retry).

    The order row is locked first (``SELECT ... FOR UPDATE``), so two simultaneous requests
    cannot both create a payment; the second finds the first's. Its status is read again under
    the lock: the expiry job (or a webhook) may have moved it since this request loaded it.
    """
    db.session.refresh(order, ["status", "payment_status"], with_for_update=True)
    payment = db.session.scalar(
        sa.select(Payment)
        .where(Payment.order_id == order.id, Payment.gateway == gateway.name)
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if payment is None:
        payment = Payment(
            order_id=order.id,
            gateway=gateway.name,
            amount_minor=order.total_minor,
            currency=order.currency,
            status="processing",
        )
        db.session.add(payment)
        db.session.flush()
    return payment


def _claim(payment: Payment) -> bool:
    """Take the right to charge ``payment`` (False if another request holds or used it)."""
    claimed = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(["processing", "failed"]))
        .values(status="charging")
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        set_committed_value(payment, "status", "charging")  # what the row now holds
        return True
    db.session.expire(payment, ["status"])
    return False


def settle(order: Order, payment: Payment, result: ChargeResult, actor: str) -> bool:
    """Record what the gateway said; book the order if the money was taken. True if paid."""
    if payment.status == "refunded":
        return False  # a late payment already given back; repeats change nothing
    if result.succeeded:
        payment.status = "succeeded"
        payment.provider_ref = result.provider_ref or payment.provider_ref
        payment.processor_fee_minor = result.processor_fee
        payment.settled_at = utcnow()
        payment.failure_message = None
        db.session.flush()
        if order.status == OrderStatus.EXPIRED.value:
            refund_late_payment(order, payment, actor)
            return False
        if not mark_paid(order, processor_fee=result.processor_fee, actor=actor) and (
            order.status == OrderStatus.EXPIRED.value
        ):
            # Expired by another process after this one read the order: give the money back.
            refund_late_payment(order, payment, actor)
            return False
        return True
    if result.pending:
        payment.status = "processing"
        set_payment_status(order, PaymentStatus.PROCESSING, actor, result.message)
        return False
    payment.status = "failed"
    payment.failure_message = result.message[:300]
    set_payment_status(order, PaymentStatus.FAILED, actor, result.message)
    return False


def refund_late_payment(order: Order, payment: Payment, actor: str) -> None:
    """Money that arrived after the order expired goes straight back (once: the refund's
    idempotency key is the payment's, and a refund row is kept)."""
    key = f"payment-{payment.id}-late-refund"
    if db.session.scalar(sa.select(Refund.id).where(Refund.idempotency_key == key)):
        return
    result = get_gateway(payment.gateway).refund(payment, payment.amount_minor, key)
    if not result.succeeded:
        raise DomainError(result.message or _("The late payment could not be refunded yet."))
    payment.status = "refunded"
    db.session.add(
        Refund(
            payment_id=payment.id,
            amount_minor=payment.amount_minor,
            provider_ref=result.provider_ref,
            idempotency_key=key,
            reason="Paid after the order expired",
            status="succeeded",
        )
    )
    record_event(
        order,
        "payment",
        order.payment_status,
        "refunded",
        actor,
        "paid after the order expired; refunded in full",
    )
    db.session.flush()


def _already_paid(order: Order) -> bool:
    """True if the order is paid; DomainError if it can no longer be paid (it expired)."""
    if order.status == OrderStatus.PAID.value or order.payment_status == "paid":
        return True
    if order.status != OrderStatus.PENDING_PAYMENT.value:
        raise DomainError(_("This order can no longer be paid: it expired. Your cart is kept."))
    return False


def pay(order: Order, gateway: PaymentGateway, form: Mapping[str, str], actor: str) -> bool:
    """Charge an order once. Returns True when paid; raises PaymentRefused with the message.

    The caller commits; on PaymentRefused it must commit too, so the failure is recorded.
    """
    if _already_paid(order):
        return True
    payment = payment_for(order, gateway)
    if _already_paid(order):  # asked again under the lock: it may have moved meanwhile
        return True
    if not _claim(payment):
        # Another submission is charging or has charged it: never charge twice.
        db.session.refresh(payment)
        if payment.status == "succeeded":
            return True
        raise DomainError(
            _("This payment is already being processed. Wait a moment and reload.")
        )
    result = gateway.charge(payment, form)
    paid = settle(order, payment, result, actor)
    if not paid and not result.pending:
        raise PaymentRefused(result.message)
    return paid
