"""Every text a user can type is shown back as text, never as markup, script or a template.

For each payload of an XSS corpus, every role (anonymous, shopper, jeweller, officer, admin)
opens each of its pages, finds every ``<form method="post">`` with a field to type in, fills
every text, textarea, e-mail, URL, search and phone field with the payload and submits it. A
field whose validation refuses the payload gets a valid value instead and the form is sent again
(its other fields keep the payload); files get a small PNG. Redirects are followed, so the
checkout goes on to the review and the sandbox payment. Then every role opens all its pages
again, for the demo's objects and for the newest ones (what the forms just created), and an HTML
parser checks each answer, the form answers included: no event-handler attribute, no script
that is not one of the shop's files, no ``javascript:`` link, no ``<img src=x>``, and no
``{{7*7}}`` turned into 49.

Forms are found on the pages, not listed, so a new form is tried as soon as a page shows it;
the forms named in ``MUST_STORE`` must also take the payload (the test fails if they stop doing
so, instead of passing without trying them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.exceptions import HTTPException

from marketplace.accounts.models import User
from marketplace.catalog.models import Jeweller, Piece
from marketplace.demo import ruc_with_check
from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.payouts.models import Payout
from marketplace.provenance.models import (
    Certificate,
    Cooperative,
    CooperativeCertification,
    GoldLot,
)
from tests.security.walk import Control, Form, Page, World, html_pages, path_of, signed_in

#: The payloads, each marked with "zq" so the test can find where it shows.
CORPUS = {
    "script-tag": "zq<script>alert(1)</script>",
    "attribute-break-out": 'zq"><img src=x onerror=alert(1)>',
    "svg-onload": "zq'><svg/onload=alert(1)>",
    "template-syntax": "zq{{7*7}}",
    "javascript-url": "javascript:alert(1)//zq",
}
MARKER = "zq"
#: Fields filled with the payload (input types; textareas too).
TYPED = {"text", "email", "url", "search", "tel", "textarea"}
#: Every password field gets this one (a wrong password for every demo login).
PASSWORD = "Zq-a-long-password-2026"
#: Valid values for fields whose validators refuse free text (by field name, prefix stripped).
VALID = {
    "ruc": ruc_with_check("2060999888"),
    "payout_cci": "00219000000000000012",
    "flo_id": "99123",
    "code": "ZQ-2026-01",
    "stripe_account_id": "",
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
    "cvc": "123",
    "price": "1250.50",
    "gross_weight": "3.75",
    "gross_g": "100.000",
    "fine_g": "0.010",
    "fineness": "950.0",
    "assayed_fineness": "950.0",
    "altitude_m": "4800",
    "area_ha": "100",
    "first_certified_year": "2019",
    "bar_year": "2024",
    "mercury_used_g": "",
    "mercury_recovered_g": "",
    "water_recycled_percent": "",
    "valid_until": "",
    "extraction_end": "",
    "country": "PE",
}
#: Forms sent although they have nothing to type in: they carry the checkout on.
SUBMIT_WITHOUT_TEXT = {"orders.review"}
#: Forms never sent: signing in stores nothing and would change who the client is.
NEVER_SUBMIT = {"accounts.login", "accounts.logout"}
#: Forms that must take the payload into at least one field.
MUST_STORE = {
    "accounts.register",
    "orders.checkout",
    "jeweller.apply",
    "jeweller.new_piece",
    "jeweller.edit_piece",
    "jeweller.photos",
    "jeweller.payout_details",
    "fulfilment.jeweller_order",
    "fulfilment.admin_order",
    "admin.new_cooperative",
    "admin.cooperative",
    "admin.certification",
    "admin.new_lot",
    "admin.record_assay",
    "admin.certify_lot",
    "admin.add_evidence",
    "admin.transfer",
    "admin.decline_jeweller",
    "payouts.reference",
}
ROLES = (None, "shopper", "jeweller", "officer", "admin")
#: Script files the shop serves itself (Stripe.js is not used by the sandbox gateway).
OWN_SCRIPTS = "/static/"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 320), (166, 111, 0)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


# --- Finding what was injected ----------------------------------------------------------------


def injections(page: Page) -> list[str]:
    """What on ``page`` a browser would run or load because of a payload."""
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}=…>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith(
                ("javascript:", "vbscript:", "data:text/html")
            ):
                found.append(f"<{tag} {name}={value[:40]!r}>")
        if tag == "script" and not attrs.get("src", "").startswith(OWN_SCRIPTS):
            found.append(f"<script {attrs}>")
        if tag == "img" and attrs.get("src") == "x":
            found.append("<img src=x>")
        if tag in ("iframe", "object", "embed", "base"):
            found.append(f"<{tag}>")
    found += [f"script body {body[:40]!r}" for body in page.script_bodies if body.strip()]
    found += [f"template evaluated: {s[:60]!r}" for s in page.strings() if "zq49" in s]
    return found


# --- Filling and sending forms ----------------------------------------------------------------


def _short(name: str) -> str:
    """A field's name without its form prefix ("assay-lab" -> "lab")."""
    return name.rsplit("-", 1)[-1]


def _baseline(control: Control) -> str:
    """A valid value for a field that refuses the payload."""
    short = _short(control.name)
    if control.kind == "email":  # the demo's own addresses (@demo.test) are not deliverable
        return f"zq-{short}@example.org"
    if control.value.strip() and MARKER not in control.value:
        return control.value  # what the page holds now (an edit form's saved value)
    if short in VALID:
        return VALID[short]
    if control.kind == "date":
        return "2025-06-01"
    if control.attrs.get("inputmode") == "decimal":
        return "1.5"
    if control.attrs.get("inputmode") == "numeric":
        return "1"
    return "Zq plain text"


@dataclass
class Attempt:
    """One form sent: where, with the payload in which fields, and how it went."""

    endpoint: str
    url: str
    payload_fields: list[str]
    status: int
    location: str = ""
    page: Page | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status in (301, 302, 303) or (
            self.status == 200 and self.page is not None and not _refused_fields(self.page)
            and not _has_error_summary(self.page)
        )


def _refused_fields(page: Page) -> set[str]:
    return {
        c.name
        for form in page.forms
        for c in form.controls
        if c.attrs.get("aria-invalid") == "true"
    }


def _has_error_summary(page: Page) -> bool:
    return any(
        "error-summary" in attrs.get("class", "") or "flash-error" in attrs.get("class", "")
        for _, attrs in page.tags
    )


def _data(form: Form, payload: str, plain: set[str]) -> tuple[dict[str, Any], list[str]]:
    """The form's fields: the payload in every text field not in ``plain``."""
    data: dict[str, Any] = {}
    typed = []
    radios_done: set[str] = set()
    for control in form.controls:
        name = control.name
        if control.kind in TYPED:
            if name in plain:
                data[name] = _baseline(control)
            else:
                data[name] = payload
                typed.append(name)
        elif control.kind == "password":
            data[name] = PASSWORD
        elif control.kind == "file":
            data[name] = (io.BytesIO(PNG), "zq.png")
        elif control.kind == "checkbox":
            if control.checked:
                data[name] = control.value or "y"
        elif control.kind == "radio":
            if name not in radios_done and (control.checked or name not in data):
                data[name] = control.value
                if control.checked:
                    radios_done.add(name)
        elif control.kind == "select":
            choices = [o for o in control.options if o not in ("", "0")]
            keep = control.value not in ("", "0") or not choices
            data[name] = control.value if keep else choices[0]
        elif control.kind in ("number", "month", "date"):
            data[name] = control.value or _baseline(control)
        else:  # hidden and the rest: as the page gave them
            data[name] = control.value
    if form.buttons:  # as if its (first) submit button were pressed
        data.setdefault(*form.buttons[0])
    return data, typed


def _endpoint(app: Flask, url: str, method: str = "POST") -> str:
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path_of(url).split("?")[0], method=method)
    except HTTPException:
        return "?"
    return str(endpoint)


def _text_fields(form: Form) -> list[Control]:
    return [c for c in form.controls if c.kind in TYPED]


class Walk:
    """Sends every form of a role's pages with one payload and keeps what happened."""

    def __init__(self, app: Flask, payload: str) -> None:
        self.app = app
        self.payload = payload
        self.attempts: list[Attempt] = []
        self.sent: set[tuple[str, tuple[str, ...]]] = set()

    def forms_of(self, client: FlaskClient, url: str, role: str | None, depth: int = 0) -> None:
        """Open ``url`` and send each of its forms (then the pages they lead to)."""
        response = client.get(url)
        if response.status_code in (301, 302, 303) and depth < 3:
            return self.forms_of(client, response.headers["Location"], role, depth + 1)
        if response.mimetype != "text/html":
            return None
        page = Page(response.get_data(as_text=True), path_of(url))
        for form in page.forms:
            endpoint = _endpoint(self.app, form.action)
            fields = tuple(sorted(c.name for c in form.controls))
            key = (form.action.split("?")[0], fields)
            if endpoint in NEVER_SUBMIT or key in self.sent:
                continue
            if not _text_fields(form) and endpoint not in SUBMIT_WITHOUT_TEXT:
                continue
            self.sent.add(key)
            attempt = self.send(client, form, endpoint)
            if attempt.accepted and attempt.location and depth < 3:
                self.forms_of(client, attempt.location, role, depth + 1)
        return None

    def send(self, client: FlaskClient, form: Form, endpoint: str) -> Attempt:
        """Send ``form`` with the payload; again with valid values where it is refused."""
        plain: set[str] = set()
        attempt = None
        for _ in range(4):
            data, typed = _data(form, self.payload, plain)
            content_type = "multipart/form-data" if "multipart" in form.enctype else None
            response = client.post(
                path_of(form.action), data=data, content_type=content_type
            )
            page = (
                Page(response.get_data(as_text=True), path_of(form.action))
                if response.mimetype == "text/html"
                else None
            )
            attempt = Attempt(
                endpoint,
                path_of(form.action),
                typed,
                response.status_code,
                response.headers.get("Location", ""),
                page,
                injections(page) if page else [],
            )
            self.attempts.append(attempt)
            if attempt.accepted or page is None:
                break
            refused = _refused_fields(page) & {c.name for c in _text_fields(form)}
            if not refused - plain:
                refused = {c.name for c in _text_fields(form)}  # nothing named: all plain
            if refused <= plain:
                break
            plain |= refused
        assert attempt is not None
        return attempt


# --- The newest objects: what the forms created -------------------------------------------------


def newest(world: World) -> World:
    """The world's values with the newest object of each kind instead (what the forms made)."""
    values = dict(world.values)

    def last(model: Any, *columns: Any) -> Any:
        return db.session.execute(
            sa.select(*columns).order_by(model.id.desc()).limit(1)
        ).first()

    if piece := last(Piece, Piece.id, Piece.slug):
        values.update(piece_id=piece[0], piece_slug=piece[1])
    if lot := last(GoldLot, GoldLot.code):
        values.update(code=lot[0])
    if coop := last(Cooperative, Cooperative.id, Cooperative.slug):
        values.update(coop_id=coop[0], coop_slug=coop[1])
    if cert := last(
        CooperativeCertification,
        CooperativeCertification.id,
        CooperativeCertification.cooperative_id,
    ):
        values.update(cert_id=cert[0], cert_coop_id=cert[1])
    if jeweller := last(Jeweller, Jeweller.id, Jeweller.slug):
        values.update(jeweller_id=jeweller[0], jeweller_slug=jeweller[1])
    if order := last(Order, Order.number):
        values.update(number=order[0])
    if payout := last(Payout, Payout.id):
        values.update(payout_id=payout[0])
    if certificate := last(Certificate, Certificate.short_id):
        values.update(short_id=certificate[0])
    if user := last(User, User.id):
        values.update(user_id=user[0])
    return World(values)


# --- The test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CORPUS))
def test_every_form_field_is_shown_back_as_text_never_as_markup(app, world, monkeypatch, kind):
    payload = CORPUS[kind]
    walk = Walk(app, payload)
    clients = {role: signed_in(app, role) for role in ROLES}
    clients["shopper"].post("/cart", data={"piece_id": world.values["piece_id"], "quantity": "1"})
    # As in production: every form carries its CSRF token, which the walk sends back.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    for role in ROLES:
        for url in dict.fromkeys([*html_pages(app, world, role),
                                  *html_pages(app, newest(world), role)]):
            walk.forms_of(clients[role], url, role)

    failures = [f"POST {a.url}: {a.problems}" for a in walk.attempts if a.problems]
    stored = {a.endpoint for a in walk.attempts if a.accepted and a.payload_fields}
    shown_on: set[str] = set()
    for role in ROLES:
        client = clients[role]
        for url in dict.fromkeys([*html_pages(app, world, role),
                                  *html_pages(app, newest(world), role)]):
            response = client.get(url)
            if response.mimetype != "text/html":
                continue
            page = Page(response.get_data(as_text=True), url)
            failures += [f"{role} GET {url}: {found}" for found in injections(page)]
            if any(payload in s for s in page.strings()):
                shown_on.add(url)

    assert failures == []
    assert MUST_STORE - stored == set(), "forms that no longer took the payload"
    newer = newest(world).values
    where_it_must_show = {
        f"/products/{world.values['piece_slug']}",  # the piece's title, its photo's alt text
        f"/cooperatives/{world.values['coop_slug']}",  # the cooperative's name
        f"/orders/{newer['number']}",  # the address typed at checkout, to the shopper
        f"/admin/orders/{newer['number']}",  # ... to the Central
        f"/jeweller/orders/{newer['number']}",  # ... and to the jeweller who ships it
        f"/admin/jewellers/{newer['jeweller_id']}",  # an application to sell
        f"/admin/lots/{newer['code']}",  # a lot registered by the Central
        "/jeweller/payout-details",
    }
    assert where_it_must_show - shown_on == set(), sorted(shown_on)


@pytest.mark.parametrize("kind", list(CORPUS))
def test_the_check_finds_each_payload_when_a_page_does_not_escape_it(kind):
    payload = CORPUS[kind]
    unescaped = {
        "template-syntax": "<p>zq49</p>",
        "javascript-url": f'<a href="{payload}">site</a>',
    }.get(kind, f'<p>{payload}</p><input value="{payload}">')
    escaped = (
        f"<p>{payload.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</p>"
        f'<input value="{payload.replace("&", "&amp;").replace(chr(34), "&#34;")}">'
        f"<p>{payload.replace('<', '&lt;')}</p>"
    )

    assert injections(Page(unescaped, "/")) != []
    assert injections(Page(escaped, "/")) == []
    assert payload in Page(escaped, "/").strings()
