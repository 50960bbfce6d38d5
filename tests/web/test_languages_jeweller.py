"""The jeweller's workspace in Spanish: its pages, forms, refusals, orders and earnings speak
Spanish by default, and no English text of the workspace is left on them."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.demo import ruc_with_check
from marketplace.extensions import db
from marketplace.i18n import TRANSLATIONS
from marketplace.orders import aftersale
from marketplace.orders.models import Order
from marketplace.payments.gateways import SandboxGateway
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories
from tests.languages import catalog, english_left, english_of, readable

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"

#: Where the workspace's words live: its templates and the code whose messages reach jewellers.
AREA = (
    "templates/jeweller/",
    "templates/orders/jeweller_order",
    "templates/statements/earnings",
    "templates/statements/jeweller_list",
    "marketplace/jeweller/",
    "marketplace/orders/fulfilment_views",
    "marketplace/orders/aftersale",
    "marketplace/catalog/services",
    "marketplace/statements/views",
)
def _catalog():  # type: ignore[no-untyped-def]
    return catalog()


def _english_of_the_area() -> set[str]:
    return set(english_of(AREA))


def _readable(response) -> str:  # type: ignore[no-untyped-def]
    return readable(response.get_data(as_text=True))


def _english_left(response) -> list[str]:  # type: ignore[no-untyped-def]
    return english_left(response.get_data(as_text=True), AREA)


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _workshop(slug: str) -> Jeweller:
    found = db.session.scalar(sa.select(Jeweller).where(Jeweller.slug == slug))
    assert found is not None
    return found


@pytest.fixture
def qori_sales(app):  # type: ignore[no-untyped-def]
    """A piece of Taller Qori with gold of a fresh lot, and a paid order of two of its units of
    which one was cancelled before shipping."""
    qori = _workshop("taller-qori")
    lot = factories.lot()
    piece = factories.piece(qori, {}, stock=0, title="Puna ring 18k")
    transfer_to_jeweller(lot, qori, piece.fine_mg * 6, invoice_ref="T-ES", actor="test")
    back_piece(piece, {lot.id: piece.fine_mg}, actor="test")
    set_stock(piece, 4, actor="test")
    publish(piece)
    order = factories.paid_order({piece: 2})
    aftersale.refund(
        order, {order.lines[0].id: 1}, SandboxGateway(), actor="test", jeweller_id=qori.id
    )
    db.session.commit()
    return {"qori": qori, "lot": lot, "piece": piece, "order": order}


def _pages(piece: Piece, order: Order) -> dict[str, str]:
    """The workspace's pages with a Spanish phrase each must show."""
    return {
        "/jeweller/": "Oro que tiene, lote por lote",
        "/jeweller/pieces/new": "Empieza como un borrador que solo usted ve.",
        f"/jeweller/pieces/{piece.id}/edit": "Para cambiar los quilates o el peso",
        f"/jeweller/pieces/{piece.id}/gold": "Respalde cada unidad con oro certificado",
        f"/jeweller/pieces/{piece.id}/stock": "Unidades en existencia",
        f"/jeweller/pieces/{piece.id}/photos": "Se vuelve a codificar",
        "/jeweller/payout-details": "Titular de la cuenta",
        "/jeweller/orders": "Pedidos de sus piezas",
        f"/jeweller/orders/{order.number}": "Marcar como enviado",
        "/jeweller/earnings": "Su parte por línea de pedido",
        "/jeweller/earnings/statements/": "Meses con movimientos",
    }


def test_every_workspace_page_speaks_spanish_by_default(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    for url, phrase in _pages(qori_sales["piece"], qori_sales["order"]).items():
        response = client.get(url, headers={"Accept-Language": "en"})
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert '<html lang="es">' in page, url
        assert phrase in _readable(response), url


def test_no_english_of_the_workspace_is_left_on_its_spanish_pages(client, as_user, qori_sales):
    runs = _english_of_the_area()
    assert len(runs) > 100  # the check has the workspace's sentences to look for
    as_user("jeweller@demo.test")
    for url in _pages(qori_sales["piece"], qori_sales["order"]):
        response = client.get(url)
        assert _english_left(response) == [], url


def test_the_same_pages_in_english_show_those_english_sentences(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    client.set_cookie("lang", "en")
    home = client.get("/jeweller/")
    assert '<html lang="en">' in home.get_data(as_text=True)
    assert "Gold you hold, lot by lot" in _readable(home)
    earnings = client.get("/jeweller/earnings")
    assert "Your share per order line" in _readable(earnings)
    assert _english_left(earnings)


def test_the_order_page_speaks_spanish_with_its_states_and_plurals(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    order = qori_sales["order"]
    text = _readable(client.get(f"/jeweller/orders/{order.number}"))
    assert f"Pedido {order.number}" in text
    assert "pagado · pago: reembolsado en parte" in text
    assert "Su paquete por enviar" in text
    assert "· 1 reembolsada" in text
    assert "Unidades de Puna ring 18k por cancelar (hasta 1)" in text

    shipped = client.post(
        f"/jeweller/orders/{order.number}",
        data={"action": "ship", "carrier": "", "tracking": ""},
        follow_redirects=True,
    )
    assert "Revise el formulario: Indique la empresa de transporte." in _readable(shipped)


def test_the_earnings_page_writes_months_and_days_in_spanish(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    text = _readable(client.get("/jeweller/earnings"))
    months = (
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    ).split()
    assert any(f"{month} de 20" in text for month in months)
    assert "(1 reembolsada)" in text
    assert not re.search(r"\b(January|February|March|April|June|July|August|September|October"
                         r"|November|December) 20\d\d\b", text)


def test_the_jewellers_statement_follows_the_jewellers_language(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    period = qori_sales["order"].placed_at.strftime("%Y-%m")
    spanish = client.get(f"/jeweller/earnings/statements/{period}.csv").get_data(as_text=True)
    client.set_cookie("lang", "en")
    english = client.get(f"/jeweller/earnings/statements/{period}.csv").get_data(as_text=True)
    booked = next(m for m in _catalog() if m.id == "Earnings booked")
    assert booked.string and booked.string != "Earnings booked"
    assert "Earnings booked" in english and booked.string not in english
    assert booked.string in spanish and "Earnings booked" not in spanish


def test_refusals_of_the_forms_and_services_come_in_spanish(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    refused = client.post(
        "/jeweller/pieces/new",
        data={"title": "Anillo", "category": "ring", "karat": "18", "gross_weight": "3,75",
              "price": "1250"},
    )
    assert refused.status_code == 422
    text = _readable(refused)
    assert "Use punto para los decimales, como 3.75 (no 3,75)." in text
    assert _english_left(refused) == []

    piece, lot = qori_sales["piece"], qori_sales["lot"]
    too_much = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "50"})
    assert too_much.status_code == 422
    text = _readable(too_much)
    assert "No hay suficiente oro libre para 47 × Puna ring 18k más" in text and lot.code in text
    assert _english_left(too_much) == []

    stock = client.post(f"/jeweller/pieces/{piece.id}/stock", data={"stock": "2"},
                        follow_redirects=True)
    assert "Las existencias de Puna ring 18k ahora son 2." in _readable(stock)
    assert "de oro fino a sus lotes." in _readable(stock)


def test_a_photo_without_words_is_refused_in_spanish(client, as_user, qori_sales):
    as_user("jeweller@demo.test")
    piece = qori_sales["piece"]
    response = client.post(
        f"/jeweller/pieces/{piece.id}/photos",
        data={"alt": "", "photo": (io.BytesIO(b"\xff\xd8"), "ring.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Describa la foto en pocas palabras" in _readable(response)


def test_applying_and_waiting_for_approval_speak_spanish(client, as_user):
    as_user("buyer@demo.test")
    form = client.get("/jeweller/apply")
    assert "Venda su joyería aquí" in _readable(form) and _english_left(form) == []
    bad = client.post("/jeweller/apply", data={"business_name": "Taller Ñusta", "ruc": "123",
                                               "city": "Puno", "region": "Puno",
                                               "fairtrade_status": "none"})
    assert "Ese RUC no es válido: revise los 11 dígitos." in _readable(bad)
    applied = client.post(
        "/jeweller/apply",
        data={"business_name": "Taller Ñusta", "ruc": ruc_with_check("2061234555"),
              "city": "Puno", "region": "Puno", "fairtrade_status": "none"},
        follow_redirects=True,
    )
    text = _readable(applied)
    assert "Gracias. Taller Ñusta ha postulado" in text
    assert "Su solicitud está pendiente." in text and _english_left(applied) == []
    waiting = client.get("/jeweller/pieces/new")
    assert waiting.status_code == 403
    assert "La Central aún no ha aprobado Taller Ñusta" in _readable(waiting)
    assert _english_left(waiting) == []

    workshop = _user("buyer@demo.test").jeweller
    workshop.status, workshop.decline_reason = "declined", "RUC de otra empresa"
    db.session.commit()
    declined = client.get("/jeweller/")
    assert "Motivo indicado por la Central: RUC de otra empresa" in _readable(declined)
    assert _english_left(declined) == []
