"""``flask ledger verify`` recomputes the books and names what differs."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry
from marketplace.ledger.verify import verify_books
from tests import factories


def test_the_demo_books_verify_after_purchases(app):
    piece = factories.piece(factories.jeweller(), stock=3)
    factories.paid_order({piece: 2})
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "the books verify" in result.output


def test_a_stored_balance_that_differs_from_its_entries_is_reported(app):
    account = db.session.scalar(
        sa.select(LedgerAccount).where(LedgerAccount.kind == AccountKind.LOT_UNALLOCATED.value)
    )
    db.session.execute(
        sa.update(LedgerAccount)
        .where(LedgerAccount.id == account.id)
        .values(balance=account.balance + 7)
    )
    result = verify_books()
    assert not result.ok
    assert any(account.key in p and "entries sum to" in p for p in result.problems)
    assert any("registered" in p for p in result.problems)  # the lot no longer balances
    out = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert out.exit_code == 1 and "DIFFERS" in out.output


def test_an_entry_edited_after_the_fact_unbalances_its_transaction(app):
    entry = db.session.scalar(sa.select(LedgerEntry).order_by(LedgerEntry.id))
    db.session.execute(
        sa.update(LedgerEntry).where(LedgerEntry.id == entry.id).values(amount=entry.amount + 1)
    )
    problems = verify_books().problems
    assert any(f"transaction {entry.transaction_id}:" in p for p in problems)
