"""A shopper's own data: take a copy of it, or delete the account.

``GET /account/data`` downloads a JSON file with everything the shop keeps about the signed-in
person: the account, the addresses they gave, every order with its lines, amounts, premium,
shipments, payments and refunds, and the provenance certificates of the pieces they bought.

``GET /account/delete`` explains what deleting removes and what the shop must keep; ``POST``
(the CSRF token and the password) deletes. Deleting anonymises: the name, the email (replaced
by an address that can receive nothing), the password, and the addresses, phone and email on
the person's orders go. The orders themselves, their amounts, premium lines, payments, refunds,
ledger entries and certificates stay: they are the shop's accounting, the cooperatives'
statements are built from them, and certificates hold no buyer data. The email is free to
register again at once.

Jeweller, cooperative officer and Central accounts act for a workshop, a cooperative or the
Central, so they are closed by the Central, not here; a shopper whose orders are still
unpaid or on their way deletes the account once they have arrived (the address is needed to
deliver them).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import PasswordField
from wtforms.validators import DataRequired

from marketplace.accounts.access import signed_in_user
from marketplace.accounts.models import PasswordReset, Role, User
from marketplace.accounts.views import bp
from marketplace.core.errors import DomainError
from marketplace.core.states import FulfilmentStatus, OrderStatus
from marketplace.db import utcnow
from marketplace.extensions import db, limiter
from marketplace.orders.models import Order, OrderEvent, OrderLine, PremiumLine, Shipment
from marketplace.payments.models import Payment
from marketplace.provenance.models import Certificate

#: Deleted accounts get an address under this reserved domain (RFC 2606): it receives nothing.
DELETED_DOMAIN = "deleted.invalid"
#: A password hash no password matches (werkzeug refuses any hash without its "$" parts).
UNUSABLE_PASSWORD = "!deleted"  # nosec B105  # a marker no password hash matches
#: Shipments that still need the delivery address.
_ON_THE_WAY = (FulfilmentStatus.UNFULFILLED.value, FulfilmentStatus.SHIPPED.value)


class WrongPassword(DomainError):
    """The password given to confirm is not the account's."""


class DeleteAccountForm(FlaskForm):
    """Confirm with the password (CSRF-protected like every form)."""

    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


# --- the data --------------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _orders(user: User) -> list[Order]:
    """The user's orders, oldest first, with everything the export shows (a fixed number of
    queries)."""
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(Order.user_id == user.id)
            .order_by(Order.placed_at, Order.id)
            .options(
                selectinload(Order.lines).selectinload(OrderLine.piece),
                selectinload(Order.lines)
                .selectinload(OrderLine.premium_lines)
                .options(selectinload(PremiumLine.cooperative), selectinload(PremiumLine.lot)),
                selectinload(Order.shipments).selectinload(Shipment.jeweller),
                selectinload(Order.payments).selectinload(Payment.refunds),
                selectinload(Order.events),
            )
        )
    )


def _address(order: Order) -> dict[str, str]:
    return {
        "name": order.name,
        "phone": order.phone,
        "country": order.country,
        "region": order.region,
        "city": order.city,
        "address_line1": order.address_line1,
        "address_line2": order.address_line2,
        "postal_code": order.postal_code,
    }


def _order_data(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "placed_at": _when(order.placed_at),
        "status": order.status,
        "payment_status": order.payment_status,
        "paid_at": _when(order.paid_at),
        "completed_at": _when(order.completed_at),
        "email": order.email,
        "delivery_address": _address(order),
        "currency": order.currency,
        "subtotal_minor": order.subtotal_minor,
        "shipping_minor": order.shipping_minor,
        "total_minor": order.total_minor,
        "tax_included_minor": order.tax_included_minor,
        "refunded_minor": order.refunded_minor,
        "lines": [
            {
                "piece": line.title,
                "piece_url": url_for("catalog.piece", slug=line.piece.slug, _external=True),
                "karat": line.karat,
                "fine_gold_mg_per_unit": line.fine_mg_per_unit,
                "unit_price_minor": line.unit_price_minor,
                "quantity": line.quantity,
                "line_total_minor": line.line_total_minor,
                "community_premium_minor": line.premium_minor,
                "refunded_quantity": line.refunded_quantity,
                "refunded_minor": line.refunded_minor,
                "premium_by_cooperative": [
                    {
                        "cooperative": p.cooperative.name,
                        "lot": p.lot.code,
                        "fine_gold_mg": p.fine_mg,
                        "amount_minor": p.amount_minor,
                    }
                    for p in line.premium_lines
                ],
            }
            for line in order.lines
        ],
        "shipments": [
            {
                "jeweller": s.jeweller.business_name,
                "shipping_minor": s.shipping_minor,
                "status": s.status,
                "carrier": s.carrier,
                "tracking": s.tracking,
                "shipped_at": _when(s.shipped_at),
                "delivered_at": _when(s.delivered_at),
            }
            for s in order.shipments
        ],
        "payments": [
            {
                "gateway": p.gateway,
                "reference": p.provider_ref,
                "amount_minor": p.amount_minor,
                "currency": p.currency,
                "status": p.status,
                "created_at": _when(p.created_at),
                "settled_at": _when(p.settled_at),
                "refunds": [
                    {
                        "amount_minor": r.amount_minor,
                        "status": r.status,
                        "reason": r.reason,
                        "created_at": _when(r.created_at),
                    }
                    for r in p.refunds
                ],
            }
            for p in order.payments
        ],
        # Who made each change is left out: for staff changes that is someone else's email.
        "history": [
            {
                "at": _when(e.at),
                "field": e.field,
                "from": e.from_value,
                "to": e.to_value,
                "note": e.note,
            }
            for e in order.events
        ],
    }


def export_data(user: User) -> dict[str, Any]:
    """Everything the shop keeps about ``user``, as plain JSON-ready data."""
    orders = _orders(user)
    addresses: list[dict[str, str]] = []
    for order in orders:
        address = _address(order)
        if address not in addresses:
            addresses.append(address)
    line_orders = {line.id: order.number for order in orders for line in order.lines}
    certificates = db.session.scalars(
        sa.select(Certificate)
        .where(Certificate.order_line_id.in_(list(line_orders)))
        .order_by(Certificate.id)
    ).all()
    return {
        "shop": "Oro de Poto",
        "exported_at": utcnow().isoformat(),
        "units": "Amounts are integers in minor units of their currency (céntimos of PEN); "
        "gold in milligrams of fine gold.",
        "account": {
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "created_at": _when(user.created_at),
            "workshop": user.jeweller.business_name if user.jeweller else None,
            "cooperative": user.cooperative.name if user.cooperative else None,
        },
        "addresses": addresses,
        "orders": [_order_data(order) for order in orders],
        "certificates": [
            {
                "id": cert.short_id,
                "order": line_orders[cert.order_line_id],
                "issued_at": _when(cert.issued_at),
                "verify_url": url_for(
                    "certificates.verify", short_id=cert.short_id, _external=True
                ),
                "signed_json_url": url_for(
                    "certificates.download", short_id=cert.short_id, _external=True
                ),
                "credential": cert.credential,
            }
            for cert in certificates
        ],
    }


# --- deleting --------------------------------------------------------------------------------


def can_delete_here(user: User) -> bool:
    """Only shoppers delete their own account; staff accounts are closed by the Central."""
    return user.role == Role.SHOPPER.value and user.jeweller_id is None


def open_orders(user: User) -> list[Order]:
    """The user's orders still waiting for payment or for delivery (they need the address)."""
    orders = db.session.scalars(
        sa.select(Order)
        .where(
            Order.user_id == user.id,
            Order.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value]),
        )
        .order_by(Order.placed_at, Order.id)
        .options(selectinload(Order.shipments))
    ).all()
    return [
        o
        for o in orders
        if o.status == OrderStatus.PENDING_PAYMENT.value
        or any(s.status in _ON_THE_WAY for s in o.shipments)
    ]


def delete_account(user: User, password: str) -> None:
    """Anonymise ``user`` and their orders; keep every accounting record. Flushes only.

    Raises ``DomainError`` (nothing changed) for a staff account, a wrong password, or orders
    still unpaid or on their way.
    """
    if not can_delete_here(user):
        raise DomainError(
            _(
                "Jeweller, cooperative and Central accounts cannot be deleted here. "
                "Ask the Central to close yours."
            )
        )
    if not user.check_password(password):
        raise WrongPassword(_("The password is not right."))
    waiting = open_orders(user)
    if waiting:
        raise DomainError(
            _(
                "Your order %(numbers)s is still unpaid or on its way, and needs your address. "
                "Delete your account once it has arrived (an unpaid order lapses after 30 "
                "minutes).",
                numbers=", ".join(o.number for o in waiting),
            )
        )
    old_email = user.email.lower()
    placeholder = f"deleted-{user.id}-{secrets.token_hex(8)}@{DELETED_DOMAIN}"
    orders = db.session.scalars(sa.select(Order).where(Order.user_id == user.id)).all()
    emails = {old_email} | {o.email.lower() for o in orders}
    for order in orders:
        order.email = placeholder
        order.name = ""
        order.phone = ""
        order.region = ""
        order.city = ""
        order.address_line1 = ""
        order.address_line2 = ""
        order.postal_code = ""
        # The country stays: it decides the IGV on the order, part of its accounting.
    if orders:
        db.session.execute(
            sa.update(OrderEvent)
            .where(
                OrderEvent.order_id.in_([o.id for o in orders]),
                sa.func.lower(OrderEvent.actor).in_(emails),
            )
            .values(actor=placeholder)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(sa.delete(PasswordReset).where(PasswordReset.user_id == user.id))
    user.email = placeholder
    user.name = ""
    user.password_hash = UNUSABLE_PASSWORD
    user.active = False
    user.session_version = (user.session_version or 0) + 1  # every session and device ends
    db.session.flush()


# --- views -----------------------------------------------------------------------------------


@bp.get("/data")
@limiter.limit("20 per hour")
@login_required
def download_data() -> Response:
    """Your data as a JSON file."""
    user = signed_in_user()
    body = json.dumps(export_data(user), ensure_ascii=False, indent=2)
    stamp = utcnow().strftime("%Y-%m-%d")
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="oro-de-poto-my-data-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/delete", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@login_required
def delete() -> ResponseReturnValue:
    """What deleting means; with the password, delete."""
    user = signed_in_user()
    if not can_delete_here(user):  # the page says why; a POST is refused
        status = 403 if request.method == "POST" else 200
        return render_template("accounts/privacy_delete.html", user=user, form=None), status
    form = DeleteAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            delete_account(user, form.password.data or "")
        except WrongPassword as error:
            db.session.rollback()
            form.password.errors.append(error.message)
        except DomainError as error:  # an order still on its way
            db.session.rollback()
            flash(error.message, "error")
            status = 409
        else:
            db.session.commit()
            session.clear()  # the cart, the address typed at checkout, the orders seen
            logout_user()  # after the clear: it also asks for the remember-me cookie to go
            flash(
                _(
                    "Your account is deleted. The records the law and the cooperatives need are "
                    "kept without your name, email or address."
                ),
                "success",
            )
            return redirect(url_for("site.home"))
    if form.errors:
        status = 422
    return render_template(
        "accounts/privacy_delete.html", user=user, form=form, waiting=open_orders(user)
    ), status
