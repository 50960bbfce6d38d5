"""Stored files. Kept in the database so every app process sees the same files."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from marketplace.db import Base, UTCDateTime, utcnow


class MediaFile(Base):
    """A file, addressed by the SHA-256 of its bytes (so identical uploads are stored once)."""

    __tablename__ = "media_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    width: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    original_name: Mapped[str | None] = mapped_column(sa.String(255))
    data: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def extension(self) -> str:
        """File extension that matches the content type."""
        return {
            "image/jpeg": "jpg",
            "image/png": "png",
            "image/webp": "webp",
            "application/pdf": "pdf",
            "text/plain": "txt",
        }.get(self.content_type, "bin")

    @property
    def filename(self) -> str:
        """The name the file is served under (content-addressed, so cacheable forever)."""
        return f"{self.sha256}.{self.extension}"
