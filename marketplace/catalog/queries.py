"""Reading the catalog: lenient filter parsing, search, sort and bounded pagination.

Filters come from a URL anyone can type, so every value is parsed leniently: what cannot be
understood is dropped with a note for the page, never an error.

Every filter and sort is served by an index (see ``Piece.__table_args__``); words are found by
the full-text index of ``marketplace.catalog.search``, ranked by relevance unless another sort
is asked for. Pagination is bounded: the database counts at most ``MAX_RESULTS`` matches (one
more tells that there are more) and never skips more rows than that, so no page number makes a
query expensive; past that, the page asks the shopper to narrow the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from marketplace.catalog import search
from marketplace.catalog.models import (
    Category,
    Piece,
    PieceGold,
    PiecePhoto,
    PieceStatus,
)
from marketplace.core.gold import KARAT_FINENESS
from marketplace.core.money import to_minor
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, CustodyEvent, CustodyEventKind, GoldLot

#: Sorts by column. "relevance" ranks by the full-text match; without words it is "newest".
SORTS: dict[str, tuple[sa.UnaryExpression[Any], ...]] = {
    "relevance": (Piece.created_at.desc(), Piece.id.desc()),
    "newest": (Piece.created_at.desc(), Piece.id.desc()),
    "price_asc": (Piece.price_minor.asc(), Piece.id.asc()),
    "price_desc": (Piece.price_minor.desc(), Piece.id.desc()),
    "gold_desc": (Piece.fine_mg.desc(), Piece.id.desc()),
}
SORT_LABELS = {
    "relevance": _l("Best match"),
    "newest": _l("Newest"),
    "price_asc": _l("Price: low to high"),
    "price_desc": _l("Price: high to low"),
    "gold_desc": _l("Most fine gold"),
}
MAX_PAGE = 1000
MAX_PRICE_MINOR = 10**12
#: The most matches counted and paged through; beyond, the shopper narrows the search.
MAX_RESULTS = 10_000


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Mark ``message`` for the translations catalog; ``Note`` translates it when shown."""
    return message


class Note(str):
    """A note about a filter that was not used as typed. As a string it is English (what the
    API reports); ``translated()`` gives it in the reader's language (what the catalog shows)."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Note:
        """The note ``msgid`` with its ``%(name)s`` placeholders filled from ``params``."""
        note = super().__new__(cls, msgid % params)
        note.msgid, note.params = msgid, params
        return note

    def translated(self) -> str:
        """The note in the current language."""
        return gettext(self.msgid, **self.params)


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

    @property
    def default_sort(self) -> str:
        """Best match first when there are words to match, else the newest first."""
        return "relevance" if search.query_words(self.q) else "newest"

    def args(self, **changes: object) -> dict[str, object]:
        """URL arguments for this query (with ``changes``), leaving out the defaults."""
        values: dict[str, object] = {
            "q": self.q or None,
            "category": self.category,
            "karat": self.karat,
            "cooperative": self.cooperative,
            "min_price": _major(self.min_price),
            "max_price": _major(self.max_price),
            "sort": None if self.sort == self.default_sort else self.sort,
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


def _price(raw: str, note: str, notes: list[str]) -> int | None:
    """Parse a price in soles; None (with the ``note``) when it is not a sensible amount."""
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
        if not value.is_finite() or value < 0 or value > Decimal(MAX_PRICE_MINOR) / 100:
            raise InvalidOperation
        return to_minor(value, "PEN")
    except (InvalidOperation, ValueError):
        notes.append(Note(note, value=raw[:20]))
        return None


def _is_number(text: str) -> bool:
    """Plain ASCII digits, short enough to be a page or a karat ("²" and 5,000 digits are not)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def parse_filters(args: Mapping[str, str]) -> CatalogFilters:
    """Read the catalog's URL arguments; nonsense is dropped with a note, never an error."""
    notes: list[str] = []
    f = CatalogFilters(notes=notes)
    f.q = " ".join(args.get("q", "").replace("\x00", " ").split())[:100]
    if f.q and not search.query_words(f.q):
        notes.append(
            Note(
                N_("Ignored the search “%(value)s”: search with words (letters or digits)."),
                value=f.q[:20],
            )
        )
        f.q = ""
    category = args.get("category", "").strip().lower()
    if category:
        if category in {c.value for c in Category}:
            f.category = category
        else:
            notes.append(Note(N_("Ignored category “%(value)s”."), value=category[:20]))
    karat = args.get("karat", "").strip().lower().removesuffix("k")
    if karat:
        if _is_number(karat) and int(karat) in KARAT_FINENESS:
            f.karat = int(karat)
        else:
            allowed = ", ".join(f"{k}k" for k in sorted(KARAT_FINENESS))
            notes.append(
                Note(
                    N_("Ignored karat “%(value)s”: choose one of %(allowed)s."),
                    value=karat[:20],
                    allowed=allowed,
                )
            )
    coop = args.get("cooperative", "").replace("\x00", "").strip().lower()
    if coop:
        f.cooperative = coop[:80]
    f.min_price = _price(
        args.get("min_price", ""),
        N_("Ignored minimum price “%(value)s”: give an amount in soles, like 450."),
        notes,
    )
    f.max_price = _price(
        args.get("max_price", ""),
        N_("Ignored maximum price “%(value)s”: give an amount in soles, like 450."),
        notes,
    )
    if f.min_price is not None and f.max_price is not None and f.min_price > f.max_price:
        f.min_price, f.max_price = f.max_price, f.min_price
        notes.append(Note(N_("Swapped the minimum and maximum price.")))
    sort = args.get("sort", "")
    f.sort = sort if sort in SORTS else f.default_sort
    if f.sort == "relevance" and f.default_sort != "relevance":
        f.sort = "newest"  # nothing to rank by
    page = args.get("page", "1").strip()
    if page.isascii() and page.isdigit() and len(page) > 9:
        f.page = MAX_PAGE  # an enormous page number means "as far as it goes"
    else:
        f.page = min(int(page), MAX_PAGE) if _is_number(page) and int(page) >= 1 else 1
    return f


def catalog_query(f: CatalogFilters) -> sa.Select[Piece]:
    """The SELECT of active pieces matching the filters, sorted (not yet paginated)."""
    return _sorted(f, *_filtered(f))


def matching_query(f: CatalogFilters) -> sa.Select[Piece]:
    """The SELECT of active pieces matching the filters, unsorted: what the results count."""
    return _matching(*_filtered(f))


def _matching(stmt: sa.Select[Piece], found: search.Matches | None) -> sa.Select[Piece]:
    """``stmt`` narrowed to the pieces the words match (by id, unranked)."""
    return stmt if found is None else stmt.where(Piece.id.in_(found.ids))


def _sorted(
    f: CatalogFilters, stmt: sa.Select[Piece], found: search.Matches | None
) -> sa.Select[Piece]:
    """``stmt`` narrowed to the words' matches and sorted as asked."""
    if found is not None and f.sort == "relevance":
        # The matches, joined for their rank, lead the plan: no IN as well (slower on SQLite).
        stmt = stmt.join(found.hits, found.piece_id == Piece.id)
        return stmt.order_by(found.rank.desc(), Piece.id.desc())
    return _matching(stmt, found).order_by(*SORTS[f.sort])


def _filtered(f: CatalogFilters) -> tuple[sa.Select[Piece], search.Matches | None]:
    """Active pieces narrowed by every filter but the words, and what the words match."""
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
    return stmt, (search.matches(f.q) if f.q else None)


def card_options() -> list[_AbstractLoad]:
    """Eager loads for piece cards: thumbnails, jeweller, and the cooperatives of the gold."""
    return [
        selectinload(Piece.photos).selectinload(PiecePhoto.thumb),
        selectinload(Piece.jeweller),
        selectinload(Piece.gold).selectinload(PieceGold.lot).selectinload(GoldLot.cooperative),
    ]


@dataclass
class CatalogPage:
    """One page of results.

    ``total`` counts matches up to ``MAX_RESULTS``; ``more`` says there are more than that
    (then ``pages`` covers the first ``MAX_RESULTS`` only).
    """

    pieces: list[Piece]
    total: int
    page: int
    pages: int
    per_page: int
    more: bool = False


def count_matches(stmt: sa.Select[Piece], limit: int | None = None) -> tuple[int, bool]:
    """How many rows ``stmt`` gives, counting no further than ``limit`` (``MAX_RESULTS``), and
    whether there are more."""
    limit = MAX_RESULTS if limit is None else limit
    bounded = stmt.order_by(None).with_only_columns(sa.literal(1)).limit(limit + 1).subquery()
    counted = int(db.session.scalar(sa.select(sa.func.count()).select_from(bounded)) or 0)
    return min(counted, limit), counted > limit


def search_pieces(f: CatalogFilters, per_page: int) -> CatalogPage:
    """Run the catalog query for one page, loading what the cards show in a fixed number of
    statements (count, page, photos with thumbnails, jewellers, gold with lots and cooperatives).

    The count stops at ``MAX_RESULTS`` and the last page reachable is the one holding the
    ``MAX_RESULTS``-th match; a page number beyond the results shows the last page.
    """
    filtered, found = _filtered(f)  # the words' query built once, for the count and the page
    total, more = count_matches(_matching(filtered, found))
    stmt = _sorted(f, filtered, found)
    pages = max(1, -(-total // per_page))
    page = min(f.page, pages)
    if more:
        f.notes.append(
            Note(
                N_(
                    "More than %(count)s pieces match; the first %(count)s are shown. Narrow the "
                    "search (words, category, karat, price) to see the others."
                ),
                count=f"{total:,}",
            )
        )
    offset = (page - 1) * per_page
    pieces = list(
        db.session.scalars(
            stmt.options(*card_options()).limit(min(per_page, total - offset)).offset(offset)
        )
    ) if total > offset else []
    return CatalogPage(
        pieces=pieces, total=total, page=page, pages=pages, per_page=per_page, more=more
    )


def piece_timeline(piece: Piece) -> dict[int, list[CustodyEvent]]:
    """The custody events that concern a piece, per lot: its lots' origin (registered, assayed,
    certified), the transfers to its jeweller and its own crafting and sales (each lot's whole
    chain is on the lot's page).

    One statement; each of the three kinds of event is read through an index, so a lot with
    thousands of sales does not slow the piece page down.
    """
    lot_ids = [g.lot_id for g in piece.gold]
    timeline: dict[int, list[CustodyEvent]] = {lot_id: [] for lot_id in lot_ids}
    if not lot_ids:
        return timeline
    origin = sa.select(CustodyEvent.id).where(
        CustodyEvent.lot_id.in_(lot_ids),
        CustodyEvent.kind.in_(
            [
                CustodyEventKind.REGISTERED.value,
                CustodyEventKind.ASSAYED.value,
                CustodyEventKind.CERTIFIED.value,
            ]
        ),
    )
    transfers = sa.select(CustodyEvent.id).where(
        CustodyEvent.lot_id.in_(lot_ids),
        CustodyEvent.kind == CustodyEventKind.TRANSFERRED.value,
        CustodyEvent.jeweller_id == piece.jeweller_id,
    )
    own = sa.select(CustodyEvent.id).where(
        CustodyEvent.piece_id == piece.id, CustodyEvent.lot_id.in_(lot_ids)
    )
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.id.in_(sa.union_all(origin, transfers, own)))
        .order_by(CustodyEvent.lot_id, CustodyEvent.seq)
    ).all()
    for event in events:
        timeline[event.lot_id].append(event)
    return timeline
