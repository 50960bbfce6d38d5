"""Stripe Connect transfers: moving money from the platform's balance to a connected account.

With ``stripe_gateway.py`` the only modules that import ``stripe``; payouts reach this one through
their ``stripe_transfer`` provider. The SDK is configured exactly as for card payments
(``stripe_client``: ``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE``, the pinned API version,
timeouts and network retries).

Stripe's answers fall in two kinds, and the difference decides whether a payee can be paid twice:

- ``TransferRefused``: Stripe answered that it did not make the transfer (a card error, an
  invalid request such as an unknown destination or too little balance). Nothing moved; the next
  attempt may use a new idempotency key.
- ``TransferOutcomeUnknown``: no answer (timeout, connection refused), or one that does not say
  whether the transfer was made (5xx, rate limit, credentials, an idempotency conflict). The
  transfer may exist; only a request with the *same* idempotency key (which Stripe answers with
  the first result) or a look-up by transfer group may follow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import stripe

from marketplace.payments.gateways import GatewayError, GatewayUnavailable
from marketplace.payments.stripe_gateway import stripe_client

log = logging.getLogger(__name__)


class TransferRefused(GatewayError):
    """Stripe answered that it did not make the transfer; a new attempt is safe."""


class TransferOutcomeUnknown(GatewayUnavailable):
    """Whether the transfer was made is not known; retry only with the same idempotency key."""


@dataclass(frozen=True)
class Transfer:
    """What we keep of a Stripe transfer."""

    id: str
    amount: int
    currency: str
    destination: str | None
    transfer_group: str | None
    reversed: bool


def _plain(transfer: stripe.Transfer) -> Transfer:
    """Our copy of an SDK transfer object."""
    destination = transfer.destination
    return Transfer(
        id=transfer.id,
        amount=int(transfer.amount),
        currency=str(transfer.currency).upper(),
        destination=destination if isinstance(destination, str) or destination is None
        else destination.id,
        transfer_group=transfer.transfer_group,
        reversed=bool(transfer.reversed),
    )


def _unknown(action: str, error: stripe.StripeError) -> TransferOutcomeUnknown:
    """The error for an answer that does not say whether the transfer exists."""
    log.warning("Stripe gave no definite answer while %s: %s", action, error)
    if isinstance(error, stripe.APIConnectionError):
        what = "Stripe did not answer"
    elif isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        what = "Stripe refused our API key (check STRIPE_SECRET_KEY)"
    elif isinstance(error, stripe.RateLimitError):
        what = "Stripe asked us to slow down"
    elif isinstance(error, stripe.IdempotencyError):
        what = "Stripe saw this idempotency key with other parameters"
    else:
        status = f" ({error.http_status})" if error.http_status else ""
        what = f"Stripe answered with an error{status}"
    return TransferOutcomeUnknown(
        f"{what} while {action}; it is not known whether the transfer was made. "
        "Retrying asks again with the same idempotency key, so it cannot pay twice."
    )


def create_transfer(
    *,
    amount_minor: int,
    currency: str,
    destination: str,
    transfer_group: str,
    idempotency_key: str,
    metadata: Mapping[str, str],
    description: str = "",
    source_transaction: str | None = None,
) -> Transfer:
    """Ask Stripe to transfer ``amount_minor`` to the connected account ``destination``.

    Raises ``TransferRefused`` when Stripe says no, ``TransferOutcomeUnknown`` (a
    ``GatewayUnavailable``) when the outcome is not known.
    """
    params: stripe.params.TransferCreateParams = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "destination": destination,
        "transfer_group": transfer_group,
        "metadata": dict(metadata),
    }
    if description:
        params["description"] = description[:1000]
    if source_transaction:
        params["source_transaction"] = source_transaction
    client = stripe_client()  # GatewayUnavailable when no secret key is configured
    try:
        transfer = client.v1.transfers.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.IdempotencyError as error:
        raise _unknown("creating a transfer", error) from error
    except (stripe.CardError, stripe.InvalidRequestError) as error:
        reason = (error.user_message or "").strip()
        code = f" ({error.code})" if error.code else ""
        log.warning("Stripe refused transfer %s: %s%s", idempotency_key, reason, code)
        raise TransferRefused(
            f"Stripe refused the transfer{code}: {reason or 'no reason given'}"
        ) from error
    except stripe.StripeError as error:
        raise _unknown("creating a transfer", error) from error
    return _plain(transfer)


def find_transfers(transfer_group: str) -> list[Transfer]:
    """The transfers Stripe holds in ``transfer_group`` (for an attempt whose answer was lost).

    Raises ``TransferOutcomeUnknown`` when Stripe cannot be asked.
    """
    client = stripe_client()
    try:
        page = client.v1.transfers.list(params={"transfer_group": transfer_group, "limit": 100})
    except stripe.StripeError as error:
        raise _unknown("looking for an earlier transfer", error) from error
    return [_plain(t) for t in page.data]
