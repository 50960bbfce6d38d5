"""Placing, expiring, paying and completing orders, with stock, gold and money kept exact.

Placing reserves stock with ``UPDATE piece SET stock = stock - :q WHERE stock >= :q`` (no
read-modify-write) and moves the gold of those units from "committed" to "reserved" through the
gold ledger, inside one savepoint: either every line is reserved or nothing is. Status changes
are compare-and-set updates too, so a double click, a retried request or a webhook delivered
five times changes the books once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from marketplace.caching import sale_of, shelf_changed
from marketplace.catalog.models import Piece, PieceGold, PieceStatus
from marketplace.core.errors import DomainError, InvalidQuantity
from marketplace.core.states import (
    FulfilmentStatus,
    OrderStatus,
    PaymentStatus,
    check_transition,
)
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.i18n import language
from marketplace.ledger.models import AccountKind
from marketplace.ledger.services import AccountRef, gold_account, money_account, post_transaction
from marketplace.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    PremiumLine,
    Shipment,
    ShippingRate,
)
from marketplace.orders.pricing import PricedCart, price_cart
from marketplace.premium.services import rates_on
from marketplace.provenance.models import CustodyEventKind, GoldLot
from marketplace.provenance.services import append_custody_event

ORDER_LIFETIME = timedelta(minutes=30)
MAX_UNITS_PER_LINE = 20
_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class SoldOut(DomainError):
    """A piece has fewer units left than asked for."""


@dataclass(frozen=True)
class Address:
    """Who receives the order, and where."""

    email: str
    name: str
    country: str
    city: str
    address_line1: str
    region: str = ""
    address_line2: str = ""
    postal_code: str = ""
    phone: str = ""


def new_order_number() -> str:
    """A short, unambiguous, unguessable order number: OP-XXXXXXX."""
    return "OP-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))


def shipping_rates(currency: str) -> dict[str, int]:
    """Shipping per jeweller shipment by zone, from the rate table."""
    rows = db.session.execute(
        sa.select(ShippingRate.zone, ShippingRate.amount_minor).where(
            ShippingRate.currency == currency
        )
    ).all()
    return {zone: int(amount) for zone, amount in rows}


def load_cart_pieces(cart: dict[int, int]) -> list[tuple[Piece, int]]:
    """The active pieces of a cart ({piece id: quantity}) with their gold, lots and coops."""
    for quantity in cart.values():
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 1 <= quantity <= MAX_UNITS_PER_LINE
        ):
            raise InvalidQuantity(
                _("Choose between 1 and %(most)s units of each piece.", most=MAX_UNITS_PER_LINE)
            )
    pieces = db.session.scalars(
        sa.select(Piece)
        .where(Piece.id.in_(list(cart)), Piece.status == PieceStatus.ACTIVE.value)
        .options(
            joinedload(Piece.jeweller),
            selectinload(Piece.gold).joinedload(PieceGold.lot).joinedload(GoldLot.cooperative),
        )
        .order_by(Piece.id)
    ).all()
    if len(pieces) != len(cart):
        raise DomainError(_("A piece in your cart is no longer for sale; it was removed."))
    return [(piece, cart[piece.id]) for piece in pieces]


def price(cart: dict[int, int], country: str, currency: str, fee_percent: Decimal) -> PricedCart:
    """Price a cart for a country, with today's premium rate and exchange rate."""
    items = load_cart_pieces(cart)
    if not items:
        raise DomainError(_("Your cart is empty."))
    return price_cart(
        items,
        country=country,
        rates=rates_on(utcnow().date(), currency),
        fee_percent=fee_percent,
        shipping_rates=shipping_rates(currency),
    )


def record_event(
    order: Order, field: str, from_value: str | None, to_value: str, actor: str, note: str = ""
) -> None:
    """Append an order event (who, when, which field, from, to)."""
    db.session.add(
        OrderEvent(
            order_id=order.id,
            actor=actor[:254],
            field=field,
            from_value=from_value,
            to_value=to_value,
            note=note[:300],
        )
    )


def _gold_moves(
    piece: Piece, units: int, source: AccountKind, target: AccountKind
) -> list[tuple[AccountRef, int]]:
    """Postings moving the gold of ``units`` units of a piece between two of its accounts."""
    moves: list[tuple[AccountRef, int]] = []
    for g in piece.gold:
        mg = g.fine_mg_per_unit * units
        moves.append((_piece_gold(source, g.lot_id, piece), -mg))
        moves.append((_piece_gold(target, g.lot_id, piece), mg))
    return moves


def frozen_gold(line: OrderLine) -> dict[int, int]:
    """Fine mg per unit from each lot, as frozen on the line when the order was placed."""
    return {p.lot_id: p.fine_mg // line.quantity for p in line.premium_lines}


def _line_gold_moves(
    line: OrderLine, units: int, source: AccountKind, target: AccountKind
) -> list[tuple[AccountRef, int]]:
    """Postings moving the gold of ``units`` units of an order line, by its frozen lots (so a
    piece re-backed after the sale still sells and refunds the gold it was sold with)."""
    moves: list[tuple[AccountRef, int]] = []
    for lot_id, per_unit in frozen_gold(line).items():
        mg = per_unit * units
        moves.append((_piece_gold(source, lot_id, line.piece), -mg))
        moves.append((_piece_gold(target, lot_id, line.piece), mg))
    return moves


def _piece_gold(kind: AccountKind, lot_id: int, piece: Piece) -> AccountRef:
    """A piece's gold account of one lot (held-by-jeweller accounts are per jeweller)."""
    if kind is AccountKind.JEWELLER_HELD:
        return gold_account(kind, lot_id, jeweller_id=piece.jeweller_id)
    return gold_account(kind, lot_id, piece_id=piece.id, label=f"{piece.title}")


def place_order(
    cart: dict[int, int],
    address: Address,
    *,
    user_id: int | None,
    currency: str,
    fee_percent: Decimal,
    now: datetime | None = None,
    priced: PricedCart | None = None,
) -> Order:
    """Reserve stock and gold for every line and freeze prices, premium and fee; all or none.

    ``priced`` is the cart as ``price`` priced it for the same address, currency and fee in
    this transaction (the review page prices it to show it); without it, it is priced here.
    Raises ``SoldOut`` naming the piece when any line cannot be reserved; nothing is written.
    """
    if priced is None:
        priced = price(cart, address.country, currency, fee_percent)
    rates = priced.rates
    assert rates is not None  # nosec B101  # price() always prices with the rates in force
    now = now or utcnow()
    sale_of(
        [line.piece.slug for line in priced.lines],
        [g.lot_id for line in priced.lines for g in line.piece.gold],
    )
    with db.session.begin_nested():
        for line in priced.lines:  # pieces come sorted by id: a fixed locking order
            still_on_shelf = db.session.execute(
                sa.update(Piece)
                .where(
                    Piece.id == line.piece.id,
                    Piece.status == PieceStatus.ACTIVE.value,
                    Piece.stock >= line.quantity,
                )
                .values(stock=Piece.stock - line.quantity)
                .returning(Piece.stock)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if still_on_shelf == 0:
                shelf_changed()  # its last units: the catalog shows it sold out
            if still_on_shelf is None:
                left = db.session.scalar(sa.select(Piece.stock).where(Piece.id == line.piece.id))
                if not left:
                    raise SoldOut(_("Sorry, %(title)s is sold out.", title=line.piece.title))
                raise SoldOut(
                    _(
                        "Only %(left)s × %(title)s left; lower the quantity and try again.",
                        left=left,
                        title=line.piece.title,
                    )
                )
        order = Order(
            number=new_order_number(),
            user_id=user_id,
            email=address.email.strip().lower(),
            name=address.name.strip(),
            phone=address.phone.strip(),
            country=address.country,
            region=address.region,
            city=address.city.strip(),
            address_line1=address.address_line1.strip(),
            address_line2=address.address_line2.strip(),
            postal_code=address.postal_code.strip(),
            currency=priced.currency,
            locale=language(),
            subtotal_minor=priced.subtotal,
            shipping_minor=priced.shipping,
            total_minor=priced.total,
            tax_included_minor=priced.tax_included,
            platform_fee_percent=fee_percent,
            status=OrderStatus.PENDING_PAYMENT.value,
            payment_status=PaymentStatus.UNPAID.value,
            placed_at=now,
            expires_at=now + ORDER_LIFETIME,
            lines=[],  # a new order has none: appending must not ask the database
            shipments=[],
        )
        db.session.add(order)
        db.session.flush()
        gold: list[tuple[AccountRef, int]] = []
        for line in priced.lines:
            piece = line.piece
            order_line = OrderLine(
                order_id=order.id,
                piece_id=piece.id,
                jeweller_id=piece.jeweller_id,
                title=piece.title,
                karat=piece.karat,
                fine_mg_per_unit=piece.fine_mg,
                unit_price_minor=piece.price_minor,
                quantity=line.quantity,
                line_total_minor=line.line_total,
                premium_minor=line.premium,
                platform_fee_minor=line.platform_fee,
                jeweller_minor=line.jeweller_share,
            )
            order_line.premium_lines = [
                PremiumLine(
                    cooperative_id=part.cooperative_id,
                    lot_id=part.lot_id,
                    fine_mg=part.fine_mg,
                    usd_per_fine_kg=rates.usd_per_fine_kg,
                    fx_rate=rates.fx,
                    amount_minor=part.amount,
                )
                for part in line.premium_parts
            ]
            order.lines.append(order_line)
            gold += _gold_moves(
                piece, line.quantity, AccountKind.PIECE_COMMITTED, AccountKind.PIECE_RESERVED
            )
        for jeweller_id, amount in priced.shipping_by_jeweller.items():
            order.shipments.append(Shipment(jeweller_id=jeweller_id, shipping_minor=amount))
        post_transaction(
            "order_reserved",
            f"Order {order.number}: gold reserved",
            gold,
            idempotency_key=f"order:{order.id}:reserved",
        )
        record_event(order, "status", None, order.status, address.email, "placed")
        db.session.flush()
    for line in priced.lines:
        db.session.expire(line.piece, ["stock"])
    return order


def _compare_and_set_status(order: Order, current: OrderStatus, target: OrderStatus) -> bool:
    """Move the order's status only if it is still ``current``; report whether it moved."""
    check_transition(current, target)
    moved = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == current.value)
        .values(status=target.value)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(order, ["status"])
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def _release(order: Order, memo: str, key: str) -> None:
    """Give the stock and gold of an unpaid order back to the shelf."""
    gold: list[tuple[AccountRef, int]] = []
    sale_of(
        [line.piece.slug for line in order.lines],
        [p.lot_id for line in order.lines for p in line.premium_lines],
    )
    for line in order.lines:
        on_shelf = db.session.execute(
            sa.update(Piece)
            .where(Piece.id == line.piece_id)
            .values(stock=Piece.stock + line.quantity)
            .returning(Piece.stock)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if on_shelf == line.quantity:
            shelf_changed()  # it was sold out: the catalog shows it for sale again
        db.session.expire(line.piece, ["stock"])
        gold += _line_gold_moves(
            line, line.quantity, AccountKind.PIECE_RESERVED, AccountKind.PIECE_COMMITTED
        )
    post_transaction("order_released", memo, gold, idempotency_key=key)


def expire_order(order: Order, *, now: datetime | None = None, actor: str = "system") -> bool:
    """Expire an unpaid order past its time, releasing its stock and gold; True if it did."""
    now = now or utcnow()
    if order.status != OrderStatus.PENDING_PAYMENT.value or order.expires_at > now:
        return False
    with db.session.begin_nested():
        if not _compare_and_set_status(order, OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED):
            return False
        _release(order, f"Order {order.number} expired", f"order:{order.id}:released")
        record_event(
            order,
            "status",
            OrderStatus.PENDING_PAYMENT.value,
            OrderStatus.EXPIRED.value,
            actor,
            "not paid within 30 minutes",
        )
        db.session.flush()
    return True


def expire_due_orders(*, now: datetime | None = None) -> int:
    """Expire every unpaid order past its time (``flask orders expire``); returns how many."""
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(Order).where(
            Order.status == OrderStatus.PENDING_PAYMENT.value, Order.expires_at <= now
        )
    ).all()
    return sum(expire_order(order, now=now) for order in due)


def mark_paid(order: Order, *, processor_fee: int, actor: str) -> bool:
    """Book a paid order: the money split, reserved gold sold, custody events; once only.

    Returns False (and changes nothing) if the order was already paid. The ledger transaction's
    idempotency key is a second guard: a concurrent second call fails on it.
    """
    if order.status != OrderStatus.PENDING_PAYMENT.value:
        return False
    sale_of(
        [line.piece.slug for line in order.lines],
        [p.lot_id for line in order.lines for p in line.premium_lines],
    )
    with db.session.begin_nested():
        if not _compare_and_set_status(order, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
            return False
        check_transition(PaymentStatus(order.payment_status), PaymentStatus.PAID)
        previous_payment = order.payment_status
        order.payment_status = PaymentStatus.PAID.value
        order.paid_at = utcnow()
        cur = order.currency
        postings: list[tuple[AccountRef, int]] = [
            (money_account(AccountKind.GATEWAY_CLEARING, cur), -order.total_minor)
        ]
        fees = 0
        for line in order.lines:
            fees += line.platform_fee_minor
            postings.append(
                (
                    money_account(AccountKind.JEWELLER_PENDING, cur, jeweller_id=line.jeweller_id),
                    line.jeweller_minor,
                )
            )
            for p in line.premium_lines:
                if p.amount_minor:
                    postings.append(
                        (
                            money_account(
                                AccountKind.COOP_PREMIUM_PENDING,
                                cur,
                                cooperative_id=p.cooperative_id,
                                lot_id=p.lot_id,
                            ),
                            p.amount_minor,
                        )
                    )
        for shipment in order.shipments:
            if shipment.shipping_minor:
                postings.append(
                    (
                        money_account(
                            AccountKind.JEWELLER_PENDING, cur, jeweller_id=shipment.jeweller_id
                        ),
                        shipment.shipping_minor,
                    )
                )
        if fees - processor_fee:
            postings.append((money_account(AccountKind.PLATFORM_FEES, cur), fees - processor_fee))
        if processor_fee:
            postings.append((money_account(AccountKind.PROCESSOR_FEES, cur), processor_fee))
        post_transaction(
            "order_paid",
            f"Order {order.number} paid",
            postings,
            idempotency_key=f"order:{order.id}:paid",
        )
        gold: list[tuple[AccountRef, int]] = []
        for line in order.lines:
            gold += _line_gold_moves(
                line, line.quantity, AccountKind.PIECE_RESERVED, AccountKind.LOT_SOLD
            )
        post_transaction(
            "order_sold",
            f"Order {order.number}: gold sold",
            gold,
            idempotency_key=f"order:{order.id}:sold",
        )
        for line in order.lines:
            for p in line.premium_lines:
                append_custody_event(
                    p.lot,
                    CustodyEventKind.SOLD,
                    actor="Oro de Poto marketplace",
                    jeweller_id=line.jeweller_id,
                    piece_id=line.piece_id,
                    fine_mg=p.fine_mg,
                    details={
                        "order": order.number,
                        "piece": line.piece.slug,
                        "units": line.quantity,
                    },
                )
        from marketplace.provenance.certificates import issue_for_order

        issue_for_order(order)
        record_event(
            order, "status", OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value, actor
        )
        record_event(order, "payment", previous_payment, PaymentStatus.PAID.value, actor)
        db.session.flush()
    return True


def set_payment_status(order: Order, target: PaymentStatus, actor: str, note: str = "") -> None:
    """Move the payment status along its table and record it."""
    current = PaymentStatus(order.payment_status)
    if current is target:
        return
    check_transition(current, target)
    order.payment_status = target.value
    record_event(order, "payment", current.value, target.value, actor, note)
    db.session.flush()


def ensure_fresh(order: Order) -> Order:
    """Expire the order on access if its time ran out (so a stale page cannot be paid)."""
    if expire_order(order):
        db.session.commit()
    return order


def fulfilment_summary(order: Order) -> str:
    """One word for all shipments: unfulfilled, shipped, delivered (or mixed)."""
    states = {s.status for s in order.shipments if s.status != FulfilmentStatus.CANCELLED.value}
    if not states:
        return FulfilmentStatus.CANCELLED.value
    if len(states) == 1:
        return states.pop()
    return "partly " + (
        FulfilmentStatus.DELIVERED.value
        if FulfilmentStatus.DELIVERED.value in states
        else FulfilmentStatus.SHIPPED.value
    )
