"""The people who work in the shop, in the browser: a jeweller listing a piece, the Central's
admin registering a lot and selling its gold, a cooperative's officer reading the premium."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LOGINS, OpenSession, Shop, sign_in
from tests.e2e.steps import buy, money_amounts, pieces_in_stock


def a_png(width: int = 64, height: int = 64) -> bytes:
    """A small PNG photo: a gold disc on a dark ground."""
    image = Image.new("RGB", (width, height), (40, 32, 24))
    for x in range(width):
        for y in range(height):
            if (x - width / 2) ** 2 + (y - height / 2) ** 2 < (width / 3) ** 2:
                image.putpixel((x, y), (212, 175, 55))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def flash(page: Page, text: str) -> None:
    """The page confirms what was done."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def test_a_jeweller_lists_a_piece_with_a_photo_backs_it_with_gold_and_publishes_it(
    open_session: OpenSession,
) -> None:
    session = open_session()
    page = session.new_page()
    sign_in(page, LOGINS["jeweller"])
    expect(page).to_have_url(re.compile(r"/jeweller/$"))

    page.get_by_role("link", name="List a new piece").click()
    page.get_by_label("Title").fill("Warmi chain 18k")
    page.get_by_label("Description").fill("A fine chain of round links.")
    page.get_by_label("Category").select_option(label="Chain")
    page.get_by_label("Karat").select_option(value="18")
    page.get_by_label("Gross weight (grams)").fill("2.5")
    page.get_by_label("Price (soles)").fill("1500.00")
    page.get_by_role("button", name="Save the draft").click()

    # Gold: 2.5 g of 18k gold holds 1,875 mg of fine gold, taken from one lot with enough.
    expect(page.get_by_role("heading", name="Back each unit with certified gold")).to_be_visible()
    needed = page.locator(".ws-needed").inner_text()
    assert "1,875 mg" in needed, needed
    chosen = None
    for box in page.get_by_role("spinbutton").all():
        hint = page.locator(f"#{box.get_attribute('aria-describedby')}").inner_text()
        free = int(re.sub(r"\D", "", re.search(r"\(([\d,]+) mg\)", hint).group(1)))  # type: ignore[union-attr]
        if chosen is None and free >= 1875:
            box.fill("1875")
            chosen = box
        else:
            box.fill("")
    assert chosen is not None, "the demo jeweller holds no lot with 1,875 mg free"
    page.get_by_role("button", name="Save the backing").click()
    expect(page.locator(".ws-meta")).to_contain_text("backed")
    expect(page.get_by_role("region", name="Community premium per unit")).to_contain_text("S/")

    subnav = page.get_by_role("navigation", name="This piece")
    subnav.get_by_role("link", name="Photos").click()
    page.get_by_label("Photo", exact=True).set_input_files(
        {"name": "warmi-chain.png", "mimeType": "image/png", "buffer": a_png()}
    )
    page.get_by_label("What the photo shows").fill("Warmi chain laid in a circle")
    page.get_by_role("button", name="Upload the photo").click()
    flash(page, "Photo added.")
    expect(page.get_by_role("img", name="Warmi chain laid in a circle")).to_be_visible()

    subnav.get_by_role("link", name="Stock").click()
    page.get_by_label("Units in stock").fill("2")
    page.get_by_role("button", name="Set the stock").click()
    expect(page.locator(".ws-meta")).to_contain_text("stock 2")

    subnav.get_by_role("link", name="Details").click()
    page.get_by_label("Status").select_option(value="active")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".ws-meta")).to_contain_text("active")

    # The public catalog now lists it, with its photo and its gold.
    page.goto("/products?q=Warmi")
    listed = page.get_by_role("link", name=re.compile("Warmi chain 18k"))
    expect(listed.first).to_be_visible()
    listed.first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Warmi chain 18k")
    photo = page.get_by_role("img", name="Warmi chain laid in a circle")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_role("paragraph").filter(has_text="2 in stock")).to_be_visible()
    provenance = page.get_by_role("region", name="Where the gold comes from")
    expect(provenance.get_by_role("article")).to_have_count(1)
    expect(provenance).to_contain_text("1.875 g from lot")
    assert session.watch.take_problems() == []


def test_the_central_registers_a_lot_and_transfers_its_gold_to_a_jeweller(
    open_session: OpenSession,
) -> None:
    session = open_session()
    page = session.new_page()
    sign_in(page, LOGINS["admin"])
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Lots").click()
    page.get_by_role("main").get_by_role("link", name="Register a lot").first.click()

    lot = page.get_by_role("group", name="The lot")
    lot.get_by_label("Lot code").fill("PT-2026-031")
    lot.get_by_label("Cooperative").select_option(label="Cooperativa Minera Santiago de Ananea")
    lot.get_by_label("Segregated: kept apart from other gold").check()
    lot.get_by_label("Extraction started").fill("2026-08-01")
    lot.get_by_label("Extraction ended").fill("2026-09-30")
    assay = page.get_by_role("group", name="Mass and assay")
    assay.get_by_label("Gross mass (g)").fill("1250.375")
    assay.get_by_label("Assayed fineness (‰)").fill("912.4")
    assay.get_by_label("Assay laboratory").fill("Laboratorio de Ensayos del Sur, Juliaca")
    assay.get_by_label("Assay report number").fill("ENS-5120")
    assay.get_by_label("Assayed on").fill("2026-10-05")
    certificate = page.get_by_role("group", name="Certificate")
    certificate.get_by_label("Certificate number").fill("FT-GOLD-3107")
    certificate.get_by_label("Certification body").fill("FLOCERT")
    certificate.get_by_label("Certificate valid from").fill("2026-01-01")
    certificate.get_by_label("Certificate valid until").fill("2028-12-31")
    environment = page.get_by_role("group", name=re.compile("^Mercury and water"))
    environment.get_by_label("Mercury used (g)").fill("0")
    environment.get_by_label("Water recycled (%)").fill("75")
    page.get_by_role("button", name="Register the lot").click()

    # 1,250.375 g at 912.4 ‰ is 1,140.842 g of fine gold (rounded down to the milligram).
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lot PT-2026-031")
    expect(page.get_by_role("heading", name=re.compile("^Fine gold"))).to_have_text(
        "Fine gold: 1,140.842 g"
    )
    chain = page.get_by_role("region", name="Custody chain")
    expect(chain.get_by_role("status")).to_contain_text("verifies")

    transfer = page.get_by_role("region", name="Transfer gold to a jeweller")
    transfer.get_by_label("Jeweller").select_option(label="Taller Qori (demo)")
    transfer.get_by_label("Fine gold (g)").fill("100.5")
    transfer.get_by_label("Invoice reference").fill("F001-000777")
    transfer.get_by_role("button", name="Transfer the gold").click()

    flash(page, "of fine gold of lot PT-2026-031 transferred to Taller Qori (demo)")
    figures = page.get_by_role("region", name=re.compile("^Fine gold"))
    expect(figures.get_by_role("definition").nth(0)).to_have_text("1,040.342 g")
    expect(figures.get_by_role("definition").nth(1)).to_have_text("100.500 g")
    expect(chain.get_by_role("listitem").last).to_contain_text("Transferred")
    expect(chain.get_by_role("listitem").last).to_contain_text("Taller Qori (demo)")
    expect(chain.get_by_role("status")).to_contain_text("verifies")
    assert session.watch.take_problems() == []

    # The jeweller now holds the gold, lot by lot.
    workshop = open_session(role="jeweller").new_page()
    workshop.goto("/jeweller/")
    row = workshop.get_by_role("row").filter(has=workshop.get_by_role("link", name="PT-2026-031"))
    expect(row).to_contain_text("Santiago de Ananea")
    expect(row.get_by_role("cell").nth(1)).to_contain_text("100.500")


def test_a_cooperative_officer_sees_the_premium_of_a_purchase_on_the_dashboard(
    shop: Shop, open_session: OpenSession
) -> None:
    shopper = open_session()
    page = shopper.new_page()
    slug = pieces_in_stock(shop, cooperative="santiago-de-ananea")[0]
    number = buy(page, slug)
    receipt = page.get_by_role("region", name="Community premium").get_by_role("listitem")
    expect(receipt).to_have_count(1)
    expect(receipt).to_contain_text("Cooperativa Minera Santiago de Ananea")
    premium = money_amounts(receipt.inner_text())[0]

    officer = open_session()
    dashboard = officer.new_page()
    sign_in(dashboard, LOGINS["officer"])
    expect(dashboard).to_have_url(re.compile(r"/cooperative/$"))
    expect(dashboard.get_by_role("heading", level=1)).to_have_text(
        "Cooperativa Minera Santiago de Ananea"
    )
    line = dashboard.get_by_role("row").filter(has_text=number)
    expect(line).to_have_count(1)
    expect(line).to_contain_text(premium)
    pending = money_amounts(dashboard.locator(".stats li").first.inner_text())[0]
    assert _minor(pending) >= _minor(premium), (pending, premium)
    assert shopper.watch.take_problems() == [] and officer.watch.take_problems() == []


def _minor(amount: str) -> int:
    """Céntimos of an amount written "S/ 1,234.50"."""
    return int(re.sub(r"\D", "", amount))
