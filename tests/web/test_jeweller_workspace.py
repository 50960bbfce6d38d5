"""The jeweller's workspace through the real forms: applying, listing, backing, stock, photos."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image

from marketplace.accounts.models import User
from marketplace.catalog.models import Jeweller, Piece, PieceGold, PiecePhoto
from marketplace.core.money import Money, format_money
from marketplace.db import utcnow
from marketplace.demo import ruc_with_check
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount
from marketplace.ledger.services import jeweller_gold, lot_gold
from marketplace.media.models import MediaFile
from marketplace.premium.services import piece_premium, rates_on
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories
from tests.conftest import csrf_token

VALID_RUC = ruc_with_check("2060999888")


@pytest.fixture(autouse=True)
def _english(client) -> None:  # type: ignore[no-untyped-def]
    """These tests read the English pages: the workspace speaks Spanish unless asked otherwise."""
    client.set_cookie("lang", "en")


def _text(response) -> str:
    """The page as text, with tags removed and spaces normalised."""
    html = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _workshop(slug: str) -> Jeweller:
    found = db.session.scalar(sa.select(Jeweller).where(Jeweller.slug == slug))
    assert found is not None
    return found


def _count(model) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _balances() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance)).all())


def _application(**changes: str) -> dict[str, str]:
    data = {
        "business_name": "Taller Sumaq Quri",
        "ruc": VALID_RUC,
        "city": "Juliaca",
        "region": "Puno",
        "story": "Three goldsmiths near the lake.",
        "fairtrade_status": "registered_goldsmith",
        "fairtrade_number": "FT-RG-0042",
    }
    data.update(changes)
    return data


def _gold_for_qori(fine_mg: int = 50_000) -> tuple[Jeweller, GoldLot]:
    """Taller Qori receives ``fine_mg`` of a fresh lot, so its figures are known exactly."""
    qori = _workshop("taller-qori")
    lot = factories.lot()
    transfer_to_jeweller(lot, qori, fine_mg, invoice_ref="TEST-F001", actor="test")
    db.session.commit()
    return qori, lot


def _piece_data(**changes: str) -> dict[str, str]:
    data = {
        "title": "Puna ring 18k",
        "description": "A plain band.",
        "category": "ring",
        "karat": "18",
        "gross_weight": "4.000",
        "price": "1,250.50",
    }
    data.update(changes)
    return data


def _new_piece(client, **changes: str) -> Piece:
    response = client.post("/jeweller/pieces/new", data=_piece_data(**changes))
    assert response.status_code == 302, _text(response)[:800]
    piece_id = int(re.search(r"/pieces/(\d+)/", response.headers["Location"]).group(1))
    piece = db.session.get(Piece, piece_id)
    assert piece is not None
    return piece


# --- applying -----------------------------------------------------------------------------


def test_a_shopper_applies_with_a_valid_ruc_and_waits_pending_unable_to_list(client, as_user):
    as_user("buyer@demo.test")
    response = client.post("/jeweller/apply", data=_application())
    assert response.status_code == 302 and response.headers["Location"] == "/jeweller/"

    db.session.expire_all()
    user = _user("buyer@demo.test")
    workshop = user.jeweller
    assert user.role == "jeweller" and workshop is not None
    assert workshop.status == "pending" and workshop.slug == "taller-sumaq-quri"
    assert workshop.ruc == VALID_RUC and workshop.region == "Puno"
    assert workshop.fairtrade_status == "registered_goldsmith"
    assert workshop.fairtrade_number == "FT-RG-0042"

    home = _text(client.get("/jeweller/"))
    assert "Your application is pending" in home
    assert "List a new piece" not in home

    pieces = _count(Piece)
    refused = client.get("/jeweller/pieces/new")
    assert refused.status_code == 403 and "has not approved" in _text(refused)
    posted = client.post("/jeweller/pieces/new", data=_piece_data())
    assert posted.status_code == 403
    assert _count(Piece) == pieces


def test_the_same_business_name_gets_its_own_slug(client, as_user):
    as_user("buyer@demo.test")
    response = client.post("/jeweller/apply", data=_application(business_name="Taller Qori"))
    assert response.status_code == 302
    db.session.expire_all()
    assert _user("buyer@demo.test").jeweller.slug == "taller-qori-2"


def test_an_application_without_a_region_or_city_says_so(client, as_user):
    as_user("buyer@demo.test")
    response = client.post("/jeweller/apply", data=_application(region="", city=""))
    assert response.status_code == 422
    text = _text(response)
    assert "Choose the region of your workshop." in text
    assert "Enter the city of your workshop." in text
    assert _user("buyer@demo.test").jeweller_id is None


def test_a_bad_ruc_is_refused_and_creates_nothing(client, as_user):
    as_user("buyer@demo.test")
    workshops = _count(Jeweller)
    wrong_check = VALID_RUC[:-1] + str((int(VALID_RUC[-1]) + 1) % 10)
    for bad in (wrong_check, "2060999888", "abcdefghijk"):
        response = client.post("/jeweller/apply", data=_application(ruc=bad))
        assert response.status_code == 422, bad
        assert "That RUC is not valid: check the 11 digits." in _text(response)
    db.session.expire_all()
    assert _count(Jeweller) == workshops
    user = _user("buyer@demo.test")
    assert user.role == "shopper" and user.jeweller_id is None


def test_a_ruc_that_already_applied_is_refused(client, as_user):
    as_user("buyer@demo.test")
    taken = _workshop("taller-qori").ruc
    workshops = _count(Jeweller)
    response = client.post("/jeweller/apply", data=_application(ruc=taken))
    assert response.status_code == 422
    assert "A workshop with this RUC has already applied" in _text(response)
    assert _count(Jeweller) == workshops


def test_a_licensee_must_give_the_fairtrade_number(client, as_user):
    as_user("buyer@demo.test")
    response = client.post(
        "/jeweller/apply", data=_application(fairtrade_status="licensee", fairtrade_number="")
    )
    assert response.status_code == 422
    assert "Give your Fairtrade licence or registration number." in _text(response)
    assert _user("buyer@demo.test").jeweller_id is None


def test_a_workshop_without_fairtrade_needs_no_number(client, as_user):
    as_user("buyer@demo.test")
    response = client.post(
        "/jeweller/apply",
        data=_application(fairtrade_status="none", fairtrade_number="ignored"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    workshop = _user("buyer@demo.test").jeweller
    assert workshop.fairtrade_status == "none" and workshop.fairtrade_number is None


def test_a_user_with_a_workshop_is_sent_to_it_from_the_application(client, as_user):
    as_user("jeweller@demo.test")
    response = client.get("/jeweller/apply")
    assert response.status_code == 302 and response.headers["Location"] == "/jeweller/"


def test_applying_needs_a_signed_in_account(client):
    response = client.get("/jeweller/apply")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_a_declined_workshop_sees_the_reason_and_cannot_list(client, as_user):
    as_user("buyer@demo.test")
    client.post("/jeweller/apply", data=_application())
    workshop = _user("buyer@demo.test").jeweller
    workshop.status = "declined"
    workshop.decline_reason = "The RUC belongs to another business."
    db.session.commit()
    home = _text(client.get("/jeweller/"))
    assert "Your application was declined" in home
    assert "The RUC belongs to another business." in home
    assert client.get("/jeweller/pieces/new").status_code == 403


# --- pieces, gold and stock ---------------------------------------------------------------


def test_creating_a_piece_needs_the_csrf_token(client, as_user, request):
    as_user("jeweller@demo.test")
    request.getfixturevalue("csrf_on")
    pieces = _count(Piece)

    refused = client.post("/jeweller/pieces/new", data=_piece_data())
    assert refused.status_code == 400
    assert _count(Piece) == pieces

    token = csrf_token(client, "/jeweller/pieces/new")
    response = client.post("/jeweller/pieces/new", data={**_piece_data(), "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    piece = db.session.scalar(sa.select(Piece).order_by(Piece.id.desc()))
    assert piece.title == "Puna ring 18k" and piece.status == "draft" and piece.stock == 0
    assert piece.gross_mg == 4_000 and piece.fine_mg == 3_000 and piece.price_minor == 125_050
    assert piece.jeweller.slug == "taller-qori"
    assert response.headers["Location"] == f"/jeweller/pieces/{piece.id}/gold"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gross_weight", "3.7501", "at most 3 decimals"),
        ("gross_weight", "0", "more than 0 g"),
        ("gross_weight", "-2", "more than 0 g"),
        ("gross_weight", "1000.001", "over 1 kg"),
        ("gross_weight", "3,75", "Use a point for decimals"),
        ("gross_weight", "NaN", "Give the gross weight in grams"),
        ("gross_weight", "", "Enter the gross weight"),
        ("price", "12.345", "at most 2 decimals"),
        ("price", "0", "more than S/ 0"),
        ("price", "12,50", "a point before the céntimos"),
        ("price", "1e5", "Give the price in soles"),
        ("karat", "17", "Choose a karat"),
        ("category", "tiara", "Choose a category"),
        ("title", "", "Give the piece a title"),
    ],
)
def test_bad_piece_input_gets_a_message_and_creates_nothing(client, as_user, field, value,
                                                            message):
    as_user("jeweller@demo.test")
    pieces = _count(Piece)
    response = client.post("/jeweller/pieces/new", data=_piece_data(**{field: value}))
    assert response.status_code == 422
    assert message in _text(response)
    assert _count(Piece) == pieces


def test_every_karat_of_the_table_can_be_listed(client, as_user):
    as_user("jeweller@demo.test")
    for karat, fine in [(24, 3_996), (22, 3_664), (14, 2_340), (10, 1_668), (9, 1_500)]:
        piece = _new_piece(client, karat=str(karat), gross_weight="4")
        assert piece.fine_mg == fine, karat


def test_backing_and_stock_move_the_gold_books_exactly(client, as_user):
    qori, lot = _gold_for_qori(50_000)
    as_user("jeweller@demo.test")
    piece = _new_piece(client)  # 4 g of 18k: 3,000 mg fine per unit

    backed = client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    assert backed.status_code == 302
    db.session.expire_all()
    assert [(g.lot_id, g.fine_mg_per_unit) for g in piece.gold] == [(lot.id, 3_000)]
    assert jeweller_gold(qori.id)[lot.id] == 50_000  # backing alone commits nothing

    raised = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "3"})
    assert raised.status_code == 302
    assert "9.00 g of fine gold committed" in _text(client.get(raised.headers["Location"]))
    db.session.expire_all()
    assert piece.stock == 3
    assert jeweller_gold(qori.id)[lot.id] == 41_000
    figures = lot_gold([lot.id])[lot.id]
    assert figures.committed == 9_000 and figures.held == 41_000 and figures.balances

    lowered = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "1"})
    assert lowered.status_code == 302
    db.session.expire_all()
    assert jeweller_gold(qori.id)[lot.id] == 47_000
    assert lot_gold([lot.id])[lot.id].committed == 3_000

    published = client.post(
        f"/jeweller/pieces/{piece.id}/edit", data={**_piece_data(), "status": "active"}
    )
    assert published.status_code == 302
    db.session.expire_all()
    assert piece.status == "active"
    assert client.get(f"/products/{piece.slug}").status_code == 200

    archived = client.post(
        f"/jeweller/pieces/{piece.id}/edit", data={**_piece_data(), "status": "archived"}
    )
    assert archived.status_code == 302
    db.session.expire_all()
    assert piece.status == "archived" and piece.stock == 0
    assert jeweller_gold(qori.id)[lot.id] == 50_000
    figures = lot_gold([lot.id])[lot.id]
    assert figures.committed == 0 and figures.balances


def test_backing_with_more_gold_than_held_is_refused_and_changes_nothing(client, as_user):
    qori, lot = _gold_for_qori(2_000)
    as_user("jeweller@demo.test")
    piece = _new_piece(client)  # needs 3,000 mg per unit
    before = _balances()

    response = client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    assert response.status_code == 422
    text = _text(response)
    assert "Not enough free gold" in text and lot.code in text and "2.00 g free" in text
    assert "Nothing was changed." in text
    assert _balances() == before
    assert db.session.scalars(sa.select(PieceGold).where(PieceGold.piece_id == piece.id)).all() \
        == []


def test_raising_stock_beyond_the_gold_held_is_refused_with_the_lot(client, as_user):
    qori, lot = _gold_for_qori(7_000)
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    page = _text(client.get(f"/jeweller/pieces/{piece.id}/stock"))
    assert "you can add up to 2 more units" in page
    before = _balances()

    response = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "3"})
    assert response.status_code == 422
    text = _text(response)
    assert "Not enough free gold for 3 more" in text and lot.code in text
    assert _balances() == before
    assert db.session.get(Piece, piece.id).stock == 0


def test_allocations_that_do_not_add_up_are_refused(client, as_user):
    qori, lot = _gold_for_qori()
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    for value, message in [("2999", "must add up exactly"),
                           ("2.5", "Enter whole milligrams"),
                           ("-3000", "Enter whole milligrams")]:
        response = client.post(f"/jeweller/pieces/{piece.id}/gold",
                               data={f"lot_{lot.id}": value})
        assert response.status_code == 422, value
        assert message in _text(response), value
    db.session.expire_all()
    assert piece.gold == []


def test_stock_needs_a_whole_number(client, as_user):
    qori, lot = _gold_for_qori()
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    for value in ("1.5", "-1", "lots", "10001"):
        response = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": value})
        assert response.status_code == 422, value
        assert "Enter a whole number" in _text(response), value
    db.session.expire_all()
    assert piece.stock == 0


def test_stock_cannot_be_added_before_the_piece_is_backed(client, as_user):
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    response = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "1"})
    assert response.status_code == 422
    assert "Back the piece with gold" in _text(response)


def test_changing_weight_with_stock_on_the_shelf_is_refused(client, as_user):
    qori, lot = _gold_for_qori()
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "2"})
    before = _balances()

    for change in ({"gross_weight": "5"}, {"karat": "22"}):
        response = client.post(
            f"/jeweller/pieces/{piece.id}/edit",
            data={**_piece_data(**change), "status": "draft", "title": "Renamed"},
        )
        assert response.status_code == 422
        assert "Set stock to 0 before changing karat or weight" in _text(response)
    db.session.expire_all()
    assert (piece.gross_mg, piece.karat, piece.stock) == (4_000, 18, 2)
    assert piece.title == "Puna ring 18k"
    assert len(piece.gold) == 1 and _balances() == before


def test_changing_weight_at_zero_stock_asks_for_new_backing(client, as_user):
    qori, lot = _gold_for_qori()
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})

    still_active = client.post(
        f"/jeweller/pieces/{piece.id}/edit",
        data={**_piece_data(gross_weight="5"), "status": "active"},
    )
    assert still_active.status_code == 422
    assert "backed again" in _text(still_active)
    db.session.expire_all()
    assert piece.gross_mg == 4_000 and len(piece.gold) == 1

    response = client.post(
        f"/jeweller/pieces/{piece.id}/edit",
        data={**_piece_data(gross_weight="5", price="1400"), "status": "draft"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert piece.gross_mg == 5_000 and piece.fine_mg == 3_750 and piece.price_minor == 140_000
    assert piece.gold == [] and not piece.is_backed


def test_an_unbacked_piece_cannot_be_made_active(client, as_user):
    as_user("jeweller@demo.test")
    piece = _new_piece(client)
    response = client.post(
        f"/jeweller/pieces/{piece.id}/edit", data={**_piece_data(), "status": "active"}
    )
    assert response.status_code == 422
    assert "Back the piece with gold" in _text(response)
    db.session.expire_all()
    assert piece.status == "draft"


def test_the_gold_page_shows_the_gold_needed_the_free_gold_and_the_premium(client, as_user):
    qori, lot = _gold_for_qori(12_345)
    as_user("jeweller@demo.test")
    piece = _new_piece(client)

    before = _text(client.get(f"/jeweller/pieces/{piece.id}/gold"))
    assert "Each unit needs 3.00 g of fine gold (3,000 mg)" in before
    assert f"Lot {lot.code}" in before and "Free: 12.345 g (12,345 mg)" in before
    for other, free in jeweller_gold(qori.id).items():
        if free > 0:
            code = db.session.get(GoldLot, other).code
            assert f"Lot {code}" in before

    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    db.session.expire_all()
    quote = piece_premium(piece, rates_on(utcnow().date(), "PEN"))
    assert quote.total > 0
    after = _text(client.get(f"/jeweller/pieces/{piece.id}/gold"))
    per_unit = format_money(Money(quote.total, "PEN")).replace("\xa0", " ")
    assert f"{per_unit} of each unit's price" in after
    assert lot.cooperative.name in after


def test_the_workspace_home_shows_gold_per_lot_and_every_piece(client, as_user):
    qori, lot = _gold_for_qori(50_000)
    as_user("jeweller@demo.test")
    piece = _new_piece(client, title="Killa pendant draft")
    client.post(f"/jeweller/pieces/{piece.id}/gold", data={f"lot_{lot.id}": "3000"})
    client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "2"})

    html = client.get("/jeweller/").get_data(as_text=True)
    row = re.search(rf'<tr>\s*<th scope="row"><a href="/lots/{lot.code}">.*?</tr>', html, re.S)
    assert row, "no row for the new lot"
    cells = re.findall(r'<td class="num" data-label="([^"]+)">(?:<strong>)?([^<]+)', row.group(0))
    assert [(label, value.replace("\xa0", " ")) for label, value in cells] == [
        ("Received", "50.000 g"), ("In pieces", "6.000 g"), ("Sold", "0.000 g"),
        ("Free", "44.000 g"),
    ]
    text = _text(client.get("/jeweller/"))
    assert "Killa pendant draft" in text and "draft" in text
    for own in qori.pieces:
        assert own.title in text


# --- whose piece --------------------------------------------------------------------------


def test_another_workshops_piece_is_not_found_on_every_route(client, as_user):
    killa_piece = _workshop("orfebreria-killa").pieces[0]
    photo = killa_piece.photos[0]
    before = (killa_piece.title, killa_piece.stock, killa_piece.status, len(killa_piece.photos))
    as_user("jeweller@demo.test")
    base = f"/jeweller/pieces/{killa_piece.id}"
    for url in (f"{base}/edit", f"{base}/stock", f"{base}/gold", f"{base}/photos"):
        assert client.get(url).status_code == 404, url
    posts = {
        f"{base}/edit": {**_piece_data(), "status": "archived"},
        f"{base}/stock": {"stock": "0"},
        f"{base}/gold": {},
        f"{base}/photos": {"alt": "x", "photo": (io.BytesIO(_png_bytes()), "a.png")},
        f"{base}/photos/{photo.id}/delete": {},
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 404, url
    db.session.expire_all()
    assert (killa_piece.title, killa_piece.stock, killa_piece.status,
            len(killa_piece.photos)) == before


def test_a_photo_of_another_piece_cannot_be_deleted_through_mine(client, as_user):
    as_user("jeweller@demo.test")
    mine = _workshop("taller-qori").pieces[0]
    theirs = _workshop("orfebreria-killa").pieces[0].photos[0]
    response = client.post(f"/jeweller/pieces/{mine.id}/photos/{theirs.id}/delete")
    assert response.status_code == 404
    assert db.session.get(PiecePhoto, theirs.id) is not None


def test_shoppers_cannot_open_the_workspace(client, as_user):
    as_user("buyer@demo.test")
    assert client.get("/jeweller/").status_code == 403
    assert client.get("/jeweller/pieces/new").status_code == 403


# --- photos -------------------------------------------------------------------------------


def _png_bytes(size: tuple[int, int] = (800, 600), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, (200, 150, 40, 0) if mode == "RGBA" else (200, 150, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG that declares a huge image: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.cookie)</script></svg>')


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("ring.svg", SVG, 422, "Upload a JPEG, PNG or WebP photo"),
        ("ring.png", SVG, 422, "not a photo we can read"),
        ("ring.jpg", b"just some text, renamed\n" * 20, 422, "not a photo we can read"),
        ("bomb.png", _png_header_only(20_000, 20_000), 422, "too many pixels"),
        ("wide.png", _png_header_only(9_000, 5_000), 422, "too many pixels"),
        ("huge.jpg", b"\xff\xd8" + b"\0" * (12 * 1024 * 1024), 422,
         "The photo is larger than 10 MB"),
        ("giant.jpg", b"\xff\xd8" + b"\0" * (20 * 1024 * 1024), 413,
         "Photos can be up to 10 MB. Nothing was uploaded"),
        ("empty.png", b"", 422, "The file is empty"),
    ],
)
def test_hostile_uploads_get_a_message_and_store_nothing(client, as_user, name, content, status,
                                                         message):
    as_user("jeweller@demo.test")
    piece = _workshop("taller-qori").pieces[0]
    files, photos = _count(MediaFile), _count(PiecePhoto)
    response = client.post(
        f"/jeweller/pieces/{piece.id}/photos",
        data={"alt": "A ring", "photo": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == status
    assert message in _text(response)
    db.session.expire_all()
    assert (_count(MediaFile), _count(PiecePhoto)) == (files, photos)


def test_an_oversized_body_with_csrf_on_still_gets_the_size_message(client, as_user, request):
    as_user("jeweller@demo.test")
    request.getfixturevalue("csrf_on")
    piece = _workshop("taller-qori").pieces[0]
    token = csrf_token(client, f"/jeweller/pieces/{piece.id}/photos")
    photos = _count(PiecePhoto)
    response = client.post(
        f"/jeweller/pieces/{piece.id}/photos",
        data={"csrf_token": token, "alt": "A ring",
              "photo": (io.BytesIO(b"\0" * (17 * 1024 * 1024)), "big.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "Photos can be up to 10 MB" in _text(response)
    assert _count(PiecePhoto) == photos


def test_a_photo_needs_words_for_people_who_cannot_see_it(client, as_user):
    as_user("jeweller@demo.test")
    piece = _workshop("taller-qori").pieces[0]
    photos = _count(PiecePhoto)
    response = client.post(
        f"/jeweller/pieces/{piece.id}/photos",
        data={"alt": "  ", "photo": (io.BytesIO(_png_bytes()), "ring.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Describe the photo" in _text(response)
    assert _count(PiecePhoto) == photos


def test_a_good_png_is_stored_as_jpeg_with_a_thumbnail_and_can_be_deleted(client, as_user):
    as_user("jeweller@demo.test")
    piece = _workshop("taller-qori").pieces[0]
    positions = [p.position for p in piece.photos]
    response = client.post(
        f"/jeweller/pieces/{piece.id}/photos",
        data={"alt": "Puna ring from above", "photo": (io.BytesIO(_png_bytes((1600, 1200),
                                                                              "RGBA")),
                                                        "ring.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    photo = piece.photos[-1]
    assert photo.alt == "Puna ring from above" and photo.position == max(positions) + 1
    for media, side in ((photo.image, 1200), (photo.thumb, 360)):
        assert media.content_type == "image/jpeg" and media.data[:3] == b"\xff\xd8\xff"
        decoded = Image.open(io.BytesIO(media.data))
        assert decoded.format == "JPEG" and max(decoded.size) == side
        # The PNG was fully transparent: the JPEG is white, not black.
        assert min(decoded.convert("RGB").getpixel((5, 5))) > 240
    assert "Puna ring from above" in _text(client.get(f"/jeweller/pieces/{piece.id}/photos"))

    image_id, thumb_id = photo.image_id, photo.thumb_id
    deleted = client.post(f"/jeweller/pieces/{piece.id}/photos/{photo.id}/delete")
    assert deleted.status_code == 302
    db.session.expire_all()
    assert db.session.get(PiecePhoto, photo.id) is None
    assert db.session.get(MediaFile, image_id) is None
    assert db.session.get(MediaFile, thumb_id) is None


def test_a_jeweller_saves_payout_details_and_a_bad_cci_is_refused(client, as_user):
    from marketplace.catalog.models import Jeweller as _Jeweller

    as_user("jeweller@demo.test")
    bad = client.post("/jeweller/payout-details", data={
        "payout_bank": "BCP", "payout_account_holder": "Taller", "payout_cci": "123"})
    assert bad.status_code == 422
    assert "The CCI has exactly 20 digits" in bad.get_data(as_text=True)
    good = client.post("/jeweller/payout-details", data={
        "payout_bank": "BCP", "payout_account_holder": "Taller Qori",
        "payout_cci": "0021 9000 0000 0000 0001"})
    assert good.status_code == 302
    jeweller = db.session.scalar(sa.select(_Jeweller).where(_Jeweller.slug == "taller-qori"))
    assert jeweller.payout_cci == "00219000000000000001"
