"""Writers racing for the same gold: exactly one wins, the others get a clear error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, create_piece, set_stock
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount
from marketplace.ledger.services import jeweller_gold, lot_gold
from marketplace.provenance.models import Cooperative, GoldLot
from marketplace.provenance.services import LotRegistration, register_lot, transfer_to_jeweller


def _race(app, workers: list[Callable[[], None]]) -> list[str]:
    """Run each worker in its own thread and app context, released together; return outcomes."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(work: Callable[[], None]) -> None:
        with app.app_context():
            barrier.wait()
            try:
                work()
                db.session.commit()
                result = "ok"
            except DomainError as error:
                db.session.rollback()
                result = f"refused: {error.message}"
            finally:
                db.session.remove()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def _setup(app, n_jewellers: int, fine_gross_mg: int) -> tuple[int, list[int]]:
    """A cooperative, a lot of ``fine_gross_mg`` gross at 1000‰, and approved jewellers."""
    with app.app_context():
        coop = db.session.scalar(sa.select(Cooperative).where(Cooperative.slug == "race-coop"))
        if coop is None:
            coop = Cooperative(slug="race-coop", name="Race cooperative", short_name="Race")
            db.session.add(coop)
            db.session.flush()
        n = db.session.scalar(sa.select(sa.func.count(GoldLot.id))) or 0
        lot = register_lot(
            LotRegistration(
                code=f"RACE-{n + 1}",
                cooperative_id=coop.id,
                traceability_model="segregated",
                extraction_start=date(2025, 1, 1),
                extraction_end=None,
                gross_mg=fine_gross_mg,
                assayed_fineness=Decimal("1000"),
            ),
            actor="test",
        )
        jewellers = []
        for i in range(n_jewellers):
            j = Jeweller(
                slug=f"race-{lot.id}-{i}",
                business_name=f"Race {lot.id}-{i}",
                city="Lima",
                status="approved",
            )
            db.session.add(j)
            jewellers.append(j)
        db.session.commit()
        ids = lot.id, [j.id for j in jewellers]
        db.session.remove()
    return ids


def _no_negative_balance() -> None:
    assert (
        db.session.scalar(
            sa.select(sa.func.count(LedgerAccount.id)).where(
                LedgerAccount.balance < 0, LedgerAccount.may_go_negative.is_(False)
            )
        )
        == 0
    )


def test_two_jewellers_taking_the_last_free_gold_of_a_lot_at_once_one_wins(race_app):
    lot_id, (a, b) = _setup(race_app, 2, 10_000)

    def take(jeweller_id: int) -> Callable[[], None]:
        def work() -> None:
            lot = db.session.get(GoldLot, lot_id)
            jeweller = db.session.get(Jeweller, jeweller_id)
            transfer_to_jeweller(lot, jeweller, 10_000, invoice_ref="RACE", actor="test")

        return work

    outcomes = _race(race_app, [take(a), take(b)])

    assert sorted(o.split(":")[0] for o in outcomes) == ["ok", "refused"]
    assert any("Not enough gold" in o for o in outcomes)
    with race_app.app_context():
        figures = lot_gold([lot_id])[lot_id]
        assert figures.unallocated == 0 and figures.held == 10_000 and figures.balances
        assert sorted([sum(jeweller_gold(a).values()), sum(jeweller_gold(b).values())]) == [
            0,
            10_000,
        ]
        _no_negative_balance()


def test_many_tabs_committing_the_last_gold_to_pieces_at_once_commit_it_once(race_app):
    lot_id, (jeweller_id,) = _setup(race_app, 1, 100_000)
    with race_app.app_context():
        jeweller = db.session.get(Jeweller, jeweller_id)
        lot = db.session.get(GoldLot, lot_id)
        transfer_to_jeweller(lot, jeweller, 8_000, invoice_ref="RACE", actor="test")
        piece_ids = []
        for i in range(8):
            piece = create_piece(
                jeweller,
                title=f"Race ring {lot_id}-{i}",
                category="ring",
                karat=24,
                gross_mg=5_000,
                price_minor=100_000,
            )
            back_piece(piece, {lot_id: piece.fine_mg}, actor="test")  # 4,995 mg fine
            piece_ids.append(piece.id)
        db.session.commit()
        db.session.remove()

    def stock_one(piece_id: int) -> Callable[[], None]:
        def work() -> None:
            set_stock(db.session.get(Piece, piece_id), 1, actor="test")

        return work

    outcomes = _race(race_app, [stock_one(p) for p in piece_ids])

    assert sum(o == "ok" for o in outcomes) == 1  # 8,000 mg free covers one 4,995 mg ring
    assert all("Not enough free gold" in o for o in outcomes if o != "ok")
    with race_app.app_context():
        assert sum(jeweller_gold(jeweller_id).values()) == 8_000 - 4_995
        stocks = db.session.scalars(sa.select(Piece.stock).where(Piece.id.in_(piece_ids))).all()
        assert sorted(stocks) == [0] * 7 + [1]
        assert lot_gold([lot_id])[lot_id].balances
        _no_negative_balance()
