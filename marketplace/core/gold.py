"""Gold quantities: integer milligrams, fineness in parts per thousand.

Owns the karat table, the two fine-gold roundings (a piece rounds up, a lot rounds down) and the
display of gold masses. All arithmetic is on integers; fineness may carry one decimal place
(an assay of 912.4) and is handled as whole tenths, never as a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from babel.numbers import format_decimal

from .errors import InvalidQuantity, UnknownKarat
from .money import exact_context

__all__ = [
    "GOLD_UNIT",
    "KARAT_FINENESS",
    "fineness_for_karat",
    "format_grams",
    "grams",
    "lot_fine_mg",
    "piece_fine_mg",
]

GOLD_UNIT: Final = "mg_au"
"""Ledger unit of fine gold: milligrams of gold (Au)."""

KARAT_FINENESS: Final[dict[int, int]] = {24: 999, 22: 916, 18: 750, 14: 585, 10: 417, 9: 375}
"""Fineness in parts per thousand for each karat sold on the marketplace."""

_TENTHS_PER_WHOLE = 10_000  # fineness in tenths of a part per thousand: 1000.0 ‰ = 10 000


def fineness_for_karat(karat: int) -> int:
    """Fineness (parts per thousand) of a karat, e.g. 18 → 750; UnknownKarat otherwise."""
    if isinstance(karat, bool) or not isinstance(karat, int) or karat not in KARAT_FINENESS:
        allowed = ", ".join(f"{k}k" for k in sorted(KARAT_FINENESS, reverse=True))
        raise UnknownKarat(f"Unknown karat {karat!r}; allowed karats are {allowed}")
    return KARAT_FINENESS[karat]


def _fineness_tenths(fineness: int | Decimal) -> int:
    """Fineness as whole tenths of a part per thousand (912.4 → 9124), validated."""
    if isinstance(fineness, bool) or not isinstance(fineness, int | Decimal):
        raise InvalidQuantity(
            f"Fineness must be a whole number or a Decimal, not {type(fineness).__name__}"
            f" {fineness!r}"
        )
    value = Decimal(fineness)
    if not value.is_finite() or not Decimal(0) < value <= Decimal(1000):
        raise InvalidQuantity(f"Fineness must be above 0 and at most 1000 ‰, not {fineness}")
    tenths = value.scaleb(1, exact_context())
    if tenths != tenths.to_integral_value():
        raise InvalidQuantity(
            f"Fineness {fineness} has more than one decimal place (an assay reads like 912.4)"
        )
    return int(tenths)


def _gross(gross_mg: int) -> int:
    """Validate a gross mass: an int number of milligrams, zero or more."""
    if isinstance(gross_mg, bool) or not isinstance(gross_mg, int):
        raise InvalidQuantity(
            f"A mass must be a whole number of milligrams, not {type(gross_mg).__name__}"
            f" {gross_mg!r}"
        )
    if gross_mg < 0:
        raise InvalidQuantity(f"A mass cannot be negative ({gross_mg} mg)")
    return gross_mg


def piece_fine_mg(gross_mg: int, fineness: int | Decimal) -> int:
    """Fine gold in a piece: ceil(gross × fineness / 1000) mg.

    Rounded up, so a piece never claims less certified gold than it holds.
    """
    product = _gross(gross_mg) * _fineness_tenths(fineness)
    return -(-product // _TENTHS_PER_WHOLE)


def lot_fine_mg(gross_mg: int, fineness: int | Decimal) -> int:
    """Fine gold in a lot: floor(gross × fineness / 1000) mg.

    Rounded down, so a lot never offers more gold than it has.
    """
    product = _gross(gross_mg) * _fineness_tenths(fineness)
    return product // _TENTHS_PER_WHOLE


def grams(mg: int) -> Decimal:
    """Milligrams as an exact Decimal number of grams (3750 → Decimal('3.750'))."""
    if isinstance(mg, bool) or not isinstance(mg, int):
        raise InvalidQuantity(f"A mass must be a whole number of milligrams, not {mg!r}")
    return Decimal(mg).scaleb(-3, exact_context())


def format_grams(mg: int, locale: str = "es_PE") -> str:
    """A mass for display: at least two and up to three decimals, then a no-break space and "g".

    3750 mg → "3.75 g" in es_PE, "3,75 g" in es; 3751 mg → "3.751 g".
    """
    number = format_decimal(grams(mg), format="#,##0.00#", locale=locale)
    return f"{number}\xa0g"
