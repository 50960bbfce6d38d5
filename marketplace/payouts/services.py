"""Payout runs: what each cooperative and jeweller may be paid, booked once per month, sent by
a payout provider, settled with the bank's or Stripe's reference.

The money moves through the payee's accounts, one ledger transaction per step:

    available ──reserve──> paying ──paid──> paid
        ^                    │
        └──────failed────────┘      (a retry reserves again: available → paying)

- ``run_payouts`` books one ``Payout`` per payee whose available balance reaches
  ``PAYOUT_MINIMUM_MINOR`` (and that has none for the month yet), moving the balance to "paying"
  in the same savepoint; then, once that is committed, asks each payout's provider to send it.
  A Stripe transfer is only ever requested for a payout row that is already committed, so a
  crash or a failed commit can never leave a transfer without the payout that explains it.
- A cooperative's premium sits in one account per lot. Its payout empties every lot account
  exactly: a lot left negative by a refund after an earlier payout is netted against the
  positive lots of the same cooperative (largest remainder), so the amount paid is the
  cooperative's net balance. A payee whose net balance is negative is not paid: the debt stays in
  the same accounts and the next earnings pay it back first.
- Stripe's idempotency key is ``payout-<id>-<attempts>``: a retry after a lost answer asks with
  the same key (Stripe answers with the first result, so nothing is paid twice); only after a
  definite refusal is ``attempts`` counted up, and the retry is a new request.
- Status changes are compare-and-set updates (``WHERE status = ...``), so two admins (or a
  click and a command) acting on one payout move its money once.

Services flush and never commit, except through the ``commit`` callable a caller passes to
``run_payouts`` / ``send_payouts`` for the commit that must precede a provider's call.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from marketplace.catalog.models import Jeweller
from marketplace.core.errors import DomainError
from marketplace.core.money import Money, allocate, format_money, minor_exponent
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.services import AccountRef, money_account, post_transaction
from marketplace.payments.gateways import GatewayUnavailable
from marketplace.payouts.models import Payout
from marketplace.payouts.providers import (
    BANK_TRANSFER,
    SendResult,
    provider_name_for,
    provider_named,
)
from marketplace.provenance.models import Cooperative

#: S/ 50.00: below this a payout costs more to send than it is worth; the balance waits.
DEFAULT_MINIMUM_MINOR = 5000

#: The header of the Central's bank file.
BANK_FILE_HEADER = ("payee", "account_holder", "bank", "cci", "amount", "currency", "reference")

Progress = Callable[[str], None]

_PERIOD = re.compile(r"(\d{4})-(\d{1,2})")

#: The accounts a payout moves through, per kind of payee.
_STAGES: dict[str, dict[str, AccountKind]] = {
    "cooperative": {
        "available": AccountKind.COOP_PREMIUM_AVAILABLE,
        "paying": AccountKind.COOP_PREMIUM_PAYING,
        "paid": AccountKind.COOP_PREMIUM_PAID,
    },
    "jeweller": {
        "available": AccountKind.JEWELLER_AVAILABLE,
        "paying": AccountKind.JEWELLER_PAYING,
        "paid": AccountKind.JEWELLER_PAID,
    },
}


def status_word(status: str) -> str:
    """A payout's status ("pending", "paid", "failed") in the page's language."""
    words = {"pending": _("pending"), "paid": _("paid"), "failed": _("failed")}
    return words.get(status, status)


class PayoutError(DomainError):
    """A refused payout action; ``field`` names the form field the message is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        """Keep the message and the field it belongs to."""
        super().__init__(message)
        self.field = field


# --- Settings and periods --------------------------------------------------------------------


def payout_currency() -> str:
    """The currency payouts are made in (``PAYOUT_CURRENCY``, else ``PLATFORM_CURRENCY``)."""
    config = current_app.config
    return str(config.get("PAYOUT_CURRENCY") or config.get("PLATFORM_CURRENCY") or "PEN")


def payout_minimum() -> int:
    """The smallest balance paid out, in minor units (``PAYOUT_MINIMUM_MINOR``)."""
    return int(current_app.config.get("PAYOUT_MINIMUM_MINOR", DEFAULT_MINIMUM_MINOR))


def money_text(amount_minor: int, currency: str) -> str:
    """An amount for messages and command output ("S/ 1,234.50")."""
    return format_money(Money(amount_minor, currency))


def major_units(amount_minor: int, currency: str) -> str:
    """An amount in major units with the currency's decimals, as banks read it ("1234.50")."""
    places = minor_exponent(currency)
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"


def last_month(today: date | None = None) -> str:
    """The month before ``today`` (UTC), as ``YYYY-MM``: the month a run normally pays."""
    today = today or utcnow().date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def parse_period(text: str | None, *, today: date | None = None) -> str:
    """A payout month ``YYYY-MM``: a real month that has begun; PayoutError says what is wrong."""
    raw = (text or "").strip()
    if not raw:
        raise PayoutError(_("Enter the month, as YYYY-MM (e.g. %(example)s).",
                            example=last_month(today)), "period")
    match = _PERIOD.fullmatch(raw)
    if match is None:
        raise PayoutError(
            _("“%(text)s” is not a month: write it as YYYY-MM, e.g. %(example)s.",
              text=raw[:20], example=last_month(today)),
            "period",
        )
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise PayoutError(_("There is no month %(month)s: months run from 01 to 12.", month=month),
                          "period")
    if year < 2000:
        raise PayoutError(_("%(year)s is long before the shop opened; check the year.", year=year),
                          "period")
    today = today or utcnow().date()
    if (year, month) > (today.year, today.month):
        raise PayoutError(
            _("%(period)s has not begun yet: payouts are run for this month or an earlier one.",
              period=f"{year:04d}-{month:02d}"),
            "period",
        )
    return f"{year:04d}-{month:02d}"


# --- What is owed ----------------------------------------------------------------------------


@dataclass
class PayeeBalance:
    """A payee's available money: per lot for a cooperative, one account for a jeweller."""

    payee_key: str
    cooperative_id: int | None
    jeweller_id: int | None
    #: (lot id, balance) of each available account that is not zero.
    parts: list[tuple[int | None, int]] = field(default_factory=list)
    name: str = ""

    @property
    def kind(self) -> str:
        """"cooperative" or "jeweller"."""
        return "cooperative" if self.cooperative_id is not None else "jeweller"

    @property
    def total(self) -> int:
        """The net available balance."""
        return sum(amount for _, amount in self.parts)


def _available_balances(currency: str) -> list[PayeeBalance]:
    """Every payee's non-zero available accounts, read with their rows locked.

    The lock (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway) makes a second run
    started meanwhile wait, then read what this one left, so two runs (even for different months)
    never book the same money twice. Rows are locked in key order, the order every ledger writer
    locks them in.
    """
    kinds = [_STAGES["cooperative"]["available"].value, _STAGES["jeweller"]["available"].value]
    rows = db.session.execute(
        sa.select(
            LedgerAccount.cooperative_id,
            LedgerAccount.jeweller_id,
            LedgerAccount.lot_id,
            LedgerAccount.balance,
        )
        .where(
            LedgerAccount.kind.in_(kinds),
            LedgerAccount.unit == currency,
            LedgerAccount.balance != 0,
        )
        .order_by(LedgerAccount.key)
        .with_for_update()
    ).all()
    payees: dict[str, PayeeBalance] = {}
    for cooperative_id, jeweller_id, lot_id, balance in rows:
        if cooperative_id is not None:
            key = f"cooperative:{cooperative_id}"
            payee = payees.setdefault(key, PayeeBalance(key, int(cooperative_id), None))
        elif jeweller_id is not None:
            key = f"jeweller:{jeweller_id}"
            payee = payees.setdefault(key, PayeeBalance(key, None, int(jeweller_id)))
        else:  # pragma: no cover - available accounts always name their payee
            continue
        payee.parts.append((None if lot_id is None else int(lot_id), int(balance)))
    ordered = sorted(
        payees.values(),
        key=lambda p: (p.kind != "cooperative", p.cooperative_id or p.jeweller_id or 0),
    )
    for payee in ordered:
        payee.parts.sort(key=lambda part: (part[0] is None, part[0] or 0))
        payee.name = _name_of(payee.cooperative_id, payee.jeweller_id)
    return ordered


def _name_of(cooperative_id: int | None, jeweller_id: int | None) -> str:
    """A payee's name."""
    if cooperative_id is not None:
        coop = db.session.get(Cooperative, cooperative_id)
        return coop.name if coop else f"cooperative {cooperative_id}"
    jeweller = db.session.get(Jeweller, jeweller_id)
    return jeweller.business_name if jeweller else f"jeweller {jeweller_id}"


def _account(kind: str, stage: str, currency: str, *, cooperative_id: int | None,
             jeweller_id: int | None, lot_id: int | None, label: str = "") -> AccountRef:
    """One of a payee's money accounts (a cooperative's are per lot)."""
    if kind == "cooperative":
        return money_account(_STAGES[kind][stage], currency, cooperative_id=cooperative_id,
                             lot_id=lot_id, label=label)
    return money_account(_STAGES[kind][stage], currency, jeweller_id=jeweller_id, label=label)


def _reserve_postings(payee: PayeeBalance, currency: str) -> list[tuple[AccountRef, int]]:
    """Empty each available account of the payee exactly; its net total goes to "paying".

    Lots left negative are made whole from the positive lots of the same payee, and the net is
    spread over the positive lots in proportion (largest remainder), so no paying account is
    ever negative and the parts sum to the payout.
    """
    coop, jeweller = payee.cooperative_id, payee.jeweller_id
    postings: list[tuple[AccountRef, int]] = [
        (_account(payee.kind, "available", currency, cooperative_id=coop, jeweller_id=jeweller,
                  lot_id=lot_id), -amount)
        for lot_id, amount in payee.parts
    ]
    positive = [(lot_id, amount) for lot_id, amount in payee.parts if amount > 0]
    shares = allocate(payee.total, [amount for _, amount in positive])
    postings += [
        (_account(payee.kind, "paying", currency, cooperative_id=coop, jeweller_id=jeweller,
                  lot_id=lot_id), share)
        for (lot_id, _), share in zip(positive, shares, strict=True)
        if share
    ]
    return postings


def _reserve_key(payout: Payout) -> str:
    return f"payout:{payout.id}:reserve"


# --- A run -----------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run did, payee by payee."""

    period: str
    currency: str
    minimum_minor: int
    created: list[Payout] = field(default_factory=list)
    #: Payouts of the month made before this run (or by a run racing this one).
    already_paid: list[Payout] = field(default_factory=list)
    below_minimum: list[PayeeBalance] = field(default_factory=list)
    #: Payees that owe money back (refunds after a payout): carried to their next earnings.
    carried: list[PayeeBalance] = field(default_factory=list)
    #: Payees paid for the month already whose newer money waits for the next month's run.
    next_period: list[PayeeBalance] = field(default_factory=list)
    #: Bank payouts made but left out of the bank file: the payee has no bank details.
    missing_details: list[Payout] = field(default_factory=list)
    paid: list[Payout] = field(default_factory=list)
    failed: list[Payout] = field(default_factory=list)
    unknown: list[Payout] = field(default_factory=list)
    sent: bool = False

    @property
    def total_minor(self) -> int:
        """What the payouts created by this run add up to."""
        return sum(p.amount_minor for p in self.created)

    @property
    def send_failed(self) -> bool:
        """Whether any payout could not be sent (refused, or its outcome is unknown)."""
        return bool(self.failed or self.unknown)

    def text(self) -> str:
        """One paragraph for the command line and the console."""
        parts = [
            f"{len(self.created)} payout(s) created for {self.period}, "
            f"{money_text(self.total_minor, self.currency)} in all",
            f"{len(self.below_minimum)} below the minimum of "
            f"{money_text(self.minimum_minor, self.currency)}",
            f"{len(self.already_paid)} already paid for {self.period}",
        ]
        if self.carried:
            parts.append(f"{len(self.carried)} owing money back (carried to the next payout)")
        if self.next_period:
            parts.append(f"{len(self.next_period)} with newer money for the next month's run")
        if self.missing_details:
            parts.append(f"{len(self.missing_details)} missing payout details (not in the bank "
                         "file)")
        if self.sent:
            parts.append(
                f"sent: {len(self.paid)} paid, {len(self.failed)} failed, "
                f"{len(self.unknown)} without an answer"
            )
        return "; ".join(parts) + "."

    def counts(self) -> dict[str, Any]:
        """Figures for the audit trail."""
        return {
            "period": self.period,
            "created": [p.id for p in self.created],
            "total_minor": self.total_minor,
            "currency": self.currency,
            "below_minimum": len(self.below_minimum),
            "already_paid": len(self.already_paid),
            "carried": len(self.carried),
            "missing_details": [p.id for p in self.missing_details],
        }


def _quiet(_line: str) -> None:
    """A progress callback that says nothing."""


def book_payouts(period: str, *, actor: str, progress: Progress | None = None) -> RunSummary:
    """Create the month's payouts and move their money to "paying"; nothing is sent.

    Flushes; the caller commits (before anything is sent: see ``send_payouts``).
    """
    period = parse_period(period)
    say = progress or _quiet
    currency = payout_currency()
    summary = RunSummary(period, currency, payout_minimum())
    balances = _available_balances(currency)  # locks first, then reads what exists
    existing = {
        p.payee_key: p
        for p in db.session.scalars(
            sa.select(Payout).where(Payout.period == period).order_by(Payout.id)
        )
    }
    summary.already_paid.extend(existing.values())
    for payee in balances:
        label = f"{payee.payee_key} {payee.name}"
        amount = money_text(payee.total, currency)
        if payee.total < 0:
            summary.carried.append(payee)
            say(f"{label}: owes {money_text(-payee.total, currency)} back (refunds after a "
                "payout); carried to the next payout")
        elif payee.total == 0:
            continue
        elif payee.payee_key in existing:
            summary.next_period.append(payee)
            say(f"{label}: already paid for {period} (payout #{existing[payee.payee_key].id}); "
                f"{amount} waits for the next month's run")
        elif payee.total < summary.minimum_minor:
            summary.below_minimum.append(payee)
            say(f"{label}: {amount} is below the minimum of "
                f"{money_text(summary.minimum_minor, currency)}; kept for a later run")
        else:
            payout = _book(payee, period, currency, actor)
            if payout is None:
                raced = db.session.scalar(sa.select(Payout).where(
                    Payout.payee_key == payee.payee_key, Payout.period == period))
                if raced is not None:
                    summary.already_paid.append(raced)
                say(f"{label}: another run booked its {period} payout meanwhile; skipped")
                continue
            summary.created.append(payout)
            how = "Stripe transfer" if payout.provider != BANK_TRANSFER else "bank transfer"
            note = ""
            if payout.provider == BANK_TRANSFER and payout_details(payout) is None:
                summary.missing_details.append(payout)
                note = " (missing payout details: left out of the bank file)"
            say(f"{label}: {amount} → payout #{payout.id} by {how}{note}")
    db.session.flush()
    return summary


def _book(payee: PayeeBalance, period: str, currency: str, actor: str) -> Payout | None:
    """One payout and its reservation, in a savepoint; None if a concurrent run has it."""
    coop = db.session.get(Cooperative, payee.cooperative_id) if payee.cooperative_id else None
    payout = Payout(
        period=period,
        payee_key=payee.payee_key,
        cooperative_id=payee.cooperative_id,
        jeweller_id=payee.jeweller_id,
        amount_minor=payee.total,
        currency=currency,
        provider=provider_name_for(stripe_account_id=coop.stripe_account_id if coop else None),
        status="pending",
        attempts=0,
    )
    try:
        with db.session.begin_nested():
            db.session.add(payout)
            db.session.flush()
            post_transaction(
                "payout_reserved",
                f"Payout #{payout.id} to {payee.name} for {period} (run by {actor})",
                _reserve_postings(payee, currency),
                idempotency_key=_reserve_key(payout),
            )
    except IntegrityError:
        # The (payee, period) pair is taken: a run racing this one booked it first.
        taken = db.session.scalar(sa.select(sa.func.count()).select_from(Payout).where(
            Payout.payee_key == payee.payee_key, Payout.period == period))
        if not taken:
            raise
        return None
    return payout


def send_payouts(
    summary: RunSummary,
    *,
    actor: str,
    commit: Callable[[], None],
    progress: Progress | None = None,
) -> RunSummary:
    """Send every payout the run created, committing after each answer.

    Call only after the payouts are committed: a provider is never asked to pay a payout row
    that could still be rolled back.
    """
    say = progress or _quiet
    summary.sent = True
    for payout in summary.created:
        label = f"payout #{payout.id} {payout.payee_key} {payout.payee_name}"
        try:
            outcome = send_payout(payout, actor=actor)
        except PayoutError as error:  # changed meanwhile (e.g. a retry from the console)
            summary.unknown.append(payout)
            say(f"{label}: not sent by this run: {error.message}")
            continue
        commit()
        if outcome == "paid":
            summary.paid.append(payout)
            say(f"{label}: paid ({payout.provider_ref or payout.reference})")
        elif outcome == "failed":
            summary.failed.append(payout)
            say(f"{label}: FAILED: {payout.failure_reason}")
        elif outcome == "unknown":
            summary.unknown.append(payout)
            say(f"{label}: NO ANSWER: {payout.failure_reason}")
        elif payout in summary.missing_details:
            say(f"{label}: waits for payout details before it can go in the bank file")
        else:
            say(f"{label}: in the bank file for {payout.period}; waits for the bank's reference")
    return summary


def run_payouts(
    period: str,
    *,
    actor: str,
    progress: Progress | None = None,
    commit: Callable[[], None] | None = None,
) -> RunSummary:
    """Pay out ``period`` (``YYYY-MM``): book each payee's payout, then send them.

    ``commit`` is how the caller makes the booking durable before any provider is asked to pay
    (and each answer after it). Without it, the payouts are booked (flushed) but not sent; they
    wait, pending, for ``send_payout`` or ``retry_payout``.
    """
    summary = book_payouts(period, actor=actor, progress=progress)
    if commit is None:
        return summary
    commit()
    return send_payouts(summary, actor=actor, commit=commit, progress=progress)


# --- One payout's life -----------------------------------------------------------------------


def _payee_kind(payout: Payout) -> str:
    return "cooperative" if payout.cooperative_id is not None else "jeweller"


def _paying_parts(payout: Payout) -> list[tuple[int | None, int]]:
    """How the payout's money sits in the payee's paying accounts: (lot id, amount) pairs,
    read from its reservation in the ledger."""
    paying = _STAGES[_payee_kind(payout)]["paying"].value
    rows = db.session.execute(
        sa.select(LedgerAccount.lot_id, LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.idempotency_key == _reserve_key(payout),
            LedgerAccount.kind == paying,
        )
        .order_by(LedgerEntry.id)
    ).all()
    parts = [(None if lot_id is None else int(lot_id), int(amount)) for lot_id, amount in rows]
    if sum(amount for _, amount in parts) != payout.amount_minor:
        raise PayoutError(
            _("The books do not hold the reservation of payout #%(id)s; nothing was changed.",
              id=payout.id)
        )
    return parts


def _move(payout: Payout, parts: Sequence[tuple[int | None, int]], source: str, target: str,
          kind: str, key: str, memo: str) -> None:
    """One ledger transaction moving the payout's parts from one stage to another."""
    payee, coop, jeweller = _payee_kind(payout), payout.cooperative_id, payout.jeweller_id
    postings: list[tuple[AccountRef, int]] = []
    for lot_id, amount in parts:
        for stage, signed in ((source, -amount), (target, amount)):
            ref = _account(payee, stage, payout.currency, cooperative_id=coop,
                           jeweller_id=jeweller, lot_id=lot_id)
            postings.append((ref, signed))
    post_transaction(kind, memo, postings, idempotency_key=key)


def _transition(payout: Payout, source: str, target: str, **values: Any) -> bool:
    """Move the payout from status ``source`` to ``target`` unless someone else did first."""
    result = db.session.execute(
        sa.update(Payout)
        .where(Payout.id == payout.id, Payout.status == source)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(payout)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _payee_available(payout: Payout) -> int:
    """The payee's net available balance in the payout's currency, its rows locked (as a run
    locks them, so a retry and a run cannot both take the same money)."""
    kind = _payee_kind(payout)
    stmt = sa.select(LedgerAccount.balance).where(
        LedgerAccount.kind == _STAGES[kind]["available"].value,
        LedgerAccount.unit == payout.currency,
    )
    if kind == "cooperative":
        stmt = stmt.where(LedgerAccount.cooperative_id == payout.cooperative_id)
    else:
        stmt = stmt.where(LedgerAccount.jeweller_id == payout.jeweller_id)
    balances = db.session.scalars(stmt.order_by(LedgerAccount.key).with_for_update()).all()
    return sum(int(b) for b in balances)


def _changed(payout: Payout) -> PayoutError:
    return PayoutError(
        _("Payout #%(id)s was changed meanwhile (it is now %(status)s); nothing was done. "
          "Reload to see it.", id=payout.id, status=status_word(payout.status))
    )


def _mark_paid(payout: Payout, *, actor: str, provider_ref: str | None = None,
               reference: str | None = None) -> None:
    """Pending → paid: the money leaves "paying" for "paid"."""
    parts = _paying_parts(payout)
    values: dict[str, Any] = {"paid_at": utcnow(), "failure_reason": None}
    if provider_ref is not None:
        values["provider_ref"] = provider_ref
    if reference is not None:
        values["reference"] = reference
    if not _transition(payout, "pending", "paid", **values):
        raise _changed(payout)
    _move(payout, parts, "paying", "paid", "payout_paid",
          f"payout:{payout.id}:paid",
          f"Payout #{payout.id} for {payout.period} paid ({provider_ref or reference}; {actor})")


def _mark_failed(payout: Payout, message: str, *, actor: str) -> None:
    """Pending → failed: the money goes back to "available"; the next attempt gets a new key."""
    parts = _paying_parts(payout)
    attempt = payout.attempts
    reason = (message or "The provider refused the payout.")[:2000]
    if not _transition(payout, "pending", "failed", failure_reason=reason,
                       attempts=Payout.attempts + 1):
        raise _changed(payout)
    _move(payout, parts, "paying", "available", "payout_failed",
          f"payout:{payout.id}:failed:{attempt}",
          f"Payout #{payout.id} for {payout.period} failed ({actor}): {reason}")


def _note(payout: Payout, message: str) -> None:
    """Keep why a pending payout is not paid yet (its outcome is unknown)."""
    db.session.execute(
        sa.update(Payout)
        .where(Payout.id == payout.id, Payout.status == "pending")
        .values(failure_reason=message[:2000] or None)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(payout)


def _apply(payout: Payout, result: SendResult, *, actor: str) -> str:
    """Record a provider's answer: "paid", "failed", "unknown" or "waiting" (for the bank)."""
    if result.ok:
        _mark_paid(payout, actor=actor, provider_ref=result.provider_ref)
        return "paid"
    if result.pending:
        if result.message:
            _note(payout, result.message)
            return "unknown"
        return "waiting"
    _mark_failed(payout, result.message, actor=actor)
    return "failed"


def send_payout(payout: Payout, *, actor: str) -> str:
    """Ask the payout's provider to pay it and record the answer (see ``_apply``).

    Only for a pending payout that is already committed. Flushes; the caller commits.
    """
    if payout.status != "pending":
        raise PayoutError(_("Payout #%(id)s is %(status)s; only a pending one is sent.",
                            id=payout.id, status=status_word(payout.status)))
    return _apply(payout, provider_named(payout.provider).send(payout), actor=actor)


def retry_payout(payout: Payout, *, actor: str) -> str:
    """Send a Stripe payout again: after a refusal as a new attempt (its money reserved again,
    if the payee still has it available: a later month's run may have paid it meanwhile), after
    a lost answer with the same idempotency key, once Stripe says it has no transfer for it.
    Returns what ``send_payout`` returns. Flushes; the caller commits.
    """
    if payout.status == "paid":
        raise PayoutError(_("Payout #%(id)s is already paid; there is nothing to retry.",
                            id=payout.id))
    if payout.provider == BANK_TRANSFER:
        raise PayoutError(
            _("Payout #%(id)s is paid by bank transfer, which is not retried here: pay it from "
              "the bank file, then record the bank's reference.", id=payout.id)
        )
    provider = provider_named(payout.provider)
    if payout.status == "failed":
        attempt = payout.attempts
        parts = _paying_parts(payout)
        available = _payee_available(payout)
        if available < payout.amount_minor:
            raise PayoutError(
                _("Payout #%(id)s cannot be sent again: %(payee)s has %(available)s available, "
                  "less than its %(amount)s. The money went back to available when the payout "
                  "failed and has been paid out (or refunded) since.", id=payout.id,
                  payee=payout.payee_name, available=money_text(available, payout.currency),
                  amount=money_text(payout.amount_minor, payout.currency))
            )
        if not _transition(payout, "failed", "pending", failure_reason=None):
            raise _changed(payout)
        _move(payout, parts, "available", "paying", "payout_retried",
              f"payout:{payout.id}:retry:{attempt}",
              f"Payout #{payout.id} for {payout.period} retried, attempt {attempt + 1} ({actor})")
        return _apply(payout, provider.send(payout), actor=actor)
    if payout.status != "pending":
        raise PayoutError(_("Payout #%(id)s is %(status)s; it cannot be retried.", id=payout.id,
                            status=status_word(payout.status)))
    try:
        found = provider.lookup(payout)
    except GatewayUnavailable as error:
        _note(payout, error.message)
        return "unknown"
    if found is not None:
        return _apply(payout, found, actor=actor)
    return _apply(payout, provider.send(payout), actor=actor)


def record_bank_reference(payout: Payout, reference: str | None, *, actor: str) -> Payout:
    """The Central's bank paid a bank payout: keep its reference; paying → paid. Flushes."""
    text = (reference or "").strip()
    if not text:
        raise PayoutError(_("Enter the reference the bank gave the transfer."), "reference")
    if len(text) > 120:
        raise PayoutError(_("A bank reference is at most 120 characters."), "reference")
    if payout.provider != BANK_TRANSFER:
        raise PayoutError(
            _("Payout #%(id)s is a Stripe transfer; Stripe gives its reference.", id=payout.id)
        )
    if payout.status == "paid":
        raise PayoutError(
            _("Payout #%(id)s is already paid (reference %(reference)s).", id=payout.id,
              reference=payout.reference), "reference"
        )
    if payout.status != "pending":
        raise PayoutError(_("Payout #%(id)s is %(status)s; it cannot be marked paid.", id=payout.id,
                            status=status_word(payout.status)))
    _mark_paid(payout, actor=actor, reference=text)
    return payout


# --- The bank file and what the console shows ------------------------------------------------


def payout_details(payout: Payout) -> tuple[str, str, str] | None:
    """The payee's bank, account holder and CCI, or None when any is missing."""
    payee = payout.cooperative or payout.jeweller
    if payee is None:
        return None
    details = (payee.payout_bank, payee.payout_account_holder, payee.payout_cci)
    if not all(d and d.strip() for d in details):
        return None
    return (str(details[0]).strip(), str(details[1]).strip(), str(details[2]).strip())


def bank_reference(payout: Payout) -> str:
    """Our reference on the bank transfer, e.g. ``OP-PAYOUT-2026-11-42``."""
    return f"OP-PAYOUT-{payout.period}-{payout.id}"


@dataclass(frozen=True)
class BankRow:
    """One line of the bank file."""

    payout_id: int
    payee: str
    account_holder: str
    bank: str
    cci: str
    amount_minor: int
    currency: str
    reference: str

    @property
    def amount(self) -> str:
        """The amount in major units, e.g. "1234.50"."""
        return major_units(self.amount_minor, self.currency)


def bank_rows(period: str) -> tuple[list[BankRow], list[Payout]]:
    """The month's bank payouts still to be paid: file rows, and those missing payout details."""
    period = parse_period(period)
    payouts = db.session.scalars(
        sa.select(Payout)
        .where(
            Payout.period == period,
            Payout.provider == BANK_TRANSFER,
            Payout.status == "pending",
        )
        .options(selectinload(Payout.cooperative), selectinload(Payout.jeweller))
        .order_by(Payout.id)
    ).all()
    rows: list[BankRow] = []
    missing: list[Payout] = []
    for payout in payouts:
        details = payout_details(payout)
        if details is None:
            missing.append(payout)
            continue
        bank, holder, cci = details
        rows.append(BankRow(payout.id, payout.payee_name, holder, bank, cci,
                            payout.amount_minor, payout.currency, bank_reference(payout)))
    return rows, missing


def bank_file(period: str) -> str:
    """The CSV the Central's bank takes for the month (payees without bank details left out)."""
    rows, _missing = bank_rows(period)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_FILE_HEADER)
    for row in rows:
        writer.writerow([row.payee, row.account_holder, row.bank, row.cci, row.amount,
                         row.currency, row.reference])
    return out.getvalue()


def payout_periods() -> list[str]:
    """The months that have payouts, newest first."""
    return [str(p) for p in db.session.scalars(
        sa.select(Payout.period).distinct().order_by(Payout.period.desc()))]


def payouts_of(period: str) -> list[Payout]:
    """The month's payouts with their payees, by payee kind and id."""
    return list(db.session.scalars(
        sa.select(Payout)
        .where(Payout.period == period)
        .options(selectinload(Payout.cooperative), selectinload(Payout.jeweller))
        .order_by(Payout.cooperative_id.is_(None), Payout.id)
    ))


@dataclass(frozen=True)
class StatusTotal:
    """How many payouts of a month are in one status, and their sum."""

    status: str
    count: int
    amount_minor: int


def totals(payouts: Iterable[Payout]) -> list[StatusTotal]:
    """Count and sum per status (pending, failed, paid), in that order."""
    found: dict[str, list[int]] = {}
    for payout in payouts:
        entry = found.setdefault(payout.status, [0, 0])
        entry[0] += 1
        entry[1] += payout.amount_minor
    order = ["pending", "failed", "paid"]
    statuses = sorted(found, key=lambda s: (order.index(s) if s in order else len(order), s))
    return [StatusTotal(s, found[s][0], found[s][1]) for s in statuses]


def payout_history(payout: Payout) -> list[LedgerTransaction]:
    """The ledger transactions of a payout (reserved, failed, retried, paid), oldest first."""
    return list(db.session.scalars(
        sa.select(LedgerTransaction)
        .where(LedgerTransaction.idempotency_key.like(f"payout:{payout.id}:%"))
        .order_by(LedgerTransaction.id)
    ))
