"""Payouts: one per payee and period, paid by a provider, with its reference."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.catalog.models import Jeweller
    from marketplace.provenance.models import Cooperative


class Payout(Base):
    """Money paid to a cooperative or a jeweller for one period (``YYYY-MM``).

    At most one per payee and period, so running a period's payouts twice pays once. While
    pending, its amount sits in the payee's "paying" account; paid moves it to "paid", failed
    moves it back to "available" (and keeps the reason), from where a retry takes it again.
    """

    __tablename__ = "payout"
    __table_args__ = (
        sa.UniqueConstraint("payee_key", "period"),
        sa.CheckConstraint("amount_minor > 0", name="positive"),
        sa.CheckConstraint(
            "(cooperative_id IS NULL) <> (jeweller_id IS NULL)", name="one_payee"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(7), index=True)
    #: "cooperative:<id>" or "jeweller:<id>", for the one-per-period rule.
    payee_key: Mapped[str] = mapped_column(sa.String(40))
    cooperative_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    jeweller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    provider: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    #: The bank's reference (bank transfer) once the Central records it.
    reference: Mapped[str | None] = mapped_column(sa.String(120))
    #: The provider's id (a Stripe transfer id).
    provider_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cooperative: Mapped[Cooperative | None] = relationship()
    jeweller: Mapped[Jeweller | None] = relationship()

    @property
    def payee_name(self) -> str:
        """Who is paid."""
        if self.cooperative is not None:
            return self.cooperative.name
        return self.jeweller.business_name if self.jeweller is not None else "?"
