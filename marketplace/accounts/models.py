"""Users with one role each, and single-use password reset tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.catalog.models import Jeweller
    from marketplace.provenance.models import Cooperative


class Role(enum.StrEnum):
    """What a user may do. Officers and jewellers are tied to the body they act for."""

    SHOPPER = "shopper"
    JEWELLER = "jeweller"
    OFFICER = "officer"  # a cooperative's officer
    ADMIN = "admin"  # the Central


class User(UserMixin, Base):
    """Someone who signs in. Passwords are kept only as scrypt hashes."""

    __tablename__ = "user_account"
    __table_args__ = (
        sa.CheckConstraint(
            "role <> 'officer' OR cooperative_id IS NOT NULL", name="officer_has_cooperative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.SHOPPER.value)
    jeweller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    cooperative_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cooperative.id"), index=True
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Changing the password changes this, which ends every other session of the user.
    session_version: Mapped[int] = mapped_column(sa.Integer, default=1)

    jeweller: Mapped[Jeweller | None] = relationship()
    cooperative: Mapped[Cooperative | None] = relationship()

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of ``password`` and end other sessions."""
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's."""
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """The session identifier: id and session version, so a password change logs out."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        """Deactivated users cannot sign in."""
        return self.active

    @property
    def is_admin(self) -> bool:
        """The Central's staff."""
        return self.role == Role.ADMIN.value


class PasswordReset(Base):
    """A password reset link: stored as a hash, expiring, usable once."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
