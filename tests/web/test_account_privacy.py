"""A shopper's own data: ``/account/data`` downloads it; ``/account/delete`` anonymises the
account and keeps the accounting (orders, amounts, ledger, premium, certificates)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask, g

from marketplace.accounts.models import User
from marketplace.catalog.models import Piece, PieceGold
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount, LedgerEntry
from marketplace.orders import aftersale
from marketplace.orders.models import Order, OrderEvent, OrderLine, PremiumLine
from marketplace.provenance.models import Certificate, GoldLot
from tests.conftest import csrf_token, login

BUYER = "buyer@demo.test"
PASSWORD = "demo-password"
SHOPPER = "rosa.mamani@example.org"
ADDRESS = {
    "email": "rosa.quispe@example.org",  # not the account's email: it goes too
    "name": "Rosa Quispe",
    "phone": "+51 984 123 456",
    "country": "PE",
    "region": "Cusco",
    "city": "Cusco",
    "address_line1": "Calle Plateros 334",
    "postal_code": "08002",
}
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _register(client, email: str):  # type: ignore[no-untyped-def]
    """Open a shopper account through the page (which signs it in)."""
    return client.post(
        "/account/register",
        data={"name": "Rosa Mamani", "email": email, "password": PASSWORD, "confirm": PASSWORD},
    )


def _officers_piece() -> Piece:
    """A piece in stock with gold of coop@demo.test's cooperative (so its statement moves)."""
    officer = _user("coop@demo.test")
    piece = db.session.scalar(
        sa.select(Piece)
        .join(PieceGold, PieceGold.piece_id == Piece.id)
        .join(GoldLot, GoldLot.id == PieceGold.lot_id)
        .where(
            Piece.status == "active",
            Piece.stock >= 1,
            GoldLot.cooperative_id == officer.cooperative_id,
        )
        .order_by(Piece.id)
    )
    assert piece is not None
    return piece


def _buy(client, piece: Piece, *, pay: bool = True) -> Order:  # type: ignore[no-untyped-def]
    """Buy one unit through the pages (signed in as whoever ``client`` is)."""
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    assert client.post("/checkout", data=ADDRESS).status_code == 302
    pay_url = client.post("/checkout/review").location
    if pay:
        assert client.post(pay_url, data=CARD).status_code == 302
    order = db.session.scalar(sa.select(Order).where(Order.number == pay_url.split("/")[2]))
    assert order is not None
    return order


def _delivered(order: Order) -> None:
    """Every parcel of the order shipped and arrived."""
    for shipment in order.shipments:
        aftersale.mark_shipped(order, shipment.jeweller_id, "Olva Courier", "OLV-1", "test")
        aftersale.mark_delivered(order, shipment.jeweller_id, "test")
    db.session.commit()


def _books() -> tuple[dict[str, int], int]:
    """Every ledger balance, and how many entries there are."""
    balances = dict(db.session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance)).all())
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    return balances, int(entries or 0)


def _accounting(order: Order) -> tuple[object, ...]:
    """What the order says about money and gold."""
    db.session.refresh(order)
    return (
        order.number,
        order.status,
        order.payment_status,
        order.country,
        order.currency,
        order.subtotal_minor,
        order.shipping_minor,
        order.total_minor,
        order.tax_included_minor,
        order.refunded_minor,
        tuple(
            db.session.execute(
                sa.select(
                    OrderLine.piece_id,
                    OrderLine.quantity,
                    OrderLine.line_total_minor,
                    OrderLine.premium_minor,
                    OrderLine.platform_fee_minor,
                    OrderLine.jeweller_minor,
                )
                .where(OrderLine.order_id == order.id)
                .order_by(OrderLine.id)
            ).all()
        ),
        tuple(
            db.session.execute(
                sa.select(
                    PremiumLine.cooperative_id,
                    PremiumLine.lot_id,
                    PremiumLine.fine_mg,
                    PremiumLine.amount_minor,
                )
                .join(OrderLine, OrderLine.id == PremiumLine.order_line_id)
                .where(OrderLine.order_id == order.id)
                .order_by(PremiumLine.id)
            ).all()
        ),
    )


def _certificates(order: Order) -> list[tuple[str, object]]:
    return [
        (c.short_id, c.credential)
        for c in db.session.scalars(
            sa.select(Certificate)
            .join(OrderLine, OrderLine.id == Certificate.order_line_id)
            .where(OrderLine.order_id == order.id)
            .order_by(Certificate.id)
        )
    ]


def _statement(app: Flask) -> list[str]:
    """This month's premium statement of coop@demo.test's cooperative, as its officer gets it
    (without the line saying when it was issued)."""
    officer = app.test_client()
    assert login(officer, "coop@demo.test").status_code == 302
    officer.set_cookie("lang", "en")
    response = officer.get(f"/cooperative/statements/{utcnow():%Y-%m}.csv")
    assert response.status_code == 200
    return [row for row in response.get_data(as_text=True).splitlines() if "Issued" not in row]


def test_the_account_page_links_to_the_data_and_to_deleting(client, as_user):
    as_user(BUYER)
    page = client.get("/account/").get_data(as_text=True)
    assert 'href="/account/data"' in page and 'href="/account/delete"' in page


def test_a_shopper_downloads_everything_the_shop_keeps_about_them_as_a_json_file(client, as_user):
    as_user(BUYER)
    piece = _officers_piece()
    order = _buy(client, piece)
    someone_elses = _buy(client.application.test_client(), piece)  # a guest's order

    response = client.get("/account/data")

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".json" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == BUYER and data["account"]["role"] == "shopper"
    numbers = [o["number"] for o in data["orders"]]
    assert order.number in numbers and someone_elses.number not in numbers
    mine = next(o for o in data["orders"] if o["number"] == order.number)
    assert mine["email"] == ADDRESS["email"]
    assert mine["delivery_address"]["address_line1"] == ADDRESS["address_line1"]
    assert mine["delivery_address"]["phone"] == ADDRESS["phone"]
    assert (mine["status"], mine["payment_status"]) == ("paid", "paid")
    assert (mine["currency"], mine["total_minor"]) == (order.currency, order.total_minor)
    assert mine["subtotal_minor"] + mine["shipping_minor"] == mine["total_minor"]
    (line,) = mine["lines"]
    assert (line["piece"], line["quantity"], line["unit_price_minor"]) == (
        piece.title,
        1,
        piece.price_minor,
    )
    assert (
        sum(p["amount_minor"] for p in line["premium_by_cooperative"])
        == (line["community_premium_minor"])
    )
    assert [p["status"] for p in mine["payments"]] == ["succeeded"]
    assert {a["address_line1"] for a in data["addresses"]} == {ADDRESS["address_line1"]}
    certificates = _certificates(order)
    assert certificates, "a paid order has certificates"
    assert [(c["id"], c["credential"]) for c in data["certificates"]] == certificates
    assert all(c["order"] == order.number for c in data["certificates"])
    assert data["certificates"][0]["verify_url"].endswith(f"/verify/{certificates[0][0]}")
    assert all("actor" not in event for event in mine["history"])


def test_the_data_download_and_deleting_need_signing_in(client):
    assert client.get("/account/data").status_code == 302
    assert client.get("/account/delete").status_code == 302
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 302


def _csrf_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """CSRF protection on from here (signing in and buying before went without tokens)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_deleting_needs_the_csrf_token_and_the_password(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client, as_user
):
    as_user(BUYER)
    _csrf_on(app, monkeypatch)
    page = client.get("/account/delete")
    assert page.status_code == 200
    assert "What the shop keeps, and why" in page.get_data(as_text=True)

    no_token = client.post("/account/delete", data={"password": PASSWORD})
    wrong = client.post(
        "/account/delete",
        data={"password": "not-my-password", "csrf_token": csrf_token(client, "/account/delete")},
    )

    assert no_token.status_code == 400
    assert wrong.status_code == 422
    assert "The password is not right." in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert _user(BUYER).active
    assert client.get("/account/").status_code == 200  # still signed in


def test_deleting_an_account_anonymises_it_and_keeps_the_books_and_the_statements(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client
):
    assert _register(client, SHOPPER).status_code == 302  # and signed in
    user_id = _user(SHOPPER).id
    delivered = _buy(client, _officers_piece())
    _delivered(delivered)
    lapsed = _buy(client, _officers_piece(), pay=False)
    lapsed.expires_at = lapsed.placed_at  # its 30 minutes are up
    db.session.commit()
    assert client.get(f"/orders/{lapsed.number}").status_code == 200  # the clock expires it
    orders = [delivered, lapsed]
    accounting = [_accounting(o) for o in orders]
    certificates = _certificates(delivered)
    books = _books()
    statement = _statement(app)
    assert app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0
    _csrf_on(app, monkeypatch)

    response = client.post(
        "/account/delete",
        data={"password": PASSWORD, "csrf_token": csrf_token(client, "/account/delete")},
        follow_redirects=True,
    )

    assert "Your account is deleted." in response.get_data(as_text=True)
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user is not None
    assert user.email.endswith("@deleted.invalid") and SHOPPER not in user.email
    assert user.name == "" and not user.active
    assert not user.check_password(PASSWORD)
    # Signed out here, and the old password opens nothing any more.
    assert client.get("/account/").status_code == 302
    # Requests in tests share one ``g``, where Flask-WTF keeps the token of the session that
    # deleting emptied; in production each request starts afresh.
    g.pop("csrf_token", None)
    for email in (SHOPPER, user.email):
        signing_in = client.post(
            "/account/login",
            data={
                "email": email,
                "password": PASSWORD,
                "csrf_token": csrf_token(client, "/account/login"),
            },
        )
        assert signing_in.status_code == 422, email
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # the rest reads, and registers
    for order, before in zip(orders, accounting, strict=True):
        assert _accounting(order) == before  # amounts, lines, premium and status untouched
        assert order.email == user.email and order.user_id == user_id
        assert (order.name, order.phone, order.city, order.address_line1) == ("", "", "", "")
        assert (order.region, order.address_line2, order.postal_code) == ("", "", "")
        actors = db.session.scalars(
            sa.select(OrderEvent.actor).where(OrderEvent.order_id == order.id)
        ).all()
        assert not {SHOPPER, ADDRESS["email"]} & {a.lower() for a in actors}
    assert _certificates(delivered) == certificates
    assert _books() == books
    assert _statement(app) == statement
    verified = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0 and "the books verify." in verified.output

    registered = _register(client, SHOPPER)

    assert registered.status_code == 302
    fresh = _user(SHOPPER)
    assert fresh.id != user_id
    export = json.loads(client.get("/account/data").get_data(as_text=True))
    assert export["account"]["email"] == SHOPPER and export["orders"] == []


def test_an_order_still_on_its_way_holds_the_deletion_back(client, as_user):
    as_user(BUYER)
    order = _buy(client, _officers_piece())

    page = client.get("/account/delete").get_data(as_text=True)
    refused = client.post("/account/delete", data={"password": PASSWORD})

    assert order.number in page and 'type="password"' not in page
    assert refused.status_code == 409
    assert order.number in refused.get_data(as_text=True)
    db.session.expire_all()
    assert _user(BUYER).active and order.address_line1 == ADDRESS["address_line1"]


@pytest.mark.parametrize("email", ["jeweller@demo.test", "coop@demo.test", "admin@demo.test"])
def test_jewellers_officers_and_admins_cannot_delete_themselves_here(client, as_user, email):
    as_user(email)

    page = client.get("/account/delete")
    refused = client.post("/account/delete", data={"password": PASSWORD})

    assert (page.status_code, refused.status_code) == (200, 403)
    assert "cannot be deleted here" in page.get_data(as_text=True)
    assert "cannot be deleted here" in refused.get_data(as_text=True)
    assert 'type="password"' not in page.get_data(as_text=True)
    assert 'href="/account/delete"' not in client.get("/account/").get_data(as_text=True)
    db.session.expire_all()
    user = _user(email)
    assert user.active and user.check_password(PASSWORD)
