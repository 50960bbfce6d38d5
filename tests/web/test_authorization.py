"""Walks every protected route of ``app.url_map`` for every role and every owned object.

Nobody reads or changes what is not theirs (404 for another's object, 403 for another role's
space) and anonymous visitors are sent to sign in. A new protected route with an argument this
walk cannot fill fails the test, so it cannot be added without being checked.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import Role, User
from marketplace.accounts.services import create_user
from marketplace.catalog.models import Jeweller, Piece, PiecePhoto
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.orders.services import Address, place_order
from marketplace.payments.gateways import SandboxGateway
from marketplace.payments.services import pay
from marketplace.provenance.models import Cooperative, CooperativeCertification, GoldLot
from tests.conftest import login

PROTECTED = ("/jeweller/", "/cooperative/", "/admin/", "/account/")
PUBLIC_UNDER_ACCOUNT = {
    "/account/login",
    "/account/register",
    "/account/reset",
    "/account/reset/<token>",
    "/account/logout",
}


def _one(stmt):  # type: ignore[no-untyped-def]
    found = db.session.scalar(stmt)
    assert found is not None
    return found


@pytest.fixture
def world(app):  # type: ignore[no-untyped-def]
    """Owned objects of jeweller A (taller-qori) and cooperative A (santiago-de-ananea)."""
    qori = _one(sa.select(Jeweller).where(Jeweller.slug == "taller-qori"))
    santiago = _one(sa.select(Cooperative).where(Cooperative.slug == "santiago-de-ananea"))
    other_coop = _one(sa.select(Cooperative).where(Cooperative.slug == "san-antonio-de-ananea"))
    create_user(
        "officer.b@example.org", "demo-password", role=Role.OFFICER, cooperative_id=other_coop.id
    )
    piece = _one(
        sa.select(Piece).where(Piece.jeweller_id == qori.id, Piece.stock > 0).order_by(Piece.id)
    )
    photo = _one(sa.select(PiecePhoto).where(PiecePhoto.piece_id == piece.id))
    order = place_order(
        {piece.id: 1},
        Address(
            email="x@example.org",
            name="X",
            country="PE",
            region="Puno",
            city="Puno",
            address_line1="1",
        ),
        user_id=None,
        currency="PEN",
        fee_percent=Decimal("8"),
    )
    pay(
        order,
        SandboxGateway(),
        {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"},
        actor="test",
    )
    from marketplace.payouts.models import Payout

    payout = Payout(
        period="2026-10",
        payee_key=f"cooperative:{santiago.id}",
        cooperative_id=santiago.id,
        amount_minor=5000,
        currency="PEN",
        provider="bank_transfer",
    )
    db.session.add(payout)
    db.session.flush()
    return {
        "payout_id": payout.id,
        "piece_id": piece.id,
        "photo_id": photo.id,
        "number": order.number,
        "code": _one(
            sa.select(GoldLot.code)
            .where(GoldLot.cooperative_id == santiago.id)
            .order_by(GoldLot.id)
        ),
        "coop_id": santiago.id,
        "cert_id": _one(
            sa.select(CooperativeCertification.id).where(
                CooperativeCertification.cooperative_id == santiago.id
            )
        ),
        "jeweller_id": qori.id,
        "user_id": _one(sa.select(User.id).where(User.email == "buyer@demo.test")),
        "period": utcnow().strftime("%Y-%m"),  # the month of the order paid above
    }


def _protected_rules(app):  # type: ignore[no-untyped-def]
    rules = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if path in PUBLIC_UNDER_ACCOUNT or not path.startswith(PROTECTED):
            continue
        rules.append(rule)
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def _url(rule, world) -> str:  # type: ignore[no-untyped-def]
    missing = set(rule.arguments) - set(world)
    assert not missing, f"{rule.rule}: add {missing} to the authorization walk"
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", str(world[name])).replace(
            f"<{name}>", str(world[name])
        )
    return path


def _expected(path: str, rule_path: str, who: str) -> set[int]:
    """Allowed status codes for ``who`` on a GET of ``path``."""
    owned_arg = any(
        a in rule_path for a in ("<int:piece_id>", "<number>", "<int:photo_id>", "<period>")
    )
    if who == "anonymous":
        return {302}
    if rule_path.startswith("/account"):
        return {200}
    if rule_path.startswith("/admin"):
        return {200} if who == "admin" else {403}
    if rule_path.startswith("/cooperative"):
        if who == "officer_a":
            return {200}
        if who == "officer_b":
            if "<period>" in rule_path:  # its own statement if the order had its gold, else 404
                return {200, 404}
            return {404} if "<code>" in rule_path else {200}
        return {403}
    if rule_path == "/jeweller/apply":
        return {200} if who in ("shopper",) else {302, 403}
    if rule_path.startswith("/jeweller"):
        if who == "jeweller_a":
            return {200}
        if who == "jeweller_b":
            return {404} if owned_arg else {200}
        return {403}
    raise AssertionError(f"no expectation for {rule_path}")


WHO = {
    "anonymous": None,
    "shopper": "buyer@demo.test",
    "jeweller_a": "jeweller@demo.test",
    "jeweller_b": "jeweller2@demo.test",
    "officer_a": "coop@demo.test",
    "officer_b": "officer.b@example.org",
    "admin": "admin@demo.test",
}


@pytest.mark.parametrize("who", list(WHO))
def test_every_protected_page_is_only_for_its_owner(app, world, who):
    client = app.test_client()
    if WHO[who]:
        assert login(client, WHO[who]).status_code == 302
    failures = []
    for rule in _protected_rules(app):
        if "GET" not in rule.methods:
            continue
        url = _url(rule, world)
        response = client.get(url)
        allowed = _expected(url, rule.rule, who)
        if response.status_code not in allowed:
            failures.append(f"{who} GET {url}: {response.status_code}, expected {allowed}")
        if who == "anonymous" and response.status_code == 302:
            assert response.headers["Location"].startswith("/account/login"), url
    assert failures == []


@pytest.mark.parametrize("who", ["anonymous", "shopper", "jeweller_b", "officer_b"])
def test_nobody_changes_what_is_not_theirs(app, world, who):
    client = app.test_client()
    if WHO[who]:
        login(client, WHO[who])
    piece = db.session.get(Piece, world["piece_id"])
    before = (piece.title, piece.stock, piece.status, len(piece.photos))
    failures = []
    for rule in _protected_rules(app):
        if "POST" not in rule.methods or rule.rule.startswith("/account"):
            continue
        if who == "shopper" and rule.rule == "/jeweller/apply":
            continue  # a shopper may apply to sell
        if (
            who == "jeweller_b"
            and not any(a in rule.rule for a in ("piece_id", "number"))
            and (rule.rule.startswith("/jeweller"))
        ):
            continue  # its own workspace's forms
        if (
            who == "officer_b"
            and rule.rule.startswith("/cooperative")
            and "<code>" not in (rule.rule)
        ):
            continue
        url = _url(rule, world)
        response = client.post(
            url,
            data={
                "title": "Hijacked",
                "stock": "0",
                "status": "archived",
                "action": "ship",
                "carrier": "x",
                "tracking": "y",
                "reason": "x",
            },
        )
        if response.status_code not in (302, 403, 404) or (
            response.status_code == 302 and who != "anonymous"
        ):
            failures.append(f"{who} POST {url}: {response.status_code}")
        if who == "anonymous" and response.status_code == 302:
            assert response.headers["Location"].startswith("/account/login"), url
    db.session.expire_all()
    piece = db.session.get(Piece, world["piece_id"])
    assert (piece.title, piece.stock, piece.status, len(piece.photos)) == before
    assert failures == []
