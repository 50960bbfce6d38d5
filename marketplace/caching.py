"""Caching what is expensive to compute and rarely changes, with versions that change in the
same transaction as the data.

Values live in Flask-Caching: a ``SimpleCache`` in each process by default, Redis when
``CACHE_REDIS_URL`` is set (or whatever ``CACHE_TYPE`` names). Every key carries a *version*, a
random token in the ``cache_version`` table:

- ``public_figures``: the lot registry's gold figures, the transparency page and API, the home
  page's totals (``cached``). Replaced by any change to lots, custody events, cooperatives,
  jewellers, ledger transactions and entries, premium lines or payouts.
- ``public_pages``: whole public pages as an anonymous visitor sees them
  (``marketplace.http_caching``). Replaced by any write at all, except to accounts, password
  resets, the audit trail and webhook receipts, which no public page shows.

A session hook notes such changes when they are flushed (ORM objects) or executed (``UPDATE``,
``INSERT`` and ``DELETE`` statements run through the session, such as the stock updates of an
order) and writes the new tokens just before the commit. So a reader, which reads the token
first (one primary-key read), never gets anything older than the last commit it can see, in
any process, whatever the cache backend. ``CACHE_DEFAULT_TIMEOUT`` (five minutes) bounds what a
write made outside the app (SQL by hand, a bulk load) can leave stale; ``flask cache bump``
ends it at once.

A session that has written and not yet committed reads and writes around the cache, so it sees
its own writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask import Flask
from flask_caching import Cache
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column

from marketplace.db import Base
from marketplace.extensions import db

T = TypeVar("T")

#: The version of everything the public pages read from the lots, chains and ledger.
PUBLIC_FIGURES = "public_figures"
#: The version of whole public pages.
PUBLIC_PAGES = "public_pages"
VERSIONS = (PUBLIC_FIGURES, PUBLIC_PAGES)
#: Tables no public page reads: writing them changes no version.
PRIVATE_TABLES = frozenset({"user_account", "password_reset", "audit_record", "webhook_event"})
#: The versions a session's uncommitted writes change.
_CHANGED = "marketplace.caching.changed"

cache = Cache()


class CacheVersion(Base):
    """The current version token of one family of cached values."""

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


def _watched() -> tuple[type, ...]:
    """The models whose rows the public figures are computed from."""
    from marketplace.catalog.models import Jeweller
    from marketplace.ledger.models import LedgerEntry, LedgerTransaction
    from marketplace.orders.models import PremiumLine
    from marketplace.payouts.models import Payout
    from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot

    return (
        GoldLot,
        CustodyEvent,
        Cooperative,
        Jeweller,
        LedgerTransaction,
        LedgerEntry,
        PremiumLine,
        Payout,
    )


def _changed(session: Session) -> set[str]:
    changed: set[str] = session.info.setdefault(_CHANGED, set())
    return changed


def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush: remember which versions its writes change."""
    changed = _changed(session)
    if len(changed) == len(VERSIONS):
        return
    watched = _watched()
    for obj in chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in PRIVATE_TABLES:
            continue
        changed.add(PUBLIC_PAGES)
        if isinstance(obj, watched):
            changed.add(PUBLIC_FIGURES)
            return


def _note_statements(state: ORMExecuteState) -> None:
    """An ``UPDATE``, ``INSERT`` or ``DELETE`` run through the session changes both versions
    (unless it writes a private table)."""
    if not (state.is_update or state.is_insert or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in PRIVATE_TABLES:
        return
    _changed(state.session).update(VERSIONS)


def _bump_before_commit(session: Session) -> None:
    """Replace the version token in the transaction being committed, last of all its writes
    (so the row lock is held only for the commit and never taken before another lock).
    A savepoint's release is no commit: the flag waits for the real one."""
    if session.in_nested_transaction():
        return
    session.flush()
    changed = session.info.pop(_CHANGED, None)
    if changed:
        bump(session.connection(), sorted(changed))


def _forget_changes(session: Session, transaction: SessionTransaction) -> None:
    """A transaction rolled back as a whole changed nothing (a savepoint's rollback may leave
    earlier changes of the transaction, so it keeps the flag)."""
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)


def bump(connection: sa.Connection, names: Iterable[str] = VERSIONS) -> None:
    """Give ``names`` a new version token (inside the caller's transaction)."""
    for name in names:
        token = secrets.token_hex(16)
        result = connection.execute(
            sa.update(CacheVersion).where(CacheVersion.name == name).values(token=token)
        )
        if result.rowcount == 0:
            connection.execute(sa.insert(CacheVersion).values(name=name, token=token))


def version(name: str = PUBLIC_FIGURES) -> str | None:
    """The current version token; None if the row is missing, or if this session has written
    something not yet committed (then nothing is read from or written to the cache)."""
    token = db.session.scalar(sa.select(CacheVersion.token).where(CacheVersion.name == name))
    if db.session.info.get(_CHANGED):
        return None
    return token


def cached(key: str, compute: Callable[[], T], *, name: str = PUBLIC_FIGURES) -> T:
    """``compute()``, kept under ``key`` until the version ``name`` changes."""
    token = version(name)
    if token is None:
        return compute()
    full_key = f"{name}:{token}:{key}"
    hit = cache.get(full_key)
    if isinstance(hit, tuple) and len(hit) == 1:
        return hit[0]
    value = compute()
    cache.set(full_key, (value,))
    return value


def _configure(app: Flask) -> None:
    """SimpleCache unless told otherwise; Redis when only its URL is given."""
    if not app.config.get("CACHE_TYPE"):
        app.config["CACHE_TYPE"] = (
            "RedisCache" if app.config.get("CACHE_REDIS_URL") else "SimpleCache"
        )
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 300)
    app.config.setdefault("CACHE_KEY_PREFIX", "marketplace:")
    app.config.setdefault("CACHE_THRESHOLD", 2000)


@click.group("cache", help="The cache of public figures.")
def cache_cli() -> None:
    """``flask cache ...``."""


@cache_cli.command("bump")
def bump_command() -> None:
    """Make every process recompute the cached figures (after writing to the database by hand)."""
    bump(db.session.connection())
    db.session.commit()
    click.echo("The cached public figures will be computed afresh.")


def init_app(app: Flask) -> None:
    """Bind the cache, hook the session so that writes bump the version, add the command."""
    _configure(app)
    cache.init_app(app)
    for event, hook in (
        ("before_flush", _note_changes),
        ("do_orm_execute", _note_statements),
        ("before_commit", _bump_before_commit),
        ("after_soft_rollback", _forget_changes),
    ):
        if not sa.event.contains(db.session, event, hook):
            sa.event.listen(db.session, event, hook)
    app.cli.add_command(cache_cli)
