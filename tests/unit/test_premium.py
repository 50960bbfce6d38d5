"""The community premium: dated rates, FX, one rounding, split over lots by fine mass."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.errors import InvalidQuantity, NoRateInForce
from marketplace.core.premium import (
    DEFAULT_USD_PER_FINE_KG,
    FxRate,
    PremiumQuote,
    PremiumRate,
    community_premium,
    fx_on,
    pledge_premium,
    rate_on,
    rate_premium,
)

RATES = [
    PremiumRate(date(2025, 1, 1), Decimal("2500")),
    PremiumRate(date(2013, 8, 1), Decimal("2000")),
    PremiumRate(date(2020, 6, 15), Decimal("2200")),
]
FX = [
    FxRate("USD", "PEN", Decimal("3.70"), date(2024, 1, 1)),
    FxRate("USD", "PEN", Decimal("3.75"), date(2024, 6, 1)),
    FxRate("EUR", "PEN", Decimal("4.05"), date(2024, 6, 1)),
]

lot_masses = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.integers(min_value=0, max_value=50_000_000),
    min_size=1,
    max_size=8,
).filter(lambda masses: sum(masses.values()) > 0)
usd_per_kg = st.decimals(min_value=0, max_value=100_000, places=2)
fx_rates = st.decimals(min_value=Decimal("0.0001"), max_value=10_000, places=4)
pledges = st.decimals(min_value=0, max_value=100, places=2)


def test_18k_ring_of_5g_earns_750_us_cents_at_the_default_rate() -> None:
    assert DEFAULT_USD_PER_FINE_KG == Decimal("2000")
    assert rate_premium(3750, DEFAULT_USD_PER_FINE_KG, Decimal(1), "USD") == 750


def test_premium_in_soles_is_rounded_once_half_even() -> None:
    # 3750 mg: 7.50 USD × 3.75 = 28.125 soles = 2812.5 céntimos → 2812 (half to even).
    assert rate_premium(3750, DEFAULT_USD_PER_FINE_KG, Decimal("3.75"), "PEN") == 2812
    # 3751 mg: 750.2 cents would round to 750 and give 2812 again; exactly it is 2813.25.
    assert rate_premium(3751, DEFAULT_USD_PER_FINE_KG, Decimal("3.75"), "PEN") == 2813
    assert rate_premium(3750, DEFAULT_USD_PER_FINE_KG, Decimal("150"), "JPY") == 1125
    with pytest.raises(InvalidQuantity):
        rate_premium(3750, 2000.0, Decimal(1), "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        rate_premium(3750.0, Decimal(2000), Decimal(1), "USD")  # type: ignore[arg-type]


def test_rate_on_picks_the_dated_row() -> None:
    assert rate_on(RATES, date(2013, 8, 1)).usd_per_fine_kg == Decimal("2000")
    assert rate_on(RATES, date(2020, 6, 14)).usd_per_fine_kg == Decimal("2000")
    assert rate_on(RATES, date(2024, 12, 31)).usd_per_fine_kg == Decimal("2200")
    assert rate_on(RATES, date(2025, 1, 1)).usd_per_fine_kg == Decimal("2500")
    with pytest.raises(NoRateInForce):
        rate_on(RATES, date(2013, 7, 31))
    with pytest.raises(NoRateInForce):
        rate_on([], date(2025, 1, 1))


def test_fx_on_picks_the_latest_rate_for_the_pair() -> None:
    assert fx_on(FX, "USD", "PEN", date(2024, 5, 31)) == Decimal("3.70")
    assert fx_on(FX, "USD", "PEN", date(2024, 6, 1)) == Decimal("3.75")
    assert fx_on(FX, "EUR", "PEN", date(2024, 7, 1)) == Decimal("4.05")
    assert fx_on([], "PEN", "PEN", date(2000, 1, 1)) == Decimal(1)


def test_fx_on_refuses_a_missing_pair() -> None:
    with pytest.raises(NoRateInForce) as info:
        fx_on(FX, "PEN", "USD", date(2024, 7, 1))  # only the other direction is on file
    assert "PEN" in str(info.value) and "USD" in str(info.value)
    with pytest.raises(NoRateInForce):
        fx_on(FX, "GBP", "PEN", date(2024, 7, 1))
    with pytest.raises(NoRateInForce):
        fx_on(FX, "USD", "PEN", date(2023, 12, 31))


def test_pledge_is_a_percentage_of_the_line_price_within_0_to_100() -> None:
    assert pledge_premium(45_000, Decimal("2.5")) == 1125
    assert pledge_premium(50, Decimal(1)) == 0  # 0.5 → 0
    assert pledge_premium(150, Decimal(1)) == 2  # 1.5 → 2
    assert pledge_premium(45_000, Decimal(100)) == 45_000
    for percent in (Decimal("-0.01"), Decimal("100.01"), 2.5):
        with pytest.raises(InvalidQuantity):
            pledge_premium(45_000, percent)  # type: ignore[arg-type]


def test_premium_is_split_over_lots_by_fine_mass() -> None:
    quote = community_premium(
        {"LOT-A": 3000, "LOT-B": 1000},
        usd_per_fine_kg=Decimal(2000),
        fx=Decimal(1),
        currency="USD",
        line_price=40_000,
        pledge_percent=Decimal(1),
    )
    assert (quote.rate_part, quote.pledge_part, quote.total) == (800, 400, 1200)
    assert quote.by_key == {"LOT-A": 900, "LOT-B": 300}
    assert list(quote.by_key) == ["LOT-A", "LOT-B"]


@given(lot_masses, usd_per_kg, fx_rates, st.integers(0, 10**9), pledges)
def test_premium_split_sums_to_the_premium(
    masses: dict[str, int],
    rate: Decimal,
    fx: Decimal,
    line_price: int,
    pledge: Decimal,
) -> None:
    quote = community_premium(
        masses,
        usd_per_fine_kg=rate,
        fx=fx,
        currency="PEN",
        line_price=line_price,
        pledge_percent=pledge,
    )
    assert quote.total == quote.rate_part + quote.pledge_part
    assert sum(quote.by_key.values()) == quote.total
    assert set(quote.by_key) == set(masses)
    assert all(share >= 0 for share in quote.by_key.values())
    assert all(quote.by_key[key] == 0 for key, mg in masses.items() if mg == 0)


@given(lot_masses, usd_per_kg, fx_rates)
def test_splitting_gold_over_more_lots_does_not_change_the_premium(
    masses: dict[str, int], rate: Decimal, fx: Decimal
) -> None:
    quote = community_premium(masses, usd_per_fine_kg=rate, fx=fx, currency="PEN")
    assert quote.total == rate_premium(sum(masses.values()), rate, fx, "PEN")


def test_no_lots_means_no_premium_and_zero_gold_cannot_carry_one() -> None:
    empty: PremiumQuote[str] = community_premium(
        {}, usd_per_fine_kg=Decimal(2000), fx=Decimal(1), currency="USD"
    )
    assert (empty.total, empty.by_key) == (0, {})
    no_gold: PremiumQuote[str] = community_premium(
        {},
        usd_per_fine_kg=Decimal(2000),
        fx=Decimal(1),
        currency="USD",
        line_price=10_000,
        pledge_percent=Decimal(5),
    )
    assert (no_gold.total, no_gold.pledge_part, no_gold.by_key) == (0, 0, {})
    zero = community_premium({1: 0}, usd_per_fine_kg=Decimal(2000), fx=Decimal(1), currency="USD")
    assert (zero.total, zero.by_key) == (0, {1: 0})
    with pytest.raises(InvalidQuantity):
        community_premium(
            {1: 0, 2: 0},
            usd_per_fine_kg=Decimal(2000),
            fx=Decimal(1),
            currency="USD",
            line_price=10_000,
            pledge_percent=Decimal(5),
        )
