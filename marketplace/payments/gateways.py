"""The payment gateway interface and the offline ``sandbox`` gateway.

A gateway takes money for a ``Payment`` and gives it back (refunds). The rest of the shop talks
only to this interface; only ``payments/stripe_gateway.py`` imports ``stripe``.

The sandbox is a real gateway that never leaves the machine: it validates the card the way a
processor would (Luhn check, expiry, CVC) and answers by test card number, like Stripe's test
mode, so the whole purchase can be made offline.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core.errors import DomainError
from marketplace.core.money import round_minor
from marketplace.payments.models import Payment


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway said about a charge."""

    succeeded: bool
    provider_ref: str | None = None
    processor_fee: int = 0
    message: str = ""
    #: True when the shopper must act again (e.g. authenticate) before we know the outcome.
    pending: bool = False


@dataclass(frozen=True)
class RefundResult:
    """What the gateway said about a refund."""

    succeeded: bool
    provider_ref: str | None = None
    message: str = ""


class PaymentGateway(Protocol):
    """What every gateway does."""

    name: str

    def prepare(self, payment: Payment) -> dict[str, str]:
        """Set up the charge (e.g. create a PaymentIntent); return what the pay page needs."""
        ...

    def charge(self, payment: Payment, form: Mapping[str, str]) -> ChargeResult:
        """Take the money for ``payment`` using what the pay page posted."""
        ...

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        """Give back ``amount`` of a succeeded payment."""
        ...


class GatewayError(DomainError):
    """The payment provider refused a request for a reason that retrying will not fix."""


class GatewayUnavailable(GatewayError):
    """The provider could not be reached (timeout, 5xx, connection refused); nothing changed."""


class CardError(ValueError):
    """The card details cannot be a card (before any charge is tried)."""


def luhn_ok(number: str) -> bool:
    """Whether ``number`` passes the Luhn checksum every card number carries."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def parse_card(form: Mapping[str, str], today: date) -> tuple[str, int, int]:
    """The card number, expiry month and year from a card form; CardError says what is wrong."""
    number = "".join(ch for ch in form.get("card_number", "") if not ch.isspace() and ch != "-")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise CardError(_("That card number is not valid; check the digits."))
    expiry = form.get("expiry", "").replace(" ", "")
    month_text, _slash, year_text = expiry.partition("/")
    if not (month_text.isdigit() and year_text.isdigit() and 1 <= int(month_text) <= 12):
        raise CardError(_("Give the expiry date as MM/YY."))
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if (year, int(month_text)) < (today.year, today.month):
        raise CardError(_("That card has expired."))
    cvc = form.get("cvc", "").strip()
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        raise CardError(_("The security code is the 3 or 4 digits on the card."))
    return number, int(month_text), year


class SandboxGateway:
    """Offline card payments with Stripe's well-known test numbers.

    4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined; 4000 0000 0000 9995 fails
    for insufficient funds; any other valid number is declined as "not a test card". The
    processor fee it reports is ``SANDBOX_FEE_PERCENT`` % + ``SANDBOX_FEE_FIXED_MINOR``, like a
    card processor's.
    """

    name = "sandbox"
    OUTCOMES = {
        "4242424242424242": (True, ""),
        "4000000000000002": (False, _l("Your card was declined. Try another card.")),
        "4000000000009995": (
            False,
            _l("Your card has insufficient funds. Try another card."),
        ),
    }

    def prepare(self, payment: Payment) -> dict[str, str]:
        """Nothing to set up offline."""
        return {}

    def charge(self, payment: Payment, form: Mapping[str, str]) -> ChargeResult:
        """Answer by test card number."""
        try:
            number, _month, _year = parse_card(form, date.today())
        except CardError as error:
            return ChargeResult(succeeded=False, message=str(error))
        ok, message = self.OUTCOMES.get(
            number,
            (False, _l("This is the sandbox: that card is declined. Use 4242 4242 4242 4242.")),
        )
        if not ok:
            return ChargeResult(succeeded=False, message=str(message))
        config = current_app.config
        fee = round_minor(
            Decimal(payment.amount_minor) * Decimal(config["SANDBOX_FEE_PERCENT"]) / 100
        ) + int(config["SANDBOX_FEE_FIXED_MINOR"])
        return ChargeResult(
            succeeded=True,
            provider_ref=f"sbx_ch_{secrets.token_hex(8)}",
            processor_fee=min(fee, payment.amount_minor),
        )

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        """Refunds always go through offline."""
        return RefundResult(succeeded=True, provider_ref=f"sbx_re_{secrets.token_hex(8)}")


def get_gateway(name: str | None = None) -> PaymentGateway:
    """The configured gateway (``PAYMENT_GATEWAY``), or the one named."""
    chosen = name or current_app.config["PAYMENT_GATEWAY"]
    if chosen == "sandbox":
        return SandboxGateway()
    if chosen == "stripe":
        from marketplace.payments.stripe_gateway import StripeGateway

        return StripeGateway()
    raise RuntimeError(f"Unknown PAYMENT_GATEWAY {chosen!r}: use sandbox or stripe.")
