"""Cooperatives, their certifications, certified gold lots and custody events."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.custody import iso_utc
from marketplace.db import Base, ExactDecimal, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.catalog.models import Jeweller
    from marketplace.media.models import MediaFile


class Cooperative(Base):
    """A mining cooperative; the Central is the cooperative whose members are the others."""

    __tablename__ = "cooperative"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    short_name: Mapped[str] = mapped_column(sa.String(80))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    #: Fairtrade (FLOCERT) identifier; None where no public source gives it.
    flo_id: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    district: Mapped[str] = mapped_column(sa.String(80), default="Ananea")
    province: Mapped[str] = mapped_column(sa.String(80), default="San Antonio de Putina")
    region: Mapped[str] = mapped_column(sa.String(80), default="Puno")
    altitude_m: Mapped[int | None] = mapped_column(sa.Integer)
    area_ha: Mapped[int | None] = mapped_column(sa.Integer)
    founded_on: Mapped[date | None] = mapped_column(sa.Date)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Where the public facts above were read.
    sources: Mapped[str] = mapped_column(sa.Text, default="")
    #: Where the community premium is paid (the Central's bank pays by transfer file).
    payout_bank: Mapped[str | None] = mapped_column(sa.String(120))
    payout_account_holder: Mapped[str | None] = mapped_column(sa.String(200))
    #: Peru's 20-digit interbank account code (CCI).
    payout_cci: Mapped[str | None] = mapped_column(sa.String(20))
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(60))
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    parent: Mapped[Cooperative | None] = relationship(remote_side=[id], back_populates="members")
    members: Mapped[list[Cooperative]] = relationship(
        back_populates="parent", order_by="Cooperative.name"
    )
    certifications: Mapped[list[CooperativeCertification]] = relationship(
        back_populates="cooperative", order_by="CooperativeCertification.valid_from.desc()"
    )
    membership_reports: Mapped[list[MembershipReport]] = relationship(
        back_populates="cooperative", order_by="MembershipReport.reported_on.desc()"
    )
    lots: Mapped[list[GoldLot]] = relationship(
        back_populates="cooperative", order_by="GoldLot.code"
    )

    @property
    def is_central(self) -> bool:
        """True for the Central (a cooperative of cooperatives)."""
        return self.parent_id is None

    def certification_on(self, day: date) -> CooperativeCertification | None:
        """The certification valid on ``day``, if any."""
        for cert in self.certifications:
            if cert.valid_from <= day and (cert.valid_until is None or day <= cert.valid_until):
                return cert
        return None


class CooperativeCertification(Base):
    """A certification held by one cooperative, with its validity (sources differ by member)."""

    __tablename__ = "cooperative_certification"

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    scheme: Mapped[str] = mapped_column(sa.String(80))
    body: Mapped[str] = mapped_column(sa.String(80))
    certificate_number: Mapped[str | None] = mapped_column(sa.String(80))
    first_certified_year: Mapped[int | None] = mapped_column(sa.Integer)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.Text, default="")
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    cooperative: Mapped[Cooperative] = relationship(back_populates="certifications")


class MembershipReport(Base):
    """Members (and workers) of a cooperative as a dated source reported them."""

    __tablename__ = "membership_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    members: Mapped[int | None] = mapped_column(sa.Integer)
    workers: Mapped[int | None] = mapped_column(sa.Integer)
    reported_on: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.Text)

    cooperative: Mapped[Cooperative] = relationship(back_populates="membership_reports")


class TraceabilityModel(enum.StrEnum):
    """ISO 22095 chain-of-custody models the shop handles."""

    SEGREGATED = "segregated"
    MASS_BALANCE = "mass_balance"


class GoldLot(Base):
    """A certified lot of gold from one cooperative: assay, certificate and custody data."""

    __tablename__ = "gold_lot"
    __table_args__ = (
        sa.CheckConstraint("gross_mg > 0", name="gross_positive"),
        sa.CheckConstraint("fine_mg >= 0 AND fine_mg <= gross_mg", name="fine_within_gross"),
        sa.CheckConstraint(
            "extraction_end IS NULL OR extraction_end >= extraction_start", name="extraction_order"
        ),
        # The registry's order (newest extraction first, then code).
        sa.Index("ix_gold_lot_registry_order", "extraction_start", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    traceability_model: Mapped[str] = mapped_column(
        sa.String(20), default=TraceabilityModel.SEGREGATED.value
    )
    extraction_start: Mapped[date] = mapped_column(sa.Date)
    extraction_end: Mapped[date | None] = mapped_column(sa.Date)
    gross_mg: Mapped[int] = mapped_column(sa.BigInteger)
    #: Assayed fineness in parts per thousand, to one decimal (e.g. 912.4).
    assayed_fineness: Mapped[Decimal] = mapped_column(ExactDecimal)
    #: gross × fineness / 1000 rounded down: booked once into the gold ledger at registration.
    fine_mg: Mapped[int] = mapped_column(sa.BigInteger)
    assay_lab: Mapped[str | None] = mapped_column(sa.String(200))
    assay_report_number: Mapped[str | None] = mapped_column(sa.String(80))
    assayed_on: Mapped[date | None] = mapped_column(sa.Date)
    refiner: Mapped[str | None] = mapped_column(sa.String(200))
    bar_serial: Mapped[str | None] = mapped_column(sa.String(80))
    bar_year: Mapped[int | None] = mapped_column(sa.Integer)
    certificate_number: Mapped[str | None] = mapped_column(sa.String(80))
    certificate_body: Mapped[str | None] = mapped_column(sa.String(120))
    certificate_valid_from: Mapped[date | None] = mapped_column(sa.Date)
    certificate_valid_until: Mapped[date | None] = mapped_column(sa.Date)
    #: Mercury used and recovered in the extraction period, in grams; 0 used = mercury-free.
    mercury_used_g: Mapped[int | None] = mapped_column(sa.Integer)
    mercury_recovered_g: Mapped[int | None] = mapped_column(sa.Integer)
    water_recycled_percent: Mapped[int | None] = mapped_column(sa.Integer)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    cooperative: Mapped[Cooperative] = relationship(back_populates="lots")
    evidence: Mapped[list[LotEvidence]] = relationship(
        back_populates="lot", order_by="LotEvidence.id"
    )
    custody_events: Mapped[list[CustodyEvent]] = relationship(
        back_populates="lot", order_by="CustodyEvent.seq"
    )

    @property
    def is_refined(self) -> bool:
        """Whether the lot was refined into an identified bar."""
        return bool(self.refiner and self.bar_serial)

    def certificate_valid_on(self, day: date) -> bool:
        """Whether the lot's certificate covers ``day``."""
        if not self.certificate_number or self.certificate_valid_from is None:
            return False
        if day < self.certificate_valid_from:
            return False
        return self.certificate_valid_until is None or day <= self.certificate_valid_until


class LotEvidence(Base):
    """A document behind a lot's claims, kept with the SHA-256 of its bytes."""

    __tablename__ = "lot_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("gold_lot.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    #: "evidenced": the cooperative's own document; "verified": issued by a named third party.
    level: Mapped[str] = mapped_column(sa.String(20))
    issuer: Mapped[str] = mapped_column(sa.String(200))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    media_file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_file.id"))

    lot: Mapped[GoldLot] = relationship(back_populates="evidence")
    media_file: Mapped[MediaFile | None] = relationship()


class CustodyEventKind(enum.StrEnum):
    """What happened to a lot's gold."""

    REGISTERED = "registered"
    ASSAYED = "assayed"
    CERTIFIED = "certified"
    TRANSFERRED = "transferred"
    CRAFTED = "crafted"
    SOLD = "sold"
    SHIPPED = "shipped"


class CustodyEvent(Base):
    """One link of a lot's hash chain: an event, its hash and the hash before it.

    Rows are written once. The hashed payload is rebuilt from the row's own columns (see
    ``payload``), so a later edit of any of them, of ``details``, of the previous hash or of the
    hash is found by recomputing the chain.
    """

    __tablename__ = "custody_event"
    __table_args__ = (
        sa.UniqueConstraint("lot_id", "seq"),
        # A piece's timeline reads its lots' origin events by kind; a lot's holders by jeweller.
        sa.Index("ix_custody_event_lot_kind", "lot_id", "kind"),
        sa.Index("ix_custody_event_lot_jeweller", "lot_id", "jeweller_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("gold_lot.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(200))
    jeweller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    piece_id: Mapped[int | None] = mapped_column(sa.ForeignKey("piece.id"), index=True)
    fine_mg: Mapped[int | None] = mapped_column(sa.BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    lot: Mapped[GoldLot] = relationship(back_populates="custody_events")
    jeweller: Mapped[Jeweller | None] = relationship()

    def payload(self, lot_code: str) -> dict[str, object]:
        """Exactly what is hashed for this event."""
        return {
            "lot": lot_code,
            "seq": self.seq,
            "kind": self.kind,
            "occurred_at": iso_utc(self.occurred_at),
            "actor": self.actor,
            "jeweller_id": self.jeweller_id,
            "piece_id": self.piece_id,
            "fine_mg": self.fine_mg,
            "details": self.details,
        }

    @property
    def ref(self) -> str:
        """How the event is named in chain checks: ``#3 transferred``."""
        return f"#{self.seq} {self.kind}"


class SigningKey(Base):
    """A public key that signs (or signed) provenance certificates; kept after rotation."""

    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(40), unique=True)
    #: Raw Ed25519 public key, base64url.
    public_key: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Certificate(Base):
    """A signed provenance certificate for the units of one order line.

    ``credential`` is exactly what was signed (as canonical JSON); it holds no buyer data.
    """

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    short_id: Mapped[str] = mapped_column(sa.String(16), unique=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), unique=True)
    piece_id: Mapped[int] = mapped_column(sa.ForeignKey("piece.id"), index=True)
    kid: Mapped[str] = mapped_column(sa.String(40))
    signature: Mapped[str] = mapped_column(sa.String(128))
    credential: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
