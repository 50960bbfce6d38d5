"""The payout console: a month's payouts and totals, running last month (CSRF, audited), the bank
file, recording a bank's reference, retrying, and a clear message for every bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask, g

from marketplace import create_app
from marketplace.admin.models import AuditRecord
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount
from marketplace.orders import aftersale
from marketplace.payouts import services
from marketplace.payouts.models import Payout
from marketplace.payouts.views import bp as payouts_bp
from tests import factories
from tests.conftest import csrf_token
from tests.integration.test_payouts import (  # noqa: F401
    STRIPE_ACCOUNT,
    FakeTransfers,
    fake_stripe_server_fixture,
    stripe_transfers_fixture,
)

LAST_MONTH = services.last_month()


@pytest.fixture(scope="module")
def app(app: Flask) -> Iterator[Flask]:
    """The session app when it serves the payout console; until ``create_app`` registers the
    blueprint, a twin of it (same database and settings) that does."""
    if "payouts" in app.blueprints:
        yield app
        return
    twin = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    twin.register_blueprint(payouts_bp)

    @twin.before_request
    def _load_the_user_per_request() -> None:
        g.pop("_login_user", None)

    yield twin
    with twin.app_context():
        db.session.remove()
        db.engine.dispose()


def _balance(kind: AccountKind, **owner: int) -> int:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance), 0)).where(
        LedgerAccount.kind == kind.value)
    for name, value in owner.items():
        stmt = stmt.where(getattr(LedgerAccount, name) == value)
    return int(db.session.scalar(stmt))


def _money_available() -> int:
    """A jeweller with a completed sale (money available to pay out); its id."""
    piece = factories.piece(factories.jeweller(), gross_mg=20_000)
    order = factories.paid_order({piece: 1})
    aftersale.mark_shipped(order, piece.jeweller_id, "Olva", "OLV-9", "jeweller")
    aftersale.mark_delivered(order, piece.jeweller_id, "jeweller")
    assert aftersale.complete_order(order, now=utcnow() + timedelta(days=30),
                                    window=timedelta(days=14), actor="t")
    db.session.commit()
    return piece.jeweller_id


def _jeweller_payout(jeweller_id: int) -> Payout | None:
    return db.session.scalar(sa.select(Payout).where(
        Payout.payee_key == f"jeweller:{jeweller_id}", Payout.period == LAST_MONTH))


def test_the_console_offers_to_run_last_month(client, as_user):
    as_user("admin@demo.test")
    page = client.get("/admin/payouts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Run payouts for {LAST_MONTH}" in html
    assert f'value="{LAST_MONTH}"' in html and 'type="month"' in html


@pytest.mark.parametrize("email", ["jeweller@demo.test", "coop@demo.test", "buyer@demo.test"])
def test_only_admins_open_the_payout_console(client, as_user, email):
    as_user(email)
    assert client.get("/admin/payouts").status_code == 403
    assert client.post("/admin/payouts/run", data={"period": LAST_MONTH}).status_code == 403
    assert client.get(f"/admin/payouts/{LAST_MONTH}.csv").status_code == 403


def test_running_a_month_needs_the_csrf_token_and_is_audited(app, client, csrf_on):
    jeweller_id = _money_available()
    owed = _balance(AccountKind.JEWELLER_AVAILABLE, jeweller_id=jeweller_id)
    token = csrf_token(client, "/account/login")
    assert client.post("/account/login", data={
        "email": "admin@demo.test", "password": "demo-password", "csrf_token": token,
    }).status_code == 302

    refused = client.post("/admin/payouts/run", data={"period": LAST_MONTH})
    assert refused.status_code == 400
    assert _jeweller_payout(jeweller_id) is None

    token = csrf_token(client, "/admin/payouts")
    ran = client.post("/admin/payouts/run", data={"period": LAST_MONTH, "csrf_token": token})
    assert ran.status_code == 302
    assert ran.headers["Location"].endswith(f"/admin/payouts?period={LAST_MONTH}")
    db.session.expire_all()
    payout = _jeweller_payout(jeweller_id)
    assert payout is not None and payout.amount_minor == owed
    audit = db.session.scalar(sa.select(AuditRecord).where(
        AuditRecord.action == "payouts_run", AuditRecord.object_id == LAST_MONTH))
    assert audit is not None and audit.actor_email == "admin@demo.test"
    assert payout.id in audit.after["created"]

    page = client.get(f"/admin/payouts?period={LAST_MONTH}").get_data(as_text=True)
    assert f"#{payout.id}" in page and payout.payee_name in page
    assert "missing payout details" in page  # a jeweller has no bank details in the shop yet

    token = csrf_token(client, "/admin/payouts")
    client.post("/admin/payouts/run", data={"period": LAST_MONTH, "csrf_token": token})
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout).where(
        Payout.payee_key == f"jeweller:{jeweller_id}")) == 1


@pytest.mark.parametrize(
    ("period", "message"),
    [("", "Enter the month to pay"), ("2026-13", "There is no month 13"),
     ("soon", "is not a month"), ("2999-01", "has not begun yet")],
)
def test_a_bad_month_is_refused_with_a_message(client, as_user, period, message):
    as_user("admin@demo.test")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Payout))
    response = client.post("/admin/payouts/run", data={"period": period})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == before


def test_the_bank_file_downloads_the_cooperatives_bank_transfers(client, as_user):
    coop = factories.cooperative()
    coop.payout_bank = "Interbank"
    coop.payout_account_holder = "Cooperativa Minera, tesorería"
    coop.payout_cci = "00300012345678901234"
    coop.stripe_account_id = None
    _money_available()
    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    payout = db.session.scalar(sa.select(Payout).where(
        Payout.payee_key == f"cooperative:{coop.id}", Payout.period == LAST_MONTH))
    assert payout is not None
    as_user("admin@demo.test")

    response = client.get(f"/admin/payouts/{LAST_MONTH}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="payouts-{LAST_MONTH}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["payee"], r["cci"], r["reference"]) for r in rows] == [
        (coop.name, "00300012345678901234", f"OP-PAYOUT-{LAST_MONTH}-{payout.id}")]
    assert rows[0]["amount"] == services.major_units(payout.amount_minor, "PEN")

    bad = client.get("/admin/payouts/2026-99.csv", follow_redirects=True)
    assert "There is no month 99" in bad.get_data(as_text=True)


def test_recording_the_banks_reference_marks_the_payout_paid(client, as_user):
    jeweller_id = _money_available()
    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    payout = _jeweller_payout(jeweller_id)
    assert payout is not None
    as_user("admin@demo.test")
    url = f"/admin/payouts/{payout.id}"
    assert "Record the reference" in client.get(url).get_data(as_text=True)

    empty = client.post(f"{url}/reference", data={"reference": "  "})
    assert empty.status_code == 422
    assert "Enter the reference the bank gave the transfer." in empty.get_data(as_text=True)
    too_long = client.post(f"{url}/reference", data={"reference": "X" * 121})
    assert too_long.status_code == 422
    assert "at most 120 characters" in too_long.get_data(as_text=True)

    done = client.post(f"{url}/reference", data={"reference": "BCP 0042-7781"})
    assert done.status_code == 302
    db.session.expire_all()
    payout = db.session.get(Payout, payout.id)
    assert payout.status == "paid" and payout.reference == "BCP 0042-7781"
    assert _balance(AccountKind.JEWELLER_PAID, jeweller_id=jeweller_id) == payout.amount_minor
    audit = db.session.scalar(sa.select(AuditRecord).where(
        AuditRecord.action == "payout_paid", AuditRecord.object_id == str(payout.id)))
    assert audit is not None and audit.after["reference"] == "BCP 0042-7781"

    again = client.post(f"{url}/reference", data={"reference": "BCP 0042-7782"})
    assert again.status_code == 422
    assert "already paid" in again.get_data(as_text=True)


def test_a_refused_stripe_payout_is_sent_again_from_its_page(
    client, as_user, stripe_transfers: FakeTransfers
):
    coop = factories.cooperative()
    coop.stripe_account_id = STRIPE_ACCOUNT
    _money_available()
    stripe_transfers.answer_next("card_declined")
    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    payout = db.session.scalar(sa.select(Payout).where(
        Payout.payee_key == f"cooperative:{coop.id}", Payout.period == LAST_MONTH))
    assert payout is not None and payout.status == "failed"
    as_user("admin@demo.test")
    page = client.get(f"/admin/payouts/{payout.id}").get_data(as_text=True)
    assert "Your card was declined" in page and f"Send payout #{payout.id} again" in page

    response = client.post(f"/admin/payouts/{payout.id}/retry", follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    payout = db.session.get(Payout, payout.id)
    assert payout.status == "paid" and payout.provider_ref in response.get_data(as_text=True)
    assert len(stripe_transfers.transfers) == 1
    audit = db.session.scalar(sa.select(AuditRecord).where(
        AuditRecord.action == "payout_retried", AuditRecord.object_id == str(payout.id)))
    assert audit is not None and audit.before["status"] == "failed"
    assert audit.after["status"] == "paid"


def test_retrying_a_bank_payout_says_why_not(client, as_user):
    jeweller_id = _money_available()
    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    payout = _jeweller_payout(jeweller_id)
    as_user("admin@demo.test")
    response = client.post(f"/admin/payouts/{payout.id}/retry")
    assert response.status_code == 422
    assert "record the bank&#39;s reference" in response.get_data(as_text=True)
    assert client.get("/admin/payouts/999999").status_code == 404


def test_the_console_pages_fit_a_phone(client, as_user):
    jeweller_id = _money_available()
    services.run_payouts(LAST_MONTH, actor="test", commit=db.session.commit)
    payout = _jeweller_payout(jeweller_id)
    as_user("admin@demo.test")
    for url in ("/admin/payouts", f"/admin/payouts/{payout.id}"):
        html = client.get(url).get_data(as_text=True)
        assert 'name="viewport"' in html
        assert "<script" not in html.split("</header>", 1)[-1]  # no script needed
        if "<table" in html:
            assert 'class="table-wrap"' in html  # wide tables scroll inside the page
