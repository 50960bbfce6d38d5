"""Payout providers: how a booked payout reaches its payee.

Every provider answers ``send(payout)`` with a ``SendResult``:

- ``ok``: paid now (``provider_ref`` names the provider's record, e.g. a Stripe transfer id);
- ``pending``: not paid and not failed: a bank transfer waits for the bank's reference, a Stripe
  transfer whose answer was lost waits for a retry with the same idempotency key;
- neither: a definite failure (``message`` says why); the money goes back to available and a
  retry is a new attempt.

``bank_transfer`` (the default) sends nothing itself: the Central pays from its bank with the
payout file and records the bank's reference. ``stripe_transfer`` pays a payee that has a Stripe
connected account. Stripe is reached only through ``marketplace.payments.stripe_transfers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from marketplace.payments.gateways import GatewayError, GatewayUnavailable
from marketplace.payouts.models import Payout

BANK_TRANSFER = "bank_transfer"
STRIPE_TRANSFER = "stripe_transfer"


@dataclass(frozen=True)
class SendResult:
    """What a provider said about a payout it was asked to send."""

    ok: bool
    provider_ref: str | None = None
    message: str = ""
    #: Neither paid nor failed yet (see the module docstring).
    pending: bool = False


class PayoutProvider(Protocol):
    """What every payout provider does."""

    name: str

    def send(self, payout: Payout) -> SendResult:
        """Pay ``payout`` (or start paying it)."""
        ...

    def lookup(self, payout: Payout) -> SendResult | None:
        """For a payout whose last answer was lost: what the provider already holds for it
        (``ok`` with its reference), or None when it holds nothing."""
        ...


class BankTransferProvider:
    """Paid by the Central's bank from the payout file; done when its reference is recorded."""

    name = BANK_TRANSFER

    def send(self, payout: Payout) -> SendResult:
        """Nothing leaves the shop: the payout waits in the bank file."""
        return SendResult(ok=False, pending=True)

    def lookup(self, payout: Payout) -> SendResult | None:
        """The bank is not asked; its reference is recorded by hand."""
        return None


def transfer_key(payout: Payout) -> str:
    """The Stripe idempotency key of the payout's current attempt.

    The same for every retry of one attempt (a lost answer is asked for again, never paid twice);
    a new one only after Stripe definitely refused (``attempts`` is then counted up).
    """
    return f"payout-{payout.id}-{payout.attempts}"


def transfer_group(payout: Payout) -> str:
    """Stripe's transfer group of every attempt of the payout (to find a lost answer's)."""
    return f"payout-{payout.id}"


class StripeTransferProvider:
    """A Stripe Connect transfer to the payee's connected account."""

    name = STRIPE_TRANSFER

    @staticmethod
    def destination(payout: Payout) -> str | None:
        """The payee's connected account (only cooperatives have one so far)."""
        if payout.cooperative is not None:
            return payout.cooperative.stripe_account_id or None
        return None

    def send(self, payout: Payout) -> SendResult:
        """Create the transfer with this attempt's idempotency key."""
        from marketplace.payments.stripe_transfers import create_transfer

        destination = self.destination(payout)
        if not destination:
            return SendResult(
                ok=False,
                message=f"{payout.payee_name} has no Stripe account any more; nothing was sent.",
            )
        try:
            transfer = create_transfer(
                amount_minor=payout.amount_minor,
                currency=payout.currency,
                destination=destination,
                transfer_group=transfer_group(payout),
                idempotency_key=transfer_key(payout),
                metadata={
                    "payout_id": str(payout.id),
                    "period": payout.period,
                    "payee": payout.payee_key,
                },
                description=f"Payout {payout.period} to {payout.payee_name}",
            )
        except GatewayUnavailable as error:
            return SendResult(ok=False, pending=True, message=error.message)
        except GatewayError as error:
            return SendResult(ok=False, message=error.message)
        return SendResult(ok=True, provider_ref=transfer.id)

    def lookup(self, payout: Payout) -> SendResult | None:
        """A transfer of this payout Stripe already made (its answer lost), if any.

        Raises ``GatewayUnavailable`` when Stripe cannot be asked.
        """
        from marketplace.payments.stripe_transfers import find_transfers

        for transfer in find_transfers(transfer_group(payout)):
            if transfer.amount == payout.amount_minor and transfer.currency == payout.currency:
                return SendResult(ok=True, provider_ref=transfer.id)
        return None


PROVIDERS: dict[str, type[BankTransferProvider] | type[StripeTransferProvider]] = {
    BANK_TRANSFER: BankTransferProvider,
    STRIPE_TRANSFER: StripeTransferProvider,
}


def provider_named(name: str) -> PayoutProvider:
    """The provider called ``name``."""
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise RuntimeError(f"Unknown payout provider {name!r}") from None


def provider_name_for(*, stripe_account_id: str | None) -> str:
    """Which provider pays a payee: Stripe when it has a connected account, else the bank."""
    return STRIPE_TRANSFER if stripe_account_id else BANK_TRANSFER
