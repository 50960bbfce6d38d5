"""A shopper in the browser: finding a ring, reading where its gold came from, paying (the
sandbox's cards, and Stripe's card form against localstripe), the certificate's QR code, and
the whole shop with JavaScript turned off."""

from __future__ import annotations

import base64
import io
import re

import pytest
import stripe
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import OpenSession, Session, Shop
from tests.e2e.steps import (
    DECLINED,
    PAYS,
    add_to_cart,
    buy,
    checkout_to_review,
    money_amounts,
    pay_with_card,
    piece_title,
    pieces_in_stock,
    place_order,
)
from tests.stripe_fixtures import (  # noqa: F401  (fixtures, used by their short names)
    NEEDS_AUTHENTICATION,
    configure_stripe,
    confirm_with_card,
    localstripe_server_fixture,
    localstripe_url_fixture,
    stripe_api_fixture,
)


def test_a_shopper_finds_a_ring_reads_its_provenance_and_pays_after_a_declined_card(
    session: Session, page: Page
) -> None:
    page.goto("/products")
    filters = page.get_by_role("form", name="Filter pieces")
    filters.get_by_label("Search").fill("ring")
    filters.get_by_label("Category").select_option(label="Ring")
    filters.get_by_label("Karat").select_option(label="18k")
    filters.get_by_role("button", name="Show pieces").click()

    expect(page).to_have_url(re.compile(r"q=ring.*category=ring.*karat=18"))
    results = page.get_by_role("region", name=re.compile(r"for “ring”"))
    found = results.get_by_role("listitem")
    expect(found.first).to_be_visible()
    for item in found.all():
        assert re.search(r"\bring\b.*\b18k\b", item.inner_text(), re.I | re.S), item.inner_text()
    found.first.get_by_role("link").first.click()

    # The provenance panel: each lot with its cooperative, certificate and custody chain.
    title = piece_title(page)
    assert "ring" in title.lower() and "18k" in title
    provenance = page.get_by_role("region", name="Where the gold comes from")
    lots = provenance.get_by_role("article")
    expect(lots.first).to_be_visible()
    cooperatives = []
    for lot in lots.all():
        expect(lot.get_by_role("heading", level=3)).to_contain_text("from lot")
        expect(lot.get_by_role("definition").nth(0)).to_contain_text("Cooperativa")
        cooperatives.append(lot.get_by_role("definition").nth(0).get_by_role("link").inner_text())
        expect(lot.get_by_text("FLOCERT").first).to_be_visible()
        custody = lot.get_by_role("list")
        expect(custody.get_by_role("listitem").first).to_contain_text("Registered")
        expect(custody).to_contain_text("Transferred")
        expect(custody).to_contain_text("Crafted")
        expect(lot.get_by_role("link", name=re.compile("check the whole chain"))).to_be_visible()
    premium_panel = page.get_by_role("region", name="Community premium")
    premium = money_amounts(premium_panel.get_by_role("listitem").first.inner_text())[0]
    expect(premium_panel).to_contain_text(cooperatives[0])

    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status").filter(has_text="is in your cart")).to_be_visible()
    checkout_to_review(page)
    expect(page.get_by_role("region", name="Where the community premium goes")).to_contain_text(
        f"{premium} of this price goes to {cooperatives[0]}"
    )
    number = place_order(page)

    pay_with_card(page, DECLINED)
    expect(page.get_by_role("alert")).to_contain_text("declined")
    expect(page.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
    pay_with_card(page, PAYS)

    expect(page).to_have_url(re.compile(rf"/orders/{number}(\?|$)"))
    expect(page.get_by_role("status").filter(has_text="Your order is paid")).to_be_visible()
    expect(page.get_by_role("definition").first).to_have_text("Paid")
    receipt_premium = page.get_by_role("region", name="Community premium")
    expect(receipt_premium).to_contain_text(f"{premium} to {cooperatives[0]}")
    expect(receipt_premium).to_contain_text(title)
    assert session.watch.take_problems() == []


def test_a_shopper_pays_through_stripes_card_form_after_3d_secure(
    shop: Shop,
    session: Session,
    page: Page,
    monkeypatch: pytest.MonkeyPatch,
    localstripe_url: str,
    stripe_api: stripe.StripeClient,
) -> None:
    configure_stripe(shop.app, monkeypatch, localstripe_url)
    slug = pieces_in_stock(shop)[0]
    add_to_cart(page, slug)
    checkout_to_review(page)
    premium_lines = page.get_by_role("region", name="Where the community premium goes")
    premiums = premium_lines.get_by_role("listitem").all_inner_texts()
    number = place_order(page)

    # Stripe's card element (localstripe's stand-in for Stripe.js) is mounted by pay.js.
    form = page.locator("form#stripe-pay")
    card = page.get_by_role("group", name="Card")
    expect(card.get_by_role("textbox").first).to_be_visible()
    pay = page.get_by_role("button", name=re.compile(r"^Pay S\/"))
    expect(pay).to_be_enabled()
    secret = form.get_attribute("data-client-secret") or ""
    intent_id = secret.split("_secret_")[0]
    assert intent_id.startswith("pi_"), secret
    # localstripe's Stripe.js ignores the card typed in and only completes 3-D Secure, so the
    # card that asks for it is attached at localstripe directly (see tests/stripe_fixtures.py).
    assert confirm_with_card(stripe_api, intent_id, NEEDS_AUTHENTICATION) == "requires_action"
    for placeholder, value in [
        ("number", NEEDS_AUTHENTICATION), ("exp_month", "12"), ("exp_year", "34"),
        ("cvc", "123"), ("postal_code", "08002"),
    ]:
        card.get_by_placeholder(placeholder, exact=True).fill(value)
    pay.click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page).to_have_url(re.compile(rf"/orders/{number}(\?|$)"))
    expect(page.get_by_role("status").filter(has_text="Your order is paid")).to_be_visible()
    expect(page.get_by_role("definition").first).to_have_text("Paid")
    assert str(stripe_api.v1.payment_intents.retrieve(intent_id).status) == "succeeded"
    receipt = page.get_by_role("region", name="Community premium").inner_text()
    for line in premiums:
        amount = money_amounts(line)[0]
        cooperative = line.split(" goes to ", 1)[1].strip()
        assert f"{amount} to {cooperative}" in receipt, (line, receipt)
    assert session.watch.take_problems() == []
    assert session.watch.remote_requests() == []


def test_a_certificates_qr_code_opens_a_page_that_says_it_is_valid(
    shop: Shop, session: Session, page: Page
) -> None:
    buy(page, pieces_in_stock(shop)[0])
    certificates = page.get_by_role("region", name="Provenance certificates")
    certificates.get_by_role("link", name=re.compile(r"^Certificate ")).first.click()
    expect(page.get_by_role("heading", name="Provenance certificate", level=1)).to_be_visible()

    qr = page.get_by_role("img", name=re.compile(r"^QR code to "))
    source = qr.get_attribute("src") or ""
    assert source.startswith("data:image/png;base64,"), source[:40]
    image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1 and codes[0].format == zxingcpp.BarcodeFormat.QRCode
    link = codes[0].text
    assert re.fullmatch(rf"{re.escape(shop.url)}/verify/[A-Z0-9]{{10}}", link), link

    page.goto(link)
    expect(page.get_by_role("status")).to_contain_text("Valid")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Certificate {link[-10:]}")
    expect(page.get_by_role("term").filter(has_text="Premium").first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^DEMO-")).first).to_be_visible()
    assert session.watch.take_problems() == []


def test_browsing_and_the_sandbox_checkout_work_without_javascript(
    shop: Shop, open_session: OpenSession
) -> None:
    session = open_session(java_script_enabled=False)
    page = session.new_page()
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Shop").click()
    filters = page.get_by_role("form", name="Filter pieces")
    filters.get_by_label("Category").select_option(label="Pendant")
    filters.get_by_label("Sort").select_option(label="Price: low to high")
    filters.get_by_role("button", name="Show pieces").click()
    expect(page).to_have_url(re.compile(r"category=pendant.*sort=price_asc"))
    prices = [
        int(re.sub(r"\D", "", money_amounts(text)[0]))
        for text in page.get_by_role("region", name=re.compile(r"\d+ pieces?"))
        .get_by_role("listitem")
        .all_inner_texts()
    ]
    assert prices and prices == sorted(prices)

    in_stock = set(pieces_in_stock(shop))
    results = page.get_by_role("region", name=re.compile(r"\d+ pieces?")).get_by_role("link")
    hrefs = [href for href in (link.get_attribute("href") for link in results.all()) if href]
    slug = next(h.rsplit("/", 1)[1] for h in hrefs if h.rsplit("/", 1)[1] in in_stock)
    results.and_(page.locator(f'[href="/products/{slug}"]')).first.click()
    expect(page.get_by_role("region", name="Where the gold comes from")).to_be_visible()
    # The <details> of what the traceability model proves opens without script.
    details = page.locator("details").first
    details.get_by_text(re.compile(r"What .* proves")).click()
    expect(details).to_have_attribute("open", "")
    number = buy(page, slug)
    expect(page).to_have_url(re.compile(rf"/orders/{number}(\?|$)"))
    expect(page.get_by_role("region", name="Community premium").get_by_role("listitem").first
           ).to_contain_text("S/")
    assert session.watch.take_problems() == []
