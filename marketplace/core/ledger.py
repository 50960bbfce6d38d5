"""Rules of double entry for the gold and money books (storage lives elsewhere).

Owns what makes a transaction acceptable: postings are non-zero integers, and in every unit
(``PEN``, ``USD``, ``mg_au``) they sum to zero, so nothing is created or lost. Also owns the
netting of postings and the one order in which writers lock balance rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from .errors import InvalidQuantity, UnbalancedTransaction

__all__ = ["Posting", "check_balanced", "net_postings", "sorted_for_locking"]


def _is_int(value: object) -> bool:
    """True for a real ``int`` (a bool is not a quantity)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Posting:
    """One entry of a transaction: ``amount`` units of ``unit`` into (+) or out of (−) ``account``.

    ``amount`` is an int (minor units or milligrams); a float or bool is refused here. A zero
    amount can be built (netting produces and drops them) but ``check_balanced`` refuses it.
    """

    account: Hashable
    unit: str
    amount: int

    def __post_init__(self) -> None:
        """Refuse a non-int amount and an empty unit."""
        if not _is_int(self.amount):
            raise InvalidQuantity(
                f"A posting amount must be a whole number, not {type(self.amount).__name__}"
                f" {self.amount!r}"
            )
        if not isinstance(self.unit, str) or not self.unit:
            raise InvalidQuantity(
                f"A posting needs a unit such as 'PEN' or 'mg_au', not {self.unit!r}"
            )


def check_balanced(postings: Sequence[Posting]) -> None:
    """Raise UnbalancedTransaction unless the postings form a valid double-entry transaction.

    Refused: no postings; a zero or non-int amount; any unit whose amounts do not sum to zero
    (the message names the unit and by how much it is off).
    """
    if not postings:
        raise UnbalancedTransaction("A transaction needs at least two postings; it has none")
    sums: dict[str, int] = {}
    for posting in postings:
        if not _is_int(posting.amount) or posting.amount == 0:
            raise UnbalancedTransaction(
                f"Posting to {posting.account!r} has amount {posting.amount!r}; "
                "each posting must be a non-zero whole number"
            )
        sums[posting.unit] = sums.get(posting.unit, 0) + posting.amount
    for unit, total in sums.items():
        if total != 0:
            raise UnbalancedTransaction(
                f"Postings in {unit} do not balance: they sum to {total:+d} instead of 0"
            )


def net_postings(postings: Sequence[Posting]) -> list[Posting]:
    """Merge postings to the same (account, unit), drop the ones netting to zero.

    The result keeps the order in which each (account, unit) was first seen.
    """
    totals: dict[tuple[Hashable, str], int] = {}
    for posting in postings:
        key = (posting.account, posting.unit)
        totals[key] = totals.get(key, 0) + posting.amount
    return [
        Posting(account=account, unit=unit, amount=amount)
        for (account, unit), amount in totals.items()
        if amount != 0
    ]


def sorted_for_locking(postings: Iterable[Posting]) -> list[Posting]:
    """Postings in the one order every writer locks balance rows: by (unit, str(account)).

    The sort is stable. Taking row locks in a single global order prevents deadlocks between
    concurrent transactions that touch the same accounts.
    """
    return sorted(postings, key=lambda p: (p.unit, str(p.account)))
