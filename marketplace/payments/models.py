"""Payments, refunds and processed webhook events (each unique, so effects happen once)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.orders.models import Order


class Payment(Base):
    """One attempt to charge an order through a gateway (a Stripe PaymentIntent, say)."""

    __tablename__ = "payment"
    __table_args__ = (sa.UniqueConstraint("gateway", "provider_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("shop_order.id"), index=True)
    gateway: Mapped[str] = mapped_column(sa.String(20))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(120))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20), default="processing")
    processor_fee_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    failure_message: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="payments")
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")


class Refund(Base):
    """Money returned to the shopper for some or all of an order."""

    __tablename__ = "refund"
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key"),
        sa.CheckConstraint("amount_minor > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    provider_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120))
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class WebhookEvent(Base):
    """A provider event already processed; inserted in the same transaction as its effect."""

    __tablename__ = "webhook_event"
    __table_args__ = (sa.UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(20))
    event_id: Mapped[str] = mapped_column(sa.String(120))
    event_type: Mapped[str] = mapped_column(sa.String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
