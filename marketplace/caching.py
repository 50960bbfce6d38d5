"""Caching what is expensive to compute and rarely changes, with versions that change in the
same transaction as the data.

Values live in Flask-Caching: a ``SimpleCache`` in each process by default, Redis when
``CACHE_REDIS_URL`` is set (or whatever ``CACHE_TYPE`` names). Every key carries a *version*, a
random token in the ``cache_version`` table:

- ``public_figures``: the lot registry's gold figures, the transparency page and API, the home
  page's totals, the cooperative dashboard's chain checks (``cached``). Replaced by any change
  to the tables they are computed from (``FIGURE_TABLES``: lots, custody events, cooperatives,
  jewellers, the ledger, orders, premium lines and rates, payouts).
- ``public_pages``: whole public pages as an anonymous visitor sees them
  (``marketplace.http_caching``). Replaced by any write at all, except to accounts, password
  resets, the audit trail and webhook receipts, which no public page shows, and except a
  *sale*'s writes (below).
- ``listing_pages``: the public pages that add up sales (home, the lot registry, cooperatives,
  transparency). Replaced by every sale too.
- ``catalog_pages``: the pages that list pieces as cards (the catalog, its searches and
  filters, a jeweller's pieces). A card changes with a sale only when its piece sells out or
  comes back on the shelf, so a sale replaces them only then (``shelf_changed``): most sales
  leave the catalog kept.
- ``piece:<hash of its slug>``, one per piece: that piece's page. Replaced by the sales of that
  piece (its stock, its own custody events). A piece's page is kept under ``public_pages`` and
  its own version, so selling one piece leaves the other 99,999 pages kept.
- ``lot:<hash of its code>``, one per lot: that lot's page (its chain, its gold, its pieces).
  Replaced by the sales of pieces made of its gold.

A *sale* is placing, paying or expiring an order: the order services declare it with
``sale_of(pieces, lots)``, and with ``shelf_changed()`` when a piece sold out or came back.
Its writes to the tables a sale writes (``SALE_TABLES``) replace ``listing_pages`` and the
versions of the pieces and lots sold (and ``catalog_pages`` if the shelf changed), not
``public_pages``; a write to any other table in the same transaction still replaces
``public_pages`` and ``catalog_pages``.

A session hook notes which tables are written when they are flushed (ORM objects) or executed
(``UPDATE``, ``INSERT`` and ``DELETE`` statements run through the session, such as the stock
updates of an order) and writes the new tokens just before the commit. So a reader, which reads
the tokens first (one query), never gets anything older than the last commit it can see, in
any process, whatever the cache backend. ``CACHE_DEFAULT_TIMEOUT`` (five minutes) bounds what a
write made outside the app (SQL by hand, a bulk load) can leave stale; ``flask cache bump``
ends it at once.

A session that has written and not yet committed reads and writes around the cache, so it sees
its own writes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask import Flask
from flask_caching import Cache
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column

from marketplace.db import Base
from marketplace.extensions import db

T = TypeVar("T")

#: The version of everything the public pages read from the lots, chains and ledger.
PUBLIC_FIGURES = "public_figures"
#: The version of whole public pages.
PUBLIC_PAGES = "public_pages"
#: The version of the public pages that add up sales.
LISTING_PAGES = "listing_pages"
#: The version of the pages that list pieces as cards.
CATALOG_PAGES = "catalog_pages"
VERSIONS = (PUBLIC_FIGURES, PUBLIC_PAGES, LISTING_PAGES, CATALOG_PAGES)
#: Tables no public page reads: writing them changes no version.
PRIVATE_TABLES = frozenset({"user_account", "password_reset", "audit_record", "webhook_event"})
#: Tables the public figures are computed from.
FIGURE_TABLES = frozenset(
    {
        "gold_lot",
        "custody_event",
        "cooperative",
        "jeweller",
        "ledger_transaction",
        "ledger_entry",
        "ledger_account",
        "premium_line",
        "payout",
        "premium_policy",
        "fx_rate",
        "shop_order",
        "order_line",
        "refund",
    }
)
#: Tables a sale (placing, paying or expiring an order) writes.
SALE_TABLES = frozenset(
    {
        "piece",
        "shop_order",
        "order_line",
        "premium_line",
        "shipment",
        "order_event",
        "payment",
        "refund",
        "ledger_transaction",
        "ledger_entry",
        "ledger_account",
        "custody_event",
        "certificate",
        "signing_key",
    }
)
#: The tables a session's uncommitted writes touched.
_WRITTEN = "marketplace.caching.written"
#: The slugs of the pieces whose sale the session's transaction records.
_SOLD = "marketplace.caching.sold"
#: The ids of the lots whose gold the session's transaction sells.
_SOLD_LOTS = "marketplace.caching.sold_lots"
#: Set when a sale in the session's transaction sold a piece out or put one back on the shelf.
_SHELF = "marketplace.caching.shelf_changed"
_SALE_KEYS = (_WRITTEN, _SOLD, _SOLD_LOTS, _SHELF)

cache = Cache()
#: The lots' table, for the codes of the lots a sale touched (read without the ORM models).
GOLD_LOT = sa.table("gold_lot", sa.column("id", sa.Integer), sa.column("code", sa.String))


class CacheVersion(Base):
    """The current version token of one family of cached values."""

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))


def _written(session: Session) -> set[str]:
    written: set[str] = session.info.setdefault(_WRITTEN, set())
    return written


def piece_version(slug: str) -> str:
    """The name of one piece page's version."""
    return "piece:" + hashlib.sha256(slug.encode()).hexdigest()[:24]


def lot_version(code: str) -> str:
    """The name of one lot page's version."""
    return "lot:" + hashlib.sha256(code.encode()).hexdigest()[:24]


def sale_of(slugs: Iterable[str], lot_ids: Iterable[int]) -> None:
    """Declare that the current transaction records a sale of these pieces, made of these lots'
    gold (placing, paying or expiring an order): its writes to ``SALE_TABLES`` replace the
    listing pages and these pieces' and lots' pages, and leave every other one kept."""
    sold: set[str] = db.session.info.setdefault(_SOLD, set())
    sold.update(slugs)
    lots: set[int] = db.session.info.setdefault(_SOLD_LOTS, set())
    lots.update(lot_ids)


def shelf_changed() -> None:
    """Declare that the sale in the current transaction sold a piece out or brought one back
    on the shelf: the catalog's cards of it change ("sold out")."""
    db.session.info[_SHELF] = True


def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush: remember which tables its writes touch."""
    written = _written(session)
    for obj in chain(session.new, session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is not None and table not in PRIVATE_TABLES:
            written.add(table)


def _note_statements(state: ORMExecuteState) -> None:
    """An ``UPDATE``, ``INSERT`` or ``DELETE`` run through the session: remember its table."""
    if not (state.is_update or state.is_insert or state.is_delete):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name not in PRIVATE_TABLES:
        _written(state.session).add(name or "?")


def changed_versions(
    written: set[str], sold: set[str], lots: Iterable[str] = (), shelf: bool = False
) -> set[str]:
    """The versions that writes to the ``written`` tables change, in a transaction that records
    the sale of the pieces ``sold`` (slugs; empty if it records none) made of the gold of
    ``lots`` (codes), which sold a piece out or put one back on the shelf if ``shelf``."""
    if not written:
        return set()
    changed = {LISTING_PAGES}
    if written & FIGURE_TABLES:
        changed.add(PUBLIC_FIGURES)
    if not sold or written - SALE_TABLES:
        changed.update((PUBLIC_PAGES, CATALOG_PAGES))
    elif shelf:
        changed.add(CATALOG_PAGES)
    changed.update(piece_version(slug) for slug in sold)
    changed.update(lot_version(code) for code in lots)
    return changed


def _bump_before_commit(session: Session) -> None:
    """Replace the version tokens in the transaction being committed, last of all its writes
    (so the rows are locked only for the commit, always in the same order).
    A savepoint's release is no commit: the flag waits for the real one."""
    if session.in_nested_transaction():
        return
    session.flush()
    written = session.info.pop(_WRITTEN, None) or set()
    sold = session.info.pop(_SOLD, None) or set()
    lot_ids = session.info.pop(_SOLD_LOTS, None) or set()
    shelf = bool(session.info.pop(_SHELF, False))
    if not written:
        return
    connection = session.connection()
    codes = (
        list(connection.scalars(sa.select(GOLD_LOT.c.code).where(GOLD_LOT.c.id.in_(lot_ids))))
        if lot_ids
        else []
    )
    bump(connection, sorted(changed_versions(written, sold, codes, shelf)))


def _forget_changes(session: Session, transaction: SessionTransaction) -> None:
    """A transaction rolled back as a whole changed nothing (a savepoint's rollback may leave
    earlier changes of the transaction, so it keeps the flag)."""
    if transaction.parent is None:
        for key in _SALE_KEYS:
            session.info.pop(key, None)


def bump(connection: sa.Connection, names: Iterable[str] = VERSIONS) -> None:
    """Give ``names`` a new version token (inside the caller's transaction, one statement,
    rows in the order given); a version seen for the first time gets its row (an upsert: two
    first sales of a piece cannot collide)."""
    rows = [{"name": name, "token": secrets.token_hex(16)} for name in dict.fromkeys(names)]
    if not rows:
        return
    upsert = (
        postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    )
    statement = upsert(CacheVersion).values(rows)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[CacheVersion.name], set_={"token": statement.excluded.token}
        )
    )


def tokens(*names: str) -> str | None:
    """The current tokens of ``names``, joined (one query): None if the first is missing, or if
    this session has written something not yet committed (then nothing is read from or written
    to the cache). A later name without a row yet (a piece never sold) counts as "-"."""
    rows = db.session.execute(
        sa.select(CacheVersion.name, CacheVersion.token).where(CacheVersion.name.in_(names))
    )
    found = {name: token for name, token in rows}
    if db.session.info.get(_WRITTEN) or names[0] not in found:
        return None
    return ".".join(found.get(name, "-") for name in names)


def version(name: str = PUBLIC_FIGURES) -> str | None:
    """The current version token of one name (see ``tokens``)."""
    return tokens(name)


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
