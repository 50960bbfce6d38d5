"""The typed declarative base, the constraint naming convention and shared column types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

#: Named constraints make migrations reproducible across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; its metadata carries the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Now in UTC, to the second (what custody hashes and pages show)."""
    return datetime.now(UTC).replace(microsecond=0)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, PostgreSQL does; this makes both give the same aware value, so hashes
    computed from timestamps agree across databases.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware values as UTC (naive ones are taken as UTC already)."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value.replace(
            tzinfo=value.tzinfo or UTC
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(sa.TypeDecorator[Decimal]):
    """A Decimal kept exactly: NUMERIC on PostgreSQL, text on SQLite (which has no decimal)."""

    impl = sa.Numeric(12, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Pick the column type per database."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.Numeric(12, 4))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Write Decimals as their exact text on SQLite."""
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Read back a Decimal, normalised (``2000.0000`` → ``2000``)."""
        if value is None:
            return None
        d = Decimal(str(value))
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def _request_writes() -> bool:
    """Whether this is a request that changes something (a form posted, an API write).

    On SQLite its transactions begin with ``BEGIN IMMEDIATE``: they take the write lock first,
    waiting for it up to ``busy_timeout``. A transaction that began reading and then writes
    cannot wait: if another writer committed meanwhile, SQLite refuses it at once ("database is
    locked"), which under concurrent checkouts refused most orders."""
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def configure_sqlite(engine: sa.engine.Engine) -> None:
    """Make SQLite behave like the database the code expects.

    The ``sqlite3`` driver opens transactions lazily and mishandles SAVEPOINT; the ledger relies
    on savepoints to undo a refused posting, so SQLAlchemy's recipe takes transaction control
    away from the driver. Foreign keys are also off by default in SQLite; turn them on. And use
    the write-ahead log, so pages keep being served while an order commits, and take the write
    lock at the start of a request that writes (``_request_writes``).
    """
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Readers and one writer at a time proceed together (the default rollback journal makes
        # a committing writer wait for every reader). Persistent; in-memory databases ignore it.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.engine.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _request_writes() else "BEGIN")
