"""Payouts: a month's run books each payee once, the bank file matches the books, Stripe transfers
are retried without paying twice, and refunds after a payout are netted in the next one.

Balances are built through the real flow (paid order → shipped → delivered → completed). Stripe
transfers go to a local HTTP fake of ``/v1/transfers`` shaped like Stripe's API reference,
reached with the real ``stripe`` SDK (localstripe has no transfers).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from marketplace.catalog.models import Piece
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.orders import aftersale
from marketplace.orders.models import Order
from marketplace.payments.gateways import SandboxGateway
from marketplace.payouts import cli, services
from marketplace.payouts.models import Payout
from marketplace.provenance.models import Cooperative
from tests import factories
from tests.stripe_fixtures import (  # noqa: F401
    SECRET_KEY,
    configure_stripe,
    fake_stripe_server_fixture,
    free_port,
)

THIS_MONTH = utcnow().date().replace(day=1)
LAST_MONTH = services.last_month()
MONTH_BEFORE = services.last_month(THIS_MONTH - timedelta(days=1))
STRIPE_ACCOUNT = "acct_1CoopTestAnanea"


# --- Building balances -----------------------------------------------------------------------


def _balance(kind: AccountKind, **owner: int) -> int:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance), 0)).where(
        LedgerAccount.kind == kind.value
    )
    for name, value in owner.items():
        stmt = stmt.where(getattr(LedgerAccount, name) == value)
    return int(db.session.scalar(stmt))


def _transactions_balance() -> None:
    """Every ledger transaction sums to zero in each unit."""
    bad = db.session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerEntry.unit)
        .group_by(LedgerEntry.transaction_id, LedgerEntry.unit)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    ).all()
    assert bad == []


def _count(kind: str) -> int:
    return int(db.session.scalar(
        sa.select(sa.func.count()).select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == kind)) or 0)


def _heavy_piece(stock: int = 1, jeweller: Any = None) -> Piece:
    """A piece with enough fine gold (15 g) that its premium passes the S/ 50.00 minimum."""
    return factories.piece(jeweller or factories.jeweller(), stock=stock, gross_mg=20_000)


def _completed(items: dict[Piece, int]) -> Order:
    """An order paid, shipped, delivered and past its return window: its money is available."""
    order = factories.paid_order(items)
    for jeweller_id in {piece.jeweller_id for piece in items}:
        aftersale.mark_shipped(order, jeweller_id, "Olva Courier", "OLV-1", "jeweller")
        aftersale.mark_delivered(order, jeweller_id, "jeweller")
    assert aftersale.complete_order(
        order, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="t"
    )
    return order


def _coop_premium(order: Order) -> int:
    return sum(p.amount_minor - p.refunded_minor for line in order.lines
               for p in line.premium_lines)


def _with_bank_details(coop: Cooperative) -> Cooperative:
    coop.payout_bank = "Banco de Crédito del Perú"
    coop.payout_account_holder = f"{coop.name}, tesorería"
    coop.payout_cci = "00219300123456789012"
    coop.stripe_account_id = None
    db.session.flush()
    return coop


def _payout(payee_key: str, period: str) -> Payout | None:
    return db.session.scalar(
        sa.select(Payout).where(Payout.payee_key == payee_key, Payout.period == period))


def _run(period: str = LAST_MONTH) -> services.RunSummary:
    return services.run_payouts(period, actor="test", commit=db.session.commit)


# --- Runs ------------------------------------------------------------------------------------


def test_a_payout_run_twice_pays_each_payee_once(app):
    piece = _heavy_piece()
    order = _completed({piece: 1})
    coop_id = order.lines[0].premium_lines[0].cooperative_id
    owed = _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id)
    premium = _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop_id)
    assert owed > 5000 and premium > 5000

    first = _run()
    keys = {p.payee_key for p in first.created}
    assert {f"jeweller:{piece.jeweller_id}", f"cooperative:{coop_id}"} <= keys
    jeweller_payout = _payout(f"jeweller:{piece.jeweller_id}", LAST_MONTH)
    assert jeweller_payout is not None and jeweller_payout.amount_minor == owed
    assert _payout(f"cooperative:{coop_id}", LAST_MONTH).amount_minor == premium
    reserved = _count("payout_reserved")
    payouts = db.session.scalar(sa.select(sa.func.count()).select_from(Payout))

    second = _run()
    assert second.created == []
    assert {p.payee_key for p in second.already_paid} >= keys
    assert _count("payout_reserved") == reserved
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == payouts
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id) == 0
    assert _balance(AccountKind.JEWELLER_PAYING, jeweller_id=piece.jeweller_id) == owed
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop_id) == premium
    _transactions_balance()


def test_money_earned_after_the_months_payout_waits_for_the_next_month(app):
    jeweller = factories.jeweller()
    _completed({_heavy_piece(jeweller=jeweller): 1})
    assert _run().created
    _completed({_heavy_piece(jeweller=jeweller): 1})
    later = _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=jeweller.id)

    again = _run()
    assert again.created == []
    assert f"jeweller:{jeweller.id}" in {p.payee_key for p in again.next_period}
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=jeweller.id) == later
    _transactions_balance()


def test_below_the_minimum_nothing_is_created_and_the_balance_waits(app):
    piece = factories.piece(factories.jeweller())  # 3 g of fine gold: a small premium
    order = _completed({piece: 1})
    coop_id = order.lines[0].premium_lines[0].cooperative_id
    premium = _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop_id)
    assert 0 < premium < 5000  # below the default minimum of S/ 50.00

    summary = _run()
    assert _payout(f"cooperative:{coop_id}", LAST_MONTH) is None
    assert f"cooperative:{coop_id}" in {p.payee_key for p in summary.below_minimum}
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop_id) == premium
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop_id) == 0


def test_a_higher_minimum_pays_nobody_and_books_nothing(app, monkeypatch):
    piece = _heavy_piece()
    _completed({piece: 1})
    owed = _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id)
    monkeypatch.setitem(app.config, "PAYOUT_MINIMUM_MINOR", owed + 1)
    reserved = _count("payout_reserved")

    summary = _run()
    assert summary.created == []
    assert _payout(f"jeweller:{piece.jeweller_id}", LAST_MONTH) is None
    assert _count("payout_reserved") == reserved
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id) == owed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the month"),
        ("November", "is not a month"),
        ("2026-13", "There is no month 13"),
        ("2026-00", "There is no month 0"),
        ("1999-12", "long before"),
    ],
)
def test_a_period_that_is_not_a_month_is_refused_with_a_message(app, text, message):
    with pytest.raises(services.PayoutError, match=message):
        services.run_payouts(text, actor="test")


def test_a_month_still_to_come_is_refused(app):
    next_month = (THIS_MONTH + timedelta(days=32)).strftime("%Y-%m")
    with pytest.raises(services.PayoutError, match="has not begun"):
        services.run_payouts(next_month, actor="test")
    assert services.parse_period(THIS_MONTH.strftime("%Y-%m")) == THIS_MONTH.strftime("%Y-%m")
    assert services.parse_period("2026-1", today=date(2026, 11, 27)) == "2026-01"


def test_a_run_that_loses_the_race_for_a_payee_books_nothing_for_it(app):
    piece = _heavy_piece()
    _completed({piece: 1})
    currency = services.payout_currency()
    (payee,) = [p for p in services._available_balances(currency)
                if p.payee_key == f"jeweller:{piece.jeweller_id}"]
    first = services._book(payee, LAST_MONTH, currency, "run A")
    assert first is not None
    reserved = _count("payout_reserved")

    # Run B read the same balance before run A committed; the unique (payee, month) stops it
    # inside its savepoint and nothing of it is left behind.
    assert services._book(payee, LAST_MONTH, currency, "run B") is None
    assert _count("payout_reserved") == reserved
    assert _balance(AccountKind.JEWELLER_PAYING, jeweller_id=piece.jeweller_id) == payee.total
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=piece.jeweller_id) == 0
    _transactions_balance()


# --- The bank file ---------------------------------------------------------------------------


def _bank_file_rows(period: str = LAST_MONTH) -> tuple[list[str], list[dict[str, str]]]:
    text = services.bank_file(period)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def test_the_bank_file_rows_and_amounts_equal_the_ledgers_paying_balances(app):
    coop = _with_bank_details(factories.cooperative())
    other = db.session.scalar(sa.select(Cooperative).where(
        Cooperative.parent_id.is_not(None), Cooperative.id != coop.id).order_by(Cooperative.id))
    other.payout_bank = other.payout_account_holder = other.payout_cci = None
    other.stripe_account_id = None
    jeweller = factories.jeweller()
    piece = _heavy_piece(stock=2, jeweller=jeweller)
    lot = factories.lot(coop=other)
    from marketplace.provenance.services import transfer_to_jeweller

    second = factories.piece(jeweller, {}, stock=0, gross_mg=20_000)
    transfer_to_jeweller(lot, jeweller, second.fine_mg * 4, invoice_ref="T-2", actor="test")
    from marketplace.catalog.services import back_piece, publish, set_stock

    back_piece(second, {lot.id: second.fine_mg}, actor="test")
    set_stock(second, 1, actor="test")
    publish(second)
    _completed({piece: 2, second: 1})

    summary = _run()
    header, rows = _bank_file_rows()
    assert header == ["payee", "account_holder", "bank", "cci", "amount", "currency",
                      "reference"]
    coop_payout = _payout(f"cooperative:{coop.id}", LAST_MONTH)
    assert coop_payout is not None and coop_payout.provider == "bank_transfer"
    paying = _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop.id)
    assert rows == [{
        "payee": coop.name,
        "account_holder": f"{coop.name}, tesorería",
        "bank": "Banco de Crédito del Perú",
        "cci": "00219300123456789012",
        "amount": f"{paying // 100}.{paying % 100:02d}",
        "currency": "PEN",
        "reference": f"OP-PAYOUT-{LAST_MONTH}-{coop_payout.id}",
    }]
    # Payees without bank details are left out of the file and reported by the run.
    missing = {p.payee_key for p in summary.missing_details}
    assert missing == {f"cooperative:{other.id}", f"jeweller:{jeweller.id}"}
    _, left_out = services.bank_rows(LAST_MONTH)
    assert sum(p.amount_minor for p in left_out) == (
        _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=other.id)
        + _balance(AccountKind.JEWELLER_PAYING, jeweller_id=jeweller.id)
    )
    for payout in left_out:
        assert payout.status == "pending"
    _transactions_balance()


def test_recording_the_bank_reference_moves_paying_to_paid(app):
    piece = _heavy_piece()
    _completed({piece: 1})
    _run()
    payout = _payout(f"jeweller:{piece.jeweller_id}", LAST_MONTH)
    assert payout is not None and payout.status == "pending"
    amount = payout.amount_minor

    with pytest.raises(services.PayoutError, match="Enter the reference"):
        services.record_bank_reference(payout, "   ", actor="admin")
    services.record_bank_reference(payout, " BCP-OP-778812 ", actor="admin")
    db.session.commit()

    assert payout.status == "paid" and payout.reference == "BCP-OP-778812"
    assert payout.paid_at is not None
    assert _balance(AccountKind.JEWELLER_PAYING, jeweller_id=piece.jeweller_id) == 0
    assert _balance(AccountKind.JEWELLER_PAID, jeweller_id=piece.jeweller_id) == amount
    with pytest.raises(services.PayoutError, match="already paid"):
        services.record_bank_reference(payout, "BCP-OP-778813", actor="admin")
    assert _count("payout_paid") == 1
    # A paid payout is out of the bank file.
    assert services.bank_reference(payout) not in services.bank_file(LAST_MONTH)
    _transactions_balance()


# --- Refunds after a payout ------------------------------------------------------------------


def test_a_refund_after_a_payout_is_netted_in_the_next_months_payout(app):
    jeweller = factories.jeweller()
    first_piece = _heavy_piece(jeweller=jeweller)
    first = _completed({first_piece: 1})
    coop_id = first.lines[0].premium_lines[0].cooperative_id
    first_lot = first.lines[0].premium_lines[0].lot_id
    earlier = services.run_payouts(MONTH_BEFORE, actor="test", commit=db.session.commit)
    for payout in earlier.created:
        if payout.payee_key in (f"jeweller:{jeweller.id}", f"cooperative:{coop_id}"):
            services.record_bank_reference(payout, f"BCP-{payout.id}", actor="admin")
    db.session.commit()

    aftersale.refund(first, {first.lines[0].id: 1}, SandboxGateway(), actor="admin",
                     reason="returned")
    owed_back = first.lines[0].jeweller_minor
    premium_back = sum(p.refunded_minor for p in first.lines[0].premium_lines)
    assert premium_back > 0 and _coop_premium(first) == 0
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=jeweller.id) == -owed_back
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop_id,
                    lot_id=first_lot) == -premium_back

    # Nothing to pay while the payees owe money back: it is carried, not paid.
    carried = services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    assert {f"jeweller:{jeweller.id}", f"cooperative:{coop_id}"} <= {
        p.payee_key for p in carried.carried}
    assert _payout(f"jeweller:{jeweller.id}", LAST_MONTH) is None

    # New sales (gold of another lot of the same cooperative) pay the debt back first.
    second = _completed({_heavy_piece(stock=2, jeweller=jeweller): 2})
    assert second.lines[0].premium_lines[0].cooperative_id == coop_id
    second_lot = second.lines[0].premium_lines[0].lot_id
    assert second_lot != first_lot
    earned = second.lines[0].jeweller_minor + sum(s.shipping_minor for s in second.shipments)
    premium = _coop_premium(second)

    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    jeweller_payout = _payout(f"jeweller:{jeweller.id}", LAST_MONTH)
    assert jeweller_payout is not None
    assert jeweller_payout.amount_minor == earned - owed_back
    coop_payout = _payout(f"cooperative:{coop_id}", LAST_MONTH)
    assert coop_payout is not None
    assert coop_payout.amount_minor == premium - premium_back
    # Every lot account is emptied exactly; the negative lot is made whole from the other.
    for lot_id in (first_lot, second_lot):
        assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop_id,
                        lot_id=lot_id) == 0
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop_id,
                    lot_id=second_lot) == premium - premium_back
    assert _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=jeweller.id) == 0
    _transactions_balance()


# --- Stripe transfers ------------------------------------------------------------------------


class FakeTransfers:
    """``POST /v1/transfers`` and ``GET /v1/transfers`` as Stripe documents them.

    A POST that repeats an ``Idempotency-Key`` Stripe has seen gets the first answer again
    (``Idempotent-Replayed: true``), whatever it was, 500s included. ``answer_next`` scripts the
    next new POSTs: ``"card_declined"`` (402), ``"balance_insufficient"`` (400), ``"500"``,
    ``"timeout_done"`` (made, but answered after the client gave up), ``"timeout_lost"`` (the
    client gave up before Stripe did anything).
    """

    def __init__(self, server: HTTPServer, hang_seconds: float = 1.5) -> None:
        self._lock = threading.Lock()
        self.hang_seconds = hang_seconds
        self.transfers: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, tuple[int, str]] = {}
        self.posts: list[tuple[str | None, dict[str, str]]] = []
        self.script: list[str] = []
        self.url = server.url_for("/").rstrip("/")
        server.expect_request(re.compile(r"^/v1/transfers")).respond_with_handler(self.handle)

    def answer_next(self, *behaviours: str) -> None:
        self.script.extend(behaviours)

    @property
    def keys(self) -> list[str | None]:
        return [key for key, _ in self.posts]

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return self._json(401, {"error": {"type": "invalid_request_error",
                                              "message": "Invalid API Key provided."}})
        if request.method == "GET" and request.path == "/v1/transfers":
            group = request.args.get("transfer_group")
            with self._lock:
                found = [t for t in self.transfers.values()
                         if group is None or t["transfer_group"] == group]
            return self._json(200, {"object": "list", "data": found, "has_more": False,
                                    "url": "/v1/transfers"})
        if request.method != "POST" or request.path != "/v1/transfers":
            return self._json(404, {"error": {"type": "invalid_request_error",
                                              "message": "Unrecognized request URL."}})
        key = request.headers.get("Idempotency-Key")
        form = {k: v for k, v in request.form.items()}
        with self._lock:
            self.posts.append((key, form))
            if key and key in self.replies:
                status, body = self.replies[key]
                return Response(body, status, content_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
            behaviour = self.script.pop(0) if self.script else "ok"
            if behaviour == "timeout_lost":
                status, body = 0, ""
            else:
                status, answer = self._answer(behaviour, form)
                body = json.dumps(answer)
                if key:
                    self.replies[key] = (status, body)
        if behaviour.startswith("timeout"):
            time.sleep(self.hang_seconds)  # the client has given up waiting by now
            if behaviour == "timeout_lost":
                return self._json(500, {"error": {"type": "api_error", "message": "lost"}})
        return Response(body, status, content_type="application/json")

    def _answer(self, behaviour: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if behaviour == "card_declined":
            return 402, {"error": {"type": "card_error", "code": "card_declined",
                                   "message": "Your card was declined."}}
        if behaviour == "balance_insufficient":
            return 400, {"error": {
                "type": "invalid_request_error", "code": "balance_insufficient",
                "message": "You have insufficient available funds in your Stripe account.",
            }}
        if behaviour == "500":
            return 500, {"error": {"type": "api_error",
                                   "message": "Something went wrong on Stripe's end."}}
        transfer_id = f"tr_fake{len(self.transfers) + 1:04d}"
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": int(form["amount"]),
            "amount_reversed": 0,
            "balance_transaction": f"txn_fake{len(self.transfers) + 1:04d}",
            "created": int(time.time()),
            "currency": form["currency"],
            "description": form.get("description"),
            "destination": form["destination"],
            "destination_payment": f"py_fake{len(self.transfers) + 1:04d}",
            "livemode": False,
            "metadata": {k[len("metadata["):-1]: v for k, v in form.items()
                         if k.startswith("metadata[")},
            "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                          "url": f"/v1/transfers/{transfer_id}/reversals"},
            "reversed": False,
            "source_transaction": form.get("source_transaction"),
            "source_type": "card",
            "transfer_group": form.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        return 200, transfer

    @staticmethod
    def _json(status: int, answer: dict[str, Any]) -> Response:
        return Response(json.dumps(answer), status, content_type="application/json")


@pytest.fixture(name="stripe_transfers")
def stripe_transfers_fixture(
    app: Flask, monkeypatch: pytest.MonkeyPatch, fake_stripe_server: HTTPServer
) -> Iterator[FakeTransfers]:
    """The app's Stripe calls going to the fake, with a short client timeout and no SDK
    retries (so each lost answer is seen by the payout code)."""
    fake_stripe_server.clear()
    fake = FakeTransfers(fake_stripe_server)
    configure_stripe(app, monkeypatch, fake.url)
    monkeypatch.setitem(app.config, "STRIPE_TIMEOUT_SECONDS", 0.5)
    yield fake
    fake_stripe_server.clear()


def _stripe_coop_with_premium() -> tuple[Cooperative, int]:
    """A cooperative with a Stripe connected account and a premium above the minimum."""
    coop = factories.cooperative()
    coop.stripe_account_id = STRIPE_ACCOUNT
    _completed({_heavy_piece(): 1})
    premium = _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop.id)
    assert premium >= 5000
    return coop, premium


def _stripe_payout(coop: Cooperative) -> Payout:
    payout = _payout(f"cooperative:{coop.id}", LAST_MONTH)
    assert payout is not None and payout.provider == "stripe_transfer"
    return payout


def test_a_stripe_transfer_pays_the_cooperative_at_once(app, stripe_transfers):
    coop, premium = _stripe_coop_with_premium()
    summary = _run()
    payout = _stripe_payout(coop)
    assert payout in summary.paid and payout.status == "paid"
    (transfer,) = stripe_transfers.transfers.values()
    assert payout.provider_ref == transfer["id"]
    assert transfer["amount"] == premium and transfer["currency"] == "pen"
    assert transfer["destination"] == STRIPE_ACCOUNT
    assert transfer["transfer_group"] == f"payout-{payout.id}"
    assert transfer["metadata"]["payout_id"] == str(payout.id)
    assert stripe_transfers.keys == [f"payout-{payout.id}-0"]
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop.id) == 0
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop.id) == 0
    _transactions_balance()


@pytest.mark.parametrize(
    ("refusal", "message"),
    [("card_declined", "Your card was declined"),
     ("balance_insufficient", "insufficient available funds")],
)
def test_a_refused_stripe_transfer_then_a_retry_pays_exactly_once(
    app, stripe_transfers, refusal, message
):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next(refusal)

    summary = _run()
    payout = _stripe_payout(coop)
    assert payout in summary.failed and summary.send_failed
    assert payout.status == "failed" and message in (payout.failure_reason or "")
    assert payout.attempts == 1
    # The money is back in available (not lost, not paid), ready for the retry.
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop.id) == premium
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop.id) == 0
    assert stripe_transfers.transfers == {}

    assert services.retry_payout(payout, actor="admin") == "paid"
    db.session.commit()
    assert payout.status == "paid" and payout.failure_reason is None
    # The refused attempt and the new one carry different keys; one transfer exists.
    assert stripe_transfers.keys == [f"payout-{payout.id}-0", f"payout-{payout.id}-1"]
    (transfer,) = stripe_transfers.transfers.values()
    assert payout.provider_ref == transfer["id"] and transfer["amount"] == premium
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop.id) == 0
    keys = set(db.session.scalars(sa.select(LedgerTransaction.idempotency_key).where(
        LedgerTransaction.idempotency_key.like(f"payout:{payout.id}:%"))))
    assert keys == {f"payout:{payout.id}:reserve", f"payout:{payout.id}:failed:0",
                    f"payout:{payout.id}:retry:1", f"payout:{payout.id}:paid"}
    with pytest.raises(services.PayoutError, match="already paid"):
        services.retry_payout(payout, actor="admin")
    assert len(stripe_transfers.transfers) == 1
    _transactions_balance()


def test_a_failed_payout_whose_money_a_later_run_paid_is_not_sent_again(app, stripe_transfers):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next("balance_insufficient")
    services.run_payouts(MONTH_BEFORE, actor="test", commit=db.session.commit)
    failed = _payout(f"cooperative:{coop.id}", MONTH_BEFORE)
    assert failed is not None and failed.status == "failed"

    later = _run(LAST_MONTH)  # the money back in available goes with the next month's payout
    assert _stripe_payout(coop) in later.paid
    with pytest.raises(services.PayoutError, match="cannot be sent again"):
        services.retry_payout(failed, actor="admin")
    assert failed.status == "failed"
    assert len(stripe_transfers.transfers) == 1
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    assert _balance(AccountKind.COOP_PREMIUM_AVAILABLE, cooperative_id=coop.id) == 0
    _transactions_balance()


def test_a_lost_answer_keeps_the_payout_pending_and_the_retry_reuses_its_key(
    app, stripe_transfers
):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next("timeout_lost")

    summary = _run()
    payout = _stripe_payout(coop)
    assert payout in summary.unknown and summary.send_failed
    assert payout.status == "pending" and payout.attempts == 0
    assert "not known whether the transfer was made" in (payout.failure_reason or "")
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop.id) == premium

    assert services.retry_payout(payout, actor="admin") == "paid"
    db.session.commit()
    assert stripe_transfers.keys == [f"payout-{payout.id}-0", f"payout-{payout.id}-0"]
    assert len(stripe_transfers.transfers) == 1
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    _transactions_balance()


def test_a_transfer_made_but_unanswered_is_found_and_not_sent_again(app, stripe_transfers):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next("timeout_done")

    summary = _run()
    payout = _stripe_payout(coop)
    assert payout in summary.unknown and payout.status == "pending"

    assert services.retry_payout(payout, actor="admin") == "paid"
    db.session.commit()
    (transfer,) = stripe_transfers.transfers.values()
    assert payout.provider_ref == transfer["id"]
    assert stripe_transfers.keys == [f"payout-{payout.id}-0"]  # found, not asked again
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    _transactions_balance()


def test_a_server_error_is_not_taken_for_a_refusal(app, stripe_transfers):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next("500")

    _run()
    payout = _stripe_payout(coop)
    assert payout.status == "pending" and payout.attempts == 0
    # Stripe answers the same key with the same 500: still unknown, never a second transfer.
    assert services.retry_payout(payout, actor="admin") == "unknown"
    db.session.commit()
    assert stripe_transfers.keys == [f"payout-{payout.id}-0", f"payout-{payout.id}-0"]
    assert stripe_transfers.transfers == {}
    assert payout.status == "pending"
    assert _balance(AccountKind.COOP_PREMIUM_PAYING, cooperative_id=coop.id) == premium


def test_stripe_out_of_reach_leaves_the_payout_pending_with_the_same_key(
    app, stripe_transfers, monkeypatch
):
    coop, premium = _stripe_coop_with_premium()
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")

    summary = _run()
    payout = _stripe_payout(coop)
    assert payout in summary.unknown
    assert payout.status == "pending" and payout.attempts == 0
    assert "Stripe did not answer" in (payout.failure_reason or "")
    assert services.retry_payout(payout, actor="admin") == "unknown"  # still out of reach
    db.session.commit()

    monkeypatch.setitem(app.config, "STRIPE_API_BASE", stripe_transfers.url)
    assert services.retry_payout(payout, actor="admin") == "paid"
    db.session.commit()
    assert stripe_transfers.keys == [f"payout-{payout.id}-0"]
    assert len(stripe_transfers.transfers) == 1
    assert _balance(AccountKind.COOP_PREMIUM_PAID, cooperative_id=coop.id) == premium
    _transactions_balance()


def test_a_bank_payout_is_not_retried(app):
    piece = _heavy_piece()
    _completed({piece: 1})
    _run()
    payout = _payout(f"jeweller:{piece.jeweller_id}", LAST_MONTH)
    with pytest.raises(services.PayoutError, match="bank"):
        services.retry_payout(payout, actor="admin")


# --- The commands ----------------------------------------------------------------------------


def test_the_run_command_prints_each_payee_and_exits_1_when_a_send_failed(app, stripe_transfers):
    coop, premium = _stripe_coop_with_premium()
    stripe_transfers.answer_next("card_declined")
    runner = app.test_cli_runner()

    result = runner.invoke(cli.payouts, ["run", "--period", LAST_MONTH])
    assert result.exit_code == 1, result.output
    payout = _stripe_payout(coop)
    assert f"cooperative:{coop.id} {coop.name}" in result.output
    assert f"payout #{payout.id}" in result.output and "FAILED" in result.output
    assert "1 failed" in result.output

    retried = runner.invoke(cli.payouts, ["retry", "--id", str(payout.id)])
    assert retried.exit_code == 0, retried.output
    assert "paid" in retried.output
    again = runner.invoke(cli.payouts, ["run", "--period", LAST_MONTH])
    assert again.exit_code == 0, again.output
    assert "0 payout(s) created" in again.output
    assert len(stripe_transfers.transfers) == 1
    _transactions_balance()


def test_the_commands_refuse_bad_input_with_a_message(app):
    runner = app.test_cli_runner()
    bad = runner.invoke(cli.payouts, ["run", "--period", "2026-13"])
    assert bad.exit_code == 2 and "There is no month 13" in bad.output
    missing = runner.invoke(cli.payouts, ["retry", "--id", "999999"])
    assert missing.exit_code == 1 and "There is no payout #999999" in missing.output
