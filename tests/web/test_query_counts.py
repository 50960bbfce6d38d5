"""SQL statements per page do not grow with the data (no N+1 queries).

Pages that keep expensive figures in the cache (``marketplace.caching``) are measured both
ways: computing them (the cache emptied first) and reading them from the cache.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from marketplace import templating
from marketplace.caching import cache
from marketplace.catalog.models import Piece, PiecePhoto
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories


def _statements(client, count_queries, url: str, *, cold: bool = True) -> int:
    db.session.expunge_all()  # as in production: each request starts with an empty session
    # The demo banner's check is cached for a minute per process; keep it from expiring
    # between two measurements, which would add one statement to one of them.
    templating._demo_cache["at"] = time.monotonic()
    if cold:
        cache.clear()
    count_queries.clear()
    response = client.get(url)
    assert response.status_code == 200, url
    return len(count_queries)


def _grow_tenfold() -> None:
    """Add nine times the demo's lots and pieces, each piece backed by two lots, published with
    a photo (so the catalog's pages are made of them)."""
    lots = db.session.scalar(sa.select(sa.func.count(GoldLot.id)))
    pieces = db.session.scalar(sa.select(sa.func.count(Piece.id)))
    photo = db.session.scalar(sa.select(PiecePhoto).order_by(PiecePhoto.id))
    jeweller = factories.jeweller()
    new_lots = [factories.lot() for _ in range(9 * lots)]
    for lot in new_lots:
        transfer_to_jeweller(lot, jeweller, 200_000, invoice_ref="GROW", actor="test")
    for i in range(9 * pieces):
        a, b = new_lots[i % len(new_lots)], new_lots[(i + 1) % len(new_lots)]
        piece = factories.piece(jeweller, {}, stock=0, title=f"Grown ring {i}")
        half = piece.fine_mg // 2
        back_piece(piece, {a.id: half, b.id: piece.fine_mg - half}, actor="test")
        set_stock(piece, 2, actor="test")
        publish(piece)
        db.session.add(
            PiecePhoto(piece_id=piece.id, image_id=photo.image_id, thumb_id=photo.thumb_id,
                       alt=piece.title)
        )
    db.session.flush()


def test_statement_counts_stay_the_same_when_lots_and_pieces_grow_tenfold(client, count_queries):
    piece = db.session.scalar(sa.select(Piece).order_by(Piece.id))
    lot = piece.gold[0].lot
    urls = [
        f"/products/{piece.slug}",
        "/products",
        "/products?page=2&sort=price_asc",
        "/products?q=ring&karat=18",
        "/products?q=ring&sort=gold_desc&page=3",
        f"/products?cooperative={lot.cooperative.slug}&category=ring",
        "/lots",
        f"/lots/{lot.code}",
        "/",
        "/transparency",
        f"/cooperatives/{lot.cooperative.slug}",
        f"/jewellers/{piece.jeweller.slug}",
        "/api/v1/pieces?q=ring",
        "/api/v1/lots",
        "/api/v1/transparency",
    ]
    for url in urls:  # warm what is per process, not per request (templates, the demo check)
        client.get(url)
    before = {url: _statements(client, count_queries, url) for url in urls}
    _grow_tenfold()
    after = {url: _statements(client, count_queries, url) for url in urls}
    assert after == before
    # A page of 24 cards must not query per card either (an N+1 would not grow with the data
    # here, since the page size is fixed, so bound it too). The cooperative's page is the
    # largest: its facts, sources, members, lots, cards, and its cached gold and premium.
    assert max(before.values()) <= 18, before


def test_cached_figures_save_their_queries_on_the_next_view(client, count_queries):
    kept = {}
    for url in ("/lots", "/transparency", "/", "/api/v1/transparency"):
        computed = _statements(client, count_queries, url)
        kept[url] = _statements(client, count_queries, url, cold=False)
        assert kept[url] < computed, url
    # The transparency page then reads only the version of the figures.
    assert kept["/transparency"] == kept["/api/v1/transparency"] == 1


def _photographed(piece: Piece) -> Piece:
    """Give ``piece`` the first demo photo (cards then load thumbnails, as real ones do)."""
    photo = db.session.scalar(sa.select(PiecePhoto).order_by(PiecePhoto.id))
    db.session.add(
        PiecePhoto(piece_id=piece.id, image_id=photo.image_id, thumb_id=photo.thumb_id,
                   alt=piece.title)
    )
    db.session.flush()
    return piece


def _workshop_with_a_piece_of(lot: GoldLot) -> Piece:
    jeweller = factories.jeweller()
    transfer_to_jeweller(lot, jeweller, 10_000, invoice_ref="T", actor="test")
    return _photographed(factories.piece(jeweller, {lot: 3_000}, stock=2))


def test_the_lot_page_does_not_grow_with_its_custody_events(client, count_queries):
    lot = factories.lot(gross_mg=5_000_000)
    _workshop_with_a_piece_of(lot)
    url = f"/lots/{lot.code}"
    client.get(url)
    before = _statements(client, count_queries, url)
    # Twenty more workshops each buy gold of the lot and make a piece of it: forty more
    # events, a holder and a piece each.
    for _ in range(20):
        _workshop_with_a_piece_of(lot)
    events = db.session.scalar(
        sa.select(sa.func.count(CustodyEvent.id)).where(CustodyEvent.lot_id == lot.id)
    )
    assert events >= 40
    assert _statements(client, count_queries, url) == before


def test_the_cooperative_dashboard_does_not_grow_with_orders(client, count_queries, as_user):
    coop = db.session.scalar(
        sa.select(Cooperative).where(Cooperative.slug == "santiago-de-ananea")
    )
    jeweller = factories.jeweller()
    lot = factories.lot(coop=coop, gross_mg=5_000_000)
    transfer_to_jeweller(lot, jeweller, 200_000, invoice_ref="T", actor="test")
    piece = factories.piece(jeweller, {lot: 3_000}, stock=30)
    factories.paid_order({piece: 1})
    as_user("coop@demo.test")
    client.get("/cooperative/")
    before = _statements(client, count_queries, "/cooperative/")
    for _ in range(12):
        factories.paid_order({piece: 2})
    db.session.flush()
    assert _statements(client, count_queries, "/cooperative/") == before
