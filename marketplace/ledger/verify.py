"""Checking the books from scratch: what ``flask ledger verify`` runs.

Every stored balance is recomputed from its entries, every transaction must sum to zero per
unit, and every lot's gold must balance (registered = unallocated + held + in pieces + sold),
with the registered mass equal to the lot's booked fine mass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from marketplace.core.gold import GOLD_UNIT
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount, LedgerEntry
from marketplace.ledger.services import lot_gold
from marketplace.provenance.models import GoldLot


@dataclass
class Verification:
    """What the check found; ``ok`` when nothing differs."""

    accounts: int = 0
    transactions: int = 0
    lots: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No differences found."""
        return not self.problems


def verify_books() -> Verification:
    """Recompute the books and list every difference (a fixed number of queries)."""
    result = Verification()
    sums = dict(
        db.session.execute(
            sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    accounts = db.session.execute(
        sa.select(
            LedgerAccount.id,
            LedgerAccount.key,
            LedgerAccount.balance,
            LedgerAccount.may_go_negative,
        )
    ).all()
    result.accounts = len(accounts)
    for account_id, key, balance, may_go_negative in accounts:
        expected = int(sums.get(account_id) or 0)
        if balance != expected:
            result.problems.append(
                f"account {key}: stored balance {balance}, entries sum to {expected}"
            )
        if balance < 0 and not may_go_negative:
            result.problems.append(f"account {key}: negative balance {balance}")
    unbalanced = db.session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerEntry.unit, sa.func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.unit)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    ).all()
    for txn_id, unit, total in unbalanced:
        result.problems.append(f"transaction {txn_id}: {unit} entries sum to {total}, not 0")
    result.transactions = int(
        db.session.scalar(sa.select(sa.func.count(sa.distinct(LedgerEntry.transaction_id)))) or 0
    )
    mismatched_units = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.unit, LedgerAccount.unit)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.unit != LedgerAccount.unit)
        .limit(20)
    ).all()
    for entry_id, entry_unit, account_unit in mismatched_units:
        result.problems.append(
            f"entry {entry_id}: in {entry_unit} on an account kept in {account_unit}"
        )
    figures = lot_gold()
    lots = db.session.execute(sa.select(GoldLot.id, GoldLot.code, GoldLot.fine_mg)).all()
    result.lots = len(lots)
    for lot_id, code, fine_mg in lots:
        f = figures.get(lot_id)
        if f is None:
            result.problems.append(f"lot {code}: no gold booked in the ledger")
            continue
        if f.registered != fine_mg:
            result.problems.append(
                f"lot {code}: {f.registered} mg registered in the ledger, {fine_mg} mg on the lot"
            )
        if not f.balances:
            result.problems.append(
                f"lot {code}: registered {f.registered} mg ≠ unallocated {f.unallocated} + held "
                f"{f.held} + in pieces {f.in_pieces} + sold {f.sold} ({GOLD_UNIT})"
            )
    return result
