"""What a shopper does in the browser, step by step, and how the tests pick demo pieces.

The steps find controls by their role and accessible name, so they also prove the pages are
labelled; they speak English (the contexts set the ``lang`` cookie to ``en``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from marketplace.catalog.models import Piece, PieceGold, PieceStatus
from marketplace.provenance.models import Cooperative, GoldLot
from tests.e2e.conftest import Shop

PAYS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"


@dataclass(frozen=True)
class Shopper:
    """Who receives the parcel."""

    email: str = "rosa.quispe@example.org"
    name: str = "Rosa Quispe"
    region: str = "Cusco"
    city: str = "Cusco"
    address: str = "Calle Plateros 334"


def pieces_in_stock(shop: Shop, *, cooperative: str | None = None) -> list[str]:
    """Slugs of active demo pieces with stock, the most stocked first.

    With ``cooperative`` (a slug), only pieces whose gold all comes from that cooperative.
    """
    query = (
        sa.select(Piece.slug)
        .where(Piece.status == PieceStatus.ACTIVE.value, Piece.stock >= 1)
        .order_by(Piece.stock.desc(), Piece.id)
    )
    if cooperative is not None:
        other_gold = (
            sa.select(PieceGold.piece_id)
            .join(GoldLot, GoldLot.id == PieceGold.lot_id)
            .join(Cooperative, Cooperative.id == GoldLot.cooperative_id)
            .where(Cooperative.slug != cooperative)
        )
        own_gold = (
            sa.select(PieceGold.piece_id)
            .join(GoldLot, GoldLot.id == PieceGold.lot_id)
            .join(Cooperative, Cooperative.id == GoldLot.cooperative_id)
            .where(Cooperative.slug == cooperative)
        )
        query = query.where(Piece.id.in_(own_gold), Piece.id.not_in(other_gold))
    return [str(slug) for slug in shop.scalars(query)]


def add_to_cart(page: Page, slug: str) -> None:
    """Open a piece and put one in the cart; the cart shows it."""
    page.goto(f"/products/{slug}")
    title = piece_title(page)
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_role("status").filter(has_text="is in your cart")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("heading", level=2)).to_contain_text(
        [title]
    )


def piece_title(page: Page) -> str:
    """The title of the piece whose page is open (the page's title, before the shop's name)."""
    return page.title().rsplit(" · ", 1)[0]


def fill_address(page: Page, shopper: Shopper = Shopper()) -> None:
    """Step 1 of checkout: where to send it; then on to the review."""
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    page.get_by_label("Email").fill(shopper.email)
    page.get_by_label("Full name").fill(shopper.name)
    page.get_by_label("Country").select_option("PE")
    page.get_by_label("Region (Peru)").select_option(shopper.region)
    page.get_by_label("City or district").fill(shopper.city)
    page.get_by_label("Address", exact=True).fill(shopper.address)
    page.get_by_role("button", name="Review the order").click()
    expect(page.get_by_role("heading", name="Review your order", level=1)).to_be_visible()


def checkout_to_review(page: Page, shopper: Shopper = Shopper()) -> None:
    """From the cart to the review of the order."""
    page.goto("/cart")
    page.get_by_role("link", name="Checkout", exact=True).click()
    fill_address(page, shopper)


def place_order(page: Page) -> str:
    """Place the reviewed order; on the pay page, returns the order number."""
    page.get_by_role("button", name="Place order and pay").click()
    expect(page).to_have_url(re.compile(r"/orders/[^/]+/pay"))
    match = re.search(r"/orders/([^/]+)/pay", page.url)
    assert match, page.url
    return match.group(1)


def pay_with_card(page: Page, number: str) -> None:
    """Fill the sandbox card form and press Pay."""
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay S\/")).click()


def buy(page: Page, slug: str, shopper: Shopper = Shopper()) -> str:
    """Buy one of a piece with the sandbox card that pays; returns the order number."""
    add_to_cart(page, slug)
    checkout_to_review(page, shopper)
    number = place_order(page)
    pay_with_card(page, PAYS)
    expect(page.get_by_role("status").filter(has_text="Your order is paid")).to_be_visible()
    return number


def money_amounts(text: str) -> list[str]:
    """Every amount in soles written in ``text`` ("S/ 1,234.50")."""
    return re.findall(r"S/\s?[\d,]+\.\d{2}", text)
