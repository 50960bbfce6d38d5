"""Money: integer minor units, one half-even rounding, largest-remainder splits, display."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.errors import CurrencyMismatch, DomainError, InvalidQuantity
from marketplace.core.money import (
    Money,
    allocate,
    format_money,
    minor_exponent,
    round_minor,
    to_minor,
)

totals = st.integers(min_value=0, max_value=10**12)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0
)


def plain(text: str) -> str:
    """Babel's no-break spaces as ordinary spaces, for readable expectations."""
    return text.replace("\xa0", " ")


def test_money_refuses_floats_bools_and_unknown_currencies() -> None:
    with pytest.raises(InvalidQuantity):
        Money(12.5, "PEN")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        Money(True, "PEN")
    with pytest.raises(InvalidQuantity):
        Money(100, "XYZ")
    with pytest.raises(InvalidQuantity):
        Money(100, "pen")
    assert Money(100, "PEN").amount == 100


def test_soles_and_dollars_cannot_be_added_or_compared() -> None:
    soles, dollars = Money(100, "PEN"), Money(100, "USD")
    with pytest.raises(CurrencyMismatch) as info:
        soles + dollars  # noqa: B018
    assert "PEN" in str(info.value) and "USD" in str(info.value)
    with pytest.raises(CurrencyMismatch):
        soles - dollars  # noqa: B018
    with pytest.raises(CurrencyMismatch):
        soles < dollars  # noqa: B015
    assert soles != dollars


def test_money_arithmetic_within_one_currency() -> None:
    a, b = Money(1050, "PEN"), Money(250, "PEN")
    assert a + b == Money(1300, "PEN")
    assert a - b == Money(800, "PEN")
    assert -b == Money(-250, "PEN")
    assert b < a and a > b and a >= a and b <= b
    assert Money.zero("PEN") + a == a


def test_major_units_convert_exactly_by_the_currency_exponent() -> None:
    assert minor_exponent("PEN") == 2 and minor_exponent("JPY") == 0 and minor_exponent("KWD") == 3
    assert Money(123450, "PEN").to_decimal() == Decimal("1234.50")
    assert Money(1234, "JPY").to_decimal() == Decimal("1234")
    assert Money.from_decimal("1234.50", "PEN") == Money(123450, "PEN")
    assert Money.from_decimal(Decimal("7.5"), "USD") == Money(750, "USD")
    assert Money.from_decimal(12, "JPY") == Money(12, "JPY")
    assert Money.from_decimal("0.125", "PEN") == Money(12, "PEN")  # half-even, once
    with pytest.raises(InvalidQuantity):
        Money.from_decimal(12.5, "PEN")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        Money.from_decimal("twelve", "PEN")


def test_round_minor_rounds_half_to_even_and_refuses_floats() -> None:
    assert [round_minor(Decimal(v)) for v in ("2.5", "3.5", "-2.5", "2.5001", "0.4999")] == [
        2,
        4,
        -2,
        3,
        0,
    ]
    assert to_minor(Decimal("28.125"), "PEN") == 2812
    assert to_minor(Decimal("28.135"), "PEN") == 2814
    with pytest.raises(DomainError):
        round_minor(2.5)  # type: ignore[arg-type]


@given(totals, weight_lists)
def test_allocation_parts_always_sum_to_the_whole(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total


@given(totals, weight_lists)
def test_no_part_is_negative_for_a_positive_total(total: int, weights: list[int]) -> None:
    assert all(part >= 0 for part in allocate(total, weights))


@given(st.integers(min_value=-(10**12), max_value=10**12), weight_lists)
def test_each_part_is_within_one_unit_of_its_exact_share(total: int, weights: list[int]) -> None:
    whole = sum(weights)
    for part, weight in zip(allocate(total, weights), weights, strict=True):
        assert abs(part - Fraction(total * weight, whole)) < 1
        if weight == 0:
            assert part == 0
    # A refund (negative total) splits as the mirror image of the charge.
    assert allocate(-total, weights) == [-part for part in allocate(total, weights)]


def test_leftover_units_go_to_the_largest_remainders_ties_to_the_lower_index() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(5, [1, 2]) == [2, 3]  # 1.67 and 3.33: the larger remainder gets the unit
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    assert allocate(7, [0, 3, 0, 4]) == [0, 3, 0, 4]


def test_split_weights_must_be_non_negative_whole_numbers_with_a_positive_sum() -> None:
    for weights in ([], [0, 0], [3, -1], [1.5, 2]):
        with pytest.raises(InvalidQuantity):
            allocate(10, weights)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        allocate(10.0, [1, 2])  # type: ignore[arg-type]


def test_format_money_peruvian_soles() -> None:
    assert plain(format_money(Money(123450, "PEN"))) == "S/ 1,234.50"
    assert format_money(Money(123450, "PEN")) == "S/\xa01,234.50"  # keeps the no-break space
    # Soles are written the Peruvian way whatever the interface language.
    assert plain(format_money(Money(123450, "PEN"), "en_US")) == "S/ 1,234.50"
    assert plain(format_money(Money(123450, "PEN"), "de_DE")) == "S/ 1,234.50"


def test_format_money_other_currencies_follow_the_interface_locale() -> None:
    assert format_money(Money(123450, "USD"), "en_US") == "$1,234.50"
    assert plain(format_money(Money(123450, "EUR"), "de_DE")) == "1.234,50 €"
