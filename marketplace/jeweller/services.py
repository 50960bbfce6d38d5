"""Use cases of the jeweller's workspace: applying to sell, reading the gold a workshop holds,
and the guarded versions of the catalog's piece operations a jeweller runs.

Services take plain arguments, flush but never commit, and raise ``DomainError`` with a message
for the person at the form; a refusal changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from stdnum.pe import ruc as pe_ruc

from marketplace.accounts.models import Role, User
from marketplace.admin.audit import record, snapshot
from marketplace.catalog import services as catalog
from marketplace.catalog.models import (
    FairtradeStatus,
    Jeweller,
    JewellerStatus,
    Piece,
    PieceGold,
    PiecePhoto,
    PieceStatus,
)
from marketplace.core.errors import DomainError, InsufficientGold, InvalidQuantity
from marketplace.core.gold import GOLD_UNIT, format_grams
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.services import jeweller_gold
from marketplace.provenance.models import GoldLot

#: The ledger transaction kind of the Central's sales of lot gold to a jeweller.
GOLD_TRANSFER = "gold_transfer"


def invalid_ruc() -> str:
    """The refusal of a RUC that fails SUNAT's rules, in the reader's language."""
    return _("That RUC is not valid: check the 11 digits.")


class FieldError(DomainError):
    """A refusal that concerns one field of the form (``field`` names it)."""

    def __init__(self, message: str, field: str) -> None:
        """Keep the message and the name of the field it belongs to."""
        super().__init__(message)
        self.field = field


# --- Applying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """What a workshop tells the Central when it applies to sell."""

    business_name: str
    ruc: str
    city: str
    region: str
    story: str = ""
    fairtrade_status: str = FairtradeStatus.NONE.value
    fairtrade_number: str | None = None


def compact_ruc(value: str) -> str:
    """The RUC as 11 digits, without the spaces, dashes or dots people type."""
    return str(pe_ruc.compact(re.sub(r"[\s.\-]", "", value or "")))


def ruc_is_valid(value: str) -> bool:
    """Whether a RUC has 11 digits, a known type and the right SUNAT check digit."""
    return bool(pe_ruc.is_valid(compact_ruc(value)))


def apply_to_sell(user: User, application: Application) -> Jeweller:
    """Open a pending workshop for ``user`` and make the account a jeweller's.

    The workshop can list nothing until the Central approves it.
    """
    if user.jeweller_id is not None:
        raise DomainError(_("Your account already has a workshop."))
    if user.role != Role.SHOPPER.value:
        raise DomainError(
            _(
                "This account acts for the Central or a cooperative; apply from a separate "
                "shopper account."
            )
        )
    name = " ".join(application.business_name.split())
    if not name:
        raise FieldError(_("Enter the name of your business."), "business_name")
    ruc = compact_ruc(application.ruc)
    if not pe_ruc.is_valid(ruc):
        raise FieldError(invalid_ruc(), "ruc")
    status = application.fairtrade_status
    if status not in {s.value for s in FairtradeStatus}:
        raise FieldError(_("Choose how you work with Fairtrade."), "fairtrade_status")
    number = (application.fairtrade_number or "").strip() or None
    if status != FairtradeStatus.NONE.value and not number:
        raise FieldError(
            _("Give your Fairtrade licence or registration number."), "fairtrade_number"
        )
    if status == FairtradeStatus.NONE.value:
        number = None
    if db.session.scalar(sa.select(Jeweller.id).where(Jeweller.ruc == ruc)) is not None:
        raise FieldError(_duplicate_ruc(), "ruc")
    jeweller = Jeweller(
        slug=catalog.unique_jeweller_slug(name),
        business_name=name[:200],
        ruc=ruc,
        city=" ".join(application.city.split())[:80],
        region=" ".join(application.region.split())[:80],
        story=application.story.strip(),
        fairtrade_status=status,
        fairtrade_number=number,
        status=JewellerStatus.PENDING.value,
    )
    try:
        with db.session.begin_nested():
            db.session.add(jeweller)
            db.session.flush()
            user.jeweller_id = jeweller.id
            user.role = Role.JEWELLER.value
            db.session.flush()
    except IntegrityError as error:
        # Another application with the same RUC (or slug) won the race.
        raise FieldError(_duplicate_ruc(), "ruc") from error
    record(
        user,
        "jeweller.applied",
        jeweller,
        after=snapshot(
            jeweller,
            [
                "slug",
                "business_name",
                "ruc",
                "city",
                "region",
                "fairtrade_status",
                "fairtrade_number",
                "status",
            ],
        ),
        summary=f"{name} applied to sell",
    )
    return jeweller


def _duplicate_ruc() -> str:
    """The refusal of a RUC another workshop applied with."""
    return _(
        "A workshop with this RUC has already applied. If it is yours, sign in with the account "
        "that applied, or write to the Central."
    )


# --- What a workshop holds ----------------------------------------------------------------


@dataclass(frozen=True)
class LotHolding:
    """A lot's gold as one workshop sees it, in mg of fine gold."""

    lot: GoldLot
    received: int
    in_pieces: int
    sold: int
    free: int


_PIECE_KINDS = (
    AccountKind.PIECE_COMMITTED.value,
    AccountKind.PIECE_RESERVED.value,
    AccountKind.LOT_SOLD.value,
)


def gold_by_lot(jeweller_id: int) -> list[LotHolding]:
    """Gold received, in pieces, sold and free, for every lot the workshop received gold from.

    Three statements whatever the number of lots: transfers received (grouped by lot), account
    balances (grouped by lot and kind), and the lots with their cooperatives.
    """
    received = {
        int(lot_id): int(total)
        for lot_id, total in db.session.execute(
            sa.select(LedgerAccount.lot_id, sa.func.sum(LedgerEntry.amount))
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerAccount.kind == AccountKind.JEWELLER_HELD.value,
                LedgerAccount.jeweller_id == jeweller_id,
                LedgerTransaction.kind == GOLD_TRANSFER,
            )
            .group_by(LedgerAccount.lot_id)
        )
        if lot_id is not None
    }
    # Piece accounts carry the piece, not the jeweller: a piece's accounts are the jeweller's
    # when the piece is. Sold gold is matched the same way, so it counts once sales book per
    # piece.
    balances: dict[int, dict[str, int]] = {}
    for lot_id, kind, total in db.session.execute(
        sa.select(LedgerAccount.lot_id, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance))
        .outerjoin(Piece, Piece.id == LedgerAccount.piece_id)
        .where(
            LedgerAccount.unit == GOLD_UNIT,
            LedgerAccount.lot_id.is_not(None),
            sa.or_(
                sa.and_(
                    LedgerAccount.kind == AccountKind.JEWELLER_HELD.value,
                    LedgerAccount.jeweller_id == jeweller_id,
                ),
                sa.and_(LedgerAccount.kind.in_(_PIECE_KINDS), Piece.jeweller_id == jeweller_id),
            ),
        )
        .group_by(LedgerAccount.lot_id, LedgerAccount.kind)
    ):
        if lot_id is not None:
            balances.setdefault(int(lot_id), {})[kind] = int(total or 0)
    lot_ids = set(received) | set(balances)
    if not lot_ids:
        return []
    lots = db.session.scalars(
        sa.select(GoldLot)
        .where(GoldLot.id.in_(lot_ids))
        .options(joinedload(GoldLot.cooperative))
        .order_by(GoldLot.code)
    ).all()
    holdings = []
    for lot in lots:
        row = balances.get(lot.id, {})
        holdings.append(
            LotHolding(
                lot=lot,
                received=received.get(lot.id, 0),
                in_pieces=row.get(AccountKind.PIECE_COMMITTED.value, 0)
                + row.get(AccountKind.PIECE_RESERVED.value, 0),
                sold=row.get(AccountKind.LOT_SOLD.value, 0),
                free=row.get(AccountKind.JEWELLER_HELD.value, 0),
            )
        )
    return holdings


def workshop_pieces(jeweller_id: int) -> list[Piece]:
    """Every piece of a workshop, newest first, with what the list shows loaded."""
    return list(
        db.session.scalars(
            sa.select(Piece)
            .where(Piece.jeweller_id == jeweller_id)
            .order_by(Piece.created_at.desc(), Piece.id.desc())
            .options(
                selectinload(Piece.photos).selectinload(PiecePhoto.thumb),
                selectinload(Piece.gold),
            )
        )
    )


def find_piece(jeweller_id: int, piece_id: int) -> Piece | None:
    """The workshop's own piece with this id (None for anyone else's)."""
    return db.session.scalar(
        sa.select(Piece)
        .where(Piece.id == piece_id, Piece.jeweller_id == jeweller_id)
        .options(
            selectinload(Piece.gold).selectinload(PieceGold.lot).selectinload(GoldLot.cooperative)
        )
    )


# --- Pieces -------------------------------------------------------------------------------


def _require_approved(jeweller: Jeweller) -> None:
    """Refuse piece changes until the Central approves the workshop."""
    if not jeweller.approved:
        raise DomainError(
            _("Your workshop must be approved by the Central before it can list pieces.")
        )


@dataclass(frozen=True)
class PieceDetails:
    """What the piece form says a piece is."""

    title: str
    description: str
    category: str
    karat: int
    gross_mg: int
    price_minor: int


def add_piece(jeweller: Jeweller, details: PieceDetails) -> Piece:
    """A new draft piece of the workshop (no stock, not yet backed)."""
    _require_approved(jeweller)
    return catalog.create_piece(
        jeweller,
        title=details.title,
        description=details.description,
        category=details.category,
        karat=details.karat,
        gross_mg=details.gross_mg,
        price_minor=details.price_minor,
    )


def _units_in_unpaid_orders(piece: Piece) -> bool:
    """Whether unpaid orders hold units of the piece (their gold sits in reserved accounts)."""
    reserved = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance), 0)).where(
            LedgerAccount.kind == AccountKind.PIECE_RESERVED.value,
            LedgerAccount.piece_id == piece.id,
        )
    )
    return bool(reserved)


def _reserved() -> str:
    """The refusal to change a piece whose units unpaid orders hold."""
    return _(
        "Units of this piece are held by unpaid orders, which will take their gold from the lots "
        "it has now. Change its gold, karat or weight once they are paid or expire (30 minutes)."
    )


def edit_piece(piece: Piece, details: PieceDetails, status: str, *, actor: str) -> None:
    """Change a piece and where it stands (draft, active, archived), all or nothing."""
    _require_approved(piece.jeweller)
    if status not in {s.value for s in PieceStatus}:
        raise FieldError(_("Choose draft, active or archived."), "status")
    changes_gold = details.karat != piece.karat or details.gross_mg != piece.gross_mg
    if changes_gold and _units_in_unpaid_orders(piece):
        raise DomainError(_reserved())
    was_backed = piece.is_backed
    with db.session.begin_nested():
        catalog.update_piece(
            piece,
            title=details.title,
            description=details.description,
            category=details.category,
            karat=details.karat,
            gross_mg=details.gross_mg,
            price_minor=details.price_minor,
        )
        if status == PieceStatus.ARCHIVED.value:
            if piece.status != PieceStatus.ARCHIVED.value or piece.stock:
                catalog.archive_piece(piece, actor=actor)
        elif status == PieceStatus.ACTIVE.value:
            if was_backed and not piece.is_backed:
                raise FieldError(
                    _(
                        "The new karat or weight changes the fine gold, so the piece has to be "
                        "backed again before it can be active: choose Draft, save, then back it "
                        "with gold."
                    ),
                    "status",
                )
            if not piece.is_backed:
                raise FieldError(
                    _("Back the piece with gold from your lots before making it active."), "status"
                )
            catalog.publish(piece)
        else:
            catalog.unpublish(piece)


def change_stock(piece: Piece, stock: int, *, actor: str) -> None:
    """Set the units on the shelf: raising commits gold, lowering returns it."""
    _require_approved(piece.jeweller)
    if piece.status == PieceStatus.ARCHIVED.value and stock > 0:
        raise DomainError(
            _("An archived piece holds no stock. Set it to draft first (Details), then add stock.")
        )
    catalog.set_stock(piece, stock, actor=actor)


def back_with_held_gold(piece: Piece, allocation: Mapping[int, int], *, actor: str) -> None:
    """Back each unit with gold from lots the workshop holds: {lot id: fine mg per unit}.

    Besides the catalog's rules (the parts add up to the piece's fine gold, lots it holds) the
    gold must be there: enough for every unit on the shelf, or for one unit when there is none,
    counting the gold this piece's stock already holds from that lot.
    """
    _require_approved(piece.jeweller)
    if _units_in_unpaid_orders(piece):
        raise DomainError(_reserved())
    for lot_id, mg in allocation.items():
        if not isinstance(mg, int) or isinstance(mg, bool) or mg < 0:
            raise InvalidQuantity(
                _("Gold per unit from each lot must be whole mg (lot %(lot)s).", lot=lot_id)
            )
    free = jeweller_gold(piece.jeweller_id)
    current = {g.lot_id: g.fine_mg_per_unit for g in piece.gold}
    units = max(piece.stock, 1)
    short = []
    for lot_id, mg in sorted(allocation.items()):
        if mg <= 0 or lot_id not in free:
            continue  # the catalog says what is wrong with a lot the workshop does not hold
        available = free[lot_id] + piece.stock * current.get(lot_id, 0)
        if mg * units > available:
            short.append((lot_id, mg * units, available))
    if short:
        codes = {
            int(lot_id): str(code)
            for lot_id, code in db.session.execute(
                sa.select(GoldLot.id, GoldLot.code).where(GoldLot.id.in_([s[0] for s in short]))
            )
        }
        locale = format_locale()
        what = "; ".join(
            _(
                "lot %(lot)s has %(free)s free, %(needed)s needed",
                lot=codes.get(lot_id, lot_id),
                free=format_grams(available, locale),
                needed=format_grams(needed, locale),
            )
            for lot_id, needed, available in short
        )
        if units > 1:
            message = _(
                "Not enough free gold for %(count)s units: %(lots)s.", count=units, lots=what
            )
        else:
            message = _("Not enough free gold for one unit: %(lots)s.", lots=what)
        raise InsufficientGold(message)
    catalog.back_piece(piece, allocation, actor=actor)


def add_photo(piece: Piece, data: bytes, *, alt: str, filename: str | None) -> PiecePhoto:
    """Add a checked, re-encoded photo to a piece."""
    _require_approved(piece.jeweller)
    return catalog.add_piece_photo(piece, data, alt=alt, original_name=(filename or "")[:255])


def delete_photo(piece: Piece, photo_id: int) -> None:
    """Remove one of the piece's photos."""
    _require_approved(piece.jeweller)
    catalog.remove_piece_photo(piece, photo_id)


def units_coverable(piece: Piece, free: Mapping[int, int]) -> int | None:
    """How many more units the free gold could back with the piece's current backing.

    None when the piece is not backed (then no unit can be added at all).
    """
    if not piece.gold or not piece.is_backed:
        return None
    return min(free.get(g.lot_id, 0) // g.fine_mg_per_unit for g in piece.gold)


def lots_to_back_from(piece: Piece, free: Mapping[int, int]) -> list[GoldLot]:
    """The lots a piece can take gold from: those with free gold, and those it already uses."""
    current = {g.lot_id for g in piece.gold}
    lot_ids = [lot_id for lot_id, mg in free.items() if mg > 0 or lot_id in current]
    if not lot_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(GoldLot)
            .where(GoldLot.id.in_(lot_ids))
            .options(joinedload(GoldLot.cooperative))
            .order_by(GoldLot.code)
        )
    )
