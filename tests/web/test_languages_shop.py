"""The shop in Spanish: the public pages, buying from cart to receipt, the account pages and
their mails speak Spanish when the visitor asks for it, and no English text of them is left."""

from __future__ import annotations

import re
import unicodedata

import pytest
import sqlalchemy as sa
from flask import render_template
from flask_babel import refresh

from marketplace.catalog.models import Piece
from marketplace.extensions import db
from marketplace.i18n import TRANSLATIONS
from marketplace.mail import outbox
from marketplace.orders.forms import country_choices
from marketplace.provenance.models import Certificate, GoldLot
from tests.languages import english_left, english_of, readable
from tests.web.test_buying import ADDRESS

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"

#: Where the shop's words live: the public and shopper templates and the code whose messages
#: reach shoppers.
AREA = (
    "templates/site/",
    "templates/catalog/",
    "templates/provenance/",
    "templates/certificates/",
    "templates/errors/",
    "templates/macros.html",
    "templates/forms.html",
    "templates/emails/",
    "templates/accounts/",
    "templates/orders/cart.html",
    "templates/orders/checkout.html",
    "templates/orders/review.html",
    "templates/orders/pay.html",
    "templates/orders/_stripe_form.html",
    "templates/orders/order.html",
    "templates/orders/history.html",
    "marketplace/catalog/",
    "marketplace/provenance/views.py",
    "marketplace/provenance/certificate_views.py",
    "marketplace/errors.py",
    "marketplace/accounts/",
    "marketplace/orders/views.py",
    "marketplace/orders/forms.py",
    "marketplace/orders/services.py",
    "marketplace/orders/pricing.py",
    "marketplace/payments/",
)
ENGLISH = english_of(AREA)


def _readable(page: str) -> str:
    return readable(page)


def _english_left(page: str) -> list[str]:
    return english_left(page, AREA)


def _spanish(response, phrase: str) -> str:  # type: ignore[no-untyped-def]
    """The page's readable text, after checking it is Spanish, says ``phrase`` and has no
    English of the shop left."""
    page = response.get_data(as_text=True)
    assert '<html lang="es">' in page
    text = _readable(page)
    assert phrase in text, text[:2000]
    assert _english_left(page) == []
    return text


@pytest.fixture
def es(client):  # type: ignore[no-untyped-def]
    """A visitor who chose Spanish with the language switch."""
    client.get("/language/es")
    return client


def _piece() -> Piece:
    found = db.session.scalar(
        sa.select(Piece).where(Piece.stock >= 2, Piece.status == "active").order_by(Piece.id)
    )
    assert found is not None
    return found


def test_the_english_check_finds_english_on_an_english_page(client):
    # Without this, the checks below could pass by finding nothing anywhere.
    assert "Where the gold comes from" in ENGLISH and "Your card was declined." in ENGLISH
    english = client.get(f"/products/{_piece().slug}", headers={"Accept-Language": "en"})
    assert "Where the gold comes from" in _english_left(english.get_data(as_text=True))


def test_the_public_pages_speak_spanish_with_no_english_left(es):
    piece = _piece()
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-01"))
    pages = {
        "/": "Joyería de oro que puede rastrear hasta la cooperativa que lo extrajo",
        "/transparency": "Prima comunitaria por cooperativa",
        "/products": "Compre oro de comercio justo",
        "/products?category=ring&sort=price_asc": "Precio: de menor a mayor",
        f"/products/{piece.slug}": "De dónde viene el oro",
        f"/jewellers/{piece.jeweller.slug}": "de cada precio para las cooperativas",
        "/lots": "Oro fino por lote, en gramos",
        f"/lots/{lot.code}": "La cadena se verifica",
        "/cooperatives/cecomsap": "Cooperativas socias",
        "/cooperatives/santiago-de-ananea": "Oro fino certificado registrado",
        "/cart": "Su carrito está vacío.",
        "/account/login": "¿Olvidó su contraseña?",
        "/account/register": "Crear mi cuenta",
        "/account/reset": "Enviarme un enlace",
    }
    for url, phrase in pages.items():
        response = es.get(url)
        assert response.status_code == 200, url
        _spanish(response, phrase)


def test_a_piece_shows_its_gold_and_custody_in_spanish(es):
    text = _spanish(es.get(f"/products/{_piece().slug}"), "Agregar al carrito")
    assert "Custodia" in text and "Registrado" in text and "Transferido a " in text
    assert "Qué demuestra “segregado”" in text or "Qué demuestra “balance de masa”" in text
    assert re.search(r"\d+ k \(\d+‰\)", text)  # the karat as the Spanish page writes it


def test_catalog_notes_are_spanish_on_the_page_and_english_in_the_api(es):
    text = _spanish(
        es.get("/products?karat=99&min_price=abc&category=crown"), "Se ignoró el quilataje “99”"
    )
    assert "Se ignoró el precio mínimo “abc”" in text and "Se ignoró la categoría “crown”" in text
    api = es.get("/api/v1/pieces?karat=99", headers={"Accept-Language": "es"}).get_json()
    assert any(note.startswith("Ignored karat “99”") for note in api["ignored"])


def test_a_purchase_in_spanish_is_spanish_from_cart_to_receipt(es):
    piece = _piece()
    added = es.post(
        "/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"}, follow_redirects=True
    )
    _spanish(added, f"{piece.title} está en su carrito.")
    too_many = es.post(
        "/cart", data={"piece_id": piece.id, "quantity": 99, "action": "add"}, follow_redirects=True
    )
    _spanish(too_many, "Elija una cantidad entre 1 y 20.")
    _spanish(es.get("/checkout"), "Paso 1 de 3")
    refused = es.post("/checkout", data={**ADDRESS, "region": "", "name": ""})
    assert refused.status_code == 422
    text = _spanish(refused, "Corrija 2 datos a continuación.")
    assert "Elija la región del Perú." in text and "Ingrese el nombre de quien recibe" in text
    assert es.post("/checkout", data=ADDRESS).status_code == 302
    _spanish(es.get("/checkout/review"), "Envío (1 paquete, dentro del Perú)")
    pay_url = es.post("/checkout/review").headers["Location"]
    _spanish(es.get(pay_url), "Esta tienda funciona en modo de pruebas")
    card = {"expiry": "12/39", "cvc": "123"}
    declined = es.post(pay_url, data={**card, "card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 402
    _spanish(declined, "Su tarjeta fue rechazada. Pruebe con otra tarjeta.")
    short = es.post(pay_url, data={**card, "card_number": "4000 0000 0000 9995"})
    _spanish(short, "Su tarjeta no tiene fondos suficientes.")
    outbox().clear()
    paid = es.post(pay_url, data={**card, "card_number": "4242 4242 4242 4242"})
    order_page = es.get(paid.headers["Location"])
    text = _spanish(order_page, "¡Gracias! Su pedido está pagado.")
    assert "Prima comunitaria" in text and "Certificados de procedencia" in text
    assert "Estado Pagado Pago pagado Entrega por enviar" in text
    receipt = outbox()[-1]
    assert receipt.subject.startswith("Su pedido de Oro de Poto ")
    assert "Prima comunitaria enviada a las cooperativas" in receipt.text
    assert _english_left(receipt.text) == []
    assert receipt.html and '<html lang="es">' in receipt.html
    assert _english_left(receipt.html) == [] and "Siga su pedido" in receipt.html
    books = _spanish(es.get("/transparency"), "Mes a mes")
    months = "enero|febrero|marzo|abril|mayo|junio|julio|agosto|se(?:p)?tiembre|octubre|noviembre"
    assert re.search(rf"\b(?:{months}|diciembre) de \d{{4}}\b", books)  # the months in Spanish


def test_an_order_placed_in_spanish_mails_spanish_even_when_paid_from_an_english_page(client):
    piece = _piece()
    client.get("/language/es")
    client.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    client.post("/checkout", data=ADDRESS)
    pay_url = client.post("/checkout/review").headers["Location"]
    client.get("/language/en")
    outbox().clear()
    client.post(
        pay_url, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
    )
    assert "Gracias" in outbox()[-1].text


def test_the_account_pages_and_their_messages_speak_spanish(es):
    refused = es.post("/account/login", data={"email": "buyer@demo.test", "password": "nope"})
    _spanish(refused, "Ese correo electrónico y esa contraseña no corresponden a ninguna cuenta.")
    short = es.post(
        "/account/register", data={"email": "new@example.org", "password": "short", "confirm": "x"}
    )
    text = _spanish(short, "Use al menos 10 caracteres.")
    assert "Las dos contraseñas no coinciden." in text
    signed_in = es.post(
        "/account/login",
        data={"email": "buyer@demo.test", "password": "demo-password"},
        follow_redirects=True,
    )
    assert signed_in.status_code == 200
    _spanish(es.get("/account/"), "Cambiar su contraseña o correo electrónico")
    _spanish(es.get("/account/orders"), "Sus pedidos")
    wrong = es.post(
        "/account/settings",
        data={
            "pw-current": "not-it-at-all",
            "pw-password": "a-new-password",
            "pw-confirm": "a-new-password",
        },
    )
    _spanish(wrong, "La contraseña actual no es correcta.")
    _spanish(es.post("/account/logout", follow_redirects=True), "Cerró sesión.")
    outbox().clear()
    sent = es.post("/account/reset", data={"email": "buyer@demo.test"}, follow_redirects=True)
    _spanish(sent, "le llegará un enlace para restablecer la contraseña")
    mail = outbox()[-1]
    assert mail.subject == "Restablezca su contraseña de Oro de Poto"
    assert "abra este enlace dentro de 1 hora" in mail.text and _english_left(mail.text) == []
    gone = es.get("/account/reset/not-a-token", follow_redirects=True)
    _spanish(gone, "Este enlace para restablecer la contraseña venció o ya se usó.")


def test_error_pages_speak_spanish(es):
    missing = es.get("/products/no-such-piece")
    assert missing.status_code == 404
    _spanish(missing, "No encontramos esa página")
    not_allowed = es.post("/lots")
    assert not_allowed.status_code == 405
    _spanish(not_allowed, "Este método no está permitido para la dirección solicitada.")
    unreadable = es.get("/lots?page=%00")
    assert unreadable.status_code == 400
    _spanish(unreadable, "La dirección web contiene un carácter que no podemos leer.")
    no_certificate = es.get("/verify/NOSUCHCERT")
    assert no_certificate.status_code == 404
    _spanish(no_certificate, "No hay ningún certificado con este código.")


def test_too_many_attempts_and_server_errors_are_explained_in_spanish(app):
    with app.test_request_context("/", headers={"Cookie": "lang=es"}):
        refresh()  # the tests share one app context, where the locale is cached
        seconds = render_template("errors/429.html", wait=40, minutes=1)
        minutes = render_template("errors/429.html", wait=120, minutes=2)
        broken = render_template("errors/500.html")
    assert "Inténtelo de nuevo en 40 segundos." in _readable(seconds)
    assert "Inténtelo de nuevo en 2 minutos." in _readable(minutes)
    assert "Algo falló de nuestra parte" in _readable(broken)
    assert _english_left(seconds + minutes + broken) == []


def test_a_certificate_and_its_check_page_speak_spanish(es):
    piece = _piece()
    es.post("/cart", data={"piece_id": piece.id, "quantity": 1, "action": "add"})
    es.post("/checkout", data=ADDRESS)
    pay_url = es.post("/checkout/review").headers["Location"]
    es.post(pay_url, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"})
    cert = db.session.scalar(sa.select(Certificate).order_by(Certificate.id.desc()))
    assert cert is not None
    text = _spanish(es.get(f"/verify/{cert.short_id}"), "Válido: este certificado lo emitió")
    assert "Descargar el JSON firmado" in text
    text = _spanish(es.get(f"/certificates/{cert.short_id}"), "Certificado de procedencia")
    assert f"Código QR de http://localhost/verify/{cert.short_id}" in text


def test_the_card_form_script_gets_its_words_in_the_pages_language(app):
    order = {"number": "OP-TEST", "total_minor": 12345, "currency": "PEN"}
    client_state = {
        "client_secret": "pi_secret",
        "status": "requires_payment_method",
        "publishable_key": "pk_test",
        "return_url": "/back",
        "js_url": "/stripe.js",
    }
    pages = {}
    for lang in ("es", "en"):
        with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
            refresh()  # the tests share one app context, where the locale is cached
            pages[lang] = render_template(
                "orders/_stripe_form.html", order=order, client=client_state
            )
    assert 'data-say-declined="La tarjeta no fue aceptada.' in pages["es"]
    assert 'data-locale="es"' in pages["es"] and _english_left(pages["es"]) == []
    assert 'data-say-declined="The card was not accepted.' in pages["en"]
    assert 'data-locale="en"' in pages["en"]


def _plain(name: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    ).casefold()


def test_the_country_list_is_named_and_sorted_in_the_pages_language(client):
    spanish = country_choices("es_PE")
    english = country_choices("en")
    assert spanish[0] == ("PE", "Perú") and english[0] == ("PE", "Peru")
    assert dict(spanish)["DE"] == "Alemania" and dict(english)["DE"] == "Germany"
    names = [name for _, name in spanish[1:]]
    assert names == sorted(names, key=_plain)
    # The checkout form is built per request, in that request's language.
    client.post("/cart", data={"piece_id": _piece().id, "quantity": 1, "action": "add"})
    checkout_es = client.get("/checkout", headers={"Accept-Language": "es"}).get_data(as_text=True)
    checkout_en = client.get("/checkout", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<option value="DE">Alemania</option>' in checkout_es
    assert '<option value="DE">Germany</option>' in checkout_en
