"""State machines of an order: its status, its payment and each shipment's fulfilment.

Each is a table of allowed transitions; anything else raises ``IllegalTransition``. The three
are kept apart on purpose (as in Saleor): an order can be paid and not yet shipped, shipped and
then partly refunded, and so on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from marketplace.core.errors import DomainError

S = TypeVar("S", bound=enum.StrEnum)


class IllegalTransition(DomainError):
    """A state change the table does not allow."""


class OrderStatus(enum.StrEnum):
    """Where the order stands as a whole."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    COMPLETED = "completed"  # delivered (or not returned) and the return window passed
    EXPIRED = "expired"  # not paid in time; stock and gold released
    CANCELLED = "cancelled"  # cancelled after payment, refunded in full
    REFUNDED = "refunded"  # refunded in full after shipping


class PaymentStatus(enum.StrEnum):
    """Where the money stands."""

    UNPAID = "unpaid"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class FulfilmentStatus(enum.StrEnum):
    """Where one jeweller's shipment stands."""

    UNFULFILLED = "unfulfilled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.EXPIRED}),
    OrderStatus.PAID: frozenset(
        {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}
    ),
    OrderStatus.COMPLETED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}

PAYMENT_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.UNPAID: frozenset(
        {PaymentStatus.PROCESSING, PaymentStatus.PAID, PaymentStatus.FAILED}
    ),
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.PAID, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.PROCESSING, PaymentStatus.PAID}),
    PaymentStatus.PAID: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.REFUNDED: frozenset(),
}

FULFILMENT_TRANSITIONS: Mapping[FulfilmentStatus, frozenset[FulfilmentStatus]] = {
    FulfilmentStatus.UNFULFILLED: frozenset(
        {FulfilmentStatus.SHIPPED, FulfilmentStatus.CANCELLED}
    ),
    FulfilmentStatus.SHIPPED: frozenset({FulfilmentStatus.DELIVERED}),
    FulfilmentStatus.DELIVERED: frozenset(),
    FulfilmentStatus.CANCELLED: frozenset(),
}

_TABLES: dict[type[enum.StrEnum], Mapping[object, frozenset[object]]] = {
    OrderStatus: ORDER_TRANSITIONS,  # type: ignore[dict-item]
    PaymentStatus: PAYMENT_TRANSITIONS,  # type: ignore[dict-item]
    FulfilmentStatus: FULFILMENT_TRANSITIONS,  # type: ignore[dict-item]
}


def can_move(current: S, target: S) -> bool:
    """Whether ``current`` may become ``target``."""
    return target in _TABLES[type(current)][current]


def check_transition(current: S, target: S) -> S:
    """Return ``target`` if ``current`` may become it, else raise ``IllegalTransition``."""
    if type(current) is not type(target):
        raise IllegalTransition(f"Cannot compare {current!r} with {target!r}.")
    if not can_move(current, target):
        raise IllegalTransition(
            f"An order cannot go from {current.value.replace('_', ' ')} to "
            f"{target.value.replace('_', ' ')}."
        )
    return target
