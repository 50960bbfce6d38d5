"""Premium figures read from the money ledger (never computed from orders or invented)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount


@dataclass
class PremiumTotals:
    """A cooperative's community premium in one currency, in minor units."""

    currency: str
    pending: int = 0
    available: int = 0
    paid: int = 0

    @property
    def earned(self) -> int:
        """Everything booked so far: pending + available + paid."""
        return self.pending + self.available + self.paid


_PREMIUM_KINDS = {
    AccountKind.COOP_PREMIUM_PENDING.value: "pending",
    AccountKind.COOP_PREMIUM_AVAILABLE.value: "available",
    AccountKind.COOP_PREMIUM_PAID.value: "paid",
}


def premium_by_cooperative(
    cooperative_ids: Iterable[int] | None = None, currency: str = "PEN"
) -> dict[int, PremiumTotals]:
    """Premium balances per cooperative in one grouped query."""
    stmt = (
        sa.select(
            LedgerAccount.cooperative_id, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance)
        )
        .where(LedgerAccount.kind.in_(list(_PREMIUM_KINDS)), LedgerAccount.unit == currency)
        .group_by(LedgerAccount.cooperative_id, LedgerAccount.kind)
    )
    if cooperative_ids is not None:
        stmt = stmt.where(LedgerAccount.cooperative_id.in_(list(cooperative_ids)))
    result: dict[int, PremiumTotals] = {}
    for coop_id, kind, total in db.session.execute(stmt):
        if coop_id is None:
            continue
        totals = result.setdefault(int(coop_id), PremiumTotals(currency))
        setattr(totals, _PREMIUM_KINDS[kind], int(total))
    return result


def premium_totals(cooperative_ids: Iterable[int], currency: str = "PEN") -> PremiumTotals:
    """The premium of several cooperatives added together."""
    total = PremiumTotals(currency)
    for figures in premium_by_cooperative(cooperative_ids, currency).values():
        total.pending += figures.pending
        total.available += figures.available
        total.paid += figures.paid
    return total
