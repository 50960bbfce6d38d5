"""``flask payments reconcile``: settle Stripe payments whose webhook never came.

For every Stripe payment of an order still waiting for payment, the PaymentIntent is fetched
and its state applied exactly as the webhook would (the same idempotent booking). Each payment
is committed on its own, so one that Stripe cannot answer for does not hold back the others;
the command exits non-zero when any could not be checked, so a scheduler notices.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app, has_request_context
from flask.cli import AppGroup

from marketplace.core.states import OrderStatus
from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.orders.views import send_receipt
from marketplace.payments.gateways import GatewayError
from marketplace.payments.models import Payment
from marketplace.payments.webhooks import apply_intent_state

payments = AppGroup("payments", help="Card payments.")

ACTOR = "stripe reconcile"


@payments.command("reconcile")
def reconcile() -> None:
    """Fetch the PaymentIntent of every unpaid order's Stripe payment and apply its state."""
    due = db.session.scalars(
        sa.select(Payment)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Payment.gateway == "stripe",
            Payment.provider_ref.is_not(None),
            Order.status == OrderStatus.PENDING_PAYMENT.value,
        )
        .order_by(Payment.id)
    ).all()
    can_mail = has_request_context() or bool(current_app.config.get("SERVER_NAME"))
    counts = {"paid": 0, "declined": 0, "waiting": 0, "unreachable": 0}
    for payment in due:
        label = f"{payment.order.number} ({payment.provider_ref})"
        try:
            outcome, booked = apply_intent_state(payment, ACTOR)
        except GatewayError as error:
            db.session.rollback()
            counts["unreachable"] += 1
            click.echo(f"{label}: not checked: {error.message}")
            continue
        db.session.commit()
        if booked is not None:
            counts["paid"] += 1
        elif outcome == "failure recorded":
            counts["declined"] += 1
        else:
            counts["waiting"] += 1
        click.echo(f"{label}: {outcome}")
        if booked is not None:
            if can_mail:
                send_receipt(booked)
            else:
                click.echo(f"{label}: receipt not mailed (set SERVER_NAME to build its links)")
    click.echo(
        f"Checked {len(due)} pending Stripe payment(s): {counts['paid']} paid, "
        f"{counts['declined']} declined, {counts['waiting']} still waiting, "
        f"{counts['unreachable']} not checked."
    )
    if counts["unreachable"]:
        raise click.exceptions.Exit(1)


def register(app: Flask) -> None:
    """Add ``flask payments ...`` to the app's commands."""
    app.cli.add_command(payments)
