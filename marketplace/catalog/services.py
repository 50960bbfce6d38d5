"""Use cases of the catalog: create a piece, back it with gold, set its stock.

Every unit in stock is backed by fine gold committed from the jeweller's holdings, lot by lot,
through the gold ledger; raising stock commits gold, lowering it returns gold. A refusal (not
enough gold, a lot the jeweller does not hold, allocations that do not add up) raises a
``DomainError`` and changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.catalog.models import (
    Category,
    Jeweller,
    Piece,
    PieceGold,
    PiecePhoto,
    PieceStatus,
)
from marketplace.core.errors import DomainError, InsufficientGold, InvalidQuantity
from marketplace.core.gold import fineness_for_karat, format_grams, piece_fine_mg
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.ledger.models import AccountKind
from marketplace.ledger.services import AccountRef, gold_account, jeweller_gold, post_transaction
from marketplace.media.models import MediaFile
from marketplace.media.services import open_image, store_photo
from marketplace.provenance.models import CustodyEventKind, GoldLot
from marketplace.provenance.services import append_custody_event


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphenated: "Anillo Inti 18k" → "anillo-inti-18k"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "piece"


def unique_slug(text: str) -> str:
    """A slug for a new piece, suffixed with a number if taken."""
    base = slugify(text)[:100]
    taken = set(
        db.session.scalars(
            sa.select(Piece.slug).where(sa.or_(Piece.slug == base, Piece.slug.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_piece(
    jeweller: Jeweller,
    *,
    title: str,
    category: str,
    karat: int,
    gross_mg: int,
    price_minor: int,
    description: str = "",
    currency: str = "PEN",
    is_demo: bool = False,
) -> Piece:
    """A new draft piece with no stock; its fine gold follows from karat and gross weight."""
    if not jeweller.approved:
        raise DomainError(_("Your workshop must be approved before it can list pieces."))
    if category not in {c.value for c in Category}:
        raise DomainError(_("Unknown category %(category)s.", category=repr(category)))
    if not isinstance(price_minor, int) or price_minor <= 0:
        raise InvalidQuantity(_("The price must be a positive amount."))
    fineness = fineness_for_karat(karat)
    piece = Piece(
        slug=unique_slug(title),
        jeweller_id=jeweller.id,
        jeweller=jeweller,
        title=title,
        description=description,
        category=category,
        karat=karat,
        fineness=fineness,
        gross_mg=gross_mg,
        fine_mg=piece_fine_mg(gross_mg, fineness),
        price_minor=price_minor,
        currency=currency,
        stock=0,
        status=PieceStatus.DRAFT.value,
        is_demo=is_demo,
    )
    db.session.add(piece)
    db.session.flush()
    return piece


def _lot_codes(lot_ids: list[int]) -> dict[int, str]:
    """Lot codes by id, for messages."""
    rows = db.session.execute(sa.select(GoldLot.id, GoldLot.code).where(GoldLot.id.in_(lot_ids)))
    return {int(i): c for i, c in rows}


def _move_stock_gold(piece: Piece, units: int, codes: Mapping[int, str], memo: str) -> None:
    """Commit (units > 0) or return (units < 0) the gold of ``units`` units of a piece."""
    postings: list[tuple[AccountRef, int]] = []
    for g in piece.gold:
        mg = g.fine_mg_per_unit * units
        held = gold_account(
            AccountKind.JEWELLER_HELD,
            g.lot_id,
            jeweller_id=piece.jeweller_id,
            label=f"lot {codes[g.lot_id]} held by {piece.jeweller.business_name}",
        )
        committed = gold_account(
            AccountKind.PIECE_COMMITTED,
            g.lot_id,
            piece_id=piece.id,
            label=f"lot {codes[g.lot_id]} committed to {piece.title}",
        )
        postings += [(held, -mg), (committed, mg)]
    post_transaction("stock_commit" if units > 0 else "stock_return", memo, postings)


def back_piece(piece: Piece, allocation: Mapping[int, int], *, actor: str) -> None:
    """Set where a unit's fine gold comes from: {lot id: fine mg per unit}.

    The parts must add up to the piece's fine gold and come from lots the jeweller holds.
    Stock already on the shelf is re-backed: its gold returns to the old lots and is committed
    from the new ones, all or nothing.
    """
    parts = {int(k): v for k, v in allocation.items() if v}
    for lot_id, mg in parts.items():
        if not isinstance(mg, int) or isinstance(mg, bool) or mg < 0:
            raise InvalidQuantity(
                _("Gold per unit from each lot must be whole mg (lot %(lot)s).", lot=lot_id)
            )
    total = sum(parts.values())
    if total != piece.fine_mg:
        raise DomainError(
            _(
                "The gold per unit adds up to %(total)s, but the piece holds %(fine)s of fine "
                "gold; the parts must add up exactly.",
                total=format_grams(total, format_locale()),
                fine=format_grams(piece.fine_mg, format_locale()),
            )
        )
    held = jeweller_gold(piece.jeweller_id)
    codes = _lot_codes(list(parts) + [g.lot_id for g in piece.gold])
    for lot_id in parts:
        if lot_id not in held:
            raise DomainError(
                _(
                    "%(workshop)s holds no gold from lot %(lot)s.",
                    workshop=piece.jeweller.business_name,
                    lot=codes.get(lot_id, lot_id),
                )
            )
    stock = piece.stock
    with db.session.begin_nested():
        if stock and piece.gold:
            _move_stock_gold(piece, -stock, codes, f"Re-backing {piece.title}: gold returned")
        for g in list(piece.gold):
            piece.gold.remove(g)
        db.session.flush()
        for lot_id, mg in sorted(parts.items()):
            piece.gold.append(PieceGold(lot_id=lot_id, fine_mg_per_unit=mg))
        db.session.flush()
        if stock:
            _commit_units(piece, stock, codes, actor=actor)


def _commit_units(piece: Piece, units: int, codes: Mapping[int, str], *, actor: str) -> None:
    """Commit gold for ``units`` new units and append a "crafted" custody event per lot."""
    try:
        _move_stock_gold(piece, units, codes, f"{units} × {piece.title}: gold committed")
    except InsufficientGold as error:
        raise InsufficientGold(_short_of_gold(piece, units, codes)) from error
    for g in piece.gold:
        append_custody_event(
            g.lot,
            CustodyEventKind.CRAFTED,
            actor=actor,
            jeweller_id=piece.jeweller_id,
            piece_id=piece.id,
            fine_mg=g.fine_mg_per_unit * units,
            details={"piece": piece.slug, "units": units},
        )


def _short_of_gold(piece: Piece, units: int, codes: Mapping[int, str]) -> str:
    """Why ``units`` more units of a piece cannot be committed, lot by lot."""
    locale = format_locale()
    free = jeweller_gold(piece.jeweller_id)
    needs = [(g.lot_id, g.fine_mg_per_unit * units) for g in piece.gold]
    short = [(lot_id, mg) for lot_id, mg in needs if mg > free.get(lot_id, 0)] or needs
    lots = "; ".join(
        _(
            "lot %(lot)s has %(free)s free, %(needed)s needed",
            lot=codes.get(lot_id, lot_id),
            free=format_grams(free.get(lot_id, 0), locale),
            needed=format_grams(mg, locale),
        )
        for lot_id, mg in short
    )
    return _(
        "Not enough free gold for %(count)s more × %(title)s: %(lots)s.",
        count=units,
        title=piece.title,
        lots=lots,
    )


def set_stock(piece: Piece, stock: int, *, actor: str) -> None:
    """Change how many units are on the shelf, committing or returning their gold."""
    if not isinstance(stock, int) or isinstance(stock, bool) or stock < 0:
        raise InvalidQuantity(_("Stock must be a whole number, zero or more."))
    if stock > 10_000:
        raise InvalidQuantity(_("Stock above 10,000 units is not accepted; check the number."))
    delta = stock - piece.stock
    if delta == 0:
        return
    if delta > 0 and not piece.is_backed:
        raise DomainError(_("Back the piece with gold from your lots before adding stock."))
    codes = _lot_codes([g.lot_id for g in piece.gold])
    with db.session.begin_nested():
        if delta > 0:
            _commit_units(piece, delta, codes, actor=actor)
        else:
            _move_stock_gold(piece, delta, codes, f"{-delta} × {piece.title}: gold returned")
        # Compare-and-set: a concurrent change of the same piece's stock is refused, not lost.
        changed = db.session.execute(
            sa.update(Piece)
            .where(Piece.id == piece.id, Piece.stock == piece.stock)
            .values(stock=stock)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise DomainError(_("The stock of this piece changed meanwhile; reload and try again."))
    db.session.expire(piece, ["stock"])


def publish(piece: Piece) -> None:
    """Make a piece visible in the catalog (it must be backed with gold)."""
    if not piece.is_backed:
        raise DomainError(_("A piece must be backed with certified gold before it is listed."))
    piece.status = PieceStatus.ACTIVE.value
    db.session.flush()


# --- Jeweller workspace: workshop slugs, editing, archiving and photos of a piece -------------

#: Photos a piece may carry; more slows the page on a phone at altitude without adding much.
MAX_PHOTOS_PER_PIECE = 10


def unique_jeweller_slug(text: str) -> str:
    """A slug for a new workshop, suffixed with a number if taken ("taller-qori-2")."""
    base = slugify(text)[:70]
    if base == "piece" and "piece" not in text.lower():
        base = "workshop"  # a name with no ASCII letters or digits
    taken = set(
        db.session.scalars(
            sa.select(Jeweller.slug).where(
                sa.or_(Jeweller.slug == base, Jeweller.slug.like(f"{base}-%"))
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def update_piece(
    piece: Piece,
    *,
    title: str,
    category: str,
    karat: int,
    gross_mg: int,
    price_minor: int,
    description: str = "",
) -> None:
    """Change what a piece is and costs.

    Karat and gross weight decide the fine gold, and every unit on the shelf holds committed gold
    of exactly that mass, so they can only change while the stock is 0. When the fine gold
    changes the old backing no longer adds up and is dropped: the piece must be backed again.
    """
    if category not in {c.value for c in Category}:
        raise DomainError(_("Unknown category %(category)s.", category=repr(category)))
    if not isinstance(price_minor, int) or isinstance(price_minor, bool) or price_minor <= 0:
        raise InvalidQuantity(_("The price must be a positive amount."))
    fineness = fineness_for_karat(karat)
    fine = piece_fine_mg(gross_mg, fineness)
    if fine <= 0:
        raise InvalidQuantity(_("The gross weight must be more than 0 g."))
    if (karat != piece.karat or gross_mg != piece.gross_mg) and piece.stock > 0:
        raise DomainError(
            _(
                "Set stock to 0 before changing karat or weight: the units on the shelf hold "
                "%(weight)s of fine gold each.",
                weight=format_grams(piece.fine_mg, format_locale()),
            )
        )
    with db.session.begin_nested():
        if fine != piece.fine_mg:
            for g in list(piece.gold):
                piece.gold.remove(g)
        piece.title = title
        piece.description = description
        piece.category = category
        piece.karat = karat
        piece.fineness = fineness
        piece.gross_mg = gross_mg
        piece.fine_mg = fine
        piece.price_minor = price_minor
        db.session.flush()


def archive_piece(piece: Piece, *, actor: str) -> None:
    """Take a piece off the catalog for good: its stock goes to 0 (the gold returns) first."""
    with db.session.begin_nested():
        set_stock(piece, 0, actor=actor)
        piece.status = PieceStatus.ARCHIVED.value
        db.session.flush()


def unpublish(piece: Piece) -> None:
    """Back to draft: hidden from the catalog, stock and backing kept."""
    piece.status = PieceStatus.DRAFT.value
    db.session.flush()


def add_piece_photo(
    piece: Piece, data: bytes, *, alt: str, original_name: str | None = None
) -> PiecePhoto:
    """Check an upload is a safe JPEG, PNG or WebP, re-encode it and add it to the piece."""
    alt = " ".join(alt.split())
    if not alt:
        raise DomainError(_("Describe the photo in a few words for people who cannot see it."))
    count = db.session.scalar(
        sa.select(sa.func.count(PiecePhoto.id)).where(PiecePhoto.piece_id == piece.id)
    )
    if (count or 0) >= MAX_PHOTOS_PER_PIECE:
        raise DomainError(
            _(
                "A piece can have %(count)s photos; delete one before adding another.",
                count=MAX_PHOTOS_PER_PIECE,
            )
        )
    image = open_image(data)
    last = db.session.scalar(
        sa.select(sa.func.max(PiecePhoto.position)).where(PiecePhoto.piece_id == piece.id)
    )
    with db.session.begin_nested():
        full, thumb = store_photo(image, original_name=(original_name or None))
        photo = PiecePhoto(
            piece_id=piece.id,
            position=(last + 1) if last is not None else 0,
            alt=alt[:300],
            image_id=full.id,
            thumb_id=thumb.id,
        )
        db.session.add(photo)
        db.session.flush()
    db.session.expire(piece, ["photos"])
    return photo


def remove_piece_photo(piece: Piece, photo_id: int) -> None:
    """Delete one of the piece's photos, and its stored files when nothing else uses them."""
    photo = db.session.scalar(
        sa.select(PiecePhoto).where(PiecePhoto.id == photo_id, PiecePhoto.piece_id == piece.id)
    )
    if photo is None:
        raise DomainError(_("That photo is not one of this piece's photos."))
    media_ids = {photo.image_id, photo.thumb_id}
    with db.session.begin_nested():
        db.session.delete(photo)
        db.session.flush()
    db.session.expire(piece, ["photos"])
    for media_id in media_ids:
        still_used = db.session.scalar(
            sa.select(
                sa.exists().where(
                    sa.or_(PiecePhoto.image_id == media_id, PiecePhoto.thumb_id == media_id)
                )
            )
        )
        media = db.session.get(MediaFile, media_id)
        if still_used or media is None:
            continue
        # Files are shared by content; another feature may point at this one (a lot's
        # evidence, say). The foreign key says so; then the file simply stays.
        try:
            with db.session.begin_nested():
                db.session.delete(media)
                db.session.flush()
        except sa.exc.IntegrityError:
            pass
