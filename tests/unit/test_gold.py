"""Gold: integer milligrams; a piece rounds fine gold up, a lot rounds it down."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.errors import InvalidQuantity, UnknownKarat
from marketplace.core.gold import (
    GOLD_UNIT,
    KARAT_FINENESS,
    fineness_for_karat,
    format_grams,
    grams,
    lot_fine_mg,
    piece_fine_mg,
)

gross_masses = st.integers(min_value=0, max_value=10**10)
finenesses = st.one_of(
    st.sampled_from(sorted(KARAT_FINENESS.values())),
    st.integers(min_value=1, max_value=10_000).map(lambda tenths: Decimal(tenths) / 10),
)


def exact_fine(gross_mg: int, fineness: int | Decimal) -> Fraction:
    """The exact fine mass, as a fraction of milligrams."""
    return Fraction(gross_mg) * Fraction(fineness) / 1000


def test_karats_map_to_their_fineness_and_unknown_karats_are_refused() -> None:
    assert GOLD_UNIT == "mg_au"
    expected = {24: 999, 22: 916, 18: 750, 14: 585, 10: 417, 9: 375}
    assert {k: fineness_for_karat(k) for k in expected} == expected
    with pytest.raises(UnknownKarat) as info:
        fineness_for_karat(17)
    assert "17" in str(info.value)
    for karat in ("24k", "22k", "18k", "14k", "10k", "9k"):
        assert karat in str(info.value)
    with pytest.raises(UnknownKarat):
        fineness_for_karat(18.0)  # type: ignore[arg-type]


@given(gross_masses, finenesses)
def test_piece_fine_gold_is_never_understated(gross_mg: int, fineness: int | Decimal) -> None:
    fine = piece_fine_mg(gross_mg, fineness)
    exact = exact_fine(gross_mg, fineness)
    assert exact <= fine < exact + 1


@given(gross_masses, finenesses)
def test_lot_fine_gold_is_never_overstated(gross_mg: int, fineness: int | Decimal) -> None:
    fine = lot_fine_mg(gross_mg, fineness)
    exact = exact_fine(gross_mg, fineness)
    assert exact - 1 < fine <= exact


def test_18k_ring_of_5g_holds_3750_mg_and_odd_masses_round_apart() -> None:
    assert piece_fine_mg(5000, fineness_for_karat(18)) == 3750
    assert lot_fine_mg(5000, 750) == 3750
    # 14k, 3.333 g: 1949.805 mg fine. The piece claims 1950, the lot offers 1949.
    assert piece_fine_mg(3333, 585) == 1950
    assert lot_fine_mg(3333, 585) == 1949


def test_assayed_fineness_with_one_decimal_is_used_exactly() -> None:
    assert lot_fine_mg(1_000_000, Decimal("912.4")) == 912_400
    # 1.001 g at 912.4 ‰ = 913.3124 mg
    assert piece_fine_mg(1001, Decimal("912.4")) == 914
    assert lot_fine_mg(1001, Decimal("912.4")) == 913
    assert lot_fine_mg(1001, 1000) == 1001


def test_bad_fineness_or_mass_is_refused() -> None:
    bad_fineness = [0, -750, 1001, Decimal("1000.1"), Decimal("912.45"), Decimal("NaN"), 750.0]
    for fineness in bad_fineness:
        with pytest.raises(InvalidQuantity):
            lot_fine_mg(1000, fineness)  # type: ignore[arg-type]
    for gross in (-1, 5000.0, True):
        with pytest.raises(InvalidQuantity):
            piece_fine_mg(gross, 750)  # type: ignore[arg-type]


def test_masses_display_in_grams_with_two_to_three_decimals() -> None:
    assert grams(3750) == Decimal("3.75")
    assert grams(1) == Decimal("0.001")
    assert format_grams(3750) == "3.75\xa0g"
    assert format_grams(3751) == "3.751\xa0g"
    assert format_grams(3750, "es") == "3,75\xa0g"
    assert format_grams(1_234_500) == "1,234.50\xa0g"
    with pytest.raises(InvalidQuantity):
        grams(3.75)  # type: ignore[arg-type]
