"""Shoppers checking out at the same moment on the embedded SQLite database: every order is
placed and paid, none refused with "database is locked" (requests that write take SQLite's
write lock when their transaction begins, and wait for it)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace.catalog.models import Piece
from marketplace.catalog.services import set_stock
from marketplace.extensions import db
from marketplace.ledger.verify import verify_books
from tests.schemas import demo_shop

SHOPPERS = 8
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def file_app(tmp_path: Path) -> Iterator[Flask]:
    """The demo shop on a SQLite file of its own, with real commits and real connections."""
    with demo_shop(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
            "SECRET_KEY": "test",
            "SIGNING_KEY_DIR": str(tmp_path / "keys"),
            "PAGE_CACHE": False,
        }
    ) as app:
        yield app


def _token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no form on the page"
    return found.group(1)


def _buy(app: Flask, n: int, piece_id: int, slug: str, barrier: threading.Barrier) -> str:
    """One shopper: add to cart, address, then place and pay together with the others."""
    client = app.test_client()
    page = client.get(f"/products/{slug}").get_data(as_text=True)
    client.post(
        "/cart",
        data={"csrf_token": _token(page), "piece_id": piece_id, "action": "add", "quantity": 1},
    )
    form = client.get("/checkout").get_data(as_text=True)
    client.post(
        "/checkout",
        data={
            "csrf_token": _token(form),
            "email": f"shopper{n}@example.org",
            "name": f"Shopper {n}",
            "country": "PE",
            "region": "Puno",
            "city": "Juliaca",
            "address_line1": "Jr. Moquegua 1",
        },
    )
    review = client.get("/checkout/review").get_data(as_text=True)
    barrier.wait()
    placed = client.post("/checkout/review", data={"csrf_token": _token(review)})
    if placed.status_code != 302 or "/pay" not in placed.headers["Location"]:
        return f"placing answered {placed.status_code}"
    pay_url = placed.headers["Location"]
    pay_form = client.get(pay_url).get_data(as_text=True)
    paid = client.post(
        pay_url,
        data={
            "csrf_token": _token(pay_form),
            "card_number": "4242 4242 4242 4242",
            "expiry": "12/49",
            "cvc": "123",
        },
    )
    if paid.status_code != 302 or "/orders/" not in paid.headers["Location"]:
        return f"paying answered {paid.status_code}"
    return "paid"


def test_shoppers_checking_out_together_on_sqlite_are_all_served(file_app):
    with file_app.app_context():
        piece = db.session.scalar(
            sa.select(Piece).where(Piece.status == "active", Piece.stock > 0).order_by(Piece.id)
        )
        set_stock(piece, SHOPPERS, actor="test")
        db.session.commit()
        piece_id, slug = piece.id, piece.slug
        db.session.remove()
    barrier = threading.Barrier(SHOPPERS)
    outcomes: list[str] = []

    def shopper(n: int) -> None:
        outcomes.append(_buy(file_app, n, piece_id, slug, barrier))

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(SHOPPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes == ["paid"] * SHOPPERS
    with file_app.app_context():
        assert db.session.get(Piece, piece_id).stock == 0
        assert verify_books().ok
