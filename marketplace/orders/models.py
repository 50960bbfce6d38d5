"""Orders, their lines with frozen prices and premium, shipments per jeweller, order events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.states import FulfilmentStatus, OrderStatus, PaymentStatus
from marketplace.db import Base, ExactDecimal, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.catalog.models import Jeweller, Piece
    from marketplace.payments.models import Payment
    from marketplace.provenance.models import Cooperative, GoldLot


class ShippingRate(Base):
    """What one jeweller's shipment costs, by zone (domestic = Peru, international)."""

    __tablename__ = "shipping_rate"
    __table_args__ = (
        sa.UniqueConstraint("zone", "currency"),
        sa.CheckConstraint("amount_minor >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone: Mapped[str] = mapped_column(sa.String(20))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    label: Mapped[str] = mapped_column(sa.String(120), default="")


class Order(Base):
    """A shopper's order. Status, payment and (per shipment) fulfilment are separate fields."""

    __tablename__ = "shop_order"
    __table_args__ = (
        sa.CheckConstraint("total_minor = subtotal_minor + shipping_minor", name="total"),
        sa.Index("ix_shop_order_status_expires", "status", "expires_at"),
        # The order lists: all orders newest first, a shopper's newest first.
        sa.Index("ix_shop_order_placed", "placed_at", "id"),
        sa.Index("ix_shop_order_user_placed", "user_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(80), default="")
    city: Mapped[str] = mapped_column(sa.String(120))
    address_line1: Mapped[str] = mapped_column(sa.String(200))
    address_line2: Mapped[str] = mapped_column(sa.String(200), default="")
    postal_code: Mapped[str] = mapped_column(sa.String(20), default="")
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: The language the shopper bought in: their receipt and later mails are written in it.
    locale: Mapped[str] = mapped_column(sa.String(5), default="en", server_default="en")
    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    #: The IGV (18 %) included in the total, for Peruvian addresses; 0 for exports.
    tax_included_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    platform_fee_percent: Mapped[Decimal] = mapped_column(ExactDecimal)
    status: Mapped[str] = mapped_column(sa.String(20), default=OrderStatus.PENDING_PAYMENT.value)
    payment_status: Mapped[str] = mapped_column(sa.String(20), default=PaymentStatus.UNPAID.value)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", order_by="Shipment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.id")

    @property
    def is_domestic(self) -> bool:
        """Shipped within Peru (IGV applies)."""
        return self.country == "PE"


class OrderLine(Base):
    """One piece in an order, with its price, fee and premium frozen at the moment of sale."""

    __tablename__ = "order_line"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity",
            name="refunded_within_quantity",
        ),
        sa.CheckConstraint(
            "line_total_minor = premium_minor + platform_fee_minor + jeweller_minor",
            name="split_sums",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("shop_order.id"), index=True)
    piece_id: Mapped[int] = mapped_column(sa.ForeignKey("piece.id"), index=True)
    jeweller_id: Mapped[int] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    karat: Mapped[int] = mapped_column(sa.Integer)
    fine_mg_per_unit: Mapped[int] = mapped_column(sa.Integer)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    line_total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    premium_minor: Mapped[int] = mapped_column(sa.BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    jeweller_minor: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_quantity: Mapped[int] = mapped_column(sa.Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    piece: Mapped[Piece] = relationship()
    jeweller: Mapped[Jeweller] = relationship()
    premium_lines: Mapped[list[PremiumLine]] = relationship(
        back_populates="order_line", order_by="PremiumLine.id", cascade="all, delete-orphan"
    )


class PremiumLine(Base):
    """The community premium of one order line for one lot (and so one cooperative)."""

    __tablename__ = "premium_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("gold_lot.id"), index=True)
    fine_mg: Mapped[int] = mapped_column(sa.Integer)
    usd_per_fine_kg: Mapped[Decimal] = mapped_column(ExactDecimal)
    fx_rate: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    #: What of ``amount_minor`` was taken back by refunds.
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    order_line: Mapped[OrderLine] = relationship(back_populates="premium_lines")
    cooperative: Mapped[Cooperative] = relationship()
    lot: Mapped[GoldLot] = relationship()


class Shipment(Base):
    """One jeweller's part of an order: shipped and delivered on its own."""

    __tablename__ = "shipment"
    __table_args__ = (sa.UniqueConstraint("order_id", "jeweller_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("shop_order.id"))
    jeweller_id: Mapped[int] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    shipping_minor: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(20), default=FulfilmentStatus.UNFULFILLED.value)
    carrier: Mapped[str | None] = mapped_column(sa.String(80))
    tracking: Mapped[str | None] = mapped_column(sa.String(120))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="shipments")
    jeweller: Mapped[Jeweller] = relationship()


class OrderEvent(Base):
    """Every change of an order: who, when, which field, from, to."""

    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("shop_order.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(254))
    field: Mapped[str] = mapped_column(sa.String(30))
    from_value: Mapped[str | None] = mapped_column(sa.String(40))
    to_value: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    order: Mapped[Order] = relationship(back_populates="events")
