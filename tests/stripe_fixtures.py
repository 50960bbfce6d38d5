"""Stripe for the tests, offline: localstripe, a local fake of what it lacks, signed webhooks.

- ``localstripe_url``: localstripe (a stateful fake Stripe from PyPI) started once per session
  as a subprocess on a free port, emptied before each test.
- ``stripe_on``: the session app configured for Stripe against it (``PAYMENT_GATEWAY=stripe``).
- ``fake_stripe``: what localstripe lacks (confirming with a payment method, idempotent replays,
  balance transaction fees, faults: timeouts and 500s), served by pytest-httpserver with the
  response shapes of Stripe's API reference.
- ``signed(event)``: a webhook body and its ``Stripe-Signature`` made with the endpoint secret.

A test module imports the fixtures it uses, and those they depend on, by their ``*_fixture``
names (``from tests.stripe_fixtures import localstripe_server_fixture, localstripe_url_fixture
# noqa: F401``) and takes them as parameters by their short names (``localstripe_url``).
The tests talk to both servers with the real ``stripe`` SDK over HTTP; nothing is patched.

For a browser test: localstripe's fake Stripe.js mounts the card element, but its
``confirmCardPayment`` ignores the card and only completes 3-D Secure. Attach
``NEEDS_AUTHENTICATION`` server-side (``confirm_with_card`` gives ``requires_action``), then press
Pay and "Complete authentication" in its dialog: the intent succeeds and the form comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from marketplace.catalog.models import Piece, PieceStatus
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from marketplace.orders.models import Order
from marketplace.orders.services import Address, place_order

SECRET_KEY = "sk_test_x"
PUBLISHABLE_KEY = "pk_test_x"
WEBHOOK_SECRET = "whsec_test"
FEE_PERCENT = Decimal("3.6")
FEE_FIXED_MINOR = 100

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"
NEEDS_AUTHENTICATION = "4000002500003155"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    """Whether localstripe answers an authenticated API call at ``url``."""
    request = urllib.request.Request(
        f"{url}/v1/payment_intents", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session", name="localstripe_server")
def localstripe_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """localstripe running for the whole session; its base URL."""
    port = free_port()
    log = Path(tmp_path_factory.mktemp("localstripe")) / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(name="localstripe_url")
def localstripe_url_fixture(localstripe_server: str) -> str:
    """localstripe, emptied for this test."""
    request = urllib.request.Request(f"{localstripe_server}/_config/data", method="DELETE")
    with urllib.request.urlopen(request, timeout=5):
        pass
    return localstripe_server


def configure_stripe(app: Flask, monkeypatch: pytest.MonkeyPatch, api_base: str) -> None:
    """Point the app's Stripe gateway at ``api_base`` for this test."""
    settings: dict[str, Any] = {
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": api_base,
        "STRIPE_JS_URL": f"{api_base}/js.stripe.com/v3/",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_FEE_PERCENT": FEE_PERCENT,
        "STRIPE_FEE_FIXED_MINOR": FEE_FIXED_MINOR,
        "STRIPE_TIMEOUT_SECONDS": 5,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)


@pytest.fixture(name="stripe_on")
def stripe_on_fixture(app: Flask, monkeypatch: pytest.MonkeyPatch, localstripe_url: str) -> Flask:
    """The app taking card payments through Stripe (localstripe)."""
    configure_stripe(app, monkeypatch, localstripe_url)
    return app


@pytest.fixture(name="stripe_api")
def stripe_api_fixture(localstripe_url: str) -> stripe.StripeClient:
    """A Stripe client for the test's own calls to localstripe (what the browser would do)."""
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )


def confirm_with_card(api: stripe.StripeClient, intent_id: str, number: str) -> str:
    """What Stripe.js does in the browser: give the intent a card and confirm it.

    localstripe cannot confirm with a payment method in one call, so the card is attached
    first. Returns the intent's status; a declined card raises ``stripe.CardError``.
    """
    method = api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    api.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    return str(api.v1.payment_intents.confirm(intent_id).status)


def a_piece_in_stock() -> Piece:
    """A seeded demo piece that can be bought."""
    piece = db.session.scalar(
        sa.select(Piece)
        .where(Piece.status == PieceStatus.ACTIVE.value, Piece.stock >= 1)
        .order_by(Piece.id)
        .limit(1)
    )
    assert piece is not None, "the demo has no piece in stock"
    return piece


def placed_order() -> Order:
    """An order of one demo piece, placed and committed (to the test's savepoint)."""
    order = place_order(
        cart={a_piece_in_stock().id: 1},
        address=Address(
            email="shopper@example.test",
            name="Rosa Quispe",
            country="PE",
            region="Cusco",
            city="Cusco",
            address_line1="Calle Plateros 334",
        ),
        user_id=None,
        currency="PEN",
        fee_percent=Decimal("8"),
    )
    db.session.commit()
    return order


def paid_bookings(order: Order) -> int:
    """How many times the books recorded the order as paid (must be 0 or 1)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key == f"order:{order.id}:paid")
        )
        or 0
    )


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None
           ) -> tuple[bytes, str]:
    """A webhook body and its ``Stripe-Signature`` header (t=..., v1=HMAC-SHA256)."""
    body = json.dumps(event).encode()
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, f"t={timestamp},v1={mac.hexdigest()}"


_event_ids = itertools.count(1)


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A Stripe event of type ``kind`` about ``obj``, shaped like Stripe's."""
    return {
        "id": event_id or f"evt_test_{next(_event_ids)}",
        "object": "event",
        "api_version": "2026-03-25.dahlia",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": obj},
    }


def _error(status: int, kind: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


class FakeStripe:
    """The parts of Stripe's API that localstripe lacks, as Stripe documents them.

    Payment intents that can be confirmed with a payment method (``pm_card_visa`` succeeds,
    ``pm_card_chargeDeclined`` is declined), charges with a balance transaction and its fee,
    refunds, and idempotent replays: a POST repeating an ``Idempotency-Key`` gets the first
    answer again, with ``Idempotent-Replayed: true``. ``fail_next("timeout" | "500")`` makes
    the next request be carried out but answered only after the client's timeout (the answer
    is lost), or answer 500 without doing anything.
    """

    def __init__(self, server: HTTPServer, *, fee: int = 512, hang_seconds: float = 1.5) -> None:
        self._lock = threading.Lock()
        self.server = server
        self.fee = fee
        self.hang_seconds = hang_seconds
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, tuple[int, str]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.faults: list[str] = []
        self._ids = itertools.count(1)
        server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        """The base URL to give the SDK."""
        return self.server.url_for("/").rstrip("/")

    def fail_next(self, fault: str) -> None:
        """Make the next request fail: ``"timeout"`` or ``"500"``."""
        self.faults.append(fault)

    def handle(self, request: Request) -> Response:
        """Answer one request as Stripe would."""
        key = request.headers.get("Idempotency-Key")
        fault = self.faults.pop(0) if self.faults else None
        with self._lock:
            self.requests.append((request.method, request.path, key))
            if fault == "500":
                return self._respond(
                    *_error(500, "api_error", "Something went wrong on Stripe's end.")
                )
            if request.method == "POST" and key and key in self.replies:
                status, body = self.replies[key]
                return Response(
                    body, status, content_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            status, answer = self._route(request)
            body = json.dumps(answer)
            if request.method == "POST" and key:
                self.replies[key] = (status, body)
        if fault == "timeout":
            time.sleep(self.hang_seconds)  # done at Stripe, but the client gave up waiting
        return Response(body, status, content_type="application/json")

    def _respond(self, status: int, answer: dict[str, Any]) -> Response:
        return Response(json.dumps(answer), status, content_type="application/json")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids)}"

    def _route(self, request: Request) -> tuple[int, dict[str, Any]]:
        path, form = request.path, request.form
        if request.method == "POST" and path == "/v1/payment_intents":
            return 200, self._create_intent(form)
        match = re.fullmatch(r"/v1/payment_intents/(pi_\w+)(/confirm)?", path)
        if match and match.group(1) in self.intents:
            intent = self.intents[match.group(1)]
            if match.group(2):
                return self._confirm(intent, form.get("payment_method", ""))
            expand = [v for k, v in request.args.items(multi=True) if k.startswith("expand")]
            return 200, self._shown(intent, expanded="latest_charge.balance_transaction" in expand)
        if request.method == "POST" and path == "/v1/refunds":
            return self._refund(form.get("payment_intent", ""), form.get("amount"))
        match = re.fullmatch(r"/v1/refunds/(re_\w+)", path)
        if match and match.group(1) in self.refunds:
            return 200, self.refunds[match.group(1)]
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({path}).")

    def _create_intent(self, form: Any) -> dict[str, Any]:
        intent_id = self._new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "amount_received": 0,
            "currency": form["currency"],
            "client_secret": f"{intent_id}_secret_fake",
            "status": "requires_payment_method",
            "payment_method": None,
            "payment_method_types": [v for k, v in form.items(multi=True)
                                     if k.startswith("payment_method_types")],
            "metadata": {k[len("metadata["):-1]: v for k, v in form.items()
                         if k.startswith("metadata[")},
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
        }
        self.intents[intent_id] = intent
        return intent

    def _shown(self, intent: dict[str, Any], expanded: bool = False) -> dict[str, Any]:
        shown = dict(intent)
        charge = intent.get("_charge")
        shown.pop("_charge", None)
        shown["latest_charge"] = (charge if expanded else charge["id"]) if charge else None
        return shown

    def _confirm(self, intent: dict[str, Any], method: str) -> tuple[int, dict[str, Any]]:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return _error(
                400, "invalid_request_error",
                "This PaymentIntent's status is succeeded, so it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        intent["payment_method"] = method
        if method == "pm_card_chargeDeclined":
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined.",
            }
            return _error(
                402, "card_error", "Your card was declined.", code="card_declined",
                decline_code="generic_decline", payment_intent=self._shown(intent),
            )
        charge_id = self._new_id("ch")
        intent["_charge"] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "currency": intent["currency"],
            "status": "succeeded",
            "payment_intent": intent["id"],
            "balance_transaction": {
                "id": self._new_id("txn"),
                "object": "balance_transaction",
                "amount": intent["amount"],
                "currency": intent["currency"],
                "fee": self.fee,
                "net": intent["amount"] - self.fee,
                "type": "charge",
            },
        }
        intent.update(status="succeeded", amount_received=intent["amount"],
                      last_payment_error=None)
        return 200, self._shown(intent)

    def _refund(self, intent_id: str, amount: str | None) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(intent_id)
        if intent is None or intent["status"] != "succeeded":
            return _error(400, "invalid_request_error", "This PaymentIntent has no charge.")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["payment_intent"] == intent_id)
        wanted = int(amount) if amount else intent["amount"] - refunded
        if wanted > intent["amount"] - refunded:
            return _error(
                400, "invalid_request_error",
                f"Refund amount ({wanted}) is greater than unrefunded amount on charge "
                f"({intent['amount'] - refunded}).",
                code="amount_too_large", param="amount",
            )
        refund_id = self._new_id("re")
        self.refunds[refund_id] = {
            "id": refund_id, "object": "refund", "amount": wanted,
            "currency": intent["currency"], "payment_intent": intent_id,
            "charge": intent["_charge"]["id"], "status": "succeeded",
        }
        return 200, self.refunds[refund_id]


@pytest.fixture(scope="session", name="fake_stripe_server")
def fake_stripe_server_fixture() -> Iterator[HTTPServer]:
    """A local HTTP server for the fake (threaded: a hanging answer must not block a retry)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake_stripe_server: HTTPServer
) -> Iterator[FakeStripe]:
    """The app taking card payments through the local fake of Stripe."""
    fake_stripe_server.clear()
    fake = FakeStripe(fake_stripe_server)
    configure_stripe(app, monkeypatch, fake.url)
    monkeypatch.setitem(app.config, "STRIPE_TIMEOUT_SECONDS", 0.5)
    yield fake
    fake_stripe_server.clear()


def fake_api(fake: FakeStripe) -> stripe.StripeClient:
    """A Stripe client for the test's own calls to the fake."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": fake.url}, max_network_retries=0)
