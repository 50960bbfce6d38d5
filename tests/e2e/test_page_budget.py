"""The piece page stays light on a slow connection and asks nothing of other machines."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from marketplace.catalog.models import Piece, PieceGold, PiecePhoto
from tests.e2e.conftest import Session, Shop

#: What the piece page may transfer without its photos: document, styles, scripts and fonts.
BUDGET_BYTES = 60 * 1024


def the_heaviest_piece(shop: Shop) -> str:
    """The slug of the piece with the most lots behind it (the longest provenance panel),
    among those with photos."""
    lots = sa.func.count(sa.distinct(PieceGold.lot_id))
    return str(
        shop.scalar(
            sa.select(Piece.slug)
            .join(PieceGold, PieceGold.piece_id == Piece.id)
            .where(Piece.id.in_(sa.select(PiecePhoto.piece_id)))
            .group_by(Piece.id, Piece.slug)
            .order_by(lots.desc(), Piece.id)
            .limit(1)
        )
    )


def test_the_piece_page_transfers_under_60_kb_without_its_photos_all_from_this_machine(
    shop: Shop, session: Session
) -> None:
    page = session.new_page()
    network = session.context.new_cdp_session(page)
    network.send("Network.enable")
    kinds: dict[str, tuple[str, str]] = {}
    transferred: dict[str, int] = {}

    def received(event: dict[str, Any]) -> None:
        kinds[event["requestId"]] = (event["type"], event["response"]["url"])

    def finished(event: dict[str, Any]) -> None:
        transferred[event["requestId"]] = int(event["encodedDataLength"])

    network.on("Network.responseReceived", received)
    network.on("Network.loadingFinished", finished)
    slug = the_heaviest_piece(shop)
    page.goto(f"/products/{slug}", wait_until="networkidle")

    weighed = {
        url: transferred[request_id]
        for request_id, (kind, url) in kinds.items()
        if kind != "Image" and request_id in transferred
    }
    photos = [url for kind, url in kinds.values() if kind == "Image"]
    assert any(urlsplit(url).path == f"/products/{slug}" for url in weighed), weighed
    assert any(urlsplit(url).path.endswith(".css") for url in weighed), weighed
    assert photos, "the piece page loaded no photo: the test would not tell photos apart"
    total = sum(weighed.values())
    assert total < BUDGET_BYTES, f"{total} bytes without photos: {weighed}"

    assert any(urlsplit(url).path == f"/products/{slug}" for url in session.watch.requests)
    assert session.watch.remote_requests() == []
    print(f"piece page {slug}: {total} bytes without photos, {len(photos)} photo(s): {weighed}")
