"""Jewellers, their pieces, the pieces' photos and the gold each piece holds per lot."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, ExactDecimal, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.media.models import MediaFile
    from marketplace.provenance.models import GoldLot


class FairtradeStatus(enum.StrEnum):
    """How a jeweller may speak of Fairtrade gold."""

    LICENSEE = "licensee"  # may stamp the Fairtrade mark
    REGISTERED_GOLDSMITH = "registered_goldsmith"  # under 500 g a year; may not stamp the mark
    NONE = "none"


class JewellerStatus(enum.StrEnum):
    """Where a jeweller's application stands; only approved jewellers list pieces."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Jeweller(Base):
    """A workshop that makes pieces from certified gold it holds."""

    __tablename__ = "jeweller"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    business_name: Mapped[str] = mapped_column(sa.String(200))
    ruc: Mapped[str | None] = mapped_column(sa.String(11), unique=True)
    city: Mapped[str] = mapped_column(sa.String(80))
    region: Mapped[str] = mapped_column(sa.String(80), default="")
    story: Mapped[str] = mapped_column(sa.Text, default="")
    fairtrade_status: Mapped[str] = mapped_column(sa.String(30), default=FairtradeStatus.NONE.value)
    fairtrade_number: Mapped[str | None] = mapped_column(sa.String(40))
    #: Extra share of each line price the jeweller pledges to the cooperatives (0–100).
    pledge_percent: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(0))
    status: Mapped[str] = mapped_column(sa.String(20), default=JewellerStatus.PENDING.value)
    #: Where the jeweller's earnings are paid by bank transfer.
    payout_bank: Mapped[str | None] = mapped_column(sa.String(120))
    payout_account_holder: Mapped[str | None] = mapped_column(sa.String(200))
    #: Peru's 20-digit interbank account code (CCI).
    payout_cci: Mapped[str | None] = mapped_column(sa.String(20))
    decline_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    pieces: Mapped[list[Piece]] = relationship(back_populates="jeweller")

    @property
    def approved(self) -> bool:
        """Whether the Central approved the application (only then can it list pieces)."""
        return self.status == JewellerStatus.APPROVED.value


class Category(enum.StrEnum):
    """Kinds of piece the catalog filters on."""

    RING = "ring"
    CHAIN = "chain"
    EARRINGS = "earrings"
    BRACELET = "bracelet"
    PENDANT = "pendant"


class PieceStatus(enum.StrEnum):
    """A piece is shown only when active."""

    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Piece(Base):
    """A listed piece of jewellery; every unit in stock is backed by committed certified gold."""

    __tablename__ = "piece"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_minor > 0", name="price_positive"),
        sa.CheckConstraint("gross_mg > 0", name="gross_positive"),
        sa.CheckConstraint("fine_mg > 0 AND fine_mg <= gross_mg", name="fine_within_gross"),
        # One index per sort of the catalog (the id breaks ties, as the ORDER BY does), and one
        # per filter; every catalog query starts from the status.
        sa.Index("ix_piece_status_created", "status", "created_at", "id"),
        sa.Index("ix_piece_status_price", "status", "price_minor", "id"),
        sa.Index("ix_piece_status_fine", "status", "fine_mg", "id"),
        sa.Index("ix_piece_status_category", "status", "category", "karat"),
        sa.Index("ix_piece_status_karat", "status", "karat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    jeweller_id: Mapped[int] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[str] = mapped_column(sa.String(20))
    karat: Mapped[int] = mapped_column(sa.Integer)
    #: Parts per thousand for the karat (18k → 750).
    fineness: Mapped[int] = mapped_column(sa.Integer)
    gross_mg: Mapped[int] = mapped_column(sa.Integer)
    #: gross × fineness / 1000 rounded up: a piece never claims less gold than it holds.
    fine_mg: Mapped[int] = mapped_column(sa.Integer)
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="PEN")
    stock: Mapped[int] = mapped_column(sa.Integer, default=0)
    status: Mapped[str] = mapped_column(sa.String(20), default=PieceStatus.DRAFT.value)
    traceability_model: Mapped[str] = mapped_column(sa.String(20), default="segregated")
    maker_mark: Mapped[str | None] = mapped_column(sa.String(40))
    hallmark: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    jeweller: Mapped[Jeweller] = relationship(back_populates="pieces")
    photos: Mapped[list[PiecePhoto]] = relationship(
        back_populates="piece", order_by="PiecePhoto.position", cascade="all, delete-orphan"
    )
    gold: Mapped[list[PieceGold]] = relationship(
        back_populates="piece", order_by="PieceGold.lot_id", cascade="all, delete-orphan"
    )

    @property
    def cooperative_names(self) -> list[str]:
        """Short names of the cooperatives whose gold is in the piece, most gold first."""
        names: list[str] = []
        for g in sorted(self.gold, key=lambda g: -g.fine_mg_per_unit):
            if g.lot.cooperative.short_name not in names:
                names.append(g.lot.cooperative.short_name)
        return names

    @property
    def is_backed(self) -> bool:
        """True when the gold per unit from its lots adds up to the piece's fine gold."""
        return sum(g.fine_mg_per_unit for g in self.gold) == self.fine_mg


class PiecePhoto(Base):
    """A photo of a piece, re-encoded, with its thumbnail."""

    __tablename__ = "piece_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(sa.ForeignKey("piece.id"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    alt: Mapped[str] = mapped_column(sa.String(300))
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("media_file.id"))
    thumb_id: Mapped[int] = mapped_column(sa.ForeignKey("media_file.id"))

    piece: Mapped[Piece] = relationship(back_populates="photos")
    image: Mapped[MediaFile] = relationship(foreign_keys=[image_id])
    thumb: Mapped[MediaFile] = relationship(foreign_keys=[thumb_id])


class PieceGold(Base):
    """Fine gold per unit of a piece that comes from one lot."""

    __tablename__ = "piece_gold"
    __table_args__ = (
        sa.UniqueConstraint("piece_id", "lot_id"),
        sa.CheckConstraint("fine_mg_per_unit > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(sa.ForeignKey("piece.id"))
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("gold_lot.id"), index=True)
    fine_mg_per_unit: Mapped[int] = mapped_column(sa.Integer)

    piece: Mapped[Piece] = relationship(back_populates="gold")
    lot: Mapped[GoldLot] = relationship()
