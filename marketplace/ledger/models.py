"""Accounts, transactions and their insert-only entries."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    """What an account holds. Gold accounts are per lot; money accounts per payee."""

    # gold, in mg of fine gold
    LOT_REGISTERED = "lot_registered"  # the source: minus what was ever registered
    LOT_UNALLOCATED = "lot_unallocated"  # still with the Central
    JEWELLER_HELD = "jeweller_held"  # transferred to a jeweller, not yet in a piece
    PIECE_COMMITTED = "piece_committed"  # in pieces on the shelf
    PIECE_RESERVED = "piece_reserved"  # in pieces held by unpaid orders
    LOT_SOLD = "lot_sold"  # in pieces that were sold
    # money, in minor units
    COOP_PREMIUM_PENDING = "coop_premium_pending"
    COOP_PREMIUM_AVAILABLE = "coop_premium_available"
    COOP_PREMIUM_PAID = "coop_premium_paid"
    COOP_PREMIUM_PAYING = "coop_premium_paying"  # in a payout not yet confirmed
    JEWELLER_PENDING = "jeweller_pending"
    JEWELLER_AVAILABLE = "jeweller_available"
    JEWELLER_PAYING = "jeweller_paying"  # in a payout not yet confirmed
    JEWELLER_PAID = "jeweller_paid"
    GATEWAY_CLEARING = "gateway_clearing"  # the source: minus what shoppers paid, net of refunds
    PLATFORM_FEES = "platform_fees"
    PROCESSOR_FEES = "processor_fees"


#: Accounts that may run negative: sources, the platform's own, and payees' available balances
#: (a refund after a payout is carried into the next payout as a negative balance).
MAY_GO_NEGATIVE = frozenset(
    {
        AccountKind.LOT_REGISTERED,
        AccountKind.GATEWAY_CLEARING,
        AccountKind.PLATFORM_FEES,
        AccountKind.PROCESSOR_FEES,
        AccountKind.COOP_PREMIUM_AVAILABLE,
        AccountKind.JEWELLER_AVAILABLE,
    }
)


#: Gold account kinds a lot's registered mass is spread over.
GOLD_HOLDING_KINDS = (
    AccountKind.LOT_UNALLOCATED,
    AccountKind.JEWELLER_HELD,
    AccountKind.PIECE_COMMITTED,
    AccountKind.PIECE_RESERVED,
    AccountKind.LOT_SOLD,
)


class LedgerAccount(Base):
    """An account in one unit; its balance is kept by conditional updates only."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        sa.CheckConstraint("may_go_negative OR balance >= 0", name="balance_not_negative"),
        sa.Index("ix_ledger_account_kind_lot", "kind", "lot_id"),
        # Where a lot's gold is (``lot_gold`` for a page of lots).
        sa.Index("ix_ledger_account_lot_kind", "lot_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable natural key, e.g. ``gold:jeweller_held:lot=4:jeweller=2``.
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    unit: Mapped[str] = mapped_column(sa.String(8))
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("gold_lot.id"))
    jeweller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jeweller.id"), index=True)
    piece_id: Mapped[int | None] = mapped_column(sa.ForeignKey("piece.id"), index=True)
    cooperative_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cooperative.id"), index=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    may_go_negative: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class LedgerTransaction(Base):
    """A movement: its entries sum to zero per unit."""

    __tablename__ = "ledger_transaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    memo: Mapped[str] = mapped_column(sa.String(300))
    #: Set when the movement must happen at most once (e.g. ``order:42:paid``).
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", order_by="LedgerEntry.id"
    )


class LedgerEntry(Base):
    """One side of a movement. Never updated or deleted; corrections are new transactions."""

    __tablename__ = "ledger_entry"
    __table_args__ = (sa.CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ledger_transaction.id"), index=True
    )
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_account.id"), index=True)
    unit: Mapped[str] = mapped_column(sa.String(8))
    amount: Mapped[int] = mapped_column(sa.BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()
