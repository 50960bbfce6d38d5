"""The cooperative workspace, the Central's console, payouts and statements in Spanish: the pages
speak Spanish (the workspace by default, the console when asked), show none of their English
sentences, refusals reach the reader in Spanish, and a statement follows its reader's language."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.catalog.models import Jeweller
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.i18n import TRANSLATIONS
from marketplace.orders import aftersale
from marketplace.payouts import services as payouts
from marketplace.payouts.models import Payout
from marketplace.provenance.models import Cooperative
from marketplace.provenance.services import transfer_to_jeweller
from marketplace.statements.services import csv_totals
from tests import factories
from tests.languages import catalog, english_left, english_of, readable

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"

#: Where this area's words live: its templates and the code whose messages reach officers and
#: the Central's admins.
AREA = (
    "templates/cooperative/",
    "templates/admin/",
    "templates/payouts/",
    "templates/statements/cooperative_list",
    "templates/orders/admin_order",
    "marketplace/cooperative/",
    "marketplace/admin/",
    "marketplace/payouts/",
    "marketplace/statements/services",
    "marketplace/statements/pdf",
    "marketplace/provenance/services",
)
def _catalog():  # type: ignore[no-untyped-def]
    return catalog()


def _english_of_the_area() -> set[str]:
    return set(english_of(AREA))


def _readable(response) -> str:  # type: ignore[no-untyped-def]
    return readable(response.get_data(as_text=True))


def _english_left(response) -> list[str]:  # type: ignore[no-untyped-def]
    return english_left(response.get_data(as_text=True), AREA)


# --- data --------------------------------------------------------------------------------------


def _coop(slug: str) -> Cooperative:
    found = db.session.scalar(sa.select(Cooperative).where(Cooperative.slug == slug))
    assert found is not None
    return found


@pytest.fixture
def books(app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Santiago de Ananea's gold in a piece of Taller Qori: one sale completed, one pending, last
    month's payouts run (still waiting for the bank), and a jeweller application waiting."""
    santiago = _coop("santiago-de-ananea")
    qori = db.session.scalar(sa.select(Jeweller).where(Jeweller.slug == "taller-qori"))
    assert qori is not None
    lot = factories.lot(coop=santiago)
    piece = factories.piece(qori, {}, stock=0, gross_mg=20_000)
    transfer_to_jeweller(lot, qori, piece.fine_mg * 4, invoice_ref="F001-4711", actor="test")
    back_piece(piece, {lot.id: piece.fine_mg}, actor="test")
    set_stock(piece, 4, actor="test")
    publish(piece)
    completed = factories.paid_order({piece: 1})
    for shipment in completed.shipments:
        aftersale.mark_shipped(completed, shipment.jeweller_id, "Olva", "OLV-1", "jeweller")
        aftersale.mark_delivered(completed, shipment.jeweller_id, "jeweller")
    assert aftersale.complete_order(
        completed, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="t"
    )
    pending = factories.paid_order({piece: 1})
    applicant = factories.jeweller(approved=False)
    payouts.run_payouts(payouts.last_month(), actor="test", commit=db.session.commit)
    payout = db.session.scalar(
        sa.select(Payout).where(Payout.cooperative_id == santiago.id)
        .order_by(Payout.id.desc()).limit(1)
    )
    assert payout is not None
    officer = db.session.scalar(sa.select(User).where(User.email == "coop@demo.test"))
    return {
        "coop": santiago,
        "lot": lot,
        "completed": completed,
        "pending": pending,
        "applicant": applicant,
        "payout": payout,
        "officer": officer,
        "month": utcnow().strftime("%Y-%m"),
    }


# --- the cooperative workspace ----------------------------------------------------------------


def test_the_officers_dashboard_speaks_spanish_by_default(client, as_user, books):
    as_user("coop@demo.test")
    response = client.get("/cooperative/")
    assert response.status_code == 200
    text = _readable(response)
    assert '<html lang="es">' in response.get_data(as_text=True)
    for spanish in ("Prima comunitaria", "Totales", "Mes a mes", "Estados de cuenta",
                    "De dónde viene la prima", "Líneas de pedido", "Abonos a la cooperativa",
                    "Joyeros con oro de sus lotes", "✓ se verifica", "en proceso de pago"):
        assert spanish in text, spanish
    assert _english_left(response) == []


def test_an_officer_who_chooses_english_reads_the_dashboard_in_english(client, as_user, books):
    as_user("coop@demo.test")
    client.get("/language/en")
    response = client.get("/cooperative/")
    text = _readable(response)
    assert '<html lang="en">' in response.get_data(as_text=True)
    for english in ("Community premium", "Totals", "Month by month", "Where the premium comes from",
                    "Payouts to the cooperative", "✓ verifies", "in payment"):
        assert english in text, english
    # the sentences the Spanish page must not show are there in English: the check can fail
    assert len(_english_left(response)) > 10
    assert "Prima comunitaria" not in text and "Totales" not in text


def test_every_workspace_page_is_spanish_through_and_through(client, as_user, books):
    as_user("coop@demo.test")
    for url in ("/cooperative/", f"/cooperative/lots/{books['lot'].code}",
                "/cooperative/statements/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _english_left(response) == [], url
    lot_page = _readable(client.get(f"/cooperative/lots/{books['lot'].code}"))
    assert "Transferencias a joyeros" in lot_page and "(factura F001-4711)" in lot_page
    assert "Cadena de custodia" in lot_page and "La cadena se verifica" in lot_page


# --- statements -------------------------------------------------------------------------------


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_a_statement_follows_its_readers_language_with_the_same_figures(
    client, as_user, books
):
    as_user("coop@demo.test")
    url = f"/cooperative/statements/{books['month']}.csv"
    spanish = client.get(url)
    client.get("/language/en")
    english = client.get(url)
    assert spanish.status_code == english.status_code == 200
    es, en = csv_totals(spanish.get_data(as_text=True)), csv_totals(english.get_data(as_text=True))
    assert _rows(spanish)[0] == ["Estado de cuenta de la prima comunitaria"]
    assert _rows(english)[0] == ["Community premium statement"]
    pairs = {"Saldo inicial": "Opening balance", "Prima registrada": "Premium booked",
             "Reembolsos": "Refunds", "Abonos": "Payouts", "Saldo final": "Closing balance"}
    for spanish_label, english_label in pairs.items():
        assert es[spanish_label] == en[english_label], spanish_label
    assert float(es["Prima registrada"]) > 0
    headings = next(r for r in _rows(spanish) if r and r[0] == "sección")
    assert headings[:4] == ["sección", "fecha", "pedido", "línea"]
    sales = [r for r in _rows(spanish) if r and r[0] == "venta"]
    assert {r[2] for r in sales} == {books["completed"].number, books["pending"].number}


def test_the_spanish_pdf_prints_its_accented_letters(client, as_user, books):
    as_user("coop@demo.test")
    response = client.get(f"/cooperative/statements/{books['month']}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    drawn = b" ".join(re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body)).decode("latin-1")
    for word in ("Página 1", "línea", "Cifras leídas del libro contable", "Saldo inicial"):
        assert word in drawn, word
    assert "?gina" not in drawn and "l?nea" not in drawn  # nothing replaced for want of a glyph


# --- the console --------------------------------------------------------------------------------


def test_the_console_speaks_spanish_when_asked(client, as_user, books):
    as_user("admin@demo.test")
    client.get("/language/es")
    home = _readable(client.get("/admin/"))
    assert "La consola de la Central" in home and "De un vistazo" in home
    assert "Solicitudes de joyeros en espera: 1" in home
    client.get("/language/en")
    assert "The Central's console" in _readable(client.get("/admin/"))


def test_every_console_page_is_spanish_through_and_through(client, as_user, books):
    coop, lot, payout = books["coop"], books["lot"], books["payout"]
    as_user("admin@demo.test")
    client.get("/language/es")
    urls = [
        "/admin/", "/admin/jewellers", f"/admin/jewellers/{books['applicant'].id}",
        "/admin/lots", "/admin/lots/new", f"/admin/lots/{lot.code}", "/admin/cooperatives",
        "/admin/cooperatives/new", f"/admin/cooperatives/{coop.id}",
        f"/admin/cooperatives/{coop.id}/certifications/new", "/admin/users",
        f"/admin/users/{books['officer'].id}", "/admin/audit", "/admin/orders",
        f"/admin/orders/{books['completed'].number}",
        f"/admin/payouts?period={payout.period}", f"/admin/payouts/{payout.id}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _english_left(response) == [], url
    payouts_page = _readable(client.get(f"/admin/payouts?period={payout.period}"))
    assert "Archivo del banco" in payouts_page and "transferencia bancaria" in payouts_page


def test_refusals_reach_the_admin_in_spanish(client, as_user, books):
    as_user("admin@demo.test")
    client.get("/language/es")
    refused = client.post("/admin/lots/new", data={
        "code": "no spaces!", "gross_g": "1e5", "assayed_fineness": "912.45",
        "extraction_start": "ayer", "mercury_used_g": "5", "mercury_recovered_g": "9",
    })
    assert refused.status_code == 422
    text = _readable(refused)
    assert "No se guardó nada. Corrija" in text
    assert "Escriba solo dígitos, como 1250.375, con punto para los decimales." in text
    assert "Escriba como máximo 1 decimal." in text
    assert "Escriba una fecha como AAAA-MM-DD." in text
    assert "No es posible recuperar más mercurio (9 g) del que se usó (5 g)." in text
    assert _english_left(refused) == []
    # a rule the service checks, raised in the reader's language
    applicant = books["applicant"]
    transfer = client.post(f"/admin/lots/{books['lot'].code}/transfer", data={
        "xfer-jeweller_id": str(applicant.id), "xfer-fine_g": "1", "xfer-invoice_ref": "F-1",
    })
    assert transfer.status_code == 422
    assert (f"{applicant.business_name} no está aprobado para recibir oro (su solicitud está "
            "pendiente).") in _readable(transfer)
    month = client.post("/admin/payouts/run", data={"period": "2026-13"})
    assert month.status_code == 422
    assert "No existe el mes 13: los meses van del 01 al 12." in _readable(month)


def test_what_the_console_did_is_said_in_spanish(client, as_user, books):
    as_user("admin@demo.test")
    client.get("/language/es")
    applicant = books["applicant"]
    approved = client.post(f"/admin/jewellers/{applicant.id}/approve", follow_redirects=True)
    assert f"Solicitud de {applicant.business_name} aprobada." in _readable(approved)
    paid = client.post(f"/admin/payouts/{books['payout'].id}/reference",
                       data={"reference": "BCP-20261105-1"}, follow_redirects=True)
    assert (f"El abono #{books['payout'].id} a {books['payout'].payee_name} está pagado "
            "(referencia del banco BCP-20261105-1).") in _readable(paid)
