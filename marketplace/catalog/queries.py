"""Reading the catalog: lenient filter parsing, search, sort and bounded pagination.

Filters come from a URL anyone can type, so every value is parsed leniently: what cannot be
understood is dropped with a note for the page, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from marketplace.catalog.models import (
    Category,
    Jeweller,
    Piece,
    PieceGold,
    PiecePhoto,
    PieceStatus,
)
from marketplace.core.gold import KARAT_FINENESS
from marketplace.core.money import to_minor
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, CustodyEvent, CustodyEventKind, GoldLot

SORTS: dict[str, tuple[sa.UnaryExpression[Any], ...]] = {
    "newest": (Piece.created_at.desc(), Piece.id.desc()),
    "price_asc": (Piece.price_minor.asc(), Piece.id.asc()),
    "price_desc": (Piece.price_minor.desc(), Piece.id.desc()),
    "gold_desc": (Piece.fine_mg.desc(), Piece.id.desc()),
}
SORT_LABELS = {
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "gold_desc": "Most fine gold",
}
MAX_PAGE = 1000
MAX_PRICE_MINOR = 10**12


@dataclass
class CatalogFilters:
    """The catalog's query, already checked."""

    q: str = ""
    category: str | None = None
    karat: int | None = None
    cooperative: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "newest"
    page: int = 1
    notes: list[str] = field(default_factory=list)

    def args(self, **changes: object) -> dict[str, object]:
        """URL arguments for this query (with ``changes``), leaving out the defaults."""
        values: dict[str, object] = {
            "q": self.q or None,
            "category": self.category,
            "karat": self.karat,
            "cooperative": self.cooperative,
            "min_price": _major(self.min_price),
            "max_price": _major(self.max_price),
            "sort": None if self.sort == "newest" else self.sort,
            "page": None if self.page == 1 else self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        """Whether anything narrows the catalog."""
        return bool(
            self.q
            or self.category
            or self.karat
            or self.cooperative
            or self.min_price is not None
            or self.max_price is not None
        )


def _major(minor: int | None) -> str | None:
    """Minor units as a plain major-unit string for URLs (12350 → "123.5")."""
    if minor is None:
        return None
    return format(Decimal(minor) / 100, "f").rstrip("0").rstrip(".")


def _price(raw: str, name: str, notes: list[str]) -> int | None:
    """Parse a price in soles; None (with a note) when it is not a sensible amount."""
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
        if not value.is_finite() or value < 0 or value > Decimal(MAX_PRICE_MINOR) / 100:
            raise InvalidOperation
        return to_minor(value, "PEN")
    except (InvalidOperation, ValueError):
        notes.append(f"Ignored {name} “{raw[:20]}”: give an amount in soles, like 450.")
        return None


def _is_number(text: str) -> bool:
    """Plain ASCII digits, short enough to be a page or a karat ("²" and 5,000 digits are not)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def parse_filters(args: Mapping[str, str]) -> CatalogFilters:
    """Read the catalog's URL arguments; nonsense is dropped with a note, never an error."""
    notes: list[str] = []
    f = CatalogFilters(notes=notes)
    f.q = " ".join(args.get("q", "").replace("\x00", " ").split())[:100]
    category = args.get("category", "").strip().lower()
    if category:
        if category in {c.value for c in Category}:
            f.category = category
        else:
            notes.append(f"Ignored category “{category[:20]}”.")
    karat = args.get("karat", "").strip().lower().removesuffix("k")
    if karat:
        if _is_number(karat) and int(karat) in KARAT_FINENESS:
            f.karat = int(karat)
        else:
            allowed = ", ".join(f"{k}k" for k in sorted(KARAT_FINENESS))
            notes.append(f"Ignored karat “{karat[:20]}”: choose one of {allowed}.")
    coop = args.get("cooperative", "").replace("\x00", "").strip().lower()
    if coop:
        f.cooperative = coop[:80]
    f.min_price = _price(args.get("min_price", ""), "minimum price", notes)
    f.max_price = _price(args.get("max_price", ""), "maximum price", notes)
    if f.min_price is not None and f.max_price is not None and f.min_price > f.max_price:
        f.min_price, f.max_price = f.max_price, f.min_price
        notes.append("Swapped the minimum and maximum price.")
    sort = args.get("sort", "newest")
    f.sort = sort if sort in SORTS else "newest"
    page = args.get("page", "1").strip()
    if page.isascii() and page.isdigit() and len(page) > 9:
        f.page = MAX_PAGE  # an enormous page number means "as far as it goes"
    else:
        f.page = min(int(page), MAX_PAGE) if _is_number(page) and int(page) >= 1 else 1
    return f


def _like(term: str) -> str:
    """A LIKE pattern matching ``term`` literally anywhere."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def catalog_query(f: CatalogFilters) -> sa.Select[Piece]:
    """The SELECT of active pieces matching the filters, sorted (not yet paginated)."""
    stmt = sa.select(Piece).where(Piece.status == PieceStatus.ACTIVE.value)
    if f.category:
        stmt = stmt.where(Piece.category == f.category)
    if f.karat:
        stmt = stmt.where(Piece.karat == f.karat)
    if f.min_price is not None:
        stmt = stmt.where(Piece.price_minor >= f.min_price)
    if f.max_price is not None:
        stmt = stmt.where(Piece.price_minor <= f.max_price)
    if f.cooperative:
        stmt = stmt.where(
            sa.exists()
            .where(PieceGold.piece_id == Piece.id)
            .where(PieceGold.lot_id == GoldLot.id)
            .where(GoldLot.cooperative_id == Cooperative.id)
            .where(Cooperative.slug == f.cooperative)
        )
    for word in f.q.split()[:6]:
        pattern = _like(word)
        stmt = stmt.where(
            sa.or_(
                Piece.title.ilike(pattern, escape="\\"),
                Piece.description.ilike(pattern, escape="\\"),
                sa.exists()
                .where(Jeweller.id == Piece.jeweller_id)
                .where(Jeweller.business_name.ilike(pattern, escape="\\")),
                sa.exists()
                .where(PieceGold.piece_id == Piece.id)
                .where(PieceGold.lot_id == GoldLot.id)
                .where(GoldLot.cooperative_id == Cooperative.id)
                .where(Cooperative.name.ilike(pattern, escape="\\")),
            )
        )
    return stmt.order_by(*SORTS[f.sort])


def card_options() -> list[_AbstractLoad]:
    """Eager loads for piece cards: thumbnails, jeweller, and the cooperatives of the gold."""
    return [
        selectinload(Piece.photos).selectinload(PiecePhoto.thumb),
        selectinload(Piece.jeweller),
        selectinload(Piece.gold).selectinload(PieceGold.lot).selectinload(GoldLot.cooperative),
    ]


@dataclass
class CatalogPage:
    """One page of results."""

    pieces: list[Piece]
    total: int
    page: int
    pages: int
    per_page: int


def search_pieces(f: CatalogFilters, per_page: int) -> CatalogPage:
    """Run the catalog query for one page, loading what the cards show in a fixed number of
    statements (count, page, photos with thumbnails, jewellers, gold with lots and cooperatives)."""
    stmt = catalog_query(f)
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)
    pages = max(1, -(-total // per_page))
    page = min(f.page, pages)
    pieces = list(
        db.session.scalars(
            stmt.options(*card_options()).limit(per_page).offset((page - 1) * per_page)
        )
    )
    return CatalogPage(pieces=pieces, total=total, page=page, pages=pages, per_page=per_page)


def piece_timeline(piece: Piece) -> dict[int, list[CustodyEvent]]:
    """The custody events that concern a piece, per lot: its lots' origin (registered, assayed,
    certified), the transfers to its jeweller and its own crafting and sales (each lot's whole
    chain is on the lot's page)."""
    lot_ids = [g.lot_id for g in piece.gold]
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.lot_id.in_(lot_ids))
        .where(
            sa.or_(
                CustodyEvent.kind.in_(
                    [
                        CustodyEventKind.REGISTERED.value,
                        CustodyEventKind.ASSAYED.value,
                        CustodyEventKind.CERTIFIED.value,
                    ]
                ),
                sa.and_(
                    CustodyEvent.kind == CustodyEventKind.TRANSFERRED.value,
                    CustodyEvent.jeweller_id == piece.jeweller_id,
                ),
                CustodyEvent.piece_id == piece.id,
            )
        )
        .order_by(CustodyEvent.lot_id, CustodyEvent.seq)
    ).all()
    timeline: dict[int, list[CustodyEvent]] = {lot_id: [] for lot_id in lot_ids}
    for event in events:
        timeline[event.lot_id].append(event)
    return timeline
