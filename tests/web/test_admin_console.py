"""The Central's console through the test client: who may open it, registering lots with their
evidence, recording assays, certificates and gold transfers, deciding applications, users and
the audit trail. Bad input must say what is wrong and change nothing."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.admin.models import AuditRecord
from marketplace.catalog.models import Jeweller
from marketplace.extensions import db
from marketplace.ledger.models import LedgerTransaction
from marketplace.ledger.services import jeweller_gold, lot_gold
from marketplace.media.models import MediaFile
from marketplace.provenance.models import (
    Cooperative,
    CooperativeCertification,
    CustodyEvent,
    GoldLot,
    LotEvidence,
)
from marketplace.provenance.services import verify_lot_chain
from tests import factories
from tests.conftest import csrf_token

PDF = b"%PDF-1.4\n% assay report of lot PT-2025-900\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as text, without tags, spaces normalised."""
    html = response.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").split())


def _count(model: type) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _written() -> dict[str, int]:
    """How many rows of everything a lot registration or transfer writes."""
    return {
        model.__name__: _count(model)
        for model in (GoldLot, LotEvidence, MediaFile, CustodyEvent, LedgerTransaction,
                      AuditRecord)
    }


def _member() -> Cooperative:
    return factories.cooperative()


def _lot_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "code": "PT-2025-900",
        "cooperative_id": str(_member().id),
        "traceability_model": "segregated",
        "extraction_start": "2025-03-01",
        "extraction_end": "2025-03-31",
        "gross_g": "1250.375",
        "assayed_fineness": "912.4",
        "assay_lab": "Laboratorio Andino",
        "assay_report_number": "ENS-1",
        "assayed_on": "2025-04-05",
        "certificate_number": "FT-GOLD-1",
        "certificate_body": "FLOCERT",
        "certificate_valid_from": "2025-04-10",
        "certificate_valid_until": "2028-04-09",
        "mercury_used_g": "120",
        "mercury_recovered_g": "115",
        "water_recycled_percent": "85",
    }
    data.update(overrides)
    return data


def _audits(action: str) -> list[AuditRecord]:
    return list(db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)))


def _admin() -> User:
    user = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    assert user is not None
    return user


# --- Who may open the console ----------------------------------------------------------------


def _admin_requests(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) for every /admin rule, with made-up arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<(?:string:)?\w+>", "DEMO-2024-01", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_every_admin_page_sends_anonymous_visitors_to_sign_in(app, client):
    requests = _admin_requests(app)
    assert len(requests) >= 20
    before = _written()
    for method, path in requests:
        response = client.open(path, method=method, data={})
        assert response.status_code == 302, (method, path)
        assert "/account/login" in response.headers["Location"], (method, path)
    assert _written() == before


@pytest.mark.parametrize("email", ["jeweller@demo.test", "coop@demo.test", "buyer@demo.test"])
def test_every_admin_page_is_forbidden_to_other_roles(app, client, as_user, email):
    as_user(email)
    before = _written()
    for method, path in _admin_requests(app):
        response = client.open(path, method=method, data={})
        assert response.status_code == 403, (method, path)
    assert _written() == before


def test_the_console_home_lists_pending_applications_first(client, as_user):
    factories.jeweller(approved=False).business_name = "Taller Esperando"
    db.session.commit()
    as_user("admin@demo.test")
    text = _text(client.get("/admin/"))
    assert text.index("applications waiting: 1") < text.index("certified lots")
    assert "Taller Esperando" in text


# --- Registering a lot -----------------------------------------------------------------------


def test_registering_a_lot_books_its_fine_gold_opens_its_chain_and_is_audited(client, as_user):
    as_user("admin@demo.test")
    response = client.post("/admin/lots/new", data=_lot_data())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/lots/PT-2025-900")

    db.session.expire_all()
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "PT-2025-900"))
    assert lot is not None
    assert lot.gross_mg == 1_250_375
    expected_fine = 1_250_375 * 9124 // 10_000  # floor(gross × 912.4 / 1000)
    assert lot.fine_mg == expected_fine
    gold = lot_gold([lot.id])[lot.id]
    assert gold.registered == expected_fine and gold.unallocated == expected_fine
    assert (lot.mercury_used_g, lot.mercury_recovered_g, lot.water_recycled_percent) == (
        120, 115, 85)
    assert lot.certificate_valid_until == date(2028, 4, 9)
    assert [e.kind for e in lot.custody_events] == ["registered"]
    assert lot.custody_events[0].fine_mg == expected_fine
    assert verify_lot_chain(lot).ok
    (record,) = _audits("lot.registered")
    assert record.object_id == str(lot.id) and record.actor_email == "admin@demo.test"
    assert record.after is not None and record.after["fine_mg"] == expected_fine

    page = _text(client.get("/admin/lots/PT-2025-900"))
    assert "1,140.842 g" in page  # the fine gold, as booked


def test_a_lot_form_with_the_csrf_token_registers_and_one_without_is_refused(
    app, client, csrf_on
):
    token = csrf_token(client, "/account/login")
    signed_in = client.post("/account/login", data={
        "email": "admin@demo.test", "password": "demo-password", "csrf_token": token})
    assert signed_in.status_code == 302
    before = _written()

    refused = client.post("/admin/lots/new", data=_lot_data())
    assert refused.status_code == 400
    assert _written() == before

    token = csrf_token(client, "/admin/lots/new")
    accepted = client.post("/admin/lots/new", data={**_lot_data(), "csrf_token": token})
    assert accepted.status_code == 302
    assert _written()["GoldLot"] == before["GoldLot"] + 1


def test_evidence_uploaded_with_a_new_lot_is_kept_with_its_sha256(client, as_user):
    as_user("admin@demo.test")
    response = client.post("/admin/lots/new", data=_lot_data(**{
        "evidence-0-file": (io.BytesIO(PDF), "assay.pdf"),
        "evidence-0-title": "Assay report ENS-1",
        "evidence-0-level": "verified",
        "evidence-0-issuer": "Laboratorio Andino",
        "evidence-1-file": (io.BytesIO(PNG), "mercury-log.png"),
        "evidence-1-title": "Mercury log",
        "evidence-1-level": "evidenced",
        "evidence-1-issuer": "The cooperative",
    }))
    assert response.status_code == 302
    db.session.expire_all()
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "PT-2025-900"))
    assert lot is not None
    docs = {doc.title: doc for doc in lot.evidence}
    assert docs["Assay report ENS-1"].sha256 == hashlib.sha256(PDF).hexdigest()
    assert docs["Assay report ENS-1"].level == "verified"
    assert docs["Mercury log"].sha256 == hashlib.sha256(PNG).hexdigest()
    stored = docs["Assay report ENS-1"].media_file
    assert stored is not None and stored.data == PDF and stored.content_type == "application/pdf"
    assert len(_audits("lot.evidence_added")) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"assayed_fineness": "1000.5"}, "Enter at most 1,000 ‰."),
        ({"assayed_fineness": "abc"}, "Enter digits only, such as 912.4"),
        ({"assayed_fineness": "912.45"}, "Enter at most 1 decimal."),
        ({"gross_g": "0"}, "Enter more than 0 g."),
        ({"gross_g": "-1"}, "Enter more than 0 g."),
        ({"gross_g": "1e999"}, "Enter digits only, such as 1250.375"),
        ({"gross_g": "1.0001"}, "Enter at most 3 decimals."),
        ({"gross_g": ""}, "Enter the gross mass."),
        ({"mercury_used_g": "100", "mercury_recovered_g": "101"},
         "More mercury recovered (101 g) than used (100 g) is not possible."),
        ({"water_recycled_percent": "101"}, "Enter at most 100 %."),
        ({"certificate_valid_from": "2025-04-10", "certificate_valid_until": "2025-04-09"},
         "The validity cannot end before it starts."),
        ({"extraction_end": "2025-02-01"}, "The extraction cannot end before it starts."),
        ({"extraction_start": "31/03/2025"}, "Enter a date as YYYY-MM-DD."),
        ({"code": "DEMO-2024-01"}, "A lot with code DEMO-2024-01 is already registered."),
        ({"code": "demo-2024-01"}, "A lot with code DEMO-2024-01 is already registered."),
        ({"code": "PT 1/2"}, "Use up to 40 letters, digits, points and hyphens"),
        ({"traceability_model": "blockchain"}, "Not a valid choice"),
        ({"cooperative_id": "999999"}, "Choose one of the Central's cooperatives."),
        ({"refiner": "Refinería del Sur"}, "Give both the refiner and the bar serial"),
        ({"evidence-0-file": (io.BytesIO(b"just some text"), "notes.txt"),
          "evidence-0-title": "Notes", "evidence-0-issuer": "Us"},
         "notes.txt is not a PDF, JPEG or PNG file."),
        ({"evidence-0-file": (io.BytesIO(PDF), "a.pdf")}, "Give the document a title."),
        ({"evidence-0-title": "Orphan title"}, "Choose the file for “Orphan title”."),
    ],
)
def test_bad_lot_data_is_explained_and_registers_nothing(client, as_user, overrides, message):
    as_user("admin@demo.test")
    before = _written()
    response = client.post("/admin/lots/new", data=_lot_data(**overrides))
    assert response.status_code == 422
    text = _text(response)
    assert message in text
    assert "Nothing was saved" in text
    assert _written() == before


def test_an_evidence_file_over_10_mb_is_refused_with_a_message(client, as_user):
    as_user("admin@demo.test")
    before = _written()
    big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)
    response = client.post("/admin/lots/new", data=_lot_data(**{
        "evidence-0-file": (io.BytesIO(big), "scan.pdf"),
        "evidence-0-title": "Scan", "evidence-0-issuer": "Lab"}))
    assert response.status_code == 422
    assert "scan.pdf is 11.0 MB; each evidence file may be at most 10 MB." in _text(response)
    assert _written() == before


@pytest.mark.parametrize("target", ["/admin/lots/new", "/admin/lots/DEMO-2024-01/evidence"])
def test_a_20_mb_upload_is_refused_with_a_message_and_nothing_changes(client, as_user, target):
    as_user("admin@demo.test")
    before = _written()
    huge = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
    prefix = "ev-" if target.endswith("/evidence") else ""
    response = client.post(target, data=_lot_data(**{
        f"{prefix}evidence-0-file": (io.BytesIO(huge), "huge.pdf"),
        f"{prefix}evidence-0-title": "Huge", f"{prefix}evidence-0-issuer": "Lab"}))
    assert response.status_code == 413
    text = _text(response)
    assert "Nothing was saved" in text and "at most 10 MB" in text
    assert _written() == before


# --- A lot's page: evidence, assay, certificate ----------------------------------------------


def _fresh_lot() -> GoldLot:
    lot = factories.lot()  # 1,000,000 mg gross at 900.0 ‰ → 900,000 mg fine
    db.session.commit()
    return lot


def test_evidence_added_on_a_lot_page_keeps_the_sha256_of_the_file(client, as_user, csrf_on):
    lot = _fresh_lot()
    token = csrf_token(client, "/account/login")
    client.post("/account/login", data={
        "email": "admin@demo.test", "password": "demo-password", "csrf_token": token})
    token = csrf_token(client, f"/admin/lots/{lot.code}")
    response = client.post(f"/admin/lots/{lot.code}/evidence", data={
        "ev-csrf_token": token,
        "ev-evidence-0-file": (io.BytesIO(PDF), "certificate.pdf"),
        "ev-evidence-0-title": "Certificate of conformity",
        "ev-evidence-0-level": "verified",
        "ev-evidence-0-issuer": "FLOCERT",
    })
    assert response.status_code == 302
    db.session.expire_all()
    (doc,) = db.session.scalars(sa.select(LotEvidence).where(LotEvidence.lot_id == lot.id))
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    assert doc.issuer == "FLOCERT" and doc.level == "verified"
    page = client.get(f"/lots/{lot.code}").get_data(as_text=True)
    assert hashlib.sha256(PDF).hexdigest() in page


def test_adding_evidence_without_a_file_says_so(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    before = _written()
    response = client.post(f"/admin/lots/{lot.code}/evidence", data={})
    assert response.status_code == 422
    assert "Choose at least one file." in _text(response)
    assert _written() == before


def test_an_assay_that_confirms_the_fineness_is_appended_to_the_chain(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    response = client.post(f"/admin/lots/{lot.code}/assay", data={
        "assay-lab": "Laboratorio Andino", "assay-report_number": "ENS-77",
        "assay-assayed_on": "2025-02-10", "assay-fineness": "900.0"})
    assert response.status_code == 302
    db.session.expire_all()
    events = db.session.scalars(sa.select(CustodyEvent).where(
        CustodyEvent.lot_id == lot.id).order_by(CustodyEvent.seq)).all()
    assert [e.kind for e in events] == ["registered", "assayed"]
    assert events[-1].details["report"] == "ENS-77"
    assert events[-1].details["fineness"] == "900"
    assert verify_lot_chain(lot, events).ok
    assert db.session.get(GoldLot, lot.id).assay_lab == "Laboratorio Andino"  # type: ignore[union-attr]
    assert len(_audits("lot.assay_recorded")) == 1


def test_an_assay_with_another_fineness_is_refused_because_the_gold_is_booked(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    before = _written()
    response = client.post(f"/admin/lots/{lot.code}/assay", data={
        "assay-lab": "Lab", "assay-report_number": "ENS-78",
        "assay-assayed_on": "2025-02-10", "assay-fineness": "905.5"})
    assert response.status_code == 422
    assert "was registered at 900 ‰" in _text(response)
    assert _written() == before
    assert lot_gold([lot.id])[lot.id].registered == 900_000


def test_a_certificate_updates_the_lot_and_appends_a_certified_event(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    response = client.post(f"/admin/lots/{lot.code}/certification", data={
        "cert-certificate_number": "FT-GOLD-99", "cert-body": "FLOCERT",
        "cert-valid_from": "2025-03-01", "cert-valid_until": "2028-02-28"})
    assert response.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(GoldLot, lot.id)
    assert fresh is not None
    assert fresh.certificate_number == "FT-GOLD-99"
    assert fresh.certificate_valid_until == date(2028, 2, 28)
    assert fresh.custody_events[-1].kind == "certified"
    assert fresh.custody_events[-1].details["certificate"] == "FT-GOLD-99"
    (record,) = _audits("lot.certified")
    assert record.before and record.after
    assert record.before["certificate_number"] != record.after["certificate_number"]


def test_a_certificate_ending_before_it_starts_is_refused(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    before = _written()
    response = client.post(f"/admin/lots/{lot.code}/certification", data={
        "cert-certificate_number": "FT-GOLD-99", "cert-body": "FLOCERT",
        "cert-valid_from": "2025-03-01", "cert-valid_until": "2025-02-28"})
    assert response.status_code == 422
    assert "The validity cannot end before it starts." in _text(response)
    assert _written() == before
    assert db.session.get(GoldLot, lot.id).certificate_number != "FT-GOLD-99"  # type: ignore[union-attr]


# --- Transfers -------------------------------------------------------------------------------


def _transfer(client, lot: GoldLot, jeweller: Jeweller, grams: str, invoice: str = "F001-777"):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/lots/{lot.code}/transfer", data={
        "xfer-jeweller_id": str(jeweller.id), "xfer-fine_g": grams,
        "xfer-invoice_ref": invoice})


def test_a_transfer_moves_exactly_the_gold_asked_and_records_the_invoice(client, as_user):
    lot = _fresh_lot()
    jeweller = factories.jeweller()
    db.session.commit()
    as_user("admin@demo.test")
    response = _transfer(client, lot, jeweller, "12.345")
    assert response.status_code == 302
    db.session.expire_all()
    gold = lot_gold([lot.id])[lot.id]
    assert gold.unallocated == 900_000 - 12_345
    assert gold.held == 12_345 and gold.balances
    assert jeweller_gold(jeweller.id) == {lot.id: 12_345}
    event = db.session.scalars(sa.select(CustodyEvent).where(
        CustodyEvent.lot_id == lot.id).order_by(CustodyEvent.seq.desc())).first()
    assert event is not None and event.kind == "transferred"
    assert event.fine_mg == 12_345 and event.jeweller_id == jeweller.id
    assert event.details["invoice"] == "F001-777"
    (record,) = _audits("lot.gold_transferred")
    assert "F001-777" in record.summary


def test_the_same_invoice_sent_twice_moves_the_gold_once(client, as_user):
    lot = _fresh_lot()
    jeweller = factories.jeweller()
    db.session.commit()
    as_user("admin@demo.test")
    assert _transfer(client, lot, jeweller, "10").status_code == 302
    again = _transfer(client, lot, jeweller, "10")
    assert again.status_code == 422
    assert "Invoice F001-777 already moved gold" in _text(again)
    assert lot_gold([lot.id])[lot.id].held == 10_000


def test_a_transfer_larger_than_the_unallocated_gold_is_refused_and_changes_nothing(
    client, as_user
):
    lot = _fresh_lot()
    jeweller = factories.jeweller()
    db.session.commit()
    as_user("admin@demo.test")
    before = _written()
    response = _transfer(client, lot, jeweller, "900.001")
    assert response.status_code == 422
    assert "Not enough gold" in _text(response)
    assert _written() == before
    gold = lot_gold([lot.id])[lot.id]
    assert gold.unallocated == 900_000 and gold.held == 0


def test_a_transfer_to_a_jeweller_not_yet_approved_is_refused(client, as_user):
    lot = _fresh_lot()
    pending = factories.jeweller(approved=False)
    db.session.commit()
    as_user("admin@demo.test")
    before = _written()
    response = _transfer(client, lot, pending, "1")
    assert response.status_code == 422
    assert f"{pending.business_name} is not approved to receive gold" in _text(response)
    assert _written() == before


@pytest.mark.parametrize(("grams", "message"), [
    ("0", "Enter more than 0 g."), ("abc", "Enter digits only"), ("", "Enter the fine gold"),
])
def test_a_transfer_of_a_mass_that_is_not_a_mass_is_refused(client, as_user, grams, message):
    lot = _fresh_lot()
    jeweller = factories.jeweller()
    db.session.commit()
    as_user("admin@demo.test")
    before = _written()
    response = _transfer(client, lot, jeweller, grams)
    assert response.status_code == 422
    assert message in _text(response)
    assert _written() == before


def test_a_transfer_needs_an_invoice_reference(client, as_user):
    lot = _fresh_lot()
    jeweller = factories.jeweller()
    db.session.commit()
    as_user("admin@demo.test")
    response = _transfer(client, lot, jeweller, "1", invoice="")
    assert response.status_code == 422
    assert "Enter the invoice reference." in _text(response)
    assert lot_gold([lot.id])[lot.id].held == 0


def test_the_lot_list_shows_each_lots_gold_figures(client, as_user):
    lot = _fresh_lot()
    as_user("admin@demo.test")
    text = _text(client.get("/admin/lots"))
    assert lot.code in text and "900.000 g" in text


# --- Jeweller applications -------------------------------------------------------------------


def test_approving_an_application_is_recorded_and_audited(client, as_user):
    pending = factories.jeweller(approved=False)
    db.session.commit()
    as_user("admin@demo.test")
    assert "pending" in _text(client.get(f"/admin/jewellers/{pending.id}"))
    response = client.post(f"/admin/jewellers/{pending.id}/approve")
    assert response.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Jeweller, pending.id)
    assert fresh is not None and fresh.status == "approved" and fresh.decided_at is not None
    (record,) = _audits("jeweller.approved")
    assert record.before == {"status": "pending", "decline_reason": None, "decided_at": None}
    assert record.after is not None and record.after["status"] == "approved"


def test_declining_needs_a_reason_and_is_audited(client, as_user):
    pending = factories.jeweller(approved=False)
    db.session.commit()
    as_user("admin@demo.test")
    refused = client.post(f"/admin/jewellers/{pending.id}/decline",
                          data={"decline-reason": "   "})
    assert refused.status_code == 422
    assert "Say why the application is declined." in _text(refused)
    db.session.expire_all()
    assert db.session.get(Jeweller, pending.id).status == "pending"  # type: ignore[union-attr]
    assert _audits("jeweller.declined") == []

    response = client.post(f"/admin/jewellers/{pending.id}/decline",
                           data={"decline-reason": "The RUC does not match the business."})
    assert response.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Jeweller, pending.id)
    assert fresh is not None and fresh.status == "declined"
    assert fresh.decline_reason == "The RUC does not match the business."
    (record,) = _audits("jeweller.declined")
    assert "RUC does not match" in record.summary


def test_the_jeweller_list_shows_pending_applications_first(client, as_user):
    pending = factories.jeweller(approved=False)
    db.session.commit()
    as_user("admin@demo.test")
    text = _text(client.get("/admin/jewellers"))
    assert text.index(pending.business_name) < text.index("Approved (")


# --- Users -----------------------------------------------------------------------------------


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def test_changing_a_role_ties_the_user_and_is_audited(client, as_user):
    buyer = _user("buyer@demo.test")
    coop = _member()
    as_user("admin@demo.test")
    response = client.post(f"/admin/users/{buyer.id}", data={
        "role-role": "officer", "role-cooperative_id": str(coop.id), "role-jeweller_id": "0"})
    assert response.status_code == 302
    db.session.expire_all()
    fresh = _user("buyer@demo.test")
    assert fresh.role == "officer" and fresh.cooperative_id == coop.id
    (record,) = _audits("user.role_changed")
    assert record.before is not None and record.after is not None
    assert record.before["role"] == "shopper" and record.after["role"] == "officer"
    assert "password_hash" not in record.after


def test_an_officer_without_a_cooperative_is_refused(client, as_user):
    buyer = _user("buyer@demo.test")
    as_user("admin@demo.test")
    response = client.post(f"/admin/users/{buyer.id}", data={
        "role-role": "officer", "role-cooperative_id": "0", "role-jeweller_id": "0"})
    assert response.status_code == 422
    assert "A cooperative officer needs a cooperative." in _text(response)
    db.session.expire_all()
    assert _user("buyer@demo.test").role == "shopper"
    assert _audits("user.role_changed") == []


def test_an_admin_cannot_demote_themself(client, as_user):
    me = _admin()
    as_user("admin@demo.test")
    response = client.post(f"/admin/users/{me.id}", data={
        "role-role": "shopper", "role-cooperative_id": "0", "role-jeweller_id": "0"})
    assert response.status_code == 422
    assert "You cannot take away your own admin role" in _text(response)
    db.session.expire_all()
    assert _admin().role == "admin"
    assert _audits("user.role_changed") == []
    assert client.get("/admin/").status_code == 200


def test_an_admin_cannot_deactivate_themself(client, as_user):
    me = _admin()
    as_user("admin@demo.test")
    response = client.post(f"/admin/users/{me.id}/deactivate")
    assert response.status_code == 422
    assert "You cannot deactivate your own account" in _text(response)
    db.session.expire_all()
    assert _admin().active


def test_a_deactivated_user_is_signed_out_and_can_be_reactivated(app, client, as_user):
    buyer = _user("buyer@demo.test")
    other = app.test_client()
    assert other.post("/account/login", data={
        "email": "buyer@demo.test", "password": "demo-password"}).status_code == 302
    as_user("admin@demo.test")
    assert client.post(f"/admin/users/{buyer.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert not _user("buyer@demo.test").active
    assert other.get("/account/").status_code == 302  # signed out
    assert [r.action for r in _audits("user.deactivated")] == ["user.deactivated"]
    assert client.post(f"/admin/users/{buyer.id}/reactivate").status_code == 302
    db.session.expire_all()
    assert _user("buyer@demo.test").active


def test_users_can_be_found_by_email(client, as_user):
    as_user("admin@demo.test")
    text = _text(client.get("/admin/users?q=COOP@"))
    assert "coop@demo.test" in text and "buyer@demo.test" not in text
    assert "1 account" in text


# --- Cooperatives ----------------------------------------------------------------------------


def _coop_data(coop: Cooperative, **overrides: str) -> dict[str, str]:
    data = {
        "name": coop.name, "short_name": coop.short_name, "flo_id": coop.flo_id or "",
        "altitude_m": "4800", "area_ha": "120", "description": "Updated.",
        "payout_bank": "Banco de Crédito del Perú", "payout_account_holder": coop.name,
        "payout_cci": "00219300123456789012",
        "stripe_account_id": "",
    }
    data.update(overrides)
    return data


def test_editing_a_cooperative_saves_payout_details_and_is_audited(client, as_user):
    coop = _member()
    as_user("admin@demo.test")
    response = client.post(f"/admin/cooperatives/{coop.id}", data=_coop_data(
        coop, payout_cci="002-193-001234567890-12", stripe_account_id="acct_1AbC"))
    assert response.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Cooperative, coop.id)
    assert fresh is not None
    assert fresh.payout_cci == "00219300123456789012"
    assert fresh.stripe_account_id == "acct_1AbC" and fresh.area_ha == 120
    (record,) = _audits("cooperative.updated")
    assert record.after is not None and record.after["payout_cci"] == "00219300123456789012"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"payout_cci": "0021930012345678901"}, "A CCI is exactly 20 digits."),
    ({"payout_cci": "0021930012345678901X"}, "A CCI is exactly 20 digits."),
    ({"stripe_account_id": "ba_123"}, 'A Stripe account id starts with "acct_"'),
    ({"flo_id": "FLO-12"}, "A FLO ID is digits only"),
    ({"payout_bank": ""}, "Give the bank, the account holder and the CCI together."),
    ({"altitude_m": "4800.5"}, "Enter a whole number."),
    ({"name": ""}, "Enter the name."),
])
def test_bad_cooperative_details_are_explained_and_change_nothing(
    client, as_user, overrides, message
):
    coop = _member()
    before_row = (coop.name, coop.payout_cci, coop.stripe_account_id, coop.flo_id)
    as_user("admin@demo.test")
    response = client.post(f"/admin/cooperatives/{coop.id}", data=_coop_data(coop, **overrides))
    assert response.status_code == 422
    assert message in _text(response)
    db.session.expire_all()
    fresh = db.session.get(Cooperative, coop.id)
    assert fresh is not None
    assert (fresh.name, fresh.payout_cci, fresh.stripe_account_id, fresh.flo_id) == before_row
    assert _audits("cooperative.updated") == []


def test_a_flo_id_already_used_by_another_cooperative_is_refused(client, as_user):
    coops = db.session.scalars(sa.select(Cooperative).where(
        Cooperative.flo_id.is_not(None)).order_by(Cooperative.id)).all()
    first, second = coops[0], coops[1]
    as_user("admin@demo.test")
    response = client.post(f"/admin/cooperatives/{second.id}",
                           data=_coop_data(second, flo_id=first.flo_id or ""))
    assert response.status_code == 422
    assert f"FLO ID {first.flo_id} already belongs to {first.name}." in _text(response)


def test_a_certification_can_be_added_and_edited(client, as_user):
    coop = _member()
    as_user("admin@demo.test")
    data = {"scheme": "Fairmined", "body": "ARM", "certificate_number": "FM-1",
            "first_certified_year": "2014", "valid_from": "2025-01-01",
            "valid_until": "2027-12-31", "source": "ARM register"}
    assert client.post(f"/admin/cooperatives/{coop.id}/certifications/new",
                       data=data).status_code == 302
    cert = db.session.scalar(sa.select(CooperativeCertification).where(
        CooperativeCertification.certificate_number == "FM-1"))
    assert cert is not None and cert.cooperative_id == coop.id
    response = client.post(f"/admin/cooperatives/{coop.id}/certifications/{cert.id}",
                           data={**data, "valid_until": "2028-06-30"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(CooperativeCertification, cert.id).valid_until == date(2028, 6, 30)  # type: ignore[union-attr]
    (added,) = _audits("certification.added")
    (edited,) = _audits("certification.updated")
    assert edited.before and edited.after
    assert (edited.before["valid_until"], edited.after["valid_until"]) == (
        "2027-12-31", "2028-06-30")
    assert added.object_id == str(cert.id)


def test_a_certification_ending_before_it_starts_is_refused(client, as_user):
    coop = _member()
    as_user("admin@demo.test")
    before = _count(CooperativeCertification)
    response = client.post(f"/admin/cooperatives/{coop.id}/certifications/new", data={
        "scheme": "Fairmined", "body": "ARM", "valid_from": "2025-01-01",
        "valid_until": "2024-12-31"})
    assert response.status_code == 422
    assert "The validity cannot end before it starts." in _text(response)
    assert _count(CooperativeCertification) == before


# --- The audit trail -------------------------------------------------------------------------


def test_the_audit_trail_shows_newest_first_with_only_the_changed_fields(client, as_user):
    coop = _member()
    buyer = _user("buyer@demo.test")
    as_user("admin@demo.test")
    client.post(f"/admin/cooperatives/{coop.id}", data=_coop_data(coop, area_ha="321"))
    client.post(f"/admin/users/{buyer.id}", data={
        "role-role": "officer", "role-cooperative_id": str(coop.id), "role-jeweller_id": "0"})
    html = client.get("/admin/audit").get_data(as_text=True)
    text = _text(client.get("/admin/audit"))
    assert text.index("user.role_changed") < text.index("cooperative.updated")
    assert "admin@demo.test" in text
    assert re.search(r"<th scope=\"row\">area_ha</th><td>[^<]*</td><td>321</td>", html)
    assert '<th scope="row">name</th>' not in html  # unchanged keys are not listed

    only_users = _text(client.get("/admin/audit?type=user_account"))
    assert "user.role_changed" in only_users and "cooperative.updated" not in only_users
