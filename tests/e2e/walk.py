"""Every kind of page of the shop, opened in a browser one after the other.

``walk_every_kind_of_page`` opens the public pages, buys a piece with the sandbox card (cart,
checkout, review, pay, the order, its certificate and the check of it), the 404 page and the
sign-in page, then the workspaces of the jeweller, the Central's admin and a cooperative's
officer, and hands each page to the caller once it has loaded. The purchase is driven in
English; in another language each of its pages is reloaded in that language before it is
handed over, and back in English afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from marketplace.accounts.models import User
from marketplace.catalog.models import Jeweller, Piece
from marketplace.provenance.models import Cooperative, GoldLot
from tests.e2e.conftest import LOGINS, OpenSession, Session, Shop
from tests.e2e.steps import PAYS, add_to_cart, checkout_to_review, pay_with_card, place_order

#: The workshop of jeweller@demo.test and the cooperative of coop@demo.test.
WORKSHOP = "taller-qori"
COOPERATIVE = "santiago-de-ananea"


@dataclass
class Visit:
    """One page, open and loaded: what kind of page it is, and in which session."""

    kind: str
    page: Page
    session: Session


@dataclass(frozen=True)
class DemoIds:
    """Ids and codes the workspace pages need (looked up in the shop's database)."""

    piece_slug: str
    lot_code: str
    cooperative_slug: str
    jeweller_slug: str
    own_piece_id: int
    jeweller_id: int
    cooperative_id: int
    user_id: int
    officer_lot_code: str

    @classmethod
    def look_up(cls, shop: Shop) -> DemoIds:
        """Find them."""
        workshop = shop.scalar(sa.select(Jeweller).where(Jeweller.slug == WORKSHOP))
        cooperative = shop.scalar(sa.select(Cooperative).where(Cooperative.slug == COOPERATIVE))
        return cls(
            piece_slug=shop.scalar(sa.select(Piece.slug).order_by(Piece.id).limit(1)),
            lot_code=shop.scalar(sa.select(GoldLot.code).order_by(GoldLot.id).limit(1)),
            cooperative_slug=COOPERATIVE,
            jeweller_slug=WORKSHOP,
            own_piece_id=shop.scalar(
                sa.select(Piece.id).where(Piece.jeweller_id == workshop.id).order_by(Piece.id)
            ),
            jeweller_id=workshop.id,
            cooperative_id=cooperative.id,
            user_id=shop.scalar(sa.select(User.id).where(User.email == LOGINS["buyer"])),
            officer_lot_code=shop.scalar(
                sa.select(GoldLot.code)
                .where(GoldLot.cooperative_id == cooperative.id)
                .order_by(GoldLot.id)
            ),
        )


def public_pages(ids: DemoIds) -> list[tuple[str, str]]:
    """(kind, path) of the pages anyone can open without buying."""
    return [
        ("home", "/"),
        ("catalog", "/products"),
        ("piece", f"/products/{ids.piece_slug}"),
        ("lots", "/lots"),
        ("lot", f"/lots/{ids.lot_code}"),
        ("cooperative", f"/cooperatives/{ids.cooperative_slug}"),
        ("jeweller", f"/jewellers/{ids.jeweller_slug}"),
        ("transparency", "/transparency"),
    ]


def workspace_pages(ids: DemoIds, order: str) -> list[tuple[str, str, str]]:
    """(role, kind, path) of the workspace pages; ``order`` is an order of the workshop."""
    piece = f"/jeweller/pieces/{ids.own_piece_id}"
    coop = f"/admin/cooperatives/{ids.cooperative_id}"
    return [
        ("jeweller", "jeweller workspace", "/jeweller/"),
        ("jeweller", "jeweller: new piece", "/jeweller/pieces/new"),
        ("jeweller", "jeweller: piece details", f"{piece}/edit"),
        ("jeweller", "jeweller: piece gold", f"{piece}/gold"),
        ("jeweller", "jeweller: piece stock", f"{piece}/stock"),
        ("jeweller", "jeweller: piece photos", f"{piece}/photos"),
        ("jeweller", "jeweller: orders", "/jeweller/orders"),
        ("jeweller", "jeweller: an order", f"/jeweller/orders/{order}"),
        ("jeweller", "jeweller: earnings", "/jeweller/earnings"),
        ("jeweller", "jeweller: statements", "/jeweller/earnings/statements/"),
        ("jeweller", "jeweller: payout details", "/jeweller/payout-details"),
        ("admin", "admin console", "/admin/"),
        ("admin", "admin: jewellers", "/admin/jewellers"),
        ("admin", "admin: a jeweller", f"/admin/jewellers/{ids.jeweller_id}"),
        ("admin", "admin: lots", "/admin/lots"),
        ("admin", "admin: a lot", f"/admin/lots/{ids.lot_code}"),
        ("admin", "admin: new lot", "/admin/lots/new"),
        ("admin", "admin: cooperatives", "/admin/cooperatives"),
        ("admin", "admin: a cooperative", coop),
        ("admin", "admin: new cooperative", "/admin/cooperatives/new"),
        ("admin", "admin: new certification", f"{coop}/certifications/new"),
        ("admin", "admin: users", "/admin/users"),
        ("admin", "admin: a user", f"/admin/users/{ids.user_id}"),
        ("admin", "admin: orders", "/admin/orders"),
        ("admin", "admin: an order", f"/admin/orders/{order}"),
        ("admin", "admin: payouts", "/admin/payouts"),
        ("admin", "admin: audit trail", "/admin/audit"),
        ("officer", "cooperative dashboard", "/cooperative/"),
        ("officer", "cooperative: a lot", f"/cooperative/lots/{ids.officer_lot_code}"),
        ("officer", "cooperative: statements", "/cooperative/statements/"),
    ]


def _goto(page: Page, path: str, expected_status: int = 200) -> None:
    """Open ``path`` and check the status it answered with."""
    response = page.goto(path)
    assert response is not None, path
    assert response.status == expected_status, f"{path} answered {response.status}"


def walk_every_kind_of_page(
    shop: Shop, open_session: OpenSession, language: str = "en", **context_options: object
) -> Iterator[Visit]:
    """Open every kind of page in ``language``; yield each once it has loaded."""
    ids = DemoIds.look_up(shop)
    visitor = open_session(language=language, **context_options)
    page = visitor.new_page()

    def in_language(kind: str) -> Iterator[Visit]:
        """Hand over the purchase page that is open, reloaded in ``language`` if need be."""
        if language != "en":
            visitor.set_language(language)
            page.reload()
        yield Visit(kind, page, visitor)
        if language != "en":
            visitor.set_language("en")
            page.reload()

    for kind, path in public_pages(ids):
        _goto(page, path)
        yield Visit(kind, page, visitor)

    visitor.set_language("en")
    slug = shop.scalar(
        sa.select(Piece.slug)
        .join(Jeweller, Jeweller.id == Piece.jeweller_id)
        .where(Jeweller.slug == WORKSHOP, Piece.status == "active", Piece.stock >= 1)
        .order_by(Piece.stock.desc(), Piece.id)
    )
    add_to_cart(page, slug)
    yield from in_language("cart")
    page.get_by_role("link", name="Checkout", exact=True).click()
    yield from in_language("checkout")
    checkout_to_review(page)
    yield from in_language("review")
    order = place_order(page)
    yield from in_language("pay")
    pay_with_card(page, PAYS)
    expect(page).to_have_url(re.compile(rf"/orders/{order}(\?|$)"))
    yield from in_language("order")
    certificate = page.get_by_role("region", name="Provenance certificates").get_by_role("link")
    printable = certificate.first.get_attribute("href") or ""
    short_id = printable.rsplit("/", 1)[-1]
    visitor.set_language(language)
    _goto(page, f"/certificates/{short_id}")
    yield Visit("certificate", page, visitor)
    _goto(page, f"/verify/{short_id}")
    yield Visit("certificate check", page, visitor)
    _goto(page, "/no-such-page", expected_status=404)
    yield Visit("404", page, visitor)
    _goto(page, "/account/login")
    yield Visit("sign-in", page, visitor)
    _goto(page, "/account/register")
    yield Visit("register", page, visitor)

    sessions: dict[str, tuple[Session, Page]] = {}
    for role, kind, path in workspace_pages(ids, order):
        if role not in sessions:
            worker = open_session(role=role, language=language, **context_options)
            sessions[role] = (worker, worker.new_page())
        worker, work_page = sessions[role]
        _goto(work_page, path)
        yield Visit(kind, work_page, worker)
