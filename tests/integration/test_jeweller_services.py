"""The jeweller's use cases against the database: applying, the gold a workshop holds, editing
and archiving pieces, backing from held gold, photos; and the parsing of typed amounts."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from marketplace.accounts.models import Role, User
from marketplace.accounts.services import create_user
from marketplace.admin.models import AuditRecord
from marketplace.catalog.models import Jeweller, Piece, PiecePhoto
from marketplace.catalog.services import (
    add_piece_photo,
    remove_piece_photo,
    set_stock,
    unique_jeweller_slug,
)
from marketplace.core.errors import DomainError, InsufficientGold
from marketplace.demo import ruc_with_check
from marketplace.extensions import db
from marketplace.jeweller import services
from marketplace.jeweller.forms import parse_grams, parse_soles
from marketplace.ledger.models import AccountKind, LedgerAccount
from marketplace.ledger.services import gold_account, jeweller_gold, lot_gold, post_transaction
from marketplace.media.models import MediaFile
from marketplace.media.services import InvalidImage, open_image
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories

RUC = ruc_with_check("2061111222")
WRONG_CHECK_DIGIT = RUC[:-1] + str((int(RUC[-1]) + 1) % 10)


def _shopper(email: str = "applicant@example.com") -> User:
    return create_user(email, "a-long-password")


def _application(**changes: str) -> services.Application:
    values = {
        "business_name": "Joyería Ñusta",
        "ruc": RUC,
        "city": "Puno",
        "region": "Puno",
        "fairtrade_status": "licensee",
        "fairtrade_number": "FT-L-77",
    }
    values.update(changes)
    return services.Application(**values)


def _balances() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance)).all())


# --- applying -----------------------------------------------------------------------------


def test_applying_opens_a_pending_workshop_and_records_it_in_the_audit_trail(app):
    user = _shopper()
    workshop = services.apply_to_sell(user, _application())
    assert workshop.status == "pending" and not workshop.approved
    assert workshop.slug == "joyeria-nusta" and workshop.business_name == "Joyería Ñusta"
    assert user.role == Role.JEWELLER.value and user.jeweller_id == workshop.id
    audit = db.session.scalar(
        sa.select(AuditRecord).where(
            AuditRecord.action == "jeweller.applied", AuditRecord.object_id == str(workshop.id)
        )
    )
    assert audit is not None and audit.actor_id == user.id
    assert audit.after["ruc"] == workshop.ruc


def test_a_ruc_typed_with_spaces_and_dashes_is_kept_as_its_eleven_digits(app):
    ruc = ruc_with_check("2061111333")
    workshop = services.apply_to_sell(
        _shopper(), _application(ruc=f" {ruc[:2]}-{ruc[2:10]}-{ruc[10]} ")
    )
    assert workshop.ruc == ruc


def test_a_pending_workshop_can_list_nothing(app):
    workshop = services.apply_to_sell(_shopper(), _application())
    with pytest.raises(DomainError, match="must be approved"):
        services.add_piece(
            workshop,
            services.PieceDetails("Ring", "", "ring", 18, 4_000, 100_000),
        )
    assert db.session.scalar(sa.select(sa.func.count(Piece.id)).where(
        Piece.jeweller_id == workshop.id)) == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ruc": WRONG_CHECK_DIGIT}, "ruc", "That RUC is not valid"),
        ({"ruc": "123"}, "ruc", "That RUC is not valid"),
        ({"fairtrade_number": " "}, "fairtrade_number", "Fairtrade licence"),
        ({"fairtrade_status": "gold-ish"}, "fairtrade_status", "Fairtrade"),
        ({"business_name": "   "}, "business_name", "name of your business"),
    ],
)
def test_a_bad_application_names_the_field_and_changes_nothing(app, changes, field, message):
    user = _shopper()
    workshops = db.session.scalar(sa.select(sa.func.count(Jeweller.id)))
    with pytest.raises(services.FieldError, match=message) as refused:
        services.apply_to_sell(user, _application(**changes))
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count(Jeweller.id))) == workshops
    assert user.role == "shopper" and user.jeweller_id is None


def test_a_ruc_can_apply_only_once(app):
    services.apply_to_sell(_shopper("first@example.com"), _application())
    second = _shopper("second@example.com")
    with pytest.raises(services.FieldError, match="already applied"):
        services.apply_to_sell(second, _application(business_name="Another name"))
    assert second.jeweller_id is None


def test_accounts_of_the_central_or_a_cooperative_cannot_apply(app):
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    with pytest.raises(DomainError, match="separate shopper account"):
        services.apply_to_sell(admin, _application())
    assert admin.role == "admin" and admin.jeweller_id is None


def test_workshop_slugs_are_unique_and_readable(app):
    assert unique_jeweller_slug("Taller Qori") == "taller-qori-2"
    assert unique_jeweller_slug("Orfebrería Killa") == "orfebreria-killa-2"
    assert unique_jeweller_slug("Joyería Ñusta") == "joyeria-nusta"
    assert unique_jeweller_slug("金") == "workshop"


# --- the gold a workshop holds ------------------------------------------------------------


def test_gold_by_lot_reports_received_in_pieces_sold_and_free_exactly(app):
    jeweller = factories.jeweller()
    lot = factories.lot()
    transfer_to_jeweller(lot, jeweller, 30_000, invoice_ref="A", actor="test")
    transfer_to_jeweller(lot, jeweller, 20_000, invoice_ref="B", actor="test")
    piece = factories.piece(jeweller, {lot: 3_000}, stock=4, gross_mg=4_000)
    # A sale booked per piece, as orders will: one unit's gold from the shelf to "sold".
    post_transaction(
        "sale",
        "one unit sold",
        [
            (gold_account(AccountKind.PIECE_COMMITTED, lot.id, piece_id=piece.id), -3_000),
            (gold_account(AccountKind.LOT_SOLD, lot.id, piece_id=piece.id), 3_000),
        ],
    )
    [holding] = services.gold_by_lot(jeweller.id)
    assert holding.lot.id == lot.id and holding.lot.cooperative.name
    assert (holding.received, holding.in_pieces, holding.sold, holding.free) == (
        50_000, 9_000, 3_000, 38_000,
    )


def test_another_workshops_pieces_of_a_shared_lot_are_not_counted(app):
    lot = factories.lot()
    mine, theirs = factories.jeweller(), factories.jeweller()
    transfer_to_jeweller(lot, mine, 10_000, invoice_ref="M", actor="test")
    transfer_to_jeweller(lot, theirs, 10_000, invoice_ref="T", actor="test")
    factories.piece(theirs, {lot: 3_000}, stock=2, gross_mg=4_000)
    [holding] = services.gold_by_lot(mine.id)
    assert (holding.received, holding.in_pieces, holding.free) == (10_000, 0, 10_000)
    [other] = services.gold_by_lot(theirs.id)
    assert (other.received, other.in_pieces, other.free) == (10_000, 6_000, 4_000)


def test_every_demo_workshops_gold_adds_up_lot_by_lot(app):
    for jeweller in db.session.scalars(sa.select(Jeweller).where(Jeweller.is_demo)):
        holdings = services.gold_by_lot(jeweller.id)
        assert len(holdings) == 5, jeweller.slug
        for h in holdings:
            assert h.received == h.in_pieces + h.sold + h.free, (jeweller.slug, h.lot.code)
            assert h.free == jeweller_gold(jeweller.id)[h.lot.id]
        assert sum(h.in_pieces for h in holdings) == sum(
            p.stock * p.fine_mg for p in jeweller.pieces
        )


def test_a_workshop_with_no_gold_holds_nothing(app):
    assert services.gold_by_lot(factories.jeweller().id) == []


def test_gold_by_lot_reads_in_three_statements_however_many_lots(app, count_queries):
    jeweller = factories.jeweller()
    lots = [factories.lot() for _ in range(6)]
    for lot in lots[:2]:
        transfer_to_jeweller(lot, jeweller, 10_000, invoice_ref="X", actor="test")
    db.session.flush()
    count_queries.clear()
    assert len(services.gold_by_lot(jeweller.id)) == 2
    few = len(count_queries)
    for lot in lots[2:]:
        transfer_to_jeweller(lot, jeweller, 10_000, invoice_ref="Y", actor="test")
        factories.piece(jeweller, {lot: 3_000}, stock=1, gross_mg=4_000)
    db.session.flush()
    count_queries.clear()
    assert len(services.gold_by_lot(jeweller.id)) == 6
    assert len(count_queries) == few == 3


# --- pieces -------------------------------------------------------------------------------


def _details(piece: Piece, **changes: object) -> services.PieceDetails:
    values: dict[str, object] = {
        "title": piece.title, "description": piece.description, "category": piece.category,
        "karat": piece.karat, "gross_mg": piece.gross_mg, "price_minor": piece.price_minor,
    }
    values.update(changes)
    return services.PieceDetails(**values)  # type: ignore[arg-type]


def test_archiving_a_piece_returns_its_gold_then_archives_it(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=3)
    lot_id = piece.gold[0].lot_id
    held = jeweller_gold(jeweller.id)[lot_id]
    services.edit_piece(piece, _details(piece), "archived", actor="test")
    assert piece.status == "archived" and piece.stock == 0
    assert jeweller_gold(jeweller.id)[lot_id] == held + 3 * piece.fine_mg
    assert lot_gold([lot_id])[lot_id].committed == 0


def test_an_archived_piece_takes_no_stock(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=1)
    services.edit_piece(piece, _details(piece), "archived", actor="test")
    with pytest.raises(DomainError, match="archived piece holds no stock"):
        services.change_stock(piece, 1, actor="test")
    assert piece.stock == 0


def test_a_refused_edit_leaves_the_piece_as_it_was(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=0)
    before = (piece.title, piece.gross_mg, piece.fine_mg, piece.status, len(piece.gold))
    with pytest.raises(services.FieldError, match="backed again"):
        services.edit_piece(piece, _details(piece, title="Heavier", gross_mg=8_000), "active",
                            actor="test")
    db.session.expire_all()
    assert (piece.title, piece.gross_mg, piece.fine_mg, piece.status, len(piece.gold)) == before


def test_a_new_karat_with_the_same_fine_gold_keeps_the_backing(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=0, karat=18, gross_mg=4_000)  # 3,000 mg fine
    backing = [(g.lot_id, g.fine_mg_per_unit) for g in piece.gold]
    # 3,275 mg of 22k (916‰) is 2,999.9 mg, rounded up: the same 3,000 mg of fine gold.
    services.edit_piece(piece, _details(piece, karat=22, gross_mg=3_275), "active", actor="test")
    assert (piece.karat, piece.fineness, piece.fine_mg, piece.status) == (22, 916, 3_000, "active")
    assert [(g.lot_id, g.fine_mg_per_unit) for g in piece.gold] == backing


def test_rebacking_stock_on_the_shelf_counts_the_gold_it_already_holds(app):
    jeweller = factories.jeweller()
    lot = factories.lot()
    transfer_to_jeweller(lot, jeweller, 9_000, invoice_ref="R", actor="test")
    piece = factories.piece(jeweller, {lot: 3_000}, stock=3, gross_mg=4_000)
    assert jeweller_gold(jeweller.id)[lot.id] == 0
    # All the gold is on the shelf; re-backing from the same lot must still be possible.
    services.back_with_held_gold(piece, {lot.id: 3_000}, actor="test")
    assert lot_gold([lot.id])[lot.id].committed == 9_000

    other = factories.lot()
    transfer_to_jeweller(other, jeweller, 4_000, invoice_ref="S", actor="test")
    before = _balances()
    with pytest.raises(InsufficientGold, match="Not enough free gold for 3 units") as refused:
        services.back_with_held_gold(piece, {lot.id: 1_000, other.id: 2_000}, actor="test")
    assert other.code in refused.value.message and "6.00\xa0g needed" in refused.value.message
    assert _balances() == before
    db.session.expire_all()
    assert [(g.lot_id, g.fine_mg_per_unit) for g in piece.gold] == [(lot.id, 3_000)]


def test_gold_held_by_unpaid_orders_blocks_rebacking_and_new_weights(app):
    jeweller = factories.jeweller()
    lot = factories.lot()
    transfer_to_jeweller(lot, jeweller, 20_000, invoice_ref="U", actor="test")
    piece = factories.piece(jeweller, {lot: 3_000}, stock=2, gross_mg=4_000)
    # An unpaid order holds one unit, booked as placing an order books it.
    db.session.execute(sa.update(Piece).where(Piece.id == piece.id).values(stock=1))
    db.session.expire(piece, ["stock"])
    post_transaction(
        "order_reserve",
        "one unit reserved",
        [
            (gold_account(AccountKind.PIECE_COMMITTED, lot.id, piece_id=piece.id), -3_000),
            (gold_account(AccountKind.PIECE_RESERVED, lot.id, piece_id=piece.id), 3_000),
        ],
    )
    set_stock(piece, 0, actor="test")
    before = _balances()
    with pytest.raises(DomainError, match="held by unpaid orders"):
        services.back_with_held_gold(piece, {lot.id: 3_000}, actor="test")
    with pytest.raises(DomainError, match="held by unpaid orders"):
        services.edit_piece(piece, _details(piece, gross_mg=5_000), "draft", actor="test")
    assert _balances() == before
    db.session.expire_all()
    assert piece.gross_mg == 4_000 and [g.fine_mg_per_unit for g in piece.gold] == [3_000]
    # The price and words can still change.
    services.edit_piece(piece, _details(piece, price_minor=99_000), "active", actor="test")
    assert piece.price_minor == 99_000


# --- photos -------------------------------------------------------------------------------


def _image_bytes(fmt: str, size: tuple[int, int] = (40, 30), **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 140, 30)).save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_only_jpeg_png_and_webp_are_decoded(fmt):
    with pytest.raises(InvalidImage, match="not a photo we can read"):
        open_image(_image_bytes(fmt))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_open_as_rgb(fmt):
    image = open_image(_image_bytes(fmt))
    assert image.mode == "RGB" and image.size == (40, 30)


def test_a_truncated_photo_is_refused():
    data = _image_bytes("JPEG", (400, 300))
    with pytest.raises(InvalidImage):
        open_image(data[: len(data) // 2])


def test_the_camera_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image = open_image(_image_bytes("JPEG", (40, 30), exif=exif.tobytes()))
    assert image.size == (30, 40)


def test_a_file_shared_by_two_photos_stays_until_the_last_goes(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, stock=0)
    data = _image_bytes("PNG", (300, 200))
    first = add_piece_photo(piece, data, alt="front")
    second = add_piece_photo(piece, data, alt="front again")
    assert first.image_id == second.image_id and second.position == first.position + 1
    remove_piece_photo(piece, first.id)
    assert db.session.get(MediaFile, second.image_id) is not None
    remove_piece_photo(piece, second.id)
    assert db.session.get(MediaFile, second.image_id) is None
    assert db.session.scalars(sa.select(PiecePhoto).where(PiecePhoto.piece_id == piece.id)).all() \
        == []


def test_a_piece_takes_at_most_ten_photos(app):
    piece = factories.piece(factories.jeweller(), stock=0)
    for n in range(10):
        add_piece_photo(piece, _image_bytes("PNG", (50 + n, 50)), alt=f"photo {n}")
    with pytest.raises(DomainError, match="10 photos"):
        add_piece_photo(piece, _image_bytes("PNG", (99, 50)), alt="one too many")


# --- typed amounts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "mg"),
    [("3.75", 3_750), ("3.751", 3_751), ("3.7500", 3_750), (" 12 g", 12_000), ("0.001", 1),
     ("1000", 1_000_000)],
)
def test_grams_are_read_exactly_to_the_milligram(typed, mg):
    assert parse_grams(typed) == mg


@pytest.mark.parametrize(
    "typed", ["3.7501", "0", "0.0004", "-1", "1000.001", "3,75", "1e3", "NaN", "inf", "", "½"]
)
def test_weights_that_are_not_plain_grams_are_refused(typed):
    with pytest.raises(ValueError):
        parse_grams(typed)


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("1250", 125_000), ("1250.5", 125_050), ("1,250.50", 125_050), ("S/ 99.90", 9_990),
     ("1,000,000", 100_000_000)],
)
def test_prices_are_read_exactly_to_the_centimo(typed, minor):
    assert parse_soles(typed) == minor


@pytest.mark.parametrize(
    "typed", ["12.345", "0", "0.00", "-5", "12,50", "1e5", "1000000.01", "1,2345", "abc"]
)
def test_prices_that_are_not_plain_soles_are_refused(typed):
    with pytest.raises(ValueError):
        parse_soles(typed)
