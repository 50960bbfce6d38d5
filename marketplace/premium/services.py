"""The community premium of a piece, from the dated rate and exchange rate rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.core import premium as rules
from marketplace.core.premium import PremiumQuote
from marketplace.extensions import db
from marketplace.premium.models import FxRate, PremiumPolicy


@dataclass(frozen=True)
class RatesInForce:
    """The premium rate and exchange rate that apply on a day, for one currency."""

    day: date
    usd_per_fine_kg: Decimal
    fx: Decimal
    currency: str


def rates_on(day: date, currency: str) -> RatesInForce:
    """Read the rate and FX rows in force on ``day`` (raises ``NoRateInForce`` if none)."""
    policies = db.session.scalars(
        sa.select(PremiumPolicy).where(PremiumPolicy.effective_from <= day)
    ).all()
    rate = rules.rate_on(
        [rules.PremiumRate(p.effective_from, p.usd_per_fine_kg) for p in policies], day
    )
    fx = Decimal(1)
    if currency != "USD":
        rows = db.session.scalars(
            sa.select(FxRate).where(
                FxRate.base == "USD", FxRate.quote == currency, FxRate.effective_on <= day
            )
        ).all()
        fx = rules.fx_on(
            [rules.FxRate(r.base, r.quote, r.rate, r.effective_on) for r in rows],
            "USD",
            currency,
            day,
        )
    return RatesInForce(day=day, usd_per_fine_kg=rate.usd_per_fine_kg, fx=fx, currency=currency)


def piece_premium(piece: Piece, rates: RatesInForce, quantity: int = 1) -> PremiumQuote[int]:
    """The premium of ``quantity`` units of a piece, split by lot id (by fine mass)."""
    return rules.community_premium(
        {g.lot_id: g.fine_mg_per_unit * quantity for g in piece.gold},
        usd_per_fine_kg=rates.usd_per_fine_kg,
        fx=rates.fx,
        currency=rates.currency,
        line_price=piece.price_minor * quantity,
        pledge_percent=piece.jeweller.pledge_percent,
    )


def premium_by_cooperative(piece: Piece, quote: PremiumQuote[int]) -> list[tuple[str, str, int]]:
    """(cooperative slug, name, amount) for a quote, largest first, from the piece's lots."""
    totals: dict[int, int] = {}
    names: dict[int, tuple[str, str]] = {}
    for g in piece.gold:
        coop = g.lot.cooperative
        totals[coop.id] = totals.get(coop.id, 0) + quote.by_key.get(g.lot_id, 0)
        names[coop.id] = (coop.slug, coop.name)
    ordered = sorted(totals.items(), key=lambda item: (-item[1], names[item[0]][1]))
    return [(names[cid][0], names[cid][1], amount) for cid, amount in ordered]
