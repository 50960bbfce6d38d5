"""Buying: the cart, checkout with a review of the premium, payment, and the order page."""

from __future__ import annotations

from decimal import Decimal

import segno
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.access import signed_in_user
from marketplace.catalog.models import Piece, PieceStatus
from marketplace.core.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.mail import Mail, render_mail, send
from marketplace.orders import services
from marketplace.orders.cart import clear_cart, get_cart, save_cart
from marketplace.orders.forms import CheckoutForm, SandboxCardForm
from marketplace.orders.models import Order, OrderLine, PremiumLine, Shipment
from marketplace.payments.gateways import GatewayError, get_gateway
from marketplace.payments.services import PaymentRefused, pay, payment_for
from marketplace.provenance.certificates import verify_url
from marketplace.provenance.models import Certificate

bp = Blueprint("orders", __name__)


def _signer() -> URLSafeSerializer:
    """Signs guest links to orders."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-link")


def order_link(order: Order, external: bool = False) -> str:
    """The order page's URL, signed so a guest can open it from the email."""
    return url_for(
        "orders.order", number=order.number, key=_signer().dumps(order.number), _external=external
    )


def _can_see(order: Order) -> bool:
    """The owner, a guest holding a valid signed link, or the browser that placed it."""
    if current_user.is_authenticated and (
        order.user_id == current_user.id or current_user.role == "admin"
    ):
        return True
    key = request.args.get("key", "")
    if key:
        try:
            return bool(_signer().loads(key) == order.number)
        except BadSignature:
            return False
    return order.number in session.get("orders", [])


def find_order(number: str) -> Order | None:
    """An order by number with its lines, premium lines, pieces, shipments and events."""
    return db.session.scalar(
        sa.select(Order)
        .where(Order.number == number)
        .options(
            selectinload(Order.lines)
            .selectinload(OrderLine.premium_lines)
            .options(joinedload(PremiumLine.cooperative), joinedload(PremiumLine.lot)),
            selectinload(Order.lines).joinedload(OrderLine.piece),
            selectinload(Order.shipments).joinedload(Shipment.jeweller),
            selectinload(Order.events),
        )
    )


def _load(number: str) -> Order:
    """An order the visitor may see (404 otherwise, never saying it exists)."""
    order = find_order(number)
    if order is None or not _can_see(order):
        abort(404)
    return order


def _fee_percent() -> Decimal:
    return Decimal(current_app.config["PLATFORM_FEE_PERCENT"])


@bp.get("/cart")
def cart() -> str:
    """The cart with prices, and what of them goes to the cooperatives."""
    items = get_cart()
    priced = None
    notes: list[str] = []
    if items:
        try:
            priced = services.price(
                items, "PE", current_app.config["PLATFORM_CURRENCY"], _fee_percent()
            )
        except DomainError as error:
            notes.append(error.message)
            live = set(
                db.session.scalars(
                    sa.select(Piece.id).where(
                        Piece.id.in_(list(items)), Piece.status == PieceStatus.ACTIVE.value
                    )
                )
            )
            save_cart({k: v for k, v in items.items() if k in live})
    return render_template("orders/cart.html", priced=priced, notes=notes)


@bp.post("/cart")
@limiter.limit("120 per minute")
def cart_update() -> ResponseReturnValue:
    """Add a piece, change a quantity (0 removes it)."""
    items = get_cart()
    piece_id = request.form.get("piece_id", "")
    action = request.form.get("action", "add")
    raw_quantity = request.form.get("quantity", "1").strip()
    if not (piece_id.isascii() and piece_id.isdigit() and len(piece_id) < 12):
        flash(_("That piece is not in the shop."), "error")
        return redirect(url_for("orders.cart"))
    piece = db.session.get(Piece, int(piece_id))
    if piece is None or piece.status != PieceStatus.ACTIVE.value:
        flash(_("That piece is not for sale."), "error")
        return redirect(url_for("orders.cart"))
    if (
        not (raw_quantity.isascii() and raw_quantity.isdigit() and len(raw_quantity) < 12)
        or int(raw_quantity) > services.MAX_UNITS_PER_LINE
        or (action == "add" and int(raw_quantity) == 0)
    ):
        flash(
            _("Choose a quantity between 1 and %(most)s.", most=services.MAX_UNITS_PER_LINE),
            "error",
        )
        return redirect(request.referrer or url_for("orders.cart"))
    quantity = int(raw_quantity)
    wanted = items.get(piece.id, 0) + quantity if action == "add" else quantity
    if wanted > piece.stock:
        flash(
            _("Only %(stock)s × %(title)s in stock.", stock=piece.stock, title=piece.title)
            if piece.stock
            else _("Sorry, %(title)s is sold out.", title=piece.title),
            "error",
        )
        wanted = min(wanted, piece.stock)
    if wanted:
        items[piece.id] = min(wanted, services.MAX_UNITS_PER_LINE)
    else:
        items.pop(piece.id, None)
    save_cart(items)
    if action == "add" and wanted:
        flash(_("%(title)s is in your cart.", title=piece.title), "success")
    return redirect(url_for("orders.cart"))


@bp.route("/checkout", methods=["GET", "POST"])
def checkout() -> ResponseReturnValue:
    """Who and where; then the review."""
    if not get_cart():
        flash(_("Your cart is empty."), "info")
        return redirect(url_for("catalog.index"))
    saved = session.get("checkout", {})
    form = CheckoutForm(data=saved if request.method == "GET" else None)
    if request.method == "GET" and current_user.is_authenticated and not saved:
        form.email.data = current_user.email
        form.name.data = current_user.name
    if form.validate_on_submit():
        session["checkout"] = {
            name: getattr(form, name).data or ""
            for name in (
                "email",
                "name",
                "phone",
                "country",
                "region",
                "city",
                "address_line1",
                "address_line2",
                "postal_code",
            )
        }
        return redirect(url_for("orders.review"))
    return render_template("orders/checkout.html", form=form), 422 if form.errors else 200


@bp.route("/checkout/review", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def review() -> ResponseReturnValue:
    """Everything before paying: lines, shipping, IGV, and the premium per cooperative."""
    items = get_cart()
    saved = session.get("checkout")
    if not items or not saved:
        return redirect(url_for("orders.checkout"))
    address = services.Address(**saved)
    currency = current_app.config["PLATFORM_CURRENCY"]
    try:
        priced = services.price(items, address.country, currency, _fee_percent())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("orders.cart"))
    if request.method == "POST":
        try:
            order = services.place_order(
                items,
                address,
                user_id=current_user.id if current_user.is_authenticated else None,
                currency=currency,
                fee_percent=_fee_percent(),
                priced=priced,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("orders.cart"))
        except sa.exc.OperationalError:
            # The database failed mid-way (connection lost, lock timeout ...): everything of
            # the order is rolled back together, and the cart is still in the session.
            db.session.rollback()
            current_app.logger.exception("placing an order failed on a database error")
            flash(
                _(
                    "Your order could not be placed because of a problem on our side. Nothing "
                    "was reserved or charged and your cart is kept: please place it again in a "
                    "moment."
                ),
                "error",
            )
            return render_template("orders/review.html", priced=priced, address=address), 503
        clear_cart()
        session["orders"] = (session.get("orders", []) + [order.number])[-20:]
        return redirect(
            url_for("orders.pay_page", number=order.number, key=_signer().dumps(order.number))
        )
    return render_template("orders/review.html", priced=priced, address=address)


@bp.route("/orders/<number>/pay", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def pay_page(number: str) -> ResponseReturnValue:
    """Pay an order: the sandbox card form, or Stripe's card element."""
    order = services.ensure_fresh(_load(number))
    key = request.args.get("key", "")
    if order.status != "pending_payment":
        if order.status == "expired":
            flash(
                _("This order expired before it was paid; the pieces went back on the shelf."),
                "error",
            )
        return redirect(url_for("orders.order", number=number, key=key or None))
    gateway = get_gateway()
    # The sandbox posts card fields; Stripe's form posts only the CSRF token: Stripe.js has
    # confirmed the card in the browser and pay() asks Stripe what happened.
    form = SandboxCardForm() if gateway.name == "sandbox" else FlaskForm()
    status = 200
    if form.validate_on_submit():
        actor = current_user.email if current_user.is_authenticated else order.email
        try:
            paid = pay(order, gateway, request.form, actor)
        except PaymentRefused as error:
            db.session.commit()  # keep the failure on record; the shopper can try again
            if isinstance(form, SandboxCardForm):
                form.card_number.errors.append(error.message)
            else:
                flash(error.message, "error")
            status = 402
        except GatewayError as error:
            db.session.rollback()  # nothing of ours changed; pressing Pay again finishes it
            flash(error.message, "error")
            status = 503
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("orders.order", number=number, key=key or None))
        else:
            # Rendered before the commit (which expires what is loaded), sent after it: a
            # payment that is not committed mails nobody.
            receipt = receipt_mail(order) if paid else None
            db.session.commit()
            if receipt is not None:
                send(receipt)
                flash(_("Thank you! Your order is paid."), "success")
                return redirect(url_for("orders.order", number=number, key=key or None))
            flash(
                _(
                    "Your payment is not confirmed yet. If your bank asked you to confirm it, "
                    "do so and press Pay again."
                ),
                "info",
            )
    elif form.errors:
        status = 422
    client: dict[str, str] = {}
    if gateway.name != "sandbox" and status != 503:
        try:
            payment = payment_for(order, gateway)
            # Kept before asking the processor: the payment's id is its idempotency key, so a
            # lost answer and a later retry reuse the same intent instead of making a second.
            db.session.commit()
            client = gateway.prepare(payment)
            db.session.commit()
        except GatewayError as error:
            db.session.rollback()
            flash(error.message, "error")
            status = 503
    return render_template(
        "orders/pay.html", order=order, form=form, gateway=gateway.name, client=client, key=key
    ), status


@bp.get("/orders/<number>")
def order(number: str) -> str:
    """The order page (the receipt once paid), for its owner or a signed link."""
    found = services.ensure_fresh(_load(number))
    certificates = db.session.scalars(
        sa.select(Certificate)
        .where(Certificate.order_line_id.in_([line.id for line in found.lines]))
        .order_by(Certificate.id)
    ).all()
    return render_template(
        "orders/order.html",
        order=found,
        certificates=certificates,
        key=request.args.get("key", ""),
        fulfilment=services.fulfilment_summary(found),
    )


@bp.get("/account/orders")
@login_required
def history() -> str:
    """The signed-in shopper's orders, newest first."""
    user = signed_in_user()
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.user_id == user.id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .options(selectinload(Order.lines))
    ).all()
    return render_template("orders/history.html", orders=orders)


def send_receipt(order: Order) -> None:
    """Mail the receipt (after the commit that booked the payment), in the order's language."""
    send(receipt_mail(order))


def receipt_mail(order: Order) -> Mail:
    """The receipt of a paid order, in the order's language. The pay page renders it before
    its commit, while the order, its lines and certificates are loaded, and sends it after."""
    with force_locale(order.locale):
        return _receipt_mail(order)


def _receipt_mail(order: Order) -> Mail:
    return render_mail(
        order.email,
        _("Your Oro de Poto order %(number)s", number=order.number),
        "receipt",
        order=order,
        link=order_link(order, external=True),
        piece_links={
            line.id: url_for("catalog.piece", slug=line.piece.slug, _external=True)
            for line in order.lines
        },
        certificates=[
            (cert, verify_url(cert), segno.make(verify_url(cert), error="m").png_data_uri(scale=3))
            for cert in db.session.scalars(
                sa.select(Certificate).where(
                    Certificate.order_line_id.in_([line.id for line in order.lines])
                )
            )
        ],
    )
