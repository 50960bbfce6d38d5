"""Fulfilment and refunds: jewellers ship their parcels, the Central refunds, shoppers confirm."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.admin.audit import record
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.orders import aftersale
from marketplace.orders.models import Order, Shipment
from marketplace.orders.views import _can_see, find_order
from marketplace.payments.gateways import get_gateway

bp = Blueprint("fulfilment", __name__)


class ShipForm(FlaskForm):
    """The parcel's carrier and tracking number."""

    carrier = StringField(
        _l("Carrier"), validators=[DataRequired(message=_l("Name the carrier.")), Length(max=80)]
    )
    tracking = StringField(
        _l("Tracking number"),
        validators=[DataRequired(message=_l("Give the tracking number.")), Length(max=120)],
    )


def _order(number: str) -> Order:
    """An order by number (404 if unknown); callers check who may act on it."""
    order = find_order(number)
    if order is None:
        abort(404)
    return order


def _units(order: Order, only_jeweller: int | None = None) -> dict[int, int]:
    """Units to refund per line from the form (``units-<line id>``); bad numbers → -1."""
    chosen: dict[int, int] = {}
    for line in order.lines:
        if only_jeweller is not None and line.jeweller_id != only_jeweller:
            continue
        raw = request.form.get(f"units-{line.id}", "0").strip() or "0"
        chosen[line.id] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else -1
    return chosen


def _do_refund(order: Order, jeweller_id: int | None, reason: str) -> bool:
    """Run a refund from the form; flash the outcome. True if it went through."""
    actor = signed_in_user()
    try:
        refund = aftersale.refund(
            order,
            _units(order, jeweller_id),
            get_gateway(),
            actor=actor.email,
            reason=reason,
            jeweller_id=jeweller_id,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False
    record(
        actor,
        "order_refunded",
        order,
        after={"amount_minor": refund.amount_minor, "reason": reason},
        summary=f"Refunded {refund.amount_minor} on {order.number}",
    )
    db.session.commit()
    flash(_("Refunded. The money goes back to the card; the pieces are back in stock."), "success")
    return True


@bp.get("/jeweller/orders")
@role_required(Role.JEWELLER)
def jeweller_orders() -> str:
    """Paid orders with this workshop's pieces, newest first."""
    jeweller_id = signed_in_user().jeweller_id
    orders = db.session.scalars(
        sa.select(Order)
        .join(Shipment, Shipment.order_id == Order.id)
        .where(
            Shipment.jeweller_id == jeweller_id,
            Order.status != "pending_payment",
            Order.status != "expired",
        )
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .options(selectinload(Order.shipments), selectinload(Order.lines))
    ).all()
    return render_template("orders/jeweller_orders.html", orders=orders, jeweller_id=jeweller_id)


@bp.route("/jeweller/orders/<number>", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def jeweller_order(number: str) -> ResponseReturnValue:
    """Ship, mark delivered, or cancel (before shipping) this workshop's part of an order."""
    jeweller_id = signed_in_user().jeweller_id
    order = _order(number)
    shipment = next((s for s in order.shipments if s.jeweller_id == jeweller_id), None)
    if shipment is None or order.status in ("pending_payment", "expired"):
        abort(404)
    form = ShipForm()
    action = request.form.get("action")
    actor = signed_in_user().email
    if request.method == "POST":
        try:
            if action == "ship" and form.validate_on_submit():
                aftersale.mark_shipped(
                    order,
                    shipment.jeweller_id,
                    form.carrier.data or "",
                    form.tracking.data or "",
                    actor,
                )
            elif action == "deliver" and form.csrf_token.validate(form):
                aftersale.mark_delivered(order, shipment.jeweller_id, actor)
            elif action == "cancel" and form.csrf_token.validate(form):
                _do_refund(
                    order,
                    jeweller_id,
                    request.form.get("reason", "")[:300] or "Cancelled by the jeweller",
                )
                return redirect(url_for("fulfilment.jeweller_order", number=number))
            elif action not in ("ship", "deliver", "cancel"):
                abort(400)
            else:
                problems = "; ".join(str(e) for errs in form.errors.values() for e in errs)
                raise DomainError(_("Check the form: %(problems)s", problems=problems))
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Saved."), "success")
        return redirect(url_for("fulfilment.jeweller_order", number=number))
    return render_template(
        "orders/jeweller_order.html",
        order=order,
        shipment=shipment,
        form=form,
        jeweller_id=jeweller_id,
    )


@bp.get("/admin/orders")
@role_required(Role.ADMIN)
def admin_orders() -> str:
    """All orders, newest first."""
    orders = db.session.scalars(
        sa.select(Order).order_by(Order.placed_at.desc(), Order.id.desc()).limit(200)
    ).all()
    return render_template("orders/admin_orders.html", orders=orders)


@bp.route("/admin/orders/<number>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_order(number: str) -> ResponseReturnValue:
    """An order with its events; refund whole units of any line, or everything."""
    order = _order(number)
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        reason = request.form.get("reason", "").strip()[:300]
        if not reason:
            flash(_("Say why the order is refunded."), "error")
        else:
            _do_refund(order, None, reason)
        return redirect(url_for("fulfilment.admin_order", number=number))
    return render_template("orders/admin_order.html", order=order, form=form)


@bp.post("/orders/<number>/received")
def received(number: str) -> ResponseReturnValue:
    """The shopper confirms the parcels arrived."""
    order = _order(number)
    if not _can_see(order) or not FlaskForm().validate_on_submit():
        abort(404)
    actor = current_user.email if current_user.is_authenticated else order.email
    try:
        aftersale.confirm_receipt(order, actor)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Thank you for confirming."), "success")
    return redirect(url_for("orders.order", number=number, key=request.args.get("key") or None))
