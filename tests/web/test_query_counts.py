"""SQL statements per page do not grow with the data (no N+1 queries)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from marketplace import templating
from marketplace.catalog.models import Piece
from marketplace.catalog.services import back_piece, set_stock
from marketplace.extensions import db
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories


def _statements(client, count_queries, url: str) -> int:
    db.session.expunge_all()  # as in production: each request starts with an empty session
    # The demo banner's check is cached for a minute per process; keep it from expiring
    # between two measurements, which would add one statement to one of them.
    templating._demo_cache["at"] = time.monotonic()
    count_queries.clear()
    response = client.get(url)
    assert response.status_code == 200, url
    return len(count_queries)


def _grow_tenfold() -> None:
    """Add nine times the demo's lots and pieces, each piece backed by two lots."""
    lots = db.session.scalar(sa.select(sa.func.count(GoldLot.id)))
    pieces = db.session.scalar(sa.select(sa.func.count(Piece.id)))
    jeweller = factories.jeweller()
    new_lots = [factories.lot() for _ in range(9 * lots)]
    for lot in new_lots:
        transfer_to_jeweller(lot, jeweller, 200_000, invoice_ref="GROW", actor="test")
    for i in range(9 * pieces):
        a, b = new_lots[i % len(new_lots)], new_lots[(i + 1) % len(new_lots)]
        piece = factories.piece(jeweller, {}, stock=0, title=f"Grown piece {i}")
        half = piece.fine_mg // 2
        back_piece(piece, {a.id: half, b.id: piece.fine_mg - half}, actor="test")
        set_stock(piece, 2, actor="test")
    db.session.flush()


def test_statement_counts_stay_the_same_when_lots_and_pieces_grow_tenfold(client, count_queries):
    piece = db.session.scalar(sa.select(Piece).order_by(Piece.id))
    lot = piece.gold[0].lot
    urls = [
        f"/products/{piece.slug}",
        "/products",
        "/products?page=2&sort=price_asc",
        "/products?q=ring&karat=18",
        "/lots",
        f"/lots/{lot.code}",
        "/",
        "/transparency",
        f"/cooperatives/{lot.cooperative.slug}",
    ]
    for url in urls:  # warm caches that are per process, not per request
        client.get(url)
    before = {url: _statements(client, count_queries, url) for url in urls}
    _grow_tenfold()
    after = {url: _statements(client, count_queries, url) for url in urls}
    assert after == before
    print(before)
    # A page of 24 cards must not query per card either (an N+1 would not grow with the data
    # here, since the page size is fixed, so bound it too).
    assert max(before.values()) <= 16
