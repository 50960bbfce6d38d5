"""Errors of the domain core.

Owns the one exception hierarchy the rules raise. Every error carries a ``message`` a person can
read (``str(error)`` returns it), so views can show it without translating exception types.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule was broken; ``message`` says which, in words a user understands."""

    def __init__(self, message: str) -> None:
        """Keep the readable message and pass it to ``Exception`` so ``str()`` returns it."""
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        """Return the readable message."""
        return self.message


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were added, subtracted or compared."""


class UnknownKarat(DomainError):
    """A karat value that has no fineness in the table of known karats."""


class InvalidQuantity(DomainError):
    """A quantity of the wrong type (float, bool, text) or outside its allowed range."""


class InsufficientGold(DomainError):
    """An account would hold less than zero milligrams of gold."""


class InsufficientBalance(DomainError):
    """A money balance that must not go negative would go negative."""


class UnbalancedTransaction(DomainError):
    """The postings of a transaction do not sum to zero in every unit."""


class NoRateInForce(DomainError):
    """No premium rate or exchange rate applies on the requested day."""


class ChainBroken(DomainError):
    """A custody hash chain does not verify."""
