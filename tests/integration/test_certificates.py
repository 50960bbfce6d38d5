"""Provenance certificates: signed, checkable offline, and any change makes them invalid."""

from __future__ import annotations

import base64
import copy
import io
import json
import re

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.provenance.certificates import check_certificate, check_document, document
from marketplace.provenance.models import Certificate, CustodyEvent, GoldLot
from marketplace.provenance.signing import new_key, public_keys
from tests import factories


def _sold_certificate() -> Certificate:
    piece = factories.piece(factories.jeweller(), stock=2)
    order = factories.paid_order({piece: 1})
    cert = db.session.scalar(
        sa.select(Certificate).where(Certificate.order_line_id == order.lines[0].id)
    )
    assert cert is not None
    return cert


def test_paying_issues_a_certificate_that_verifies_and_holds_no_buyer_data(app):
    cert = _sold_certificate()
    result = check_certificate(cert)
    assert result.valid, result.reasons
    doc = document(cert)
    assert doc["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert "VerifiableCredential" in doc["type"] and doc["proof"]["verificationMethod"]
    text = json.dumps(doc)
    assert "ana@example.org" not in text and "Ana Quispe" not in text and "Juliaca" not in text
    subject = doc["credentialSubject"]
    assert subject["lots"][0]["chainHead"]["hash"] and subject["premiumRouted"]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["credentialSubject"]["premiumRouted"][0].update(amountMinor=1),
        lambda d: d["credentialSubject"]["piece"].update(
            title=d["credentialSubject"]["piece"]["title"] + "."
        ),
        lambda d: d["credentialSubject"].update(
            fineGoldMg=d["credentialSubject"]["fineGoldMg"] + 1
        ),
        lambda d: d.update(validFrom="2020-01-01T00:00:00Z"),
        lambda d: d["credentialSubject"]["lots"][0]["chainHead"].update(hash="0" * 64),
    ],
)
def test_changing_the_contents_makes_a_certificate_invalid(app, change):
    doc = document(_sold_certificate())
    keys = public_keys()
    assert check_document(doc, keys).valid
    altered = copy.deepcopy(doc)
    change(altered)
    result = check_document(altered, keys)
    assert not result.valid and "altered" in result.reasons[0]


def test_changing_any_byte_of_the_signature_makes_it_invalid(app):
    doc = document(_sold_certificate())
    keys = public_keys()
    raw = bytearray(base64.urlsafe_b64decode(doc["proof"]["proofValue"] + "=="))
    for i in range(0, len(raw), 7):
        altered = copy.deepcopy(doc)
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        altered["proof"]["proofValue"] = (
            base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        )
        assert not check_document(altered, keys).valid


def test_a_certificate_signed_before_a_key_rotation_still_verifies(app):
    before = _sold_certificate()
    new_key()
    after = _sold_certificate()
    assert before.kid != after.kid
    assert check_certificate(before).valid and check_certificate(after).valid
    assert {before.kid, after.kid} <= set(public_keys())


def test_an_unknown_key_is_refused(app):
    doc = document(_sold_certificate())
    doc["proof"]["verificationMethod"] = "op-forged"
    assert not check_document(doc, public_keys()).valid


def test_a_tampered_custody_event_makes_the_verify_page_say_invalid_and_why(app, client):
    cert = _sold_certificate()
    assert "✓ Valid" in client.get(f"/verify/{cert.short_id}").get_data(as_text=True)
    code = cert.credential["credentialSubject"]["lots"][0]["code"]
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == code))
    first = lot.custody_events[0]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == first.id).values(actor="forged")
    )
    db.session.expire_all()
    page = client.get(f"/verify/{cert.short_id}").get_data(as_text=True)
    assert "✗ Not valid." in page and f"event {first.ref}" in page


def test_an_unknown_certificate_id_is_a_clear_404(client):
    response = client.get("/verify/NOSUCHCERT")
    assert response.status_code == 404
    assert "There is no certificate with this id" in response.get_data(as_text=True)


def test_the_cli_checks_a_downloaded_certificate_offline(app, client, tmp_path):
    cert = _sold_certificate()
    file = tmp_path / "cert.json"
    file.write_bytes(client.get(f"/certificates/{cert.short_id}.json").data)
    keys = tmp_path / "jwks.json"
    keys.write_bytes(client.get("/.well-known/jwks.json").data)
    runner = app.test_cli_runner()
    good = runner.invoke(args=["provenance", "verify", str(file), "--keys", str(keys)])
    assert good.exit_code == 0 and good.output.startswith("VALID")
    doc = json.loads(file.read_text())
    doc["credentialSubject"]["fineGoldMg"] += 1
    file.write_text(json.dumps(doc))
    bad = runner.invoke(args=["provenance", "verify", str(file), "--keys", str(keys)])
    assert bad.exit_code == 1 and "NOT VALID" in bad.output


def test_the_printed_qr_code_scans_to_a_page_that_says_valid(client):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    cert = _sold_certificate()
    page = client.get(f"/certificates/{cert.short_id}").get_data(as_text=True)
    data_uri = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(data_uri)))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    url = results[0].text
    assert url.endswith(f"/verify/{cert.short_id}")
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert "✓ Valid" in client.get("/" + path).get_data(as_text=True)


def test_the_order_page_and_receipt_link_the_certificates(app, client):
    from marketplace.mail import outbox

    piece = factories.piece(factories.jeweller(), stock=2)
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    client.post(
        "/checkout",
        data={
            "email": "ana@example.org",
            "name": "Ana",
            "country": "PE",
            "region": "Puno",
            "city": "Puno",
            "address_line1": "1",
        },
    )
    pay_url = client.post("/checkout/review").headers["Location"]
    outbox().clear()
    done = client.post(
        pay_url, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
    )
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Provenance certificates" in page
    mail = outbox()[-1]
    assert "/verify/" in mail.text and "data:image/png;base64," in (mail.html or "")
