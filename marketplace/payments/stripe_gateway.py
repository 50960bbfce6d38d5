"""Card payments through Stripe: one PaymentIntent per order, confirmed in the browser.

The only module that imports ``stripe``. The pay page gets a PaymentIntent's client secret from
``prepare``; Stripe.js confirms the card in the browser; when the browser comes back, ``charge``
asks Stripe what happened (the browser's word is never taken). Webhooks and ``flask payments
reconcile`` ask the same question through ``intent_state``.

The SDK is configured per call from the app config (``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE``
for a local fake, ``STRIPE_TIMEOUT_SECONDS``, ``STRIPE_MAX_NETWORK_RETRIES``). Whenever Stripe
cannot be reached, ``GatewayUnavailable`` is raised before anything of ours is changed, so the
caller rolls back and the shopper (or Stripe's next webhook delivery) tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import stripe
from flask import current_app, has_request_context, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core.errors import DomainError
from marketplace.core.money import round_minor
from marketplace.extensions import db
from marketplace.payments.gateways import (
    ChargeResult,
    GatewayError,
    GatewayUnavailable,
    RefundResult,
)
from marketplace.payments.models import Payment

log = logging.getLogger(__name__)

#: Stripe's webhook signature tolerance: older deliveries are refused (replay protection).
WEBHOOK_TOLERANCE_SECONDS = 300

#: The API version we speak. stripe 16.1 pins 2026-10-28.endive, where ``payment_method_types``
#: is no longer accepted (400 ``payment_method_types_no_longer_supported``, changelog
#: 2026-09-30.endive), while localstripe, our test double, knows only ``payment_method_types``.
#: Pinning a dahlia version keeps one request shape that both accept; every field read here
#: (status, amount, last_payment_error, latest_charge, refunds) is the same in both versions.
STRIPE_API_VERSION = "2026-03-25.dahlia"

_PENDING_MESSAGES = {
    "processing": _l(
        "Your bank is still processing the payment. This page shows the order as paid "
        "as soon as it confirms."
    ),
    "requires_action": _l(
        "Your bank asks you to confirm this payment. Follow its instructions, "
        "then press Pay again."
    ),
    "requires_capture": _l("The payment is authorised and being captured."),
}


class InvalidWebhook(DomainError):
    """A webhook whose signature, age or body does not check out."""


@dataclass(frozen=True)
class IntentState:
    """Where a PaymentIntent stands, and what that means for our payment."""

    status: str
    result: ChargeResult
    #: No card has been tried yet (or one is attached but not confirmed): nothing to record.
    awaiting_card: bool = False


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event: its id, type and the object it is about (as plain data)."""

    id: str
    type: str
    object: dict[str, Any]


@lru_cache(maxsize=8)
def _client(api_key: str, api_base: str, timeout: float, retries: int) -> stripe.StripeClient:
    """A Stripe client for these settings (kept, so connections are reused between calls)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        stripe_version=STRIPE_API_VERSION,
        http_client=stripe.RequestsClient(timeout=timeout),
        max_network_retries=retries,
    )


def stripe_client() -> stripe.StripeClient:
    """The client for the current app's configuration."""
    config = current_app.config
    api_key = config.get("STRIPE_SECRET_KEY") or ""
    if not api_key:
        log.error("PAYMENT_GATEWAY is stripe but STRIPE_SECRET_KEY is not set")
        raise GatewayUnavailable(
            _("Card payments are not available right now. Please try again later.")
        )
    return _client(
        api_key,
        (config.get("STRIPE_API_BASE") or "").rstrip("/"),
        float(config["STRIPE_TIMEOUT_SECONDS"]),
        int(config["STRIPE_MAX_NETWORK_RETRIES"]),
    )


@contextmanager
def calling_stripe(action: str) -> Iterator[None]:
    """Turn Stripe's transport and server failures into ``GatewayUnavailable``.

    Card declines (``CardError``) and invalid requests (``InvalidRequestError``) pass through:
    the caller decides what they mean.
    """
    try:
        yield
    except (stripe.CardError, stripe.InvalidRequestError):
        raise
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
        log.warning("Stripe did not answer while %s: %s", action, error)
        raise GatewayUnavailable(
            _(
                "The card processor did not answer. Nothing was charged twice; "
                "please try again in a minute."
            )
        ) from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        log.error("Stripe refused our credentials while %s: %s", action, error)
        raise GatewayUnavailable(
            _("Card payments are not available right now. Please try again later.")
        ) from error
    except stripe.StripeError as error:
        log.error("Stripe failed while %s: %s", action, error)
        raise GatewayError(
            _("The card processor could not complete this step. Please try again later.")
        ) from error


def estimated_fee(amount_minor: int) -> int:
    """Stripe's fee by tariff: ``STRIPE_FEE_PERCENT`` % + ``STRIPE_FEE_FIXED_MINOR``."""
    config = current_app.config
    fee = round_minor(
        Decimal(amount_minor) * Decimal(str(config["STRIPE_FEE_PERCENT"])) / 100
    ) + int(config["STRIPE_FEE_FIXED_MINOR"])
    return min(fee, amount_minor)


def _processor_fee(payment: Payment, intent: stripe.PaymentIntent) -> int:
    """The fee Stripe took, from the charge's balance transaction when it is in the order's
    currency (an account settling in another currency reports fees in that one); else the
    configured estimate."""
    charge = intent.latest_charge
    txn = charge.balance_transaction if isinstance(charge, stripe.Charge) else None
    if (
        isinstance(txn, stripe.BalanceTransaction)
        and txn.currency == payment.currency.lower()
        and txn.fee > 0
    ):
        return min(int(txn.fee), payment.amount_minor)
    return estimated_fee(payment.amount_minor)


def _pay_page_url(payment: Payment) -> str:
    """Where Stripe sends the shopper back after a bank's own page (absolute)."""
    key = request.args.get("key") if has_request_context() else None
    return url_for("orders.pay_page", number=payment.order.number, key=key or None, _external=True)


def intent_key(payment: Payment) -> str:
    """The idempotency key of the PaymentIntent of ``payment``, made of our ids."""
    return f"order-{payment.order_id}-payment-{payment.id}-intent"


class StripeGateway:
    """Cards through Stripe PaymentIntents and Stripe.js."""

    name = "stripe"

    def prepare(self, payment: Payment) -> dict[str, str]:
        """The order's PaymentIntent (created once, reused on every later visit or retry)."""
        client = stripe_client()
        if payment.provider_ref:
            intent = self._retrieve(payment.provider_ref)
        else:
            params: stripe.params.PaymentIntentCreateParams = {
                "amount": payment.amount_minor,
                "currency": payment.currency.lower(),
                # Not in the SDK's endive types; valid on STRIPE_API_VERSION (see above).
                "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
                "metadata": {
                    "order_number": payment.order.number,
                    "payment_id": str(payment.id),
                },
            }
            try:
                with calling_stripe("creating a PaymentIntent"):
                    intent = client.v1.payment_intents.create(
                        params=params, options={"idempotency_key": intent_key(payment)}
                    )
            except stripe.StripeError as error:
                log.error("Stripe refused the PaymentIntent of payment %s: %s", payment.id, error)
                raise GatewayError(
                    _("The card processor refused to set up this payment. Please contact us.")
                ) from error
            payment.provider_ref = intent.id
            db.session.flush()
        config = current_app.config
        return {
            "client_secret": intent.client_secret or "",
            "status": intent.status,
            "publishable_key": config.get("STRIPE_PUBLISHABLE_KEY") or "",
            "js_url": config["STRIPE_JS_URL"],
            "return_url": _pay_page_url(payment),
        }

    def charge(self, payment: Payment, form: Mapping[str, str]) -> ChargeResult:
        """What Stripe says about the PaymentIntent (the posted form is not trusted)."""
        if not payment.provider_ref:
            return ChargeResult(
                succeeded=False,
                message=_("The card form was not ready. Reload this page and try again."),
            )
        return self.intent_state(payment).result

    def intent_state(self, payment: Payment) -> IntentState:
        """The state of the payment's PaymentIntent, fetched from Stripe now."""
        assert payment.provider_ref, (  # nosec B101  # an invariant: callers pass prepared payments
            "a payment without a PaymentIntent has no Stripe state"
        )
        intent = self._retrieve(payment.provider_ref, expand_fee=True)
        awaiting = (
            intent.status in ("requires_payment_method", "requires_confirmation")
            and intent.last_payment_error is None
        )
        return IntentState(intent.status, self._result(payment, intent), awaiting)

    def _result(self, payment: Payment, intent: stripe.PaymentIntent) -> ChargeResult:
        """What a PaymentIntent means for our payment."""
        if intent.amount != payment.amount_minor or intent.currency != payment.currency.lower():
            log.error(
                "PaymentIntent %s is for %s %s, payment %s for %s %s",
                intent.id,
                intent.amount,
                intent.currency,
                payment.id,
                payment.amount_minor,
                payment.currency,
            )
            return ChargeResult(
                succeeded=False,
                provider_ref=intent.id,
                message=_(
                    "This card payment does not match the order; nothing was booked. "
                    "Please contact us."
                ),
            )
        if intent.status == "succeeded":
            return ChargeResult(
                succeeded=True,
                provider_ref=intent.id,
                processor_fee=_processor_fee(payment, intent),
            )
        if intent.status in _PENDING_MESSAGES:
            return ChargeResult(
                succeeded=False,
                provider_ref=intent.id,
                pending=True,
                message=str(_PENDING_MESSAGES[intent.status]),
            )
        if intent.status == "canceled":
            return ChargeResult(
                succeeded=False,
                provider_ref=intent.id,
                message=_("This card payment was cancelled. Please contact us."),
            )
        error = intent.last_payment_error
        if error is not None:
            reason = (error.message or _("Your card was declined.")).strip()
            return ChargeResult(
                succeeded=False,
                provider_ref=intent.id,
                message=_("%(reason)s Try another card.", reason=reason),
            )
        return ChargeResult(
            succeeded=False,
            provider_ref=intent.id,
            message=_("The card was not confirmed. Enter the card details and press Pay."),
        )

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> RefundResult:
        """Give back ``amount`` of the PaymentIntent; the key makes a retry a replay."""
        if not payment.provider_ref:
            return RefundResult(succeeded=False, message="This payment has nothing to refund.")
        try:
            with calling_stripe("refunding"):
                refund = stripe_client().v1.refunds.create(
                    params={"payment_intent": payment.provider_ref, "amount": amount},
                    options={"idempotency_key": idempotency_key},
                )
        except (stripe.CardError, stripe.InvalidRequestError) as error:
            return RefundResult(
                succeeded=False,
                message=f"Stripe refused the refund: {error.user_message or error}",
            )
        if refund.status in ("failed", "canceled"):
            return RefundResult(
                succeeded=False,
                provider_ref=refund.id,
                message=f"Stripe says the refund {refund.status}.",
            )
        return RefundResult(succeeded=True, provider_ref=refund.id)

    def refund_status(self, provider_ref: str) -> str:
        """Stripe's current status of a refund (pending, succeeded, failed, canceled ...)."""
        try:
            with calling_stripe("fetching a refund"):
                refund = stripe_client().v1.refunds.retrieve(provider_ref)
        except stripe.StripeError as error:
            raise GatewayError(f"Stripe has no refund {provider_ref}.") from error
        return str(refund.status)

    def _retrieve(self, intent_id: str, expand_fee: bool = False) -> stripe.PaymentIntent:
        """Fetch a PaymentIntent (with its charge's balance transaction, for the fee)."""
        params: stripe.params.PaymentIntentRetrieveParams = (
            {"expand": ["latest_charge.balance_transaction"]} if expand_fee else {}
        )
        try:
            with calling_stripe("fetching a PaymentIntent"):
                return stripe_client().v1.payment_intents.retrieve(intent_id, params=params)
        except stripe.StripeError as error:
            log.error("Stripe cannot give PaymentIntent %s: %s", intent_id, error)
            raise GatewayError(
                _("The card processor does not know this payment. Please contact us.")
            ) from error


def verify_webhook(payload: bytes, signature: str | None) -> StripeEvent:
    """Check a webhook's ``Stripe-Signature`` over the raw body; the event, or InvalidWebhook."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        log.error("a Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is not set")
        raise InvalidWebhook("Webhooks are not set up.")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
        data = event.to_dict()
        found = StripeEvent(id=data["id"], type=data["type"], object=data["data"]["object"])
    except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as error:
        raise InvalidWebhook(f"Not a valid Stripe webhook: {error}") from error
    if not (isinstance(found.id, str) and isinstance(found.type, str)):
        raise InvalidWebhook("Not a valid Stripe webhook: no event id or type.")
    if not isinstance(found.object, dict):
        raise InvalidWebhook("Not a valid Stripe webhook: no object.")
    return found
