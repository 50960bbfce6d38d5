"""Plain JSON shapes of pieces, lots, custody events and cooperatives for the public API.

Only what the public pages already show goes out: no buyer data, no payout accounts, no staff
names, no draft pieces. Amounts are integer minor units with their currency, gold is integer
milligrams, decimals (fineness, rates) are strings so no float ever rounds them, dates are ISO
8601 and timestamps UTC to the second. Each function takes rows that are already loaded; the
views load them in a fixed number of statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask import url_for

from marketplace.catalog.models import Jeweller, Piece, PiecePhoto
from marketplace.core.custody import ChainCheck, iso_utc
from marketplace.core.premium import PremiumQuote
from marketplace.ledger.services import LotGold
from marketplace.premium.services import RatesInForce
from marketplace.provenance.models import (
    Cooperative,
    CooperativeCertification,
    CustodyEvent,
    GoldLot,
    LotEvidence,
    MembershipReport,
    TraceabilityModel,
)

JSON = dict[str, Any]

#: What each traceability model proves and does not prove (as the piece and lot pages say).
TRACEABILITY_MEANING = {
    TraceabilityModel.SEGREGATED.value: (
        "The gold of this lot was kept apart from other gold from the mine to the jeweller, so "
        "the metal in the piece is this lot's gold. It does not prove which grains of the lot "
        "ended up in which piece, nor anything about the other materials (stones, solder)."
    ),
    TraceabilityModel.MASS_BALANCE.value: (
        "An amount of this lot's certified gold equal to what is in the piece was bought and "
        "booked to it. The metal itself may be mixed with other gold; what is guaranteed is that "
        "no more certified gold is sold than the lot holds."
    ),
}

PREMIUM_NOTE = (
    "The marketplace's own community premium, priced in by the jeweller and routed to the "
    "cooperatives whose gold is in the piece; it is on top of the Fairtrade Premium the first "
    "buyer of the gold already paid, and is not that premium."
)


def decimal_text(value: Decimal | int | None) -> str | None:
    """A decimal as plain text without exponent (``Decimal("2E+3")`` → ``"2000"``)."""
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def day_text(value: date | None) -> str | None:
    """A date as ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def money(amount: int, currency: str) -> JSON:
    """An amount in minor units with its ISO 4217 currency."""
    return {"amount_minor": int(amount), "currency": currency}


def basis(level: str, by: str | None) -> JSON:
    """Whether a claim is the cooperative's own record (evidenced) or a third party's (verified)."""
    return {"level": level, "by": by or ""}


def piece_url(slug: str) -> str:
    """The public page of a piece."""
    return url_for("catalog.piece", slug=slug, _external=True)


def lot_url(code: str) -> str:
    """The public page of a lot."""
    return url_for("provenance.lot", code=code, _external=True)


def cooperative_url(slug: str) -> str:
    """The public page of a cooperative."""
    return url_for("provenance.cooperative", slug=slug, _external=True)


def jeweller_ref(jeweller: Jeweller) -> JSON:
    """A jeweller as pieces and events name it."""
    return {"slug": jeweller.slug, "name": jeweller.business_name}


def cooperative_ref(coop: Cooperative) -> JSON:
    """A cooperative as lots name it."""
    return {
        "slug": coop.slug,
        "name": coop.name,
        "short_name": coop.short_name,
        "flo_id": coop.flo_id,
        "url": cooperative_url(coop.slug),
    }


# --- Pieces ------------------------------------------------------------------------------------


def _cooperative_slugs(piece: Piece) -> list[str]:
    """Slugs of the cooperatives whose gold is in the piece, most gold first."""
    slugs: list[str] = []
    for g in sorted(piece.gold, key=lambda g: (-g.fine_mg_per_unit, g.lot_id)):
        if g.lot.cooperative.slug not in slugs:
            slugs.append(g.lot.cooperative.slug)
    return slugs


def piece_summary(piece: Piece) -> JSON:
    """A piece as the catalog lists it."""
    return {
        "slug": piece.slug,
        "title": piece.title,
        "category": piece.category,
        "karat": piece.karat,
        "fineness": piece.fineness,
        "gross_mg": piece.gross_mg,
        "fine_mg": piece.fine_mg,
        "price": money(piece.price_minor, piece.currency),
        "stock": piece.stock,
        "jeweller": jeweller_ref(piece.jeweller),
        "cooperatives": _cooperative_slugs(piece),
        "thumbnail_url": (
            url_for(
                "media.file",
                sha256=piece.photos[0].thumb.sha256,
                ext=piece.photos[0].thumb.extension,
                _external=True,
            )
            if piece.photos
            else None
        ),
        "demo": bool(piece.is_demo),
        "url": piece_url(piece.slug),
        "api_url": url_for("api.piece", slug=piece.slug, _external=True),
        "provenance_url": url_for("api.piece_provenance", slug=piece.slug, _external=True),
    }


def _photo(photo: PiecePhoto) -> JSON:
    def media(sha256: str, ext: str) -> str:
        return url_for("media.file", sha256=sha256, ext=ext, _external=True)

    return {
        "alt": photo.alt,
        "image_url": media(photo.image.sha256, photo.image.extension),
        "thumb_url": media(photo.thumb.sha256, photo.thumb.extension),
        "width": photo.image.width,
        "height": photo.image.height,
    }


def premium(
    piece: Piece,
    rates: RatesInForce,
    quote: PremiumQuote[int],
    by_coop: Iterable[tuple[str, str, int]],
) -> JSON:
    """The community premium of one unit, per cooperative (as the piece page shows it)."""
    cur = piece.currency
    return {
        "on": rates.day.isoformat(),
        "usd_per_fine_kg": decimal_text(rates.usd_per_fine_kg),
        "fx_rate": decimal_text(rates.fx),
        "pledge_percent": decimal_text(piece.jeweller.pledge_percent) or "0",
        "total": money(quote.total, cur),
        "rate_part": money(quote.rate_part, cur),
        "pledge_part": money(quote.pledge_part, cur),
        "by_cooperative": [
            {"slug": slug, "name": name, "amount": money(amount, cur)}
            for slug, name, amount in by_coop
        ],
        "note": PREMIUM_NOTE,
    }


def piece_detail(piece: Piece, premium_doc: JSON | None) -> JSON:
    """A piece with its photos, its gold per lot and the premium per cooperative."""
    j = piece.jeweller
    return {
        **piece_summary(piece),
        "status": piece.status,
        "description": piece.description,
        "maker_mark": piece.maker_mark,
        "hallmark": piece.hallmark,
        "jeweller": {
            **jeweller_ref(j),
            "city": j.city,
            "fairtrade_status": j.fairtrade_status,
            "fairtrade_number": j.fairtrade_number,
            "url": url_for("catalog.jeweller", slug=j.slug, _external=True),
        },
        "photos": [_photo(p) for p in piece.photos],
        "gold": [
            {
                "lot": g.lot.code,
                "fine_mg_per_unit": g.fine_mg_per_unit,
                "cooperative": {
                    "slug": g.lot.cooperative.slug,
                    "name": g.lot.cooperative.name,
                    "flo_id": g.lot.cooperative.flo_id,
                },
                "traceability_model": g.lot.traceability_model,
                "url": lot_url(g.lot.code),
                "api_url": url_for("api.lot", code=g.lot.code, _external=True),
            }
            for g in piece.gold
        ],
        "premium": premium_doc,
        "epcis_url": url_for("epcis.piece", slug=piece.slug, _external=True),
    }


# --- Lots --------------------------------------------------------------------------------------


def gold_figures(gold: LotGold) -> JSON:
    """Where a lot's registered fine gold is now, in mg, from the gold ledger."""
    return {
        "registered": gold.registered,
        "unallocated": gold.unallocated,
        "held": gold.held,
        "in_pieces": gold.in_pieces,
        "sold": gold.sold,
        "balances": gold.balances,
    }


def _evidence(doc: LotEvidence) -> JSON:
    media = doc.media_file
    return {
        "title": doc.title,
        "level": doc.level,
        "issuer": doc.issuer,
        "sha256": doc.sha256,
        "url": (
            url_for("media.file", sha256=media.sha256, ext=media.extension, _external=True)
            if media is not None
            else None
        ),
    }


def lot_facts(lot: GoldLot, today: date) -> JSON:
    """A lot's data, each claim with its basis (evidenced by the cooperative, or verified)."""
    coop = lot.cooperative
    own = basis("evidenced", coop.short_name)
    mercury_used, mercury_back = lot.mercury_used_g, lot.mercury_recovered_g
    return {
        "code": lot.code,
        "demo": bool(lot.is_demo),
        "cooperative": cooperative_ref(coop),
        "extraction": {
            "start": lot.extraction_start.isoformat(),
            "end": day_text(lot.extraction_end),
            "basis": own,
        },
        "gross_mg": lot.gross_mg,
        "assayed_fineness": decimal_text(lot.assayed_fineness),
        "fine_mg": lot.fine_mg,
        "assay": {
            "lab": lot.assay_lab,
            "report_number": lot.assay_report_number,
            "assayed_on": day_text(lot.assayed_on),
            "basis": basis("verified", lot.assay_lab) if lot.assay_lab else own,
        },
        "refining": (
            {
                "refiner": lot.refiner,
                "bar_serial": lot.bar_serial,
                "bar_year": lot.bar_year,
                "basis": basis("verified", lot.refiner),
            }
            if lot.is_refined
            else None
        ),
        "certificate": (
            {
                "number": lot.certificate_number,
                "body": lot.certificate_body,
                "valid_from": day_text(lot.certificate_valid_from),
                "valid_until": day_text(lot.certificate_valid_until),
                "valid_today": lot.certificate_valid_on(today),
                "basis": basis("verified", lot.certificate_body),
            }
            if lot.certificate_number
            else None
        ),
        "mercury": {
            "used_g": mercury_used,
            "recovered_g": mercury_back,
            "mercury_free": mercury_used == 0,
            "basis": own,
        },
        "water": {"recycled_percent": lot.water_recycled_percent, "basis": own},
        "traceability": {
            "model": lot.traceability_model,
            "meaning": TRACEABILITY_MEANING.get(lot.traceability_model, ""),
        },
        "evidence": [_evidence(doc) for doc in lot.evidence],
        "url": lot_url(lot.code),
        "api_url": url_for("api.lot", code=lot.code, _external=True),
        "epcis_url": url_for("epcis.lot", code=lot.code, _external=True),
    }


def lot_summary(lot: GoldLot, gold: LotGold) -> JSON:
    """A lot as the registry lists it."""
    return {
        "code": lot.code,
        "demo": bool(lot.is_demo),
        "cooperative": cooperative_ref(lot.cooperative),
        "extraction": {
            "start": lot.extraction_start.isoformat(),
            "end": day_text(lot.extraction_end),
        },
        "traceability_model": lot.traceability_model,
        "fine_mg": lot.fine_mg,
        "gold": gold_figures(gold),
        "url": lot_url(lot.code),
        "api_url": url_for("api.lot", code=lot.code, _external=True),
    }


def custody_event(
    event: CustodyEvent,
    jeweller: Jeweller | None,
    piece_slugs: Mapping[int, str],
) -> JSON:
    """One link of a lot's hash chain, as its page shows it (the hashed details stay inside).

    ``piece_slugs`` holds the slugs of the pieces that may be named (never a draft's).
    """
    units = event.details.get("units") if isinstance(event.details, dict) else None
    return {
        "seq": event.seq,
        "kind": event.kind,
        "occurred_at": iso_utc(event.occurred_at),
        "actor": event.actor,
        "jeweller": jeweller_ref(jeweller) if jeweller is not None else None,
        "piece": piece_slugs.get(event.piece_id) if event.piece_id is not None else None,
        "fine_mg": event.fine_mg,
        "units": units if isinstance(units, int) and not isinstance(units, bool) else None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def chain_check(check: ChainCheck) -> JSON:
    """The result of recomputing a lot's hash chain."""
    return {
        "ok": check.ok,
        "checked": check.checked,
        "first_bad": check.first_bad,
        "reason": check.reason,
    }


# --- Cooperatives ------------------------------------------------------------------------------


def _certification(cert: CooperativeCertification, today: date) -> JSON:
    return {
        "scheme": cert.scheme,
        "body": cert.body,
        "certificate_number": cert.certificate_number,
        "first_certified_year": cert.first_certified_year,
        "valid_from": cert.valid_from.isoformat(),
        "valid_until": day_text(cert.valid_until),
        "valid_today": cert.valid_from <= today
        and (cert.valid_until is None or today <= cert.valid_until),
        "source": cert.source,
        "demo": bool(cert.is_demo),
    }


def _membership(report: MembershipReport) -> JSON:
    return {
        "members": report.members,
        "workers": report.workers,
        "reported_on": report.reported_on.isoformat(),
        "source": report.source,
    }


def cooperative(coop: Cooperative, parent_slug: str | None, today: date) -> JSON:
    """A cooperative's public facts with their sources (never its payout account)."""
    return {
        "slug": coop.slug,
        "name": coop.name,
        "short_name": coop.short_name,
        "flo_id": coop.flo_id,
        "parent": parent_slug,
        "is_central": coop.parent_id is None,
        "demo": bool(coop.is_demo),
        "district": coop.district,
        "province": coop.province,
        "region": coop.region,
        "altitude_m": coop.altitude_m,
        "area_ha": coop.area_ha,
        "founded_on": day_text(coop.founded_on),
        "description": coop.description,
        "sources": coop.sources,
        "certifications": [_certification(c, today) for c in coop.certifications],
        "membership_reports": [_membership(r) for r in coop.membership_reports],
        "url": cooperative_url(coop.slug),
    }
