"""What a fault must leave exactly as it was, and how to make the database fail on purpose.

``snapshot()`` reads the state a failed request must not have touched: orders and their lines,
payments and refunds, every piece's stock and every ledger balance (gold and money), with the
number of ledger transactions and entries. Two snapshots compare equal when nothing changed.

``database_fails_on(prefix)`` makes the next SQL statement starting with ``prefix`` fail with
the driver's own ``OperationalError`` (wrapped by SQLAlchemy as ``sqlalchemy.exc.OperationalError``,
as a lost connection, a lock timeout or a cancelled statement is). On PostgreSQL the server itself
cancels the statement, so the transaction is really left aborted and must be rolled back; on
SQLite the driver reports the database locked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.verify import verify_books
from marketplace.orders.models import Order, OrderLine, PremiumLine
from marketplace.payments.models import Payment, Refund
from marketplace.provenance.models import Certificate


@dataclass(frozen=True)
class Snapshot:
    """Counts and balances that only a completed step may change."""

    orders: int
    lines: int
    premium_lines: int
    payments: dict[str, int]  # status → count
    refunds: int
    certificates: int
    stock: dict[int, int]  # piece id → units on the shelf
    balances: dict[str, int]  # ledger account key → balance (gold in mg, money in minor units)
    transactions: int
    entries: int


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def snapshot() -> Snapshot:
    """The state now, read from the database (columns, not objects: nothing cached is used)."""
    return Snapshot(
        orders=_count(Order),
        lines=_count(OrderLine),
        premium_lines=_count(PremiumLine),
        payments={
            str(status): int(n)
            for status, n in db.session.execute(
                sa.select(Payment.status, sa.func.count()).group_by(Payment.status)
            )
        },
        refunds=_count(Refund),
        certificates=_count(Certificate),
        stock={int(i): int(s) for i, s in db.session.execute(sa.select(Piece.id, Piece.stock))},
        balances={
            str(k): int(b)
            for k, b in db.session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance))
            if b
        },
        transactions=_count(LedgerTransaction),
        entries=_count(LedgerEntry),
    )


def assert_books_verify() -> None:
    """What ``flask ledger verify`` checks: every balance, transaction and lot adds up."""
    result = verify_books()
    assert result.ok, result.problems


@contextmanager
def database_fails_on(prefix: str) -> Iterator[list[str]]:
    """Make the first statement that starts with ``prefix`` fail; yields the failed ones."""
    failed: list[str] = []
    target = db.engine  # in tests, the connection that holds the test's transaction
    postgres = db.session.get_bind().dialect.name == "postgresql"

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if failed or not statement.lstrip().upper().startswith(prefix.upper()):
            return
        failed.append(statement)
        if postgres:
            # The server cancels the statement it is running: a real error from PostgreSQL
            # (QueryCanceled), which leaves the transaction aborted until it is rolled back.
            cursor.execute("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(5)")
        raise sqlite3.OperationalError("database is locked")

    sa.event.listen(target, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        sa.event.remove(target, "before_cursor_execute", before)
