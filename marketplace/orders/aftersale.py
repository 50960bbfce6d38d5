"""After the sale: shipping, delivery, completion, cancellations and refunds.

Completion moves an order's pending money to available once the return window has passed.
A refund gives back whole units of lines (and shipping of parcels never sent): the money is
split over the line's premium lines, fee and jeweller share in proportion (largest remainder,
so the parts sum exactly), reversed in the ledger from pending (or available, which may go
negative after a payout), and the units go back on the shelf with their gold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.catalog.models import PieceStatus
from marketplace.core.errors import DomainError, InvalidQuantity
from marketplace.core.money import allocate
from marketplace.core.states import (
    FulfilmentStatus,
    OrderStatus,
    PaymentStatus,
    check_transition,
)
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind
from marketplace.ledger.services import AccountRef, money_account, post_transaction
from marketplace.orders.models import Order, OrderLine, Shipment
from marketplace.orders.services import (
    _compare_and_set_status,
    _line_gold_moves,
    frozen_gold,
    record_event,
    set_payment_status,
)
from marketplace.payments.gateways import PaymentGateway
from marketplace.payments.models import Payment, Refund


def _shipment(order: Order, jeweller_id: int) -> Shipment:
    """The jeweller's shipment of the order (DomainError if it has none)."""
    for shipment in order.shipments:
        if shipment.jeweller_id == jeweller_id:
            return shipment
    raise DomainError(_("This order has no pieces of your workshop."))


def mark_shipped(order: Order, jeweller_id: int, carrier: str, tracking: str, actor: str) -> None:
    """The jeweller sent its parcel."""
    if order.status != OrderStatus.PAID.value:
        raise DomainError(_("Only paid orders are shipped."))
    shipment = _shipment(order, jeweller_id)
    target = check_transition(FulfilmentStatus(shipment.status), FulfilmentStatus.SHIPPED)
    if not carrier.strip() or not tracking.strip():
        raise DomainError(_("Give the carrier and the tracking number."))
    shipment.status = target.value
    shipment.carrier = carrier.strip()[:80]
    shipment.tracking = tracking.strip()[:120]
    shipment.shipped_at = utcnow()
    record_event(
        order,
        "fulfilment",
        FulfilmentStatus.UNFULFILLED.value,
        target.value,
        actor,
        f"{shipment.jeweller.business_name}: {shipment.carrier} {shipment.tracking}",
    )
    db.session.flush()


def mark_delivered(order: Order, jeweller_id: int, actor: str) -> None:
    """The parcel arrived (said by the jeweller, or by the shopper confirming receipt)."""
    shipment = _shipment(order, jeweller_id)
    target = check_transition(FulfilmentStatus(shipment.status), FulfilmentStatus.DELIVERED)
    shipment.status = target.value
    shipment.delivered_at = utcnow()
    record_event(
        order,
        "fulfilment",
        FulfilmentStatus.SHIPPED.value,
        target.value,
        actor,
        shipment.jeweller.business_name,
    )
    db.session.flush()


def confirm_receipt(order: Order, actor: str) -> int:
    """The shopper says the parcels arrived: every shipped parcel becomes delivered."""
    shipped = [s for s in order.shipments if s.status == FulfilmentStatus.SHIPPED.value]
    if not shipped:
        raise DomainError(_("Nothing has been shipped yet, so there is nothing to confirm."))
    for shipment in shipped:
        mark_delivered(order, shipment.jeweller_id, actor)
    return len(shipped)


def _net(line: OrderLine) -> tuple[dict[int, int], int, int]:
    """What of a line is still owed after refunds: premium by premium line, fee, jeweller."""
    kept = line.quantity - line.refunded_quantity
    parts = _split(line, kept)
    return parts.premium, parts.fee, parts.jeweller


@dataclass(frozen=True)
class LineParts:
    """A number of units of a line, split like the line."""

    amount: int
    premium: dict[int, int]  # premium line id → amount
    fee: int
    jeweller: int


def _split(line: OrderLine, units: int) -> LineParts:
    """``units`` units of a line split over its premium lines, fee and jeweller share.

    Splitting the whole line this way gives back exactly its frozen parts, and the parts of
    any number of units always sum to their price.
    """
    amount = line.unit_price_minor * units
    weights = [p.amount_minor for p in line.premium_lines] + [
        line.platform_fee_minor,
        line.jeweller_minor,
    ]
    parts = allocate(amount, weights) if sum(weights) else [0] * len(weights)
    premium = {p.id: parts[i] for i, p in enumerate(line.premium_lines)}
    return LineParts(amount, premium, parts[-2], parts[-1])


def complete_order(order: Order, *, now: datetime, window: timedelta, actor: str) -> bool:
    """Complete a paid order whose parcels all arrived (or were cancelled) a window ago."""
    if order.status != OrderStatus.PAID.value:
        return False
    live = [s for s in order.shipments if s.status != FulfilmentStatus.CANCELLED.value]
    if any(s.status != FulfilmentStatus.DELIVERED.value for s in live):
        return False
    last = max((s.delivered_at for s in live if s.delivered_at), default=order.paid_at)
    if last is None or last + window > now:
        return False
    with db.session.begin_nested():
        if not _compare_and_set_status(order, OrderStatus.PAID, OrderStatus.COMPLETED):
            return False
        order.completed_at = now
        cur = order.currency
        postings: list[tuple[AccountRef, int]] = []
        for line in order.lines:
            premium, _fee, jeweller = _net(line)
            for p in line.premium_lines:
                amount = premium[p.id]
                if amount:
                    postings += _move(
                        AccountKind.COOP_PREMIUM_PENDING,
                        AccountKind.COOP_PREMIUM_AVAILABLE,
                        cur,
                        amount,
                        cooperative_id=p.cooperative_id,
                        lot_id=p.lot_id,
                    )
            if jeweller:
                postings += _move(
                    AccountKind.JEWELLER_PENDING,
                    AccountKind.JEWELLER_AVAILABLE,
                    cur,
                    jeweller,
                    jeweller_id=line.jeweller_id,
                )
        for shipment in live:
            if shipment.shipping_minor:
                postings += _move(
                    AccountKind.JEWELLER_PENDING,
                    AccountKind.JEWELLER_AVAILABLE,
                    cur,
                    shipment.shipping_minor,
                    jeweller_id=shipment.jeweller_id,
                )
        if postings:
            post_transaction(
                "order_completed",
                f"Order {order.number} completed",
                postings,
                idempotency_key=f"order:{order.id}:completed",
            )
        record_event(
            order,
            "status",
            OrderStatus.PAID.value,
            OrderStatus.COMPLETED.value,
            actor,
            "return window passed",
        )
        db.session.flush()
    return True


def _move(
    source: AccountKind,
    target: AccountKind,
    currency: str,
    amount: int,
    *,
    jeweller_id: int | None = None,
    cooperative_id: int | None = None,
    lot_id: int | None = None,
) -> list[tuple[AccountRef, int]]:
    """Postings moving ``amount`` from one of a payee's accounts to another."""
    return [
        (
            money_account(
                source,
                currency,
                jeweller_id=jeweller_id,
                cooperative_id=cooperative_id,
                lot_id=lot_id,
            ),
            -amount,
        ),
        (
            money_account(
                target,
                currency,
                jeweller_id=jeweller_id,
                cooperative_id=cooperative_id,
                lot_id=lot_id,
            ),
            amount,
        ),
    ]


def complete_due_orders(*, now: datetime | None = None, window_days: int = 14) -> int:
    """Complete every order whose return window has passed (``flask orders complete``)."""
    now = now or utcnow()
    orders = db.session.scalars(
        sa.select(Order).where(Order.status == OrderStatus.PAID.value).order_by(Order.id)
    ).all()
    window = timedelta(days=window_days)
    return sum(complete_order(o, now=now, window=window, actor="system") for o in orders)


@dataclass(frozen=True)
class RefundPlan:
    """What a refund gives back: units per line, shipping per parcel, and the total."""

    units: dict[int, int]
    shipping: dict[int, int]  # shipment id → amount
    amount: int


def plan_refund(
    order: Order, units: Mapping[int, int], *, jeweller_id: int | None = None
) -> RefundPlan:
    """Check a refund request ({line id: units}) and price it; shipping of a parcel never sent
    is given back when all its units are refunded."""
    if order.status not in (OrderStatus.PAID.value, OrderStatus.COMPLETED.value):
        raise DomainError(_("Only paid orders can be refunded."))
    lines = {line.id: line for line in order.lines}
    chosen: dict[int, int] = {}
    for line_id, count in units.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidQuantity(_("Refund whole units, zero or more."))
        if count == 0:
            continue
        line = lines.get(line_id)
        if line is None:
            raise DomainError(_("That line is not part of this order."))
        if jeweller_id is not None and line.jeweller_id != jeweller_id:
            raise DomainError(_("You can only cancel your own pieces."))
        if count > line.quantity - line.refunded_quantity:
            raise InvalidQuantity(
                _(
                    "Only %(count)s × %(title)s can still be refunded.",
                    count=line.quantity - line.refunded_quantity,
                    title=line.title,
                )
            )
        chosen[line_id] = count
    if not chosen:
        raise DomainError(_("Choose at least one piece to refund."))
    if jeweller_id is not None:
        shipment = _shipment(order, jeweller_id)
        if shipment.status != FulfilmentStatus.UNFULFILLED.value:
            raise DomainError(_("Your parcel has shipped; ask the Central to refund it."))
    amount = sum(lines[i].unit_price_minor * n for i, n in chosen.items())
    shipping: dict[int, int] = {}
    for shipment in order.shipments:
        if shipment.status != FulfilmentStatus.UNFULFILLED.value or not shipment.shipping_minor:
            continue
        remaining = sum(
            line.quantity - line.refunded_quantity - chosen.get(line.id, 0)
            for line in order.lines
            if line.jeweller_id == shipment.jeweller_id
        )
        if remaining == 0:
            shipping[shipment.id] = shipment.shipping_minor
    return RefundPlan(chosen, shipping, amount + sum(shipping.values()))


def refund(
    order: Order,
    units: Mapping[int, int],
    gateway: PaymentGateway,
    *,
    actor: str,
    reason: str = "",
    jeweller_id: int | None = None,
) -> Refund:
    """Refund units of an order through the gateway, then reverse the books; all or nothing.

    The gateway is asked first with an idempotency key made of our ids, so retrying after a
    timeout never refunds twice; if it refuses, nothing here changes.
    """
    plan = plan_refund(order, units, jeweller_id=jeweller_id)
    payment = db.session.scalar(
        sa.select(Payment)
        .where(Payment.order_id == order.id, Payment.status == "succeeded")
        .order_by(Payment.id.desc())
    )
    if payment is None:
        raise DomainError(_("No settled payment to refund on this order."))
    previous = len(payment.refunds)
    key = f"order-{order.id}-refund-{previous + 1}-{plan.amount}"
    result = gateway.refund(payment, plan.amount, key)
    if not result.succeeded:
        raise DomainError(result.message or _("The payment provider refused the refund."))
    with db.session.begin_nested():
        record = Refund(
            payment_id=payment.id,
            amount_minor=plan.amount,
            provider_ref=result.provider_ref,
            idempotency_key=key,
            reason=reason[:300],
            status="succeeded",
        )
        db.session.add(record)
        _reverse_books(order, plan)
        _return_units(order, plan)
        order.refunded_minor += plan.amount
        for shipment in order.shipments:
            if shipment.id in plan.shipping:
                shipment.status = check_transition(
                    FulfilmentStatus(shipment.status), FulfilmentStatus.CANCELLED
                ).value
                record_event(
                    order,
                    "fulfilment",
                    FulfilmentStatus.UNFULFILLED.value,
                    FulfilmentStatus.CANCELLED.value,
                    actor,
                    reason,
                )
        everything = all(line.refunded_quantity == line.quantity for line in order.lines)
        set_payment_status(
            order,
            PaymentStatus.REFUNDED if everything else PaymentStatus.PARTIALLY_REFUNDED,
            actor,
            reason,
        )
        if everything:
            shipped = any(
                s.status in (FulfilmentStatus.SHIPPED.value, FulfilmentStatus.DELIVERED.value)
                for s in order.shipments
            )
            target = (
                OrderStatus.REFUNDED
                if shipped or order.status == "completed"
                else (OrderStatus.CANCELLED)
            )
            current = OrderStatus(order.status)
            if current is not target:
                check_transition(current, target)
                _compare_and_set_status(order, current, target)
                record_event(order, "status", current.value, target.value, actor, reason)
        db.session.flush()
    return record


def _reverse_books(order: Order, plan: RefundPlan) -> None:
    """One transaction taking the refund back out of the payees' and the platform's accounts."""
    cur = order.currency
    completed = order.status == OrderStatus.COMPLETED.value
    premium_kind = (
        AccountKind.COOP_PREMIUM_AVAILABLE if completed else AccountKind.COOP_PREMIUM_PENDING
    )
    jeweller_kind = AccountKind.JEWELLER_AVAILABLE if completed else AccountKind.JEWELLER_PENDING
    postings: list[tuple[AccountRef, int]] = [
        (money_account(AccountKind.GATEWAY_CLEARING, cur), plan.amount)
    ]
    lines = {line.id: line for line in order.lines}
    fee_back = 0
    for line_id, count in plan.units.items():
        line = lines[line_id]
        before = _split(line, line.quantity - line.refunded_quantity)
        after = _split(line, line.quantity - line.refunded_quantity - count)
        for p in line.premium_lines:
            amount = before.premium[p.id] - after.premium[p.id]
            p.refunded_minor += amount
            if amount:
                postings.append(
                    (
                        money_account(
                            premium_kind, cur, cooperative_id=p.cooperative_id, lot_id=p.lot_id
                        ),
                        -amount,
                    )
                )
        fee_back += before.fee - after.fee
        if before.jeweller - after.jeweller:
            postings.append(
                (
                    money_account(jeweller_kind, cur, jeweller_id=line.jeweller_id),
                    -(before.jeweller - after.jeweller),
                )
            )
    for shipment in order.shipments:
        amount = plan.shipping.get(shipment.id, 0)
        if amount:
            postings.append(
                (money_account(jeweller_kind, cur, jeweller_id=shipment.jeweller_id), -amount)
            )
    if fee_back:
        postings.append((money_account(AccountKind.PLATFORM_FEES, cur), -fee_back))
    post_transaction("order_refund", f"Refund on order {order.number}", postings)


def _return_units(order: Order, plan: RefundPlan) -> None:
    """Refunded units go back on the shelf with their gold, or, when the piece was archived or
    re-backed since the sale, their gold goes back to the jeweller's holdings."""
    from marketplace.catalog.models import Piece

    lines = {line.id: line for line in order.lines}
    gold: list[tuple[AccountRef, int]] = []
    for line_id, count in plan.units.items():
        line = lines[line_id]
        piece = line.piece
        same_backing = {g.lot_id: g.fine_mg_per_unit for g in piece.gold} == frozen_gold(line)
        if piece.status == PieceStatus.ACTIVE.value and same_backing:
            db.session.execute(
                sa.update(Piece)
                .where(Piece.id == piece.id)
                .values(stock=Piece.stock + count)
                .execution_options(synchronize_session=False)
            )
            db.session.expire(piece, ["stock"])
            gold += _line_gold_moves(line, count, AccountKind.LOT_SOLD, AccountKind.PIECE_COMMITTED)
        else:
            # Archived, or re-backed since the sale: the gold goes back to the jeweller's
            # holdings, and the jeweller decides what to make of it.
            gold += _line_gold_moves(line, count, AccountKind.LOT_SOLD, AccountKind.JEWELLER_HELD)
        line.refunded_quantity += count
        line.refunded_minor += line.unit_price_minor * count
    post_transaction("order_return", f"Refund on order {order.number}: gold back", gold)
