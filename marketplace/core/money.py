"""Money: integer minor units with an ISO 4217 currency code.

Owns the ``Money`` value, the single rounding rule for money (``round_minor``, half-even), the
largest-remainder split (``allocate``) used whenever an amount is shared out, and money display.
Amounts are ``int`` minor units (céntimos, cents); rates are ``Decimal``; floats are refused.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from babel.numbers import format_currency, get_currency_precision, is_currency

from .errors import CurrencyMismatch, InvalidQuantity

__all__ = [
    "Money",
    "allocate",
    "exact_context",
    "format_money",
    "minor_exponent",
    "round_minor",
    "to_minor",
]

PERUVIAN_SOL = "PEN"
PERUVIAN_LOCALE = "es_PE"


def exact_context() -> decimal.Context:
    """Return a Decimal context in which +, -, × and scaleb are exact (inexact results raise)."""
    return decimal.Context(
        prec=decimal.MAX_PREC,
        Emax=decimal.MAX_EMAX,
        Emin=decimal.MIN_EMIN,
        traps=[decimal.InvalidOperation, decimal.Inexact, decimal.Overflow, decimal.DivisionByZero],
    )


def _check_int(value: object, what: str) -> int:
    """Return ``value`` if it is a real ``int`` (not a bool), else raise InvalidQuantity."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuantity(
            f"{what} must be a whole number of minor units, not {type(value).__name__} {value!r}"
        )
    return value


def _check_currency(currency: object) -> str:
    """Return ``currency`` if it is a known upper-case ISO 4217 code, else raise."""
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidQuantity(f"{currency!r} is not a known ISO 4217 currency code (e.g. 'PEN')")
    return currency


def _check_decimal(value: object, what: str) -> Decimal:
    """Return ``value`` as a finite Decimal; ints are exact, floats and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidQuantity(f"{what} must be a Decimal, not {type(value).__name__} {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise InvalidQuantity(f"{what} must be a finite number, not {value!r}")
    return result


def minor_exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (PEN 2, USD 2, JPY 0)."""
    return int(get_currency_precision(_check_currency(currency)))


def round_minor(value: Decimal) -> int:
    """Round an amount already expressed in minor units to an int, half to even.

    This is THE one place where money is rounded. Callers compute exactly (``Decimal``) and round
    once, here. ``int`` is accepted as already exact; floats are refused.
    """
    exact = _check_decimal(value, "An amount to round")
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def to_minor(major: Decimal, currency: str) -> int:
    """Convert an amount in major units (soles, dollars) to minor units, rounding half-even."""
    exact = _check_decimal(major, "An amount")
    return round_minor(exact.scaleb(minor_exponent(currency), exact_context()))


@dataclass(frozen=True)
class Money:
    """An amount of money: ``amount`` integer minor units of the ISO 4217 ``currency``."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        """Refuse non-int amounts (floats, bools) and unknown currency codes."""
        _check_int(self.amount, "An amount of money")
        _check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``."""
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, currency: str) -> Money:
        """Build from an amount in major units ("1234.50" soles), rounding half-even once."""
        if isinstance(value, str):
            try:
                parsed = Decimal(value.strip())
            except decimal.InvalidOperation:
                raise InvalidQuantity(f"{value!r} is not an amount of money") from None
        else:
            parsed = _check_decimal(value, "An amount of money")
        return cls(to_minor(parsed, currency), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (123450 PEN → Decimal('1234.50'))."""
        return Decimal(self.amount).scaleb(-minor_exponent(self.currency), exact_context())

    def _same_currency(self, other: Money, verb: str) -> None:
        """Raise CurrencyMismatch unless ``other`` has this currency."""
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot {verb} {self.currency} and {other.currency} amounts; convert first"
            )

    def __add__(self, other: Any) -> Money:
        """Sum of two amounts in the same currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Any) -> Money:
        """Difference of two amounts in the same currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        """The opposite amount (a refund of this amount)."""
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Any) -> bool:
        """Less than, within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Any) -> bool:
        """Less than or equal, within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: Any) -> bool:
        """Greater than, within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: Any) -> bool:
        """Greater than or equal, within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount >= other.amount

    def __str__(self) -> str:
        """The amount formatted for display (see ``format_money``)."""
        return format_money(self)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` (largest remainder method).

    Each part starts as floor(total × w / W); the units left over go one each to the parts with
    the largest remainders, ties to the lower index. The parts always sum to ``total``, each is
    within one unit of its exact share, a zero weight gets zero, and no part is negative when
    ``total`` is not. A negative ``total`` is split as ``-total`` and negated.
    """
    _check_int(total, "The total to split")
    checked = [_check_int(w, "A weight") for w in weights]
    if any(w < 0 for w in checked):
        raise InvalidQuantity("Weights for a split cannot be negative")
    whole = sum(checked)
    if whole <= 0:
        raise InvalidQuantity("Cannot split an amount over weights that sum to zero")
    if total < 0:
        return [-part for part in allocate(-total, checked)]
    parts = [total * w // whole for w in checked]
    remainders = [total * w % whole for w in checked]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(checked)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts


def format_money(money: Money, locale: str = PERUVIAN_LOCALE) -> str:
    """Format for display with babel; soles are always written the Peruvian way ("S/ 1,234.50").

    Other currencies follow ``locale``. Babel's no-break space between symbol and number is kept.
    """
    use_locale = PERUVIAN_LOCALE if money.currency == PERUVIAN_SOL else locale
    return str(format_currency(money.to_decimal(), money.currency, locale=use_locale))
