"""The read-only JSON API, ``/api/v1``: catalog, provenance, lots, cooperatives, transparency.

Every route is a GET that reads public data (what the public pages show; never buyer data,
payout accounts or draft pieces) and answers JSON described by ``/api/v1/openapi.json``
(``marketplace.api.openapi``). Query arguments are read leniently, like the catalog's: a value
that cannot be understood is dropped and named in ``ignored``, never an error. An unknown slug
or code is a 404 with ``{"error": "..."}``; every error under ``/api/v1`` is JSON.

Successful answers carry a strong ``ETag`` (the SHA-256 of the body) and answer 304 to a
matching ``If-None-Match``; they may be cached by anyone for a minute (pieces) or five minutes
(lots, cooperatives, the OpenAPI document).

``GET /api/v1/transparency`` →
``{"currency", "amounts_in", "months_in", "cooperatives": [{"slug", "name", "months": [{"month",
"booked", "pending", "available", "in_payment", "paid"}], "totals": {...}}], "generated_at"}``.
Amounts are integer minor units read from the ledger: ``booked`` is what the month's sales booked
net of refunds; ``pending`` / ``available`` / ``in_payment`` / ``paid`` are the balances at the
end of that month (``totals``: all-time booked, balances now). A cooperative without sales has
no months and zero totals. The response carries a weak ETag of its figures (``generated_at``
aside) and may be cached for a minute.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.http import HTTP_STATUS_CODES

from marketplace.api import serializers as out
from marketplace.caching import cached
from marketplace.catalog.models import Jeweller, Piece, PieceGold, PiecePhoto, PieceStatus
from marketplace.catalog.queries import SORTS, parse_filters, piece_timeline, search_pieces
from marketplace.core.errors import NoRateInForce
from marketplace.db import utcnow
from marketplace.extensions import db, limiter
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.premium.services import piece_premium, premium_by_cooperative, rates_on
from marketplace.provenance.epcis_views import bp as epcis_bp
from marketplace.provenance.models import (
    Cooperative,
    CustodyEvent,
    GoldLot,
    LotEvidence,
)
from marketplace.provenance.services import verify_lot_chain
from marketplace.statements import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def api_rate_limit() -> str:
    """The API's budget per client address, read per request (``API_RATE_LIMIT``)."""
    return str(current_app.config["API_RATE_LIMIT"])


#: One budget per client address shared by every /api/v1 route, the EPCIS exports included
#: (they live with the provenance code); past it, a JSON 429 with Retry-After.
api_limit = limiter.shared_limit(api_rate_limit, scope="api")
api_limit(bp)
api_limit(epcis_bp)

PREFIX = "/api/v1"
PIECES_PER_PAGE = 24
LOTS_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_LOT_PAGE = 10_000
#: Seconds a public cache may keep an answer.
PIECE_MAX_AGE = 60
REGISTRY_MAX_AGE = 300
#: Arguments of /api/v1/pieces (the catalog's, plus per_page).
PIECE_ARGS = ("q", "category", "karat", "cooperative", "min_price", "max_price", "sort", "page")
_WHOLE = re.compile(r"[0-9]+")
#: Longer arguments are not numbers anyone means (and ``int()`` refuses over 4,300 digits).
_LONGEST_NUMBER = 100


# --- Responses ---------------------------------------------------------------------------------


def send(data: Mapping[str, Any], *, max_age: int) -> Response:
    """A JSON answer with a strong ETag of its bytes, public caching and 304 when unchanged."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(body, mimetype="application/json")
    response.set_etag(hashlib.sha256(body).hexdigest())
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)
    return response


def error(status: int, message: str) -> Response:
    """A JSON error: ``{"error": message}`` with its status."""
    response = Response(
        json.dumps({"error": message}, ensure_ascii=False),
        status=status,
        mimetype="application/json",
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def json_errors(response: Response) -> Response:
    """Turn any other error under /api/v1 (unknown route, wrong method, an EPCIS 404, a 500
    from the shop's error pages) into JSON, keeping its status and headers (``Allow`` ...).

    Installed by the app factory to run after Flask-Limiter writes its headers, so a 429's
    message names the ``Retry-After`` it is sent with, and before compression."""
    path = request.path
    if (
        (path == PREFIX or path.startswith(PREFIX + "/"))
        and response.status_code >= 400
        and response.mimetype != "application/json"
    ):
        code = response.status_code
        messages = {
            404: f"Nothing is published at {path[:200]}.",
            405: f"{request.method} is not allowed here; the API is read-only (GET).",
            429: _(
                "Too many requests from your address: try again in %(seconds)s seconds.",
                seconds=response.headers.get("Retry-After", "60"),
            ),
        }
        response.set_data(
            json.dumps({"error": messages.get(code, HTTP_STATUS_CODES.get(code, "Error"))})
        )
        response.mimetype = "application/json"
        response.headers["Access-Control-Allow-Origin"] = "*"
        if code == 405 and "Allow" not in response.headers:
            # The shop's error page drops the exception's headers; RFC 9110 wants Allow.
            adapter = current_app.url_map.bind_to_environ(request.environ)
            response.headers["Allow"] = ", ".join(sorted(adapter.allowed_methods()))
    return response


# --- Reading arguments -------------------------------------------------------------------------


def _plain_args(names: tuple[str, ...], notes: list[str]) -> dict[str, str]:
    """The first value of each named argument; values no database can take are dropped.

    NUL characters cannot be stored or compared by PostgreSQL; digits other than 0-9 (``²``,
    ``٣``) pass ``str.isdigit`` but not ``int``, nor do thousands of digits; all are dropped
    here with a note before ``parse_filters`` sees them.
    """
    args: dict[str, str] = {}
    for name in names:
        value = request.args.get(name)
        if value is None:
            continue
        if "\x00" in value:
            notes.append(f"Ignored {name}: it contains a NUL character.")
        elif name in ("page", "karat") and (not value.isascii() or len(value) > _LONGEST_NUMBER):
            notes.append(f"Ignored {name} “{value[:20]}”: give a whole number.")
        else:
            args[name] = value
    return args


def _whole(name: str, default: int, lowest: int, highest: int, notes: list[str]) -> int:
    """A whole-number argument: nonsense gives ``default``, too big gives ``highest`` (noted)."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if len(text) > _LONGEST_NUMBER or not _WHOLE.fullmatch(text) or int(text) < lowest:
        notes.append(
            f"Ignored {name} “{raw[:20]}”: give a whole number from {lowest}; using {default}."
        )
        return default
    if int(text) > highest:
        notes.append(f"{name} is at most {highest}; using {highest}.")
        return highest
    return int(text)


def _findable(key: str, longest: int) -> bool:
    """Whether a slug or code could exist at all (saves a query and PostgreSQL a NUL)."""
    return 0 < len(key) <= longest and "\x00" not in key


# --- Pieces ------------------------------------------------------------------------------------


@bp.get("/pieces")
def pieces() -> Response:
    """The catalog, with the same filters as /products, a page at a time."""
    notes: list[str] = []
    args = _plain_args(PIECE_ARGS, notes)
    filters = parse_filters(args)
    notes += filters.notes
    sort = args.get("sort")
    if sort is not None and sort not in SORTS:
        notes.append(f"Ignored sort “{sort[:20]}”: choose one of {', '.join(SORTS)}.")
    page = args.get("page", "").strip()
    if page and not (page.isdigit() and int(page) >= 1):
        notes.append(f"Ignored page “{page[:20]}”: give a whole number from 1.")
    per_page = _whole("per_page", PIECES_PER_PAGE, 1, MAX_PER_PAGE, notes)
    result = search_pieces(filters, per_page)
    if filters.page > result.page:
        notes.append(
            f"There {'is' if result.pages == 1 else 'are'} only {result.pages} "
            f"page{'' if result.pages == 1 else 's'}; showing page {result.page}."
        )
    return send(
        {
            "items": [out.piece_summary(p) for p in result.pieces],
            "page": result.page,
            "pages": result.pages,
            "per_page": result.per_page,
            "total": result.total,
            "filters": {
                "q": filters.q or None,
                "category": filters.category,
                "karat": filters.karat,
                "cooperative": filters.cooperative,
                "min_price_minor": filters.min_price,
                "max_price_minor": filters.max_price,
                "sort": filters.sort,
            },
            "ignored": notes,
        },
        max_age=PIECE_MAX_AGE,
    )


def _shown_piece(slug: str, *options: Any) -> Piece | None:
    """A piece the public piece page shows (active or archived, never a draft)."""
    if not _findable(slug, 120):
        return None
    return db.session.scalar(
        sa.select(Piece)
        .where(Piece.slug == slug, Piece.status != PieceStatus.DRAFT.value)
        .options(joinedload(Piece.jeweller), *options)
    )


def _no_piece(slug: str) -> Response:
    return error(404, f"No piece is published with the slug “{slug[:120]}”.")


@bp.get("/pieces/<slug>")
def piece(slug: str) -> Response:
    """One piece: photos, gold per lot and the community premium per cooperative."""
    found = _shown_piece(
        slug,
        selectinload(Piece.photos).selectinload(PiecePhoto.image),
        selectinload(Piece.photos).selectinload(PiecePhoto.thumb),
        selectinload(Piece.gold).selectinload(PieceGold.lot).selectinload(GoldLot.cooperative),
    )
    if found is None:
        return _no_piece(slug)
    premium = None
    try:
        rates = rates_on(utcnow().date(), found.currency)
        quote = piece_premium(found, rates)
        premium = out.premium(found, rates, quote, premium_by_cooperative(found, quote))
    except NoRateInForce:
        pass
    return send(out.piece_detail(found, premium), max_age=PIECE_MAX_AGE)


@bp.get("/pieces/<slug>/provenance")
def piece_provenance(slug: str) -> Response:
    """Each lot of a piece with its evidence, and the custody events that concern the piece."""
    found = _shown_piece(
        slug,
        selectinload(Piece.gold).selectinload(PieceGold.lot).selectinload(GoldLot.cooperative),
        selectinload(Piece.gold)
        .selectinload(PieceGold.lot)
        .selectinload(GoldLot.evidence)
        .selectinload(LotEvidence.media_file),
    )
    if found is None:
        return _no_piece(slug)
    timeline = piece_timeline(found)
    jewellers = {found.jeweller_id: found.jeweller}
    slugs = {found.id: found.slug}
    today = utcnow().date()
    return send(
        {
            "piece": {
                "slug": found.slug,
                "title": found.title,
                "fine_mg": found.fine_mg,
                "url": out.piece_url(found.slug),
                "api_url": url_for("api.piece", slug=found.slug, _external=True),
            },
            "lots": [
                {
                    **out.lot_facts(g.lot, today),
                    "fine_mg_per_unit": g.fine_mg_per_unit,
                    "events": [
                        out.custody_event(e, jewellers.get(e.jeweller_id or 0), slugs)
                        for e in timeline[g.lot_id]
                    ],
                    "chain_url": url_for("api.lot", code=g.lot.code, _external=True),
                }
                for g in found.gold
            ],
            "epcis_url": url_for("epcis.piece", slug=found.slug, _external=True),
        },
        max_age=PIECE_MAX_AGE,
    )


# --- Lots --------------------------------------------------------------------------------------


@bp.get("/lots")
def lots() -> Response:
    """The certified lot registry, newest extraction first, with where each lot's gold is."""
    notes: list[str] = []
    page = _whole("page", 1, 1, MAX_LOT_PAGE, notes)
    per_page = _whole("per_page", LOTS_PER_PAGE, 1, MAX_PER_PAGE, notes)
    total = int(db.session.scalar(sa.select(sa.func.count(GoldLot.id))) or 0)
    pages = max(1, -(-total // per_page))
    if page > pages:
        notes.append(
            f"There {'is' if pages == 1 else 'are'} only {pages} page{'' if pages == 1 else 's'}; "
            f"showing page {pages}."
        )
        page = pages
    rows = db.session.scalars(
        sa.select(GoldLot)
        .options(selectinload(GoldLot.cooperative))
        .order_by(GoldLot.extraction_start.desc(), GoldLot.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    figures = lot_gold([lot.id for lot in rows]) if rows else {}
    return send(
        {
            "items": [out.lot_summary(lot, figures.get(lot.id, LotGold())) for lot in rows],
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "total": total,
            "ignored": notes,
        },
        max_age=REGISTRY_MAX_AGE,
    )


@bp.get("/lots/<code>")
def lot(code: str) -> Response:
    """A lot: its data and evidence, where its gold is, its custody chain checked now, and the
    jewellers and pieces it went to."""
    found = (
        db.session.scalar(
            sa.select(GoldLot)
            .where(GoldLot.code == code)
            .options(
                selectinload(GoldLot.cooperative),
                selectinload(GoldLot.evidence).selectinload(LotEvidence.media_file),
            )
        )
        if _findable(code, 40)
        else None
    )
    if found is None:
        return error(404, f"No lot is registered with the code “{code[:40]}”.")
    events = db.session.scalars(
        sa.select(CustodyEvent)
        .where(CustodyEvent.lot_id == found.id)
        .order_by(CustodyEvent.seq)
        .options(selectinload(CustodyEvent.jeweller))
    ).all()
    check = verify_lot_chain(found, events)
    piece_ids = {e.piece_id for e in events if e.piece_id is not None}
    named: dict[int, str] = (
        {
            piece_id: slug
            for piece_id, slug in db.session.execute(
                sa.select(Piece.id, Piece.slug).where(
                    Piece.id.in_(piece_ids), Piece.status != PieceStatus.DRAFT.value
                )
            )
        }
        if piece_ids
        else {}
    )
    pieces_made = db.session.execute(
        sa.select(Piece.slug, Piece.title)
        .where(Piece.status == PieceStatus.ACTIVE.value)
        .where(sa.exists().where(PieceGold.piece_id == Piece.id, PieceGold.lot_id == found.id))
        .order_by(Piece.created_at.desc(), Piece.id.desc())
        .limit(24)
    ).all()
    holders = db.session.scalars(
        sa.select(Jeweller)
        .where(
            sa.exists().where(
                CustodyEvent.lot_id == found.id, CustodyEvent.jeweller_id == Jeweller.id
            )
        )
        .order_by(Jeweller.business_name)
    ).all()
    return send(
        {
            **out.lot_facts(found, utcnow().date()),
            "notes": found.notes,
            "gold": out.gold_figures(lot_gold([found.id]).get(found.id, LotGold())),
            "chain": out.chain_check(check),
            "events": [out.custody_event(e, e.jeweller, named) for e in events],
            "holders": [
                {
                    **out.jeweller_ref(j),
                    "url": url_for("catalog.jeweller", slug=j.slug, _external=True),
                }
                for j in holders
            ],
            "pieces": [
                {
                    "slug": slug,
                    "title": title,
                    "url": out.piece_url(slug),
                    "api_url": url_for("api.piece", slug=slug, _external=True),
                }
                for slug, title in pieces_made
            ],
        },
        max_age=REGISTRY_MAX_AGE,
    )


# --- Cooperatives ------------------------------------------------------------------------------


@bp.get("/cooperatives")
def cooperatives() -> Response:
    """The Central first, then its member cooperatives by name, with their public facts."""
    coops = db.session.scalars(
        sa.select(Cooperative)
        .options(
            selectinload(Cooperative.certifications),
            selectinload(Cooperative.membership_reports),
        )
        .order_by(Cooperative.parent_id.is_not(None), Cooperative.name, Cooperative.id)
    ).all()
    slugs = {c.id: c.slug for c in coops}
    today = utcnow().date()
    return send(
        {
            "items": [
                out.cooperative(c, slugs.get(c.parent_id) if c.parent_id else None, today)
                for c in coops
            ]
        },
        max_age=REGISTRY_MAX_AGE,
    )


# --- The premium per cooperative and month -----------------------------------------------------


@bp.get("/transparency")
def transparency() -> Response:
    """Premium booked, pending, available and paid per cooperative and month."""
    currency = str(current_app.config["PLATFORM_CURRENCY"])
    # Sums over the whole ledger: kept until a lot or the books change.
    document = dict(
        cached(
            f"api-transparency:{currency}",
            lambda: services.transparency_json(services.transparency(currency), currency),
        )
    )
    etag = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:32]
    document["generated_at"] = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
    response = Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        mimetype="application/json",
    )
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    response.make_conditional(request)
    return response


# --- The document describing all of the above --------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of every /api/v1 route."""
    from marketplace.api.openapi import document

    return send(document(), max_age=REGISTRY_MAX_AGE)
