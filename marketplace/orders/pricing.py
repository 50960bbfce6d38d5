"""Pricing a cart: line totals, the premium per lot, the platform fee, shipping and IGV.

Pure arithmetic over loaded pieces; placing an order freezes exactly what this computes, so the
review page and the order always agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _

from marketplace.catalog.models import Piece
from marketplace.core.errors import DomainError
from marketplace.core.money import round_minor
from marketplace.premium.services import RatesInForce, piece_premium

#: Peru's sales tax on consumer prices: 16 % IGV + 2 % municipal promotion tax, included.
IGV_RATE = Decimal("0.18")


@dataclass(frozen=True)
class PremiumPart:
    """The premium of one line that goes to one lot's cooperative."""

    lot_id: int
    cooperative_id: int
    cooperative_name: str
    fine_mg: int
    amount: int


@dataclass(frozen=True)
class PricedLine:
    """A cart line priced for the order."""

    piece: Piece
    quantity: int
    line_total: int
    premium: int
    platform_fee: int
    jeweller_share: int
    premium_parts: tuple[PremiumPart, ...]


@dataclass
class PricedCart:
    """A whole cart priced: lines, shipments per jeweller, totals, IGV."""

    currency: str
    lines: list[PricedLine]
    shipping_by_jeweller: dict[int, int]
    subtotal: int
    shipping: int
    total: int
    tax_included: int
    premium_by_cooperative: dict[str, int] = field(default_factory=dict)
    #: The premium rate and exchange rate the lines were priced with (frozen on the order).
    rates: RatesInForce | None = None


def platform_fee(line_total: int, percent: Decimal) -> int:
    """The marketplace's fee on a line: ``percent`` of its total, rounded half-even."""
    return round_minor(Decimal(line_total) * percent / 100)


def tax_included(total: int, rate: Decimal = IGV_RATE) -> int:
    """The tax inside a tax-included total: total × rate / (1 + rate)."""
    return round_minor(Decimal(total) * rate / (1 + rate))


def price_cart(
    items: Sequence[tuple[Piece, int]],
    *,
    country: str,
    rates: RatesInForce,
    fee_percent: Decimal,
    shipping_rates: Mapping[str, int],
) -> PricedCart:
    """Price ``items`` ((piece, quantity) pairs) for delivery to ``country``."""
    lines: list[PricedLine] = []
    premium_by_coop: dict[str, int] = {}
    for piece, quantity in items:
        quote = piece_premium(piece, rates, quantity)
        total = piece.price_minor * quantity
        fee = platform_fee(total, fee_percent)
        share = total - quote.total - fee
        if share < 0:
            raise DomainError(
                _(
                    "%(title)s is priced below its premium and fee; it cannot be sold.",
                    title=piece.title,
                )
            )
        parts = []
        for g in piece.gold:
            coop = g.lot.cooperative
            amount = quote.by_key.get(g.lot_id, 0)
            parts.append(
                PremiumPart(g.lot_id, coop.id, coop.name, g.fine_mg_per_unit * quantity, amount)
            )
            premium_by_coop[coop.name] = premium_by_coop.get(coop.name, 0) + amount
        lines.append(PricedLine(piece, quantity, total, quote.total, fee, share, tuple(parts)))
    zone = "domestic" if country == "PE" else "international"
    if zone not in shipping_rates:
        raise DomainError(_("Shipping to that country is not available yet."))
    shipping_by_jeweller = {line.piece.jeweller_id: shipping_rates[zone] for line in lines}
    subtotal = sum(line.line_total for line in lines)
    shipping = sum(shipping_by_jeweller.values())
    total = subtotal + shipping
    return PricedCart(
        currency=rates.currency,
        rates=rates,
        lines=lines,
        shipping_by_jeweller=shipping_by_jeweller,
        subtotal=subtotal,
        shipping=shipping,
        total=total,
        tax_included=tax_included(total) if country == "PE" else 0,
        premium_by_cooperative=dict(sorted(premium_by_coop.items(), key=lambda kv: -kv[1])),
    )
