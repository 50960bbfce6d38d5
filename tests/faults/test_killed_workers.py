"""Shoppers' processes killed with SIGKILL in the middle of checkout, under load (PostgreSQL).

Several OS processes (``multiprocessing``, forked by its fork server) buy the same few demo
pieces through the shop's pages at once, with real commits, on a PostgreSQL schema of their
own. One is killed while placing an order (its transaction open: stock and gold reserved but
not committed, row locks held), one while its payment is being booked, and one at a moment
left to chance. Then the books must verify (``flask ledger verify``), no unit may be sold twice
(stock + units in orders = the stock we started with, and the gold of each piece follows its
units), and the orders left placed but unpaid must be expired by the expiry job (``flask
orders expire``), giving their stock and gold back.

Skipped unless ``TEST_DATABASE_URL`` points at PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace.catalog.models import Piece
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerTransaction
from marketplace.orders.models import Order, OrderLine
from marketplace.orders.services import ORDER_LIFETIME
from marketplace.payments.models import Payment
from tests.faults.checkout_worker import Plan, shop
from tests.schemas import demo_shop, fresh_schema, postgres_url

SCHEMA = "faults"
PIECES = 6
DEADLINE_SECONDS = 120  # a guard against a hang, far above the usual run time


@pytest.fixture(scope="module")
def shop_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The demo shop on its own PostgreSQL schema, migrated from empty and seeded."""
    url = postgres_url()
    if not url:
        pytest.skip(
            "killing workers mid-checkout needs PostgreSQL: set TEST_DATABASE_URL=postgresql://..."
        )
    with demo_shop(
        {
            "TESTING": True,
            "DATABASE_URL": fresh_schema(url, SCHEMA),
            "SECRET_KEY": "faults",
            "SIGNING_KEY_DIR": str(Path(tmp_path_factory.mktemp("faults-keys"))),
        }
    ) as app:
        yield app


def _pieces_on_sale() -> dict[int, int]:
    """The pieces the shoppers fight over: {piece id: units in stock}."""
    rows = db.session.execute(
        sa.select(Piece.id, Piece.stock)
        .where(Piece.status == "active", Piece.stock > 0)
        .order_by(Piece.stock.desc(), Piece.id)
        .limit(PIECES)
    ).all()
    return {int(i): int(s) for i, s in rows}


def _run(
    plans: list[Plan], kill_at_second_order: int
) -> tuple[list[tuple[str, int, str]], set[int]]:
    """Start the workers, kill the ones that hold (and one more at chance), wait for the rest."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.faults.warm_shop", "tests.faults.checkout_worker"])
    processes: dict[int, BaseProcess] = {}
    readers: dict[Connection, int] = {}
    for plan in plans:
        reader, writer = ctx.Pipe(duplex=False)
        processes[plan.worker] = ctx.Process(target=shop, args=(plan, writer), daemon=True)
        processes[plan.worker].start()
        writer.close()  # the worker holds the only writing end: its death reads as EOF
        readers[reader] = plan.worker
    seen: list[tuple[str, int, str]] = []
    finished: set[int] = set()
    killed: set[int] = set()
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while readers:
            ready = wait(list(readers), timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                pytest.fail(f"the workers did not finish in {DEADLINE_SECONDS} s: {seen}")
            for reader in ready:
                assert isinstance(reader, Connection)
                try:
                    kind, worker, detail = reader.recv()
                except EOFError:
                    worker = readers.pop(reader)
                    assert worker in finished | killed, f"worker {worker} died: {seen}"
                    continue
                seen.append((kind, worker, detail))
                if kind == "error":
                    pytest.fail(f"worker {worker} failed:\n{detail}")
                placed = sum(1 for k, w, _ in seen if (k, w) == ("placed", worker))
                if kind == "holding" or (
                    worker == kill_at_second_order and kind == "placed" and placed == 2
                ):
                    os.kill(processes[worker].pid or 0, signal.SIGKILL)
                    killed.add(worker)
                elif kind == "done":
                    finished.add(worker)
    finally:
        for process in processes.values():
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    for worker in killed:
        assert processes[worker].exitcode == -signal.SIGKILL
    return seen, killed


def _wait_for_the_server_to_roll_back_the_dead() -> None:
    """PostgreSQL ends a killed client's session (and rolls it back) when its socket closes."""
    for _ in range(50):
        open_transactions = db.session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
        db.session.rollback()
        if not open_transactions:
            return
        time.sleep(0.1)
    pytest.fail("a killed worker's transaction is still open")


def _units_in_orders(statuses: tuple[str, ...]) -> Counter[int]:
    """Units of each piece in orders of these statuses (less refunds: none here)."""
    rows = db.session.execute(
        sa.select(OrderLine.piece_id, sa.func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(statuses))
        .group_by(OrderLine.piece_id)
    ).all()
    return Counter({int(piece_id): int(units) for piece_id, units in rows})


def _gold(kind: AccountKind, piece_id: int) -> dict[int, int]:
    """A piece's gold in one kind of account, by lot (mg)."""
    rows = db.session.execute(
        sa.select(LedgerAccount.lot_id, LedgerAccount.balance).where(
            LedgerAccount.kind == kind.value, LedgerAccount.piece_id == piece_id
        )
    ).all()
    return {int(lot_id): int(balance) for lot_id, balance in rows if balance}


def _assert_units_and_gold_add_up(
    initial: dict[int, int], per_unit: dict[int, dict[int, int]]
) -> None:
    """No unit sold twice or lost; each piece's gold sits where its units are."""
    db.session.expire_all()
    waiting = _units_in_orders(("pending_payment",))
    sold = _units_in_orders(("paid",))
    for piece_id, units in initial.items():
        stock = db.session.scalar(sa.select(Piece.stock).where(Piece.id == piece_id))
        assert stock is not None and stock >= 0
        assert stock + waiting[piece_id] + sold[piece_id] == units, piece_id
        for kind, n in (
            (AccountKind.PIECE_COMMITTED, stock),
            (AccountKind.PIECE_RESERVED, waiting[piece_id]),
            (AccountKind.LOT_SOLD, sold[piece_id]),
        ):
            expected = {lot: mg * n for lot, mg in per_unit[piece_id].items() if mg * n}
            assert _gold(kind, piece_id) == expected, (piece_id, kind)


def _assert_books_verify(app: Flask) -> None:
    """``flask ledger verify`` accepts the books."""
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "the books verify." in result.output, result.output


def _assert_each_paid_order_booked_once() -> None:
    paid = set(db.session.scalars(sa.select(Order.id).where(Order.status == "paid")))
    succeeded = Counter(
        db.session.scalars(sa.select(Payment.order_id).where(Payment.status == "succeeded"))
    )
    assert set(succeeded) == paid and all(n == 1 for n in succeeded.values())
    assert not db.session.scalar(
        sa.select(sa.func.count()).select_from(Payment).where(Payment.status == "charging")
    )
    keys = Counter(
        db.session.scalars(
            sa.select(LedgerTransaction.idempotency_key).where(
                LedgerTransaction.kind == "order_paid"
            )
        )
    )
    assert set(keys) == {f"order:{order_id}:paid" for order_id in paid}
    assert all(n == 1 for n in keys.values())


def test_shoppers_killed_mid_checkout_lose_nothing_and_their_orders_expire_back_to_the_shelf(
    shop_app: Flask, monkeypatch: pytest.MonkeyPatch
):
    app = shop_app
    with app.app_context():
        initial = _pieces_on_sale()
        per_unit = {
            p.id: {g.lot_id: g.fine_mg_per_unit for g in p.gold}
            for p in db.session.scalars(sa.select(Piece).where(Piece.id.in_(list(initial))))
        }
        url = db.engine.url.render_as_string(hide_password=False)
        db.session.remove()
    keys = str(app.config["SIGNING_KEY_DIR"])
    ids = list(initial)
    # Never more shoppers than units (orders walked away from hold theirs until the expiry
    # job), so the workers to be killed always find something to buy: 1 + 2 units for them.
    rounds = min(10, (sum(initial.values()) - 3) // 2)
    assert rounds >= 3, initial
    plans = [
        Plan(0, url, keys, ids, rounds=rounds),
        Plan(1, url, keys, ids, rounds=rounds),
        # Killed at their first order and payment, and at their second order: rounds to spare
        # in case the pieces they pick first are sold out.
        Plan(2, url, keys, ids, rounds=30, walk_away=0, hold="INSERT INTO ledger_entry"),
        Plan(3, url, keys, ids, rounds=30, walk_away=0, hold="INSERT INTO certificate"),
        Plan(4, url, keys, ids, rounds=30, walk_away=0),
    ]

    seen, killed = _run(plans, kill_at_second_order=4)

    assert killed == {2, 3, 4}
    held = {(w, d) for k, w, d in seen if k == "holding"}
    assert held == {(2, "INSERT INTO LEDGER_ENTRY"), (3, "INSERT INTO CERTIFICATE")}
    reported = {d for k, _, d in seen if k == "placed"}
    assert sum(1 for k, *_ in seen if k == "paid") >= 3  # the survivors did sell under load
    with app.app_context():
        _wait_for_the_server_to_roll_back_the_dead()
        in_db = {n: s for n, s in db.session.execute(sa.select(Order.number, Order.status))}
        # Every order a shopper saw placed exists; at most one more (worker 4 may have died
        # between the commit and its report), and nothing of worker 2's order killed mid-way.
        assert reported <= set(in_db) and len(set(in_db) - reported) <= 1
        assert not any(k == "placed" and w == 2 for k, w, _ in seen)
        # Worker 3 died while its payment was booked: its order is placed and unpaid.
        (number_3,) = {d for k, w, d in seen if (k, w) == ("placed", 3)}
        assert in_db[number_3] == "pending_payment"
        assert {d for k, _, d in seen if k == "paid"} <= {
            n for n, s in in_db.items() if s == "paid"
        }
        _assert_books_verify(app)
        _assert_units_and_gold_add_up(initial, per_unit)
        _assert_each_paid_order_booked_once()
        waiting = sum(1 for s in in_db.values() if s == "pending_payment")
        assert waiting >= 1

        later = utcnow() + ORDER_LIFETIME + timedelta(minutes=1)
        monkeypatch.setattr("marketplace.orders.cli.utcnow", lambda: later)
        expired = app.test_cli_runner().invoke(args=["orders", "expire"])

        assert expired.exit_code == 0, expired.output
        assert f"Expired {waiting} order(s)." in expired.output
        db.session.expire_all()
        statuses = Counter(db.session.scalars(sa.select(Order.status)))
        assert statuses["pending_payment"] == 0 and statuses["expired"] == waiting
        _assert_units_and_gold_add_up(initial, per_unit)
        for piece_id in initial:
            assert _gold(AccountKind.PIECE_RESERVED, piece_id) == {}
        _assert_books_verify(app)
