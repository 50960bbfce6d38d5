"""HTTP caching (ETags, 304s, Cache-Control, fingerprinted static files), compression, and the
cache of public figures that must change the moment the books do."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import re
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import brotli
import pytest
import sqlalchemy as sa
from flask import current_app, g

from marketplace import ROOT
from marketplace.caching import (
    CATALOG_PAGES,
    LISTING_PAGES,
    PUBLIC_FIGURES,
    CacheVersion,
    cache,
    changed_versions,
    lot_version,
    piece_version,
)
from marketplace.caching import (
    PUBLIC_PAGES as EVERY_PAGE,
)
from marketplace.catalog.models import Jeweller, Piece
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind
from marketplace.orders import aftersale
from marketplace.orders.models import Order
from marketplace.orders.services import expire_order
from marketplace.payments.gateways import SandboxGateway
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import LotRegistration, register_lot
from tests import factories

PUBLIC_PAGES = [
    "/",
    "/products",
    "/products?q=ring&sort=price_asc",
    "/lots",
    "/lots/DEMO-2024-01",
    "/cooperatives/santiago-de-ananea",
    "/jewellers/taller-qori",
    "/transparency",
]


def _piece_url() -> str:
    piece = db.session.scalar(sa.select(Piece).where(Piece.status == "active").order_by(Piece.id))
    return f"/products/{piece.slug}"


# --- ETags and conditional GETs ------------------------------------------------------------------


@pytest.mark.parametrize("url", PUBLIC_PAGES + ["piece"])
def test_public_pages_answer_304_while_unchanged(client, url):
    url = _piece_url() if url == "piece" else url
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag


def test_a_visitor_without_cookies_gets_a_page_a_shared_cache_may_keep_but_must_revalidate(app):
    fresh = app.test_client(use_cookies=False)
    response = fresh.get("/products")
    cache_control = response.headers["Cache-Control"]
    assert "public" in cache_control and "no-cache" in cache_control
    assert {"Cookie", "Accept-Language"} <= {v.strip() for v in response.headers["Vary"].split(",")}
    assert "Set-Cookie" not in response.headers


def test_a_signed_in_page_is_private_and_never_matches_the_anonymous_etag(app, as_user, client):
    anonymous = app.test_client(use_cookies=False).get("/products")
    as_user("buyer@demo.test")
    mine = client.get("/products")
    assert "private" in mine.headers["Cache-Control"]
    assert "public" not in mine.headers["Cache-Control"]
    assert mine.headers["ETag"] != anonymous.headers["ETag"]
    # A shopper's browser holding the anonymous copy gets the signed-in page, not a 304.
    assert client.get("/products", headers={"If-None-Match": anonymous.headers["ETag"]}
                      ).status_code == 200


def test_putting_a_piece_in_the_cart_changes_the_etag_of_every_page(client):
    before = client.get("/lots")
    piece = db.session.scalar(sa.select(Piece).where(Piece.status == "active", Piece.stock > 0))
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    after = client.get("/lots", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Cart (1)" in after.get_data(as_text=True)
    assert "private" in after.headers["Cache-Control"]


def test_pages_that_are_not_public_get_no_etag_from_the_page_cache(client):
    response = client.get("/account/login")
    assert response.status_code == 200 and "ETag" not in response.headers


# --- compression ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "decode"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
def test_pages_are_compressed_and_their_etag_names_the_coding(client, coding, decode):
    plain = client.get("/products")
    packed = client.get("/products", headers={"Accept-Encoding": coding})
    assert packed.headers["Content-Encoding"] == coding
    assert decode(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + f':{coding}"'
    assert "Accept-Encoding" in packed.headers["Vary"]
    again = client.get(
        "/products",
        headers={"Accept-Encoding": coding, "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304 and "Content-Encoding" not in again.headers


def test_the_api_is_compressed_and_keeps_answering_304(client):
    plain = client.get("/api/v1/pieces")
    packed = client.get("/api/v1/pieces", headers={"Accept-Encoding": "br"})
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.data) == plain.data
    for response, headers in ((plain, {}), (packed, {"Accept-Encoding": "br"})):
        again = client.get(
            "/api/v1/pieces", headers={**headers, "If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304
    weak = client.get("/api/v1/transparency", headers={"Accept-Encoding": "gzip"})
    assert weak.headers["ETag"].startswith("W/")
    assert client.get(
        "/api/v1/transparency",
        headers={"Accept-Encoding": "gzip", "If-None-Match": weak.headers["ETag"]},
    ).status_code == 304


def test_small_answers_and_images_are_not_compressed(client):
    assert "Content-Encoding" not in client.get(
        "/healthz", headers={"Accept-Encoding": "br"}
    ).headers
    html = client.get(_piece_url()).get_data(as_text=True)
    src = re.search(r'<img src="(/media/[0-9a-f]{64}\.jpg)"', html).group(1)
    assert "Content-Encoding" not in client.get(src, headers={"Accept-Encoding": "br"}).headers


# --- static files --------------------------------------------------------------------------------


def test_static_urls_carry_the_hash_of_the_file_and_are_immutable(client):
    html = client.get("/").get_data(as_text=True)
    url = re.search(r'href="(/static/css/site\.css\?v=([0-9a-f]+))"', html)
    assert url, "the stylesheet link has no version"
    digest = hashlib.sha256(Path(ROOT / "static/css/site.css").read_bytes()).hexdigest()
    assert digest.startswith(url.group(2))
    response = client.get(url.group(1))
    assert response.status_code == 200
    cache_control = response.headers["Cache-Control"]
    assert "immutable" in cache_control and "max-age=31536000" in cache_control
    assert "public" in cache_control
    stale = client.get("/static/css/site.css?v=0123456789ab")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    assert "immutable" not in client.get("/static/css/site.css").headers.get("Cache-Control", "")


# --- the cache of public figures -----------------------------------------------------------------


def _register_lot(code: str) -> GoldLot:
    coop = factories.cooperative()
    return register_lot(
        LotRegistration(
            code=code,
            cooperative_id=coop.id,
            traceability_model="segregated",
            extraction_start=date(2031, 1, 1),
            extraction_end=date(2031, 1, 31),
            gross_mg=2_000_000,
            assayed_fineness=Decimal("950.0"),
            certificate_number="CERT-CACHE",
            certificate_body="FLOCERT",
        ),
        actor="test",
    )


def test_a_new_lot_is_in_the_registry_at_once(client):
    assert "CACHE-LOT-1" not in client.get("/lots").get_data(as_text=True)
    assert client.get("/api/v1/lots").get_json()["total"] > 0
    total_before = client.get("/api/v1/lots").get_json()["total"]
    _register_lot("CACHE-LOT-1")
    db.session.commit()
    assert "CACHE-LOT-1" in client.get("/lots").get_data(as_text=True)
    assert client.get("/api/v1/lots").get_json()["total"] == total_before + 1
    transparency = client.get("/transparency").get_data(as_text=True)
    assert "CACHE-LOT-1" not in transparency  # (it lists cooperatives, not lots)


def _premium_booked(client) -> int:  # type: ignore[no-untyped-def]
    data = client.get("/api/v1/transparency").get_json()
    return sum(c["totals"]["booked"] for c in data["cooperatives"])


def test_paying_and_refunding_an_order_change_the_transparency_figures_at_once(client):
    booked = _premium_booked(client)
    page = client.get("/transparency").get_data(as_text=True)
    piece = factories.piece(factories.jeweller(), stock=3)
    db.session.commit()
    assert _premium_booked(client) == booked  # a new piece books no premium
    order = factories.paid_order({piece: 2})
    db.session.commit()
    paid = _premium_booked(client)
    assert paid > booked
    assert client.get("/transparency").get_data(as_text=True) != page
    aftersale.refund(
        order, {line.id: line.quantity for line in order.lines}, SandboxGateway(), actor="admin"
    )
    db.session.commit()
    assert _premium_booked(client) == booked


def test_figures_are_served_from_the_cache_until_the_version_changes(client, app):
    # A change made behind the app's back (SQL by hand) is not seen until the version changes:
    # proof that the figures are cached, and that ``flask cache bump`` ends it.
    cache.clear()
    before = client.get("/lots").data
    lot_id = db.session.scalar(sa.select(GoldLot.id).where(GoldLot.code == "DEMO-2024-01"))
    db.session.connection().exec_driver_sql(
        "UPDATE ledger_account SET balance = balance - 1000 "
        f"WHERE lot_id = {int(lot_id)} AND kind = '{AccountKind.LOT_REGISTERED.value}'"
    )
    assert client.get("/lots").data == before
    result = app.test_cli_runner().invoke(args=["cache", "bump"])
    assert result.exit_code == 0, result.output
    assert client.get("/lots").data != before


# --- whole pages kept for anonymous visitors -----------------------------------------------------


def _queries_for(client, count_queries, url: str, **headers: str) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    db.session.expunge_all()
    count_queries.clear()
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(count_queries), response.data


@pytest.mark.parametrize("url", ["/products", "/products?q=ring", "/", "/lots", "/transparency",
                                 "/lots/DEMO-2024-01", "/cooperatives/santiago-de-ananea",
                                 "/jewellers/taller-qori"])
def test_anonymous_pages_are_kept_whole_and_served_reading_only_the_version(
    app, count_queries, url
):
    cache.clear()
    visitor = app.test_client(use_cookies=False)
    rendered, first = _queries_for(visitor, count_queries, url)
    kept, second = _queries_for(visitor, count_queries, url)
    assert second == first
    assert kept == 1 < rendered


def test_a_kept_page_changes_the_moment_a_piece_changes(app, client):
    cache.clear()
    visitor = app.test_client(use_cookies=False)
    piece = factories.piece(factories.jeweller(), title="Kept-page ring", stock=1)
    db.session.commit()
    assert "Kept-page ring" in visitor.get("/products").get_data(as_text=True)
    piece.title = "Renamed kept-page ring"
    db.session.commit()
    assert "Renamed kept-page ring" in visitor.get("/products").get_data(as_text=True)
    # Selling the last unit updates the stock with an UPDATE statement, not through an object.
    factories.paid_order({piece: 1})
    db.session.commit()
    html = visitor.get("/products?q=renamed").get_data(as_text=True)
    assert "sold out" in html


def test_pages_of_signed_in_visitors_and_carts_are_never_kept(app, client, as_user, count_queries):
    cache.clear()
    piece = db.session.scalar(sa.select(Piece).where(Piece.status == "active", Piece.stock > 0))
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    for _ in range(2):
        queries, html = _queries_for(client, count_queries, "/products")
        assert queries > 1 and b"Cart (1)" in html
    as_user("buyer@demo.test")
    for _ in range(2):
        queries, html = _queries_for(client, count_queries, "/lots")
        assert queries > 1 and b"Sign out" in html
    assert b"Sign out" not in app.test_client(use_cookies=False).get("/lots").data


def test_a_kept_page_with_a_form_gets_each_visitors_own_token(app, count_queries, csrf_on):
    cache.clear()
    url = _piece_url()
    piece = db.session.scalar(sa.select(Piece).where(Piece.slug == url.rsplit("/", 1)[1]))
    tokens = []
    for visitor in (app.test_client(), app.test_client()):
        g.pop("csrf_token", None)  # tests share one ``g``; each request has its own in production
        queries, html = _queries_for(visitor, count_queries, url)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
        tokens.append((visitor, token, queries))
    (first, first_token, rendered), (second, second_token, kept) = tokens
    assert kept == 1 < rendered  # the second visitor got the kept page
    assert first_token != second_token
    g.pop("csrf_token", None)
    added = second.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add",
                                       "csrf_token": second_token})
    assert added.status_code == 302
    assert b"Cart (1)" in second.get("/cart").data
    g.pop("csrf_token", None)
    refused = first.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add",
                                        "csrf_token": second_token})
    assert refused.status_code == 400


def test_each_language_is_kept_apart(app):
    cache.clear()
    visitor = app.test_client(use_cookies=False)
    english = visitor.get("/lots", headers={"Accept-Language": "en"}).data
    spanish = visitor.get("/lots", headers={"Accept-Language": "es"}).data
    assert b'<html lang="es">' in spanish and b'<html lang="en">' in english
    assert visitor.get("/lots", headers={"Accept-Language": "en"}).data == english


# --- a sale replaces only the pages it changes ----------------------------------------------------


def test_a_sale_changes_the_listings_and_the_pieces_sold_and_nothing_else():
    sold = {"shop_order", "order_line", "piece", "ledger_entry", "custody_event"}
    assert changed_versions(sold, {"gold-ring"}) == {
        LISTING_PAGES,
        PUBLIC_FIGURES,
        piece_version("gold-ring"),
    }
    # Any other table written in the same transaction replaces every page.
    assert EVERY_PAGE in changed_versions(sold | {"jeweller"}, {"gold-ring"})
    # Without a sale declared, the same writes replace every page.
    assert EVERY_PAGE in changed_versions(sold, set())
    assert changed_versions({"piece"}, set()) == {EVERY_PAGE, LISTING_PAGES, CATALOG_PAGES}
    assert changed_versions(set(), {"gold-ring"}) == set()
    assert changed_versions(sold, {"gold-ring"}, ["LOT-1"]) == {
        LISTING_PAGES,
        PUBLIC_FIGURES,
        piece_version("gold-ring"),
        lot_version("LOT-1"),
    }


def test_the_catalog_changes_with_a_sale_only_when_a_piece_sells_out_or_comes_back():
    sold = {"shop_order", "order_line", "piece", "ledger_entry"}
    assert CATALOG_PAGES not in changed_versions(sold, {"gold-ring"})
    assert CATALOG_PAGES in changed_versions(sold, {"gold-ring"}, shelf=True)
    assert CATALOG_PAGES in changed_versions({"piece"}, set())  # an edit, not a sale
    assert CATALOG_PAGES in changed_versions(sold | {"jeweller"}, {"gold-ring"})


def test_selling_a_piece_keeps_the_pages_of_the_lots_not_in_it(app, count_queries):
    cache.clear()
    piece = factories.piece(factories.jeweller(), title="Lot-page ring", stock=3)
    db.session.commit()
    in_it = {g.lot_id for g in piece.gold}
    sold_lot = db.session.get(GoldLot, next(iter(in_it))).code
    other_lot = db.session.scalar(
        sa.select(GoldLot.code).where(GoldLot.id.not_in(in_it)).order_by(GoldLot.id)
    )
    visitor = app.test_client(use_cookies=False)
    events_before = _queries_for(visitor, count_queries, f"/lots/{sold_lot}")[1].count(b"<li>")
    _queries_for(visitor, count_queries, f"/lots/{other_lot}")
    factories.paid_order({db.session.get(Piece, piece.id): 1})
    db.session.commit()
    kept, _ = _queries_for(visitor, count_queries, f"/lots/{other_lot}")
    assert kept == 1
    rendered, html = _queries_for(visitor, count_queries, f"/lots/{sold_lot}")
    assert rendered > 1 and html.count(b"<li>") > events_before  # its chain has the sale


def test_selling_a_piece_keeps_every_other_piece_page(app, count_queries):
    cache.clear()
    jeweller = factories.jeweller()
    bought = factories.piece(jeweller, title="Bought ring", stock=3)
    other = factories.piece(jeweller, title="Untouched ring", stock=3)
    db.session.commit()
    visitor = app.test_client(use_cookies=False)
    for url in (f"/products/{bought.slug}", f"/products/{other.slug}", "/products"):
        _queries_for(visitor, count_queries, url)
    _queries_for(visitor, count_queries, "/")
    factories.paid_order({bought: 2})
    db.session.commit()
    kept, html = _queries_for(visitor, count_queries, f"/products/{other.slug}")
    assert kept == 1 and b"Untouched ring" in html
    rendered, html = _queries_for(visitor, count_queries, f"/products/{bought.slug}")
    assert rendered > 1 and b'max="1"' in html  # one left of three
    kept, _ = _queries_for(visitor, count_queries, "/products")
    assert kept == 1  # its card did not change: still for sale
    rendered, _ = _queries_for(visitor, count_queries, "/")
    assert rendered > 1  # the home page adds up what was sold
    factories.paid_order({bought: 1})  # the last one
    db.session.commit()
    rendered, html = _queries_for(visitor, count_queries, "/products")
    assert rendered > 1 and b"sold out" in html


def test_an_order_that_expires_puts_its_piece_page_back_on_sale(app, count_queries):
    cache.clear()
    piece = factories.piece(factories.jeweller(), title="Last ring", stock=1)
    db.session.commit()
    visitor = app.test_client(use_cookies=False)
    placed = factories.order({piece: 1})
    db.session.commit()
    assert "Sold out" in visitor.get(f"/products/{piece.slug}").get_data(as_text=True)
    listing = "/products?q=last+ring"
    assert b"sold out" in visitor.get(listing).data
    placed_id = placed.id
    _, kept = _queries_for(visitor, count_queries, listing)
    assert b"sold out" in kept
    placed = db.session.get(Order, placed_id)
    assert expire_order(placed, now=placed.expires_at + timedelta(seconds=1))
    db.session.commit()
    rendered, html = _queries_for(visitor, count_queries, f"/products/{piece.slug}")
    assert rendered > 1 and b"Sold out" not in html
    rendered, html = _queries_for(visitor, count_queries, listing)
    assert rendered > 1 and b"Last ring" in html and b"sold out" not in html


def test_editing_a_workshop_outside_a_sale_replaces_every_kept_page(app, count_queries):
    cache.clear()
    jeweller = factories.jeweller()
    edited = factories.piece(jeweller, title="Edited ring", stock=2)
    other = factories.piece(jeweller, title="Neighbour ring", stock=2)
    db.session.commit()
    jeweller_id, edited_slug, other_slug = jeweller.id, edited.slug, other.slug
    visitor = app.test_client(use_cookies=False)
    _queries_for(visitor, count_queries, f"/products/{other_slug}")
    db.session.get(Jeweller, jeweller_id).business_name = "Renamed workshop"
    db.session.commit()
    rendered, html = _queries_for(visitor, count_queries, f"/products/{other_slug}")
    assert rendered > 1 and b"Renamed workshop" in html
    assert edited_slug != other_slug


def _rename_workshop(jeweller_id: int, name: str) -> None:
    db.session.get(Jeweller, jeweller_id).business_name = name
    db.session.commit()


def _render_locks() -> list[str]:
    return [k for k in cache.cache._cache if "rendering:" in k]  # SimpleCache's own store


def _hold_render_lock(url: str, until: float) -> None:
    """Take the lock another request would hold while it renders ``url`` again."""
    (stored,) = [k for k in cache.cache._cache if f":{url}?" in k and "rendering:" not in k]
    key = stored.removeprefix(app_config_prefix())
    cache.set(f"rendering:{key}", until, timeout=60)


def app_config_prefix() -> str:
    return str(current_app.config["CACHE_KEY_PREFIX"])


def _kept_then_replaced(app, before: str, after: str):  # type: ignore[no-untyped-def]
    """A piece page kept with its workshop named ``before``, then the workshop renamed
    ``after`` (a write that replaces every kept page): the visitor and the page's URL."""
    cache.clear()
    jeweller = factories.jeweller()
    jeweller.business_name = before
    piece = factories.piece(jeweller, stock=2)
    db.session.commit()
    jeweller_id, url = jeweller.id, f"/products/{piece.slug}"
    visitor = app.test_client(use_cookies=False)
    assert visitor.get(url).headers["X-Page-Cache"] == "miss"
    _rename_workshop(jeweller_id, after)
    return visitor, url


def test_while_one_request_renders_a_replaced_page_the_others_get_it_as_kept(
    app, count_queries
):
    visitor, url = _kept_then_replaced(app, "Old workshop name", "New workshop name")
    # Another request holds the right to render it again (the lock is taken): this one gets
    # the page as it was kept, reading only the versions.
    _hold_render_lock(url, time.time() + 10)
    db.session.expunge_all()
    count_queries.clear()
    stale = visitor.get(url)
    assert stale.headers["X-Page-Cache"] == "stale" and len(count_queries) == 1
    assert b"Old workshop name" in stale.data
    cache.delete(_render_locks()[0].removeprefix(app_config_prefix()))  # that request is done
    fresh = visitor.get(url)
    assert fresh.headers["X-Page-Cache"] == "miss" and b"New workshop name" in fresh.data
    kept = visitor.get(url)
    assert kept.headers["X-Page-Cache"] == "hit" and b"New workshop name" in kept.data
    assert _render_locks() == []  # let go once the new page was kept


def test_a_render_lock_whose_time_ran_out_is_taken_over(app):
    visitor, url = _kept_then_replaced(app, "Named first", "Renamed meanwhile")
    _hold_render_lock(url, time.time() - 1)  # its holder died without letting go
    fresh = visitor.get(url)
    assert fresh.headers["X-Page-Cache"] == "miss" and b"Renamed meanwhile" in fresh.data
    assert _render_locks() == []


def test_a_request_that_fails_to_render_a_replaced_page_lets_others_render_it(
    app, monkeypatch
):
    visitor, url = _kept_then_replaced(app, "Before workshop", "After workshop")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("rendering failed")

    monkeypatch.setattr("marketplace.catalog.views.piece_timeline", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        assert visitor.get(url).status_code == 500
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert _render_locks() == []
    monkeypatch.undo()
    again = visitor.get(url)
    assert again.headers["X-Page-Cache"] == "miss" and b"After workshop" in again.data


def test_the_first_sale_of_a_piece_creates_its_version_and_later_ones_replace_it(app):
    piece = factories.piece(factories.jeweller(), stock=5)
    db.session.commit()
    name = piece_version(piece.slug)
    assert db.session.get(CacheVersion, name) is None
    factories.paid_order({piece: 1})
    db.session.commit()
    first = db.session.scalar(sa.select(CacheVersion.token).where(CacheVersion.name == name))
    factories.paid_order({piece: 1})
    db.session.commit()
    second = db.session.scalar(sa.select(CacheVersion.token).where(CacheVersion.name == name))
    assert first and second and first != second


def test_kept_pages_are_compressed_and_say_whether_they_came_from_the_cache(app):
    cache.clear()
    visitor = app.test_client(use_cookies=False)
    url = _piece_url()
    first = visitor.get(url)
    second = visitor.get(url)
    assert first.headers["X-Page-Cache"] == "miss" and second.headers["X-Page-Cache"] == "hit"
    token = re.compile(rb'name="csrf_token" value="[^"]+"')
    assert token.sub(b"", second.data) == token.sub(b"", first.data)
    kept = [v for k, v in cache.cache._cache.items() if url in k]  # SimpleCache's own store
    assert len(kept) == 1
    *_, packed = pickle.loads(kept[0][1])
    assert len(packed.parts) == 2  # around the form token: each visitor gets their own
    assert sum(len(part) for part in packed.parts) < len(first.data) / 3


def test_a_kept_page_with_a_form_is_sent_gzipped_as_kept_with_the_visitors_token(app, csrf_on):
    cache.clear()
    url = _piece_url()
    visitor = app.test_client()
    g.pop("csrf_token", None)
    rendered = visitor.get(url, headers={"Accept-Encoding": "gzip"})
    g.pop("csrf_token", None)
    kept = visitor.get(url, headers={"Accept-Encoding": "gzip"})
    assert rendered.headers["X-Page-Cache"] == "miss" and kept.headers["X-Page-Cache"] == "hit"
    assert kept.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(kept.data) == gzip.decompress(rendered.data)  # the same token
    assert kept.headers["ETag"] == rendered.headers["ETag"]
    g.pop("csrf_token", None)
    again = visitor.get(url, headers={"If-None-Match": kept.headers["ETag"]})
    assert again.status_code == 304
    g.pop("csrf_token", None)
    other = app.test_client().get(url, headers={"Accept-Encoding": "gzip"})
    assert other.headers["X-Page-Cache"] == "hit"
    assert other.headers["ETag"] != kept.headers["ETag"]
    mine = re.search(rb'name="csrf_token" value="([^"]+)"', gzip.decompress(kept.data))
    theirs = re.search(rb'name="csrf_token" value="([^"]+)"', gzip.decompress(other.data))
    assert mine and theirs and mine.group(1) != theirs.group(1)


def test_a_kept_page_without_a_form_is_sent_as_it_was_gzipped_with_the_same_etag(app):
    cache.clear()
    visitor = app.test_client(use_cookies=False)
    rendered = visitor.get("/lots", headers={"Accept-Encoding": "gzip"})
    kept = visitor.get("/lots", headers={"Accept-Encoding": "gzip"})
    assert rendered.headers["X-Page-Cache"] == "miss" and kept.headers["X-Page-Cache"] == "hit"
    assert kept.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in kept.headers["Vary"] and "Cookie" in kept.headers["Vary"]
    assert gzip.decompress(kept.data) == gzip.decompress(rendered.data)
    assert kept.headers["ETag"] == rendered.headers["ETag"]
    again = visitor.get(
        "/lots", headers={"Accept-Encoding": "gzip", "If-None-Match": kept.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    assert "Content-Encoding" not in again.headers
    plain = visitor.get("/lots", headers={"Accept-Encoding": "identity"})
    assert plain.headers["X-Page-Cache"] == "hit" and "Content-Encoding" not in plain.headers
    assert plain.data == gzip.decompress(rendered.data)
