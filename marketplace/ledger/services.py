"""Posting to the books: accounts found or opened by key, balances moved by conditional updates.

A transaction's entries are checked to sum to zero per unit (``core.ledger``), then each account
balance is moved with ``UPDATE ... WHERE balance + :amount >= 0`` and the row count checked. That
is atomic on SQLite and PostgreSQL alike, so two writers can never both spend the last milligram.
All of it runs in a savepoint: a refused posting leaves nothing half-written. Services flush;
the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from marketplace.core.errors import DomainError, InsufficientBalance, InsufficientGold
from marketplace.core.gold import GOLD_UNIT, format_grams
from marketplace.core.ledger import Posting, check_balanced, net_postings, sorted_for_locking
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.ledger.models import (
    MAY_GO_NEGATIVE,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)


@dataclass(frozen=True)
class AccountRef:
    """Identifies an account by what it holds; opened on first use."""

    kind: AccountKind
    unit: str
    lot_id: int | None = None
    jeweller_id: int | None = None
    piece_id: int | None = None
    cooperative_id: int | None = None
    #: How messages name the account ("lot PT-2025-001 held by Taller Ananea").
    label: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """The account's unique natural key."""
        parts = [self.unit, self.kind.value]
        for name in ("lot_id", "jeweller_id", "piece_id", "cooperative_id"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name[:-3]}={value}")
        return ":".join(parts)

    @property
    def may_go_negative(self) -> bool:
        """Gold never runs negative; see ``MAY_GO_NEGATIVE`` for the money accounts that may."""
        return self.kind in MAY_GO_NEGATIVE


def gold_account(
    kind: AccountKind,
    lot_id: int,
    *,
    jeweller_id: int | None = None,
    piece_id: int | None = None,
    label: str = "",
) -> AccountRef:
    """A gold (mg of fine gold) account of one lot."""
    return AccountRef(
        kind, GOLD_UNIT, lot_id=lot_id, jeweller_id=jeweller_id, piece_id=piece_id, label=label
    )


def money_account(
    kind: AccountKind,
    currency: str,
    *,
    jeweller_id: int | None = None,
    cooperative_id: int | None = None,
    lot_id: int | None = None,
    label: str = "",
) -> AccountRef:
    """A money account in ``currency`` (minor units)."""
    return AccountRef(
        kind,
        currency,
        jeweller_id=jeweller_id,
        cooperative_id=cooperative_id,
        lot_id=lot_id,
        label=label,
    )


def open_account(ref: AccountRef) -> LedgerAccount:
    """Return the account for ``ref``, creating it if it does not exist yet (race-safe)."""
    found = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.key == ref.key))
    if found is not None:
        return found
    account = LedgerAccount(
        key=ref.key,
        kind=ref.kind.value,
        unit=ref.unit,
        lot_id=ref.lot_id,
        jeweller_id=ref.jeweller_id,
        piece_id=ref.piece_id,
        cooperative_id=ref.cooperative_id,
        balance=0,
        may_go_negative=ref.may_go_negative,
    )
    try:
        with db.session.begin_nested():
            db.session.add(account)
    except IntegrityError:
        # Another writer opened it between our read and insert: use theirs.
        found = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.key == ref.key))
        if found is None:  # pragma: no cover - the constraint said it exists
            raise
        return found
    return account


def open_accounts(refs: Iterable[AccountRef]) -> dict[str, LedgerAccount]:
    """The accounts for ``refs`` by key: those that exist in one query, the rest opened."""
    wanted = {ref.key: ref for ref in refs}
    found = {
        account.key: account
        for account in db.session.scalars(
            sa.select(LedgerAccount).where(LedgerAccount.key.in_(list(wanted)))
        )
    }
    for key, ref in wanted.items():
        if key not in found:
            found[key] = open_account(ref)
    return found


def balance_of(ref: AccountRef) -> int:
    """The current balance of an account (0 if it was never opened)."""
    value = db.session.scalar(
        sa.select(LedgerAccount.balance).where(LedgerAccount.key == ref.key)
    )
    return int(value or 0)


def _refusal(account: LedgerAccount, label: str, amount: int) -> DomainError:
    """The error for a posting that would take ``account`` below zero."""
    available = int(
        db.session.scalar(sa.select(LedgerAccount.balance).where(LedgerAccount.id == account.id))
        or 0
    )
    where = label or account.key
    if account.unit == GOLD_UNIT:
        return InsufficientGold(
            gettext(
                "Not enough gold in %(where)s: %(needed)s of fine gold needed, %(free)s free.",
                where=where,
                needed=format_grams(-amount, format_locale()),
                free=format_grams(available, format_locale()),
            )
        )
    return InsufficientBalance(
        f"Not enough balance in {where}: {-amount} needed, {available} available."
    )


def post_transaction(
    kind: str,
    memo: str,
    postings: Iterable[tuple[AccountRef, int]],
    *,
    idempotency_key: str | None = None,
) -> LedgerTransaction:
    """Record one balanced movement and move the balances; all or nothing.

    ``postings`` are (account, signed amount) pairs in the account's unit. Raises
    ``UnbalancedTransaction`` if they do not sum to zero per unit, ``InsufficientGold`` /
    ``InsufficientBalance`` if an account would go below zero; nothing is written then.
    """
    pairs = list(postings)
    labels = {ref.key: ref.label for ref, _ in pairs}
    rule_postings: Sequence[Posting] = [Posting(ref.key, ref.unit, amount) for ref, amount in pairs]
    check_balanced(rule_postings)
    merged = sorted_for_locking(net_postings(rule_postings))

    with db.session.begin_nested():
        accounts = open_accounts(ref for ref, _ in pairs)
        txn = LedgerTransaction(kind=kind, memo=memo[:300], idempotency_key=idempotency_key)
        db.session.add(txn)
        db.session.flush()
        entries = []
        for posting in merged:
            account = accounts[str(posting.account)]
            result = db.session.execute(
                sa.update(LedgerAccount)
                .where(LedgerAccount.id == account.id)
                .where(
                    sa.or_(
                        LedgerAccount.may_go_negative,
                        LedgerAccount.balance + posting.amount >= 0,
                    )
                )
                .values(balance=LedgerAccount.balance + posting.amount)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _refusal(account, labels[account.key], posting.amount)
            entries.append(
                LedgerEntry(
                    transaction_id=txn.id,
                    account_id=account.id,
                    unit=posting.unit,
                    amount=posting.amount,
                )
            )
        db.session.add_all(entries)  # one batched INSERT, after the balances moved
        db.session.flush()
    for account in accounts.values():
        db.session.expire(account, ["balance"])
    return txn


@dataclass(frozen=True)
class LotGold:
    """Where a lot's registered fine gold is now, in mg, read from the gold ledger."""

    registered: int = 0
    unallocated: int = 0
    held: int = 0
    committed: int = 0
    reserved: int = 0
    sold: int = 0

    @property
    def in_pieces(self) -> int:
        """Gold in pieces on the shelf or held by unpaid orders."""
        return self.committed + self.reserved

    @property
    def balances(self) -> bool:
        """The mass balance: registered = unallocated + held + in pieces + sold."""
        return self.registered == self.unallocated + self.held + self.in_pieces + self.sold


_FIELD_FOR_KIND = {
    AccountKind.LOT_UNALLOCATED.value: "unallocated",
    AccountKind.JEWELLER_HELD.value: "held",
    AccountKind.PIECE_COMMITTED.value: "committed",
    AccountKind.PIECE_RESERVED.value: "reserved",
    AccountKind.LOT_SOLD.value: "sold",
}


def lot_gold(lot_ids: Iterable[int] | None = None) -> dict[int, LotGold]:
    """Gold figures per lot in one grouped query (all lots when ``lot_ids`` is None)."""
    stmt = (
        sa.select(LedgerAccount.lot_id, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance))
        .where(LedgerAccount.unit == GOLD_UNIT, LedgerAccount.lot_id.is_not(None))
        .group_by(LedgerAccount.lot_id, LedgerAccount.kind)
    )
    if lot_ids is not None:
        stmt = stmt.where(LedgerAccount.lot_id.in_(list(lot_ids)))
    figures: dict[int, dict[str, int]] = {}
    for lot_id, kind, total in db.session.execute(stmt):
        if lot_id is None:
            continue
        row = figures.setdefault(int(lot_id), {})
        if kind == AccountKind.LOT_REGISTERED.value:
            row["registered"] = -int(total)
        elif kind in _FIELD_FOR_KIND:
            row[_FIELD_FOR_KIND[kind]] = int(total)
    return {lot_id: LotGold(**row) for lot_id, row in figures.items()}


def jeweller_gold(jeweller_id: int) -> dict[int, int]:
    """Free fine gold (mg) a jeweller holds, per lot."""
    rows = db.session.execute(
        sa.select(LedgerAccount.lot_id, LedgerAccount.balance).where(
            LedgerAccount.kind == AccountKind.JEWELLER_HELD.value,
            LedgerAccount.jeweller_id == jeweller_id,
        )
    )
    return {int(lot_id): int(balance) for lot_id, balance in rows if lot_id is not None}
