"""Dated premium rates and exchange rates (rows, so a change never rewrites the past)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, ExactDecimal


class PremiumPolicy(Base):
    """The community premium rate in USD per kg of fine gold, in force from a date."""

    __tablename__ = "premium_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[date] = mapped_column(sa.Date, unique=True)
    usd_per_fine_kg: Mapped[Decimal] = mapped_column(ExactDecimal)
    note: Mapped[str] = mapped_column(sa.Text, default="")


class FxRate(Base):
    """How many ``quote`` units one ``base`` unit bought from a date (e.g. 1 USD = 3.75 PEN)."""

    __tablename__ = "fx_rate"
    __table_args__ = (sa.UniqueConstraint("base", "quote", "effective_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(sa.String(3))
    quote: Mapped[str] = mapped_column(sa.String(3))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal)
    effective_on: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(200), default="")
