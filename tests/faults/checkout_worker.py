"""A shopper process for ``test_killed_workers``: buys through the shop's pages, over and over.

Started by multiprocessing's fork server, which loads the shop's code once (``warm_shop``) and
forks a fresh process per worker: none shares anything with the test process but the database,
and none pays the import time again.
Each round is a new shopper (a fresh test client, so a fresh session): add a piece to the cart,
give the address, place the order, and pay with the sandbox's good card, or walk away before
paying. What happened is sent on the worker's own pipe as ``(kind, worker, detail)`` tuples (a
pipe per worker, not a shared queue: a process killed while writing to a queue can leave its
lock held, and every other writer stuck behind it).

A worker told to ``hold`` stops in the middle of a round, just before a chosen SQL statement
(its transaction open, its row locks held) and says so; the test then kills it with SIGKILL.
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import sqlalchemy as sa

from marketplace import create_app
from marketplace.extensions import db

ADDRESS = {
    "email": "shopper@example.org",
    "name": "Rosa Quispe",
    "country": "PE",
    "region": "Cusco",
    "city": "Cusco",
    "address_line1": "Calle Plateros 334",
}
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}


@dataclass(frozen=True)
class Plan:
    """What one worker does."""

    worker: int
    database_url: str
    signing_key_dir: str
    piece_ids: list[int]
    rounds: int
    #: Share of shoppers who leave before paying (their order waits for the expiry job).
    walk_away: float = 0.25
    #: Stop, and wait to be killed, just before the first SQL statement starting with this.
    hold: str | None = None


def _hold_before(engine: Any, plan: Plan, events: Connection) -> None:
    """Stop, transaction open and row locks held, before the planned statement."""
    assert plan.hold is not None
    prefix = plan.hold.upper()

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(prefix):
            events.send(("holding", plan.worker, prefix))
            time.sleep(120)  # until the test kills this process

    sa.event.listen(engine, "before_cursor_execute", before)


def shop(plan: Plan, events: Connection) -> None:
    """Run ``plan.rounds`` shoppers through cart, checkout, review and payment."""
    try:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": plan.database_url,
                "SECRET_KEY": "faults",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "SIGNING_KEY_DIR": plan.signing_key_dir,
            }
        )
        if plan.hold is not None:
            with app.app_context():
                _hold_before(db.engine, plan, events)
        rng = random.Random(plan.worker)
        events.send(("ready", plan.worker, ""))
        for _ in range(plan.rounds):
            _one_shopper(app, plan, rng, events)
        events.send(("done", plan.worker, ""))
    except BaseException:  # reported, so the test can say what went wrong in the worker
        events.send(("error", plan.worker, traceback.format_exc()))


def _one_shopper(app: Any, plan: Plan, rng: random.Random, events: Connection) -> None:
    """One shopper's visit."""
    client = app.test_client()
    piece_id = rng.choice(plan.piece_ids)
    client.post("/cart", data={"piece_id": piece_id, "quantity": 1, "action": "add"})
    client.post("/checkout", data=ADDRESS)
    placed = client.post("/checkout/review")
    if placed.status_code != 302:
        raise AssertionError(f"placing an order answered {placed.status_code}")
    if "/pay" not in placed.location:  # sold out: back to the cart (or the empty cart's page)
        events.send(("sold out", plan.worker, str(piece_id)))
        return
    number = placed.location.split("/")[2]
    events.send(("placed", plan.worker, number))
    if rng.random() < plan.walk_away:
        events.send(("walked away", plan.worker, number))
        return
    paid = client.post(placed.location, data=CARD)
    if paid.status_code != 302:
        raise AssertionError(f"paying {number} answered {paid.status_code}")
    events.send(("paid", plan.worker, number))
