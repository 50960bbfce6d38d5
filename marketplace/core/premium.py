"""The community premium: dated rates, exchange rates and the premium on a sale.

Owns how the marketplace's community premium is computed and split. This premium is an *extra*
paid by the marketplace out of the sale price to the cooperatives whose gold is in the piece. It
is NOT the Fairtrade Premium, which is paid by the first buyer of the gold (the premium payer);
its default rate merely borrows the Fairtrade gold premium figure.

premium = fine gold × rate per fine kg × FX (+ the jeweller's optional pledge % of the line
price), rounded once, half-even, then split across lots by fine mass with ``allocate``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from .errors import InvalidQuantity, NoRateInForce
from .money import allocate, exact_context, minor_exponent, round_minor

__all__ = [
    "DEFAULT_USD_PER_FINE_KG",
    "FxRate",
    "PremiumQuote",
    "PremiumRate",
    "community_premium",
    "fx_on",
    "pledge_premium",
    "rate_on",
    "rate_premium",
]

K = TypeVar("K", bound=Hashable)

DEFAULT_USD_PER_FINE_KG = Decimal("2000")
"""Default community premium rate: USD 2,000 per kg of fine gold.

This is the figure of the Fairtrade gold premium since 2013-08-01. The marketplace's community
premium is NOT the Fairtrade Premium (that one is paid by the first buyer of the gold); it is an
additional premium the marketplace routes to the cooperatives.
"""

_MG_PER_KG_EXPONENT = 6  # 1 kg = 10**6 mg


def _rate(value: object, what: str, *, positive: bool = False) -> Decimal:
    """Validate a rate: a finite Decimal (or int) ≥ 0 (> 0 if ``positive``); never a float."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidQuantity(f"{what} must be a Decimal, not {type(value).__name__} {value!r}")
    result = Decimal(value)
    if not result.is_finite() or result < 0 or (positive and result == 0):
        bound = "above zero" if positive else "zero or more"
        raise InvalidQuantity(f"{what} must be a finite number {bound}, not {value}")
    return result


def _mg(value: object, what: str) -> int:
    """Validate a mass of fine gold: an int number of milligrams, zero or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuantity(f"{what} must be a whole number of milligrams ≥ 0, not {value!r}")
    return value


@dataclass(frozen=True)
class PremiumRate:
    """A dated premium policy row: from ``effective_from`` on, USD ``usd_per_fine_kg``."""

    effective_from: date
    usd_per_fine_kg: Decimal

    def __post_init__(self) -> None:
        """Refuse a rate that is not a non-negative Decimal."""
        _rate(self.usd_per_fine_kg, "The premium rate")


@dataclass(frozen=True)
class FxRate:
    """A dated exchange rate: 1 ``base`` = ``rate`` ``quote`` on ``effective_on`` and after."""

    base: str
    quote: str
    rate: Decimal
    effective_on: date

    def __post_init__(self) -> None:
        """Refuse unknown currencies and a rate that is not a positive Decimal."""
        minor_exponent(self.base)
        minor_exponent(self.quote)
        _rate(self.rate, f"The {self.base}→{self.quote} exchange rate", positive=True)


def rate_on(rates: Iterable[PremiumRate], day: date) -> PremiumRate:
    """The premium rate in force on ``day``: the latest with ``effective_from`` ≤ ``day``.

    If two rows share that date the later one in ``rates`` wins. NoRateInForce if none applies.
    """
    found: PremiumRate | None = None
    for rate in rates:
        if rate.effective_from <= day and (
            found is None or rate.effective_from >= found.effective_from
        ):
            found = rate
    if found is None:
        raise NoRateInForce(f"No community premium rate is in force on {day.isoformat()}")
    return found


def fx_on(rates: Iterable[FxRate], base: str, quote: str, day: date) -> Decimal:
    """How many ``quote`` one ``base`` buys on ``day`` (1 when they are the same currency).

    The latest rate for exactly that pair with ``effective_on`` ≤ ``day``; the inverse pair is not
    used (that would need a second rounding). NoRateInForce if none applies.
    """
    if base == quote:
        return Decimal(1)
    found: FxRate | None = None
    for fx in rates:
        if (
            fx.base == base
            and fx.quote == quote
            and fx.effective_on <= day
            and (found is None or fx.effective_on >= found.effective_on)
        ):
            found = fx
    if found is None:
        raise NoRateInForce(f"No {base}→{quote} exchange rate is in force on {day.isoformat()}")
    return found.rate


def rate_premium(fine_mg: int, usd_per_fine_kg: Decimal, fx: Decimal, currency: str) -> int:
    """Premium on ``fine_mg`` of fine gold, in minor units of ``currency``.

    fine_mg / 1 000 000 × usd_per_fine_kg × fx × 10**exponent, computed exactly and rounded once,
    half-even. 3750 mg at USD 2000/kg with fx 1 → 750 US cents.
    """
    mass = _mg(fine_mg, "Fine gold")
    rate = _rate(usd_per_fine_kg, "The premium rate")
    factor = _rate(fx, "The exchange rate", positive=True)
    ctx = exact_context()
    minor = ctx.multiply(ctx.multiply(Decimal(mass), rate), factor)
    # scaleb by a power of ten is exact; a Decimal division at MAX_PREC is not safe to run.
    minor = minor.scaleb(minor_exponent(currency) - _MG_PER_KG_EXPONENT, ctx)
    return round_minor(minor)


def pledge_premium(line_price: int, pledge_percent: Decimal) -> int:
    """The jeweller's optional pledge: ``pledge_percent`` % of ``line_price``, rounded half-even."""
    if isinstance(line_price, bool) or not isinstance(line_price, int) or line_price < 0:
        raise InvalidQuantity(f"A line price must be whole minor units ≥ 0, not {line_price!r}")
    percent = _rate(pledge_percent, "The pledge percentage")
    if percent > 100:
        raise InvalidQuantity(f"The pledge percentage must be between 0 and 100, not {percent}")
    ctx = exact_context()
    return round_minor(ctx.multiply(Decimal(line_price), percent).scaleb(-2, ctx))


@dataclass(frozen=True)
class PremiumQuote(Generic[K]):
    """A computed premium: ``total`` = ``rate_part`` + ``pledge_part``, split in ``by_key``.

    ``by_key`` (e.g. lot id → minor units) always sums to ``total`` exactly.
    """

    total: int
    by_key: dict[K, int]
    rate_part: int
    pledge_part: int


def community_premium(
    fine_mg_by_key: Mapping[K, int],
    *,
    usd_per_fine_kg: Decimal,
    fx: Decimal,
    currency: str,
    line_price: int = 0,
    pledge_percent: Decimal = Decimal(0),
) -> PremiumQuote[K]:
    """The community premium on a line and its split across lots by fine mass.

    The rate part is computed once on the summed fine gold (so splitting a piece's gold over more
    lots never changes the premium), the pledge part on the line price; their total is shared out
    over the keys in proportion to fine mass with ``allocate`` (ties to the earlier key).
    An empty mapping gives a zero quote; a positive premium on zero fine gold cannot be split and
    raises InvalidQuantity.
    """
    masses = {key: _mg(mg, f"Fine gold for {key!r}") for key, mg in fine_mg_by_key.items()}
    rate_part = rate_premium(sum(masses.values()), usd_per_fine_kg, fx, currency)
    pledge_part = pledge_premium(line_price, pledge_percent)
    total = rate_part + pledge_part
    if not masses:
        return PremiumQuote(total=0, by_key={}, rate_part=0, pledge_part=0)
    weights = list(masses.values())
    if sum(weights) == 0:
        if total:
            raise InvalidQuantity("A premium cannot be routed to lots that contribute no fine gold")
        parts = [0] * len(weights)
    else:
        parts = allocate(total, weights)
    return PremiumQuote(
        total=total,
        by_key=dict(zip(masses, parts, strict=True)),
        rate_part=rate_part,
        pledge_part=pledge_part,
    )
