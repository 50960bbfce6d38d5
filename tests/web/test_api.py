"""The public JSON API under /api/v1: demo data, filters, pagination, errors, caching, privacy."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from marketplace import templating
from marketplace.catalog.models import Piece, PieceStatus
from marketplace.catalog.services import archive_piece, back_piece, create_piece, set_stock
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.services import lot_gold
from marketplace.premium.services import piece_premium, premium_by_cooperative, rates_on
from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories
from tests.web.test_query_counts import _grow_tenfold


def _active_slugs() -> set[str]:
    return set(
        db.session.scalars(sa.select(Piece.slug).where(Piece.status == PieceStatus.ACTIVE.value))
    )


def _all_pages(client, url: str) -> list[dict]:
    """Every item of a paginated listing, walking page 1 .. pages."""
    first = client.get(url).get_json()
    items = list(first["items"])
    sep = "&" if "?" in url else "?"
    for page in range(2, first["pages"] + 1):
        body = client.get(f"{url}{sep}page={page}").get_json()
        assert body["page"] == page and not body["ignored"]
        items += body["items"]
    assert len(items) == first["total"]
    return items


def _catalog_slugs(client, query: str) -> list[str]:
    """The piece slugs the /products page shows for ``query``, in order."""
    html = client.get(f"/products?{query}").get_data(as_text=True)
    slugs: list[str] = []
    for slug in re.findall(r'href="/products/([^"/?#]+)"', html):
        if slug not in slugs:
            slugs.append(slug)
    return slugs


def _draft_backed_with_gold() -> Piece:
    """A draft that holds gold and stock, so custody events name it (it is still a draft)."""
    jeweller = factories.jeweller()
    lot = factories.lot()
    transfer_to_jeweller(lot, jeweller, 50_000, invoice_ref="DRAFT-1", actor="test")
    piece = create_piece(
        jeweller, title="Secret draft tiara", category="ring", karat=18, gross_mg=4_000,
        price_minor=99_900,
    )
    back_piece(piece, {lot.id: piece.fine_mg}, actor="test")
    set_stock(piece, 2, actor="test")
    db.session.flush()
    assert piece.status == PieceStatus.DRAFT.value
    return piece


# --- Pieces --------------------------------------------------------------------------------------


def test_pagination_covers_every_active_piece_exactly_once(client):
    items = _all_pages(client, "/api/v1/pieces?per_page=7&sort=price_asc")
    slugs = [item["slug"] for item in items]
    assert len(slugs) == len(set(slugs))
    assert set(slugs) == _active_slugs()
    prices = [item["price"]["amount_minor"] for item in items]
    assert prices == sorted(prices)


def test_a_piece_in_the_list_carries_its_jeweller_lots_and_links(client):
    body = client.get("/api/v1/pieces?per_page=100").get_json()
    assert body["per_page"] == 100 and body["ignored"] == []
    for item in body["items"]:
        piece = db.session.scalar(sa.select(Piece).where(Piece.slug == item["slug"]))
        assert item["title"] == piece.title and item["karat"] == piece.karat
        assert item["fineness"] == piece.fineness and item["fine_mg"] == piece.fine_mg
        assert item["gross_mg"] == piece.gross_mg and item["stock"] == piece.stock
        assert item["price"] == {"amount_minor": piece.price_minor, "currency": "PEN"}
        assert item["jeweller"] == {
            "slug": piece.jeweller.slug, "name": piece.jeweller.business_name,
        }
        assert set(item["cooperatives"]) == {g.lot.cooperative.slug for g in piece.gold}
        assert item["url"].endswith(f"/products/{piece.slug}")
        assert item["provenance_url"].endswith(f"/api/v1/pieces/{piece.slug}/provenance")
        assert item["demo"] is True


@pytest.mark.parametrize(
    "query",
    ["category=earrings", "karat=18", "karat=22k", "cooperative=santiago-de-ananea",
     "min_price=1000&max_price=2500", "q=pendant", "q=killa", "sort=gold_desc",
     "category=ring&sort=price_desc", "page=2", "q=Santiago"],
)
def test_filters_and_order_are_those_of_the_catalog_page(client, query):
    api = client.get(f"/api/v1/pieces?{query}").get_json()
    assert api["ignored"] == []
    assert [item["slug"] for item in api["items"]] == _catalog_slugs(client, query)


def test_filters_narrow_the_list(client):
    everything = client.get("/api/v1/pieces").get_json()["total"]
    rings = _all_pages(client, "/api/v1/pieces?category=ring&per_page=5")
    assert 0 < len(rings) < everything and {i["category"] for i in rings} == {"ring"}
    gold18 = _all_pages(client, "/api/v1/pieces?karat=18")
    assert 0 < len(gold18) < everything and {i["karat"] for i in gold18} == {18}
    coop = _all_pages(client, "/api/v1/pieces?cooperative=santiago-de-ananea")
    assert 0 < len(coop) < everything
    assert all("santiago-de-ananea" in i["cooperatives"] for i in coop)
    priced = client.get("/api/v1/pieces?min_price=1000&max_price=2000").get_json()
    assert priced["filters"]["min_price_minor"] == 100_000
    assert all(100_000 <= i["price"]["amount_minor"] <= 200_000 for i in priced["items"])
    assert 0 < priced["total"] < everything
    assert client.get("/api/v1/pieces?q=zzzz-no-such-word").get_json()["total"] == 0


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("category=tiara", "Ignored category"),
        ("karat=7", "Ignored karat"),
        ("karat=%C2%B2", "Ignored karat"),
        ("min_price=abc", "Ignored minimum price"),
        ("max_price=1e999", "Ignored maximum price"),
        ("min_price=Infinity", "Ignored minimum price"),
        ("sort=drop+table", "Ignored sort"),
        ("page=zero", "Ignored page"),
        ("page=-3", "Ignored page"),
        ("page=%C2%B2", "Ignored page"),
        ("per_page=0", "Ignored per_page"),
        ("per_page=lots", "Ignored per_page"),
        ("per_page=5000", "per_page is at most 100"),
        ("q=ring%00", "NUL"),
        ("cooperative=%00", "NUL"),
        ("page=999", "only 2 pages"),
        ("page=" + "9" * 5000, "Ignored page"),
        ("karat=" + "1" * 5000, "Ignored karat"),
        ("per_page=" + "5" * 5000, "Ignored per_page"),
        ("min_price=" + "9" * 5000, "Ignored minimum price"),
    ],
    ids=lambda value: value[:30],
)
def test_nonsense_arguments_are_dropped_with_a_note_never_an_error(client, query, note):
    response = client.get(f"/api/v1/pieces?{query}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert any(note in text for text in body["ignored"]), body["ignored"]
    assert body["total"] == len(_active_slugs())


def test_swapped_prices_are_noted_and_applied(client):
    body = client.get("/api/v1/pieces?min_price=3000&max_price=1000").get_json()
    assert "Swapped the minimum and maximum price." in body["ignored"]
    assert body["filters"]["min_price_minor"] == 100_000
    assert body["filters"]["max_price_minor"] == 300_000


def test_a_piece_shows_its_gold_per_lot_and_premium_per_cooperative(client):
    piece = next(
        p for p in db.session.scalars(sa.select(Piece).order_by(Piece.id)) if len(p.gold) == 2
    )
    body = client.get(f"/api/v1/pieces/{piece.slug}").get_json()
    assert body["status"] == "active" and body["description"] == piece.description
    assert [(g["lot"], g["fine_mg_per_unit"]) for g in body["gold"]] == [
        (g.lot.code, g.fine_mg_per_unit) for g in piece.gold
    ]
    assert sum(g["fine_mg_per_unit"] for g in body["gold"]) == piece.fine_mg
    assert body["gold"][0]["cooperative"]["flo_id"] == piece.gold[0].lot.cooperative.flo_id
    quote = piece_premium(piece, rates_on(utcnow().date(), "PEN"))
    expected = premium_by_cooperative(piece, quote)
    assert [
        (c["slug"], c["name"], c["amount"]["amount_minor"])
        for c in body["premium"]["by_cooperative"]
    ] == expected
    assert body["premium"]["total"]["amount_minor"] == quote.total == sum(a for *_, a in expected)
    assert body["premium"]["usd_per_fine_kg"] == "2000"
    assert "not that premium" in body["premium"]["note"]
    assert len(body["photos"]) == 2 and body["photos"][0]["image_url"].endswith(".jpg")
    assert client.get(body["photos"][0]["thumb_url"]).status_code == 200


def test_an_archived_piece_is_shown_by_slug_as_on_its_page_but_not_listed(client):
    piece = factories.piece(factories.jeweller(), stock=2)
    archive_piece(piece, actor="test")
    db.session.flush()
    assert client.get(f"/products/{piece.slug}").status_code == 200
    body = client.get(f"/api/v1/pieces/{piece.slug}").get_json()
    assert body["status"] == "archived" and body["stock"] == 0
    assert client.get(f"/api/v1/pieces/{piece.slug}/provenance").status_code == 200
    listed = {i["slug"] for i in _all_pages(client, "/api/v1/pieces?per_page=100")}
    assert piece.slug not in listed


def test_no_draft_piece_shows_anywhere(client):
    draft = _draft_backed_with_gold()
    lot = draft.gold[0].lot
    assert client.get(f"/products/{draft.slug}").status_code == 404
    for url in (f"/api/v1/pieces/{draft.slug}", f"/api/v1/pieces/{draft.slug}/provenance"):
        response = client.get(url)
        assert response.status_code == 404 and "error" in response.get_json()
    # Its gold and its crafting are on the lot's chain, but the piece is never named.
    crafted = db.session.scalar(
        sa.select(CustodyEvent).where(CustodyEvent.piece_id == draft.id)
    )
    assert crafted is not None
    lot_body = client.get(f"/api/v1/lots/{lot.code}").get_json()
    event = next(e for e in lot_body["events"] if e["seq"] == crafted.seq)
    assert event["kind"] == "crafted" and event["piece"] is None
    assert lot_body["pieces"] == []
    urls = [
        "/api/v1/pieces?per_page=100",
        f"/api/v1/pieces?q={draft.title.split()[1]}",
        "/api/v1/lots?per_page=100",
        f"/api/v1/lots/{lot.code}",
        "/api/v1/cooperatives",
    ]
    for url in urls:
        text = client.get(url).get_data(as_text=True)
        assert draft.slug not in text and draft.title not in text, url


# --- Provenance ----------------------------------------------------------------------------------


def test_provenance_gives_each_lot_its_evidence_and_the_events_of_the_piece(client):
    piece = next(
        p for p in db.session.scalars(sa.select(Piece).order_by(Piece.id)) if len(p.gold) == 2
    )
    body = client.get(f"/api/v1/pieces/{piece.slug}/provenance").get_json()
    assert body["piece"]["slug"] == piece.slug and body["piece"]["fine_mg"] == piece.fine_mg
    assert [lot["code"] for lot in body["lots"]] == [g.lot.code for g in piece.gold]
    for lot_doc, g in zip(body["lots"], piece.gold, strict=True):
        lot = g.lot
        assert lot_doc["fine_mg_per_unit"] == g.fine_mg_per_unit
        assert lot_doc["cooperative"]["slug"] == lot.cooperative.slug
        assert lot_doc["cooperative"]["flo_id"] == lot.cooperative.flo_id
        assert lot_doc["extraction"]["start"] == lot.extraction_start.isoformat()
        assert lot_doc["assayed_fineness"] == str(lot.assayed_fineness)
        assert lot_doc["certificate"]["number"] == lot.certificate_number
        assert lot_doc["certificate"]["body"] == lot.certificate_body
        assert lot_doc["certificate"]["basis"] == {
            "level": "verified", "by": lot.certificate_body,
        }
        assert lot_doc["traceability"]["model"] == lot.traceability_model
        assert "does not prove" in lot_doc["traceability"]["meaning"] or (
            "may be mixed" in lot_doc["traceability"]["meaning"]
        )
        assert lot_doc["mercury"]["used_g"] == lot.mercury_used_g
        assert lot_doc["water"]["recycled_percent"] == lot.water_recycled_percent
        assert [(d["title"], d["sha256"], d["level"]) for d in lot_doc["evidence"]] == [
            (d.title, d.sha256, d.level) for d in lot.evidence
        ]
        assert lot_doc["evidence"]
        kinds = [e["kind"] for e in lot_doc["events"]]
        assert kinds[:3] == ["registered", "assayed", "certified"]
        assert "transferred" in kinds and "crafted" in kinds
        stored = {e.seq: e.hash for e in lot.custody_events}
        for event in lot_doc["events"]:
            assert event["hash"] == stored[event["seq"]]
            if event["kind"] == "transferred":
                assert event["jeweller"]["slug"] == piece.jeweller.slug
            if event["kind"] == "crafted":
                assert event["piece"] == piece.slug and event["units"] >= 1
        # Only what concerns this piece: no other piece's crafting.
        assert all(e["piece"] in (None, piece.slug) for e in lot_doc["events"])
    epcis = client.get(body["epcis_url"])
    assert epcis.status_code == 200 and epcis.mimetype == "application/ld+json"


def test_a_sale_shows_in_the_provenance_without_any_buyer_data(client):
    piece = factories.piece(factories.jeweller(), stock=2)
    order = factories.paid_order({piece: 1}, email="ana.quispe@example.org", name="Ana Quispe")
    body = client.get(f"/api/v1/pieces/{piece.slug}/provenance").get_json()
    kinds = [e["kind"] for e in body["lots"][0]["events"]]
    assert kinds[-1] == "sold"
    code = body["lots"][0]["code"]
    for url in (
        f"/api/v1/pieces/{piece.slug}",
        f"/api/v1/pieces/{piece.slug}/provenance",
        f"/api/v1/lots/{code}",
        "/api/v1/lots?per_page=100",
        "/api/v1/transparency",
    ):
        text = client.get(url).get_data(as_text=True)
        for secret in ("ana.quispe@example.org", "Ana Quispe", "Jr. Lima 123", order.number):
            assert secret not in text, (url, secret)


# --- Lots and cooperatives -----------------------------------------------------------------------


def test_the_lot_registry_lists_every_lot_once_with_its_ledger_figures(client):
    items = _all_pages(client, "/api/v1/lots?per_page=4")
    lots = {lot.code: lot for lot in db.session.scalars(sa.select(GoldLot))}
    assert sorted(i["code"] for i in items) == sorted(lots)
    figures = lot_gold()
    for item in items:
        lot = lots[item["code"]]
        gold = figures[lot.id]
        assert item["fine_mg"] == lot.fine_mg
        assert item["cooperative"]["slug"] == lot.cooperative.slug
        assert item["extraction"]["start"] == lot.extraction_start.isoformat()
        assert item["gold"] == {
            "registered": gold.registered, "unallocated": gold.unallocated, "held": gold.held,
            "in_pieces": gold.in_pieces, "sold": gold.sold, "balances": True,
        }
    starts = [i["extraction"]["start"] for i in items]
    assert starts == sorted(starts, reverse=True)


def test_the_lot_registry_pages_leniently(client):
    body = client.get("/api/v1/lots").get_json()
    assert body["per_page"] == 50 and body["pages"] == 1 and body["ignored"] == []
    body = client.get("/api/v1/lots?page=abc&per_page=-2").get_json()
    assert body["page"] == 1 and body["per_page"] == 50 and len(body["ignored"]) == 2
    body = client.get("/api/v1/lots?per_page=5&page=40").get_json()
    assert body["page"] == body["pages"] == 3 and "showing page 3" in body["ignored"][0]


def test_a_lot_has_everything_on_its_page_and_its_chain_check(client):
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-01"))
    body = client.get("/api/v1/lots/DEMO-2024-01").get_json()
    assert body["code"] == lot.code and body["gross_mg"] == lot.gross_mg
    assert body["fine_mg"] == lot.fine_mg and body["assay"]["lab"] == lot.assay_lab
    assert body["assay"]["report_number"] == lot.assay_report_number
    assert body["mercury"]["recovered_g"] == lot.mercury_recovered_g
    assert body["chain"] == {
        "ok": True, "checked": len(lot.custody_events), "first_bad": None, "reason": None,
    }
    assert [(e["seq"], e["kind"], e["hash"], e["prev_hash"]) for e in body["events"]] == [
        (e.seq, e.kind, e.hash, e.prev_hash) for e in lot.custody_events
    ]
    assert body["events"][0]["prev_hash"] == "0" * 64
    assert body["gold"]["balances"] is True and body["gold"]["in_pieces"] > 0
    assert body["holders"] and body["pieces"]
    for listed in body["pieces"]:
        assert client.get(listed["api_url"]).status_code == 200
    assert client.get(body["epcis_url"]).status_code == 200


def test_a_lot_names_the_first_event_that_does_not_match(client):
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-02"))
    third = lot.custody_events[2]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == third.id).values(fine_mg=1)
    )
    db.session.expire_all()
    chain = client.get("/api/v1/lots/DEMO-2024-02").get_json()["chain"]
    assert chain == {
        "ok": False, "checked": 2, "first_bad": third.ref, "reason": "contents changed",
    }


def test_cooperatives_list_the_central_then_members_with_sources_and_no_bank_data(client):
    coop = db.session.scalar(
        sa.select(Cooperative).where(Cooperative.slug == "santiago-de-ananea")
    )
    coop.payout_cci = "00219300123456789012"
    coop.payout_account_holder = "Tesorera Privada"
    db.session.flush()
    response = client.get("/api/v1/cooperatives")
    assert "max-age=300" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert "00219300123456789012" not in text and "Tesorera Privada" not in text
    items = response.get_json()["items"]
    assert items[0]["slug"] == "cecomsap" and items[0]["parent"] is None
    assert items[0]["is_central"] is True
    members = items[1:]
    assert len(items) == db.session.scalar(sa.select(sa.func.count(Cooperative.id)))
    assert all(m["parent"] == "cecomsap" for m in members)
    assert [m["name"] for m in members] == sorted(m["name"] for m in members)
    santiago = next(m for m in members if m["slug"] == "santiago-de-ananea")
    assert santiago["flo_id"] == "38522"
    assert any(r["members"] == 102 and r["source"] for r in santiago["membership_reports"])
    assert santiago["certifications"]
    for cert in santiago["certifications"]:
        assert cert["valid_from"] and cert["body"] and "valid_until" in cert
    assert any(
        r["members"] == 346 and r["workers"] == 1200 and "Perú Support Group" in r["source"]
        for r in items[0]["membership_reports"]
    )


# --- Errors and caching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/pieces/no-such-piece", "/api/v1/pieces/no-such-piece/provenance",
     "/api/v1/lots/NO-SUCH-LOT", "/api/v1/lots/NO-SUCH-LOT/epcis",
     "/api/v1/products/no-such-piece/epcis", "/api/v1/nothing-here", "/api/v1",
     "/api/v1/pieces/%00", "/api/v1/lots/" + "X" * 500, "/api/v1/pieces/" + "%C3%A9" * 300],
)
def test_unknown_slugs_codes_and_routes_are_json_404s(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"error"} and response.get_json()["error"]


def test_writing_is_refused_with_405_json_and_allow(client):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.open("/api/v1/pieces", method=method)
        assert response.status_code == 405 and response.mimetype == "application/json"
        assert "GET" in response.headers["Allow"]
    assert client.post("/products/nope").status_code == 405  # pages keep their own errors


def _api_urls() -> list[str]:
    piece = db.session.scalar(
        sa.select(Piece.slug).where(Piece.status == PieceStatus.ACTIVE.value).order_by(Piece.id)
    )
    return [
        "/api/v1/pieces",
        "/api/v1/pieces?category=ring&sort=price_asc",
        f"/api/v1/pieces/{piece}",
        f"/api/v1/pieces/{piece}/provenance",
        "/api/v1/lots",
        "/api/v1/lots/DEMO-2024-01",
        "/api/v1/cooperatives",
        "/api/v1/openapi.json",
    ]


def test_every_answer_has_a_strong_etag_and_answers_304_when_unchanged(client):
    ages = {"/api/v1/pieces": 60, "/api/v1/lots": 300, "/api/v1/cooperatives": 300,
            "/api/v1/openapi.json": 300}
    for url in _api_urls():
        first = client.get(url)
        assert first.status_code == 200, url
        etag = first.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{64}"', etag), (url, etag)
        prefix = next(p for p in sorted(ages, key=len, reverse=True) if url.startswith(p))
        assert first.headers["Cache-Control"] == f"public, max-age={ages[prefix]}", url
        assert client.get(url).headers["ETag"] == etag  # the same data, the same tag
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag
        other = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.data == first.data


def test_the_etag_changes_when_the_data_changes(client):
    piece = db.session.scalar(
        sa.select(Piece).where(Piece.status == PieceStatus.ACTIVE.value).order_by(Piece.id)
    )
    urls = [f"/api/v1/pieces/{piece.slug}", "/api/v1/pieces?per_page=100", "/api/v1/lots"]
    before = {url: client.get(url).headers["ETag"] for url in urls}
    set_stock(piece, piece.stock + 1, actor="test")
    db.session.flush()
    for url in urls:
        response = client.get(url, headers={"If-None-Match": before[url]})
        assert response.status_code == 200, url
        assert response.headers["ETag"] != before[url]


# --- Statements per request ----------------------------------------------------------------------


def _statements(client, count_queries, url: str) -> int:
    db.session.expunge_all()  # as in production: each request starts with an empty session
    templating._demo_cache["at"] = time.monotonic()
    count_queries.clear()
    response = client.get(url)
    assert response.status_code == 200, url
    return len(count_queries)


def test_statement_counts_do_not_grow_with_the_data(client, count_queries):
    piece = db.session.scalar(sa.select(Piece).order_by(Piece.id))
    lot = piece.gold[0].lot
    urls = [
        "/api/v1/pieces",
        "/api/v1/pieces?per_page=100",
        "/api/v1/pieces?q=ring&karat=18&sort=gold_desc",
        f"/api/v1/pieces/{piece.slug}",
        f"/api/v1/pieces/{piece.slug}/provenance",
        "/api/v1/lots?per_page=100",
        f"/api/v1/lots/{lot.code}",
        "/api/v1/cooperatives",
    ]
    for url in urls:
        client.get(url)
    before = {url: _statements(client, count_queries, url) for url in urls}
    _grow_tenfold()
    after = {url: _statements(client, count_queries, url) for url in urls}
    assert after == before
    # A page of 100 pieces must not query per piece either.
    print(before)
    assert max(before.values()) <= 12, before
