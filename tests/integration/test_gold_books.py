"""The gold ledger: every lot balances, and no piece can claim gold that is not there."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.catalog.services import back_piece, set_stock
from marketplace.core.errors import DomainError, InsufficientGold, InvalidQuantity
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry
from marketplace.ledger.services import gold_account, jeweller_gold, lot_gold, post_transaction
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories


def _balances() -> dict[str, int]:
    """Every account balance by key."""
    return dict(db.session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance)).all())


def test_seeded_gold_books_balance_for_every_lot(app):
    lots = db.session.scalars(sa.select(GoldLot)).all()
    figures = lot_gold()
    assert len(lots) >= 12
    for lot in lots:
        f = figures[lot.id]
        assert f.registered == lot.fine_mg
        assert f.registered == f.unallocated + f.held + f.in_pieces + f.sold, lot.code
        assert f.held + f.in_pieces > 0 or f.unallocated == f.registered


def test_every_ledger_transaction_sums_to_zero_per_unit(app):
    unbalanced = db.session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerEntry.unit, sa.func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.unit)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    ).all()
    assert unbalanced == []
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) > 0


def test_account_balances_equal_the_sum_of_their_entries(app):
    sums = dict(
        db.session.execute(
            sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    for account in db.session.scalars(sa.select(LedgerAccount)):
        assert account.balance == sums.get(account.id, 0), account.key


def test_every_seeded_piece_in_stock_has_its_gold_committed(app):
    committed = dict(
        db.session.execute(
            sa.select(LedgerAccount.piece_id, sa.func.sum(LedgerAccount.balance))
            .where(LedgerAccount.kind == AccountKind.PIECE_COMMITTED.value)
            .group_by(LedgerAccount.piece_id)
        ).all()
    )
    pieces = db.session.scalars(sa.select(Piece)).all()
    assert len(pieces) >= 24
    for piece in pieces:
        assert sum(g.fine_mg_per_unit for g in piece.gold) == piece.fine_mg
        assert committed.get(piece.id, 0) == piece.stock * piece.fine_mg, piece.slug


def test_backing_a_piece_with_more_gold_than_the_jeweller_holds_changes_nothing(app):
    jeweller = factories.jeweller()
    lot = factories.lot()
    piece = factories.piece(jeweller, stock=0)
    transfer_to_jeweller(lot, jeweller, piece.fine_mg * 2, invoice_ref="INV-1", actor="test")
    back_piece(piece, {lot.id: piece.fine_mg}, actor="test")
    before = _balances()

    with pytest.raises(InsufficientGold) as error:
        set_stock(piece, 3, actor="test")

    assert "Not enough" in error.value.message and lot.code in error.value.message
    db.session.expire_all()
    assert _balances() == before
    assert db.session.get(Piece, piece.id).stock == 0


def test_a_piece_cannot_claim_more_gold_than_its_lot_holds(app):
    jeweller = factories.jeweller()
    small = factories.lot(gross_mg=10_000, fineness="900.0")  # 9,000 mg fine
    with pytest.raises(InsufficientGold):
        transfer_to_jeweller(small, jeweller, 9_001, invoice_ref="INV-2", actor="test")
    transfer_to_jeweller(small, jeweller, 9_000, invoice_ref="INV-3", actor="test")
    assert lot_gold([small.id])[small.id].unallocated == 0
    assert jeweller_gold(jeweller.id) == {small.id: 9_000}


def test_backing_from_a_lot_the_jeweller_does_not_hold_is_refused(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=0)
    stranger = factories.lot()
    with pytest.raises(DomainError, match="holds no gold from lot"):
        back_piece(piece, {stranger.id: piece.fine_mg}, actor="test")


def test_allocations_must_add_up_to_the_piece_fine_gold(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=0)
    lot_id = piece.gold[0].lot_id
    with pytest.raises(DomainError, match="must add up exactly"):
        back_piece(piece, {lot_id: piece.fine_mg - 1}, actor="test")
    with pytest.raises(InvalidQuantity):
        back_piece(piece, {lot_id: float(piece.fine_mg)}, actor="test")  # type: ignore[dict-item]


def test_raising_stock_commits_gold_and_lowering_it_returns_gold(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=1)
    lot_id = piece.gold[0].lot_id
    held_before = jeweller_gold(jeweller.id)[lot_id]

    set_stock(piece, 2, actor="test")
    assert jeweller_gold(jeweller.id)[lot_id] == held_before - piece.fine_mg
    assert lot_gold([lot_id])[lot_id].committed == 2 * piece.fine_mg

    set_stock(piece, 0, actor="test")
    assert jeweller_gold(jeweller.id)[lot_id] == held_before + piece.fine_mg
    assert lot_gold([lot_id])[lot_id].committed == 0
    assert lot_gold([lot_id])[lot_id].balances


def test_rebacking_a_piece_in_stock_moves_its_gold_between_lots(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=2)
    old = piece.gold[0].lot_id
    new = factories.lot()
    transfer_to_jeweller(new, jeweller, piece.fine_mg * 2, invoice_ref="INV-4", actor="test")
    half = piece.fine_mg // 2
    back_piece(piece, {old: piece.fine_mg - half, new.id: half}, actor="test")
    figures = lot_gold([old, new.id])
    assert figures[old].committed == 2 * (piece.fine_mg - half)
    assert figures[new.id].committed == 2 * half
    assert figures[old].balances and figures[new.id].balances


def test_stock_must_be_a_sensible_whole_number(app):
    piece = factories.piece(factories.jeweller(), stock=1)
    for bad in (-1, 10**9, 1.5, True):
        with pytest.raises(InvalidQuantity):
            set_stock(piece, bad, actor="test")  # type: ignore[arg-type]


def test_only_source_accounts_may_go_negative(app):
    lot = factories.lot()
    jeweller = factories.jeweller()
    with pytest.raises(InsufficientGold):
        post_transaction(
            "test",
            "take gold from a jeweller who has none",
            [
                (gold_account(AccountKind.JEWELLER_HELD, lot.id, jeweller_id=jeweller.id), -1),
                (gold_account(AccountKind.LOT_UNALLOCATED, lot.id), 1),
            ],
        )
    assert jeweller_gold(jeweller.id) == {}


def test_the_database_refuses_a_negative_balance_written_around_the_service(app):
    account = db.session.scalar(
        sa.select(LedgerAccount).where(LedgerAccount.kind == AccountKind.LOT_UNALLOCATED.value)
    )
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(LedgerAccount).where(LedgerAccount.id == account.id).values(balance=-5)
        )
