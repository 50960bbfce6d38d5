"""The shopper's read path through the test client: pages, provenance panel, errors."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.core.money import Money, format_money
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.premium.services import piece_premium, premium_by_cooperative, rates_on
from marketplace.provenance.models import CustodyEvent, CustodyEventKind, GoldLot
from marketplace.provenance.services import append_custody_event
from tests import factories


def _text(response) -> str:
    """The page as text, with tags removed and spaces normalised."""
    html = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def _a_demo_piece(two_lots: bool = True) -> Piece:
    pieces = db.session.scalars(sa.select(Piece).order_by(Piece.id)).all()
    return next(p for p in pieces if (len(p.gold) == 2) == two_lots)


@pytest.mark.parametrize(
    "url",
    ["/", "/products", "/lots", "/transparency", "/cooperatives/cecomsap",
     "/cooperatives/santiago-de-ananea", "/jewellers/taller-qori", "/lots/DEMO-2024-01"],
)
def test_public_pages_render_and_say_the_demo_is_invented(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "every lot, weight, certificate number, jeweller and price is invented" in _text(
        response
    )


def test_piece_page_shows_price_gold_jeweller_and_each_lot(client):
    piece = _a_demo_piece()
    text = _text(client.get(f"/products/{piece.slug}"))
    assert piece.title in text
    assert format_money(Money(piece.price_minor, "PEN")).replace("\xa0", " ") in text
    assert f"{piece.karat}k" in text and piece.jeweller.business_name in text
    for g in piece.gold:
        lot = g.lot
        assert lot.code in text
        assert lot.cooperative.name in text
        assert f"FLO ID {lot.cooperative.flo_id or 'not published'}" in text
        assert f"{lot.assayed_fineness}‰" in text
        assert lot.certificate_number in text and lot.certificate_body in text
        assert "Mercury" in text and "Water" in text
    assert "evidenced" in text and "verified" in text
    assert "Custody" in text and "Registered" in text and "Crafted" in text


def test_piece_page_says_how_much_of_the_price_goes_to_each_cooperative(client):
    piece = _a_demo_piece()
    quote = piece_premium(piece, rates_on(utcnow().date(), "PEN"))
    text = _text(client.get(f"/products/{piece.slug}"))
    for _slug, name, amount in premium_by_cooperative(piece, quote):
        expected = f"{format_money(Money(amount, 'PEN'))} of this price goes to {name}"
        assert expected.replace("\xa0", " ") in text
    assert "not the Fairtrade Premium" in text or "on top of the Fairtrade Premium" in text


def test_piece_page_stays_under_60_kb_of_html(client):
    for piece in db.session.scalars(sa.select(Piece)):
        assert len(client.get(f"/products/{piece.slug}").data) < 60_000


def test_piece_photos_are_served_with_alt_text_and_long_caching(client):
    piece = _a_demo_piece()
    html = client.get(f"/products/{piece.slug}").get_data(as_text=True)
    src, alt = re.search(r'<img src="(/media/[0-9a-f]{64}\.jpg)" alt="([^"]+)"', html).groups()
    assert piece.title in alt
    photo = client.get(src)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.data[:2] == b"\xff\xd8"
    assert "immutable" in photo.headers["Cache-Control"]
    again = client.get(src, headers={"If-None-Match": photo.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "url",
    ["/products/no-such-piece", "/lots/NO-SUCH-LOT", "/cooperatives/nobody",
     "/jewellers/nobody", "/media/" + "0" * 64 + ".jpg", "/no/such/page"],
)
def test_unknown_addresses_give_the_404_page(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_draft_pieces_have_no_public_page(client):
    piece = factories.piece(factories.jeweller())
    piece.status = "draft"
    db.session.flush()
    assert client.get(f"/products/{piece.slug}").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["karat=abc", "page=-1", "min_price=1e999", "max_price=abc&min_price=-1", "sort=drop+table",
     "category=%00", "page=99999999999999999999", "q=" + "x" * 5000, "cooperative=%27%22",
     "karat=18&karat=22", "min_price=Infinity", "page=²", "karat=²", "page=" + "9" * 5000,
     "q=%00ring"],
)
def test_nonsense_filters_give_a_page_never_an_error(client, query):
    response = client.get(f"/products?{query}")
    assert response.status_code == 200
    assert "Shop fair trade gold" in response.get_data(as_text=True)


def test_the_catalog_shows_what_it_ignored(client):
    text = _text(client.get("/products?karat=abc&min_price=1e999"))
    assert "Ignored karat" in text and "Ignored minimum price" in text


def test_catalog_filters_narrow_the_page(client):
    text = _text(client.get("/products?category=earrings"))
    count = int(re.search(r"(\d+) pieces?", text).group(1))
    assert 0 < count < db.session.scalar(sa.select(sa.func.count(Piece.id)))


def test_lot_registry_reads_every_figure_from_the_gold_ledger(client):
    text = _text(client.get("/lots"))
    for lot in db.session.scalars(sa.select(GoldLot)):
        assert lot.code in text
    assert "Registered" in text and "Unallocated" in text and "Held by jewellers" in text


def test_lot_page_says_the_chain_verifies_and_lists_its_pieces(client):
    text = _text(client.get("/lots/DEMO-2024-01"))
    assert "The chain verifies" in text
    assert "balances" in text


def test_lot_page_names_the_first_event_that_does_not_match(client):
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-02"))
    third = lot.custody_events[2]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == third.id).values(actor="Someone else")
    )
    db.session.expire_all()
    text = _text(client.get("/lots/DEMO-2024-02"))
    assert f"The chain does not verify: event {third.ref} — contents changed" in text
    spanish = _text(client.get("/lots/DEMO-2024-02", headers={"Accept-Language": "es"}))
    assert "— contenido alterado" in spanish and "contents changed" not in spanish


def test_transparency_is_zero_until_sales_exist(client):
    text = _text(client.get("/transparency"))
    assert "No premium has been booked yet" in text
    assert "S/ 0.00" in text
    assert "Santiago de Ananea" in text


def test_cooperative_page_shows_reported_members_with_their_source(client):
    text = _text(client.get("/cooperatives/santiago-de-ananea"))
    assert "38522" in text and "102 members" in text and "Fairtrade Max Havelaar" in text
    central = _text(client.get("/cooperatives/cecomsap"))
    assert "346 members, 1,200 workers" in central and "Perú Support Group" in central


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_database_it_cannot_reach(client, monkeypatch):
    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["database"] == "unreachable"


@pytest.mark.parametrize("page", ["²", "-3", "abc", "9" * 5000])
def test_the_lot_registry_survives_nonsense_pages(client, page):
    assert client.get(f"/lots?page={page}").status_code == 200


def test_a_wrong_method_says_which_are_allowed(client):
    response = client.post("/products")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("url", "status"),
    [("/products/%00", 404), ("/lots/%00", 404), ("/api/v1/products/%00/epcis", 404),
     ("/products?cooperative=%00", 200), ("/lots?page=1%00", 400)],
)
def test_a_nul_character_in_an_address_is_refused_cleanly(client, url, status):
    assert client.get(url).status_code == status


def test_a_nul_character_in_a_form_is_refused_cleanly(client):
    response = client.post("/account/login", data={"email": "a\x00@x.org", "password": "x"})
    assert response.status_code == 400


def test_a_long_chain_shows_its_start_and_latest_events_and_links_to_all_of_it(client):
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-01"))
    for n in range(70):
        append_custody_event(lot, CustodyEventKind.ASSAYED, actor=f"Lab visit {n}")
    db.session.commit()
    events = sorted(lot.custody_events, key=lambda e: e.seq)
    shown, hidden = events[:10] + events[-40:], events[10:-40]
    page = client.get("/lots/DEMO-2024-01").get_data(as_text=True)
    assert f"all {len(events)} events recomputed" in page  # every event is verified
    assert all(e.hash[:16] in page for e in shown)
    assert not any(e.hash[:16] in page for e in hidden)
    assert f"Show all {len(hidden)} events in between" in page
    whole = client.get("/lots/DEMO-2024-01?chain=all").get_data(as_text=True)
    assert all(e.hash[:16] in whole for e in events) and "in between" not in whole
