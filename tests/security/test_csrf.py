"""Every route that changes something refuses a request without a valid CSRF token.

The routes come from ``app.url_map``: each POST, PUT, PATCH and DELETE rule is called by a
client signed in as the role it is for (so only the missing token stops it), with a form that
would otherwise be acted on, once without a token and once with a forged one. Each answer must
be 400 and no row of any table may change. Only Stripe's webhook is exempt (Stripe cannot know
our token); it must refuse a body without Stripe's signature instead. A new unsafe route that
is not protected fails this test; one with an argument the walk cannot fill fails it too.
"""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from marketplace import create_app
from marketplace.extensions import csrf
from tests.security.walk import (
    UNSAFE_METHODS,
    World,
    database_state,
    role_for,
    rules,
    signed_in,
)

#: Routes that authenticate their caller another way, and how they are checked instead.
EXEMPT = {"stripe_webhooks.stripe_webhook"}
#: What a person filling the forms might send: enough for most views to act on.
FORM = {
    "title": "Changed",
    "name": "Changed",
    "email": "changed@example.org",
    "password": "demo-password",
    "current": "demo-password",
    "confirm": "demo-password",
    "quantity": "1",
    "piece_id": "1",
    "action": "ship",
    "carrier": "x",
    "tracking": "y",
    "reason": "x",
    "stock": "0",
    "status": "archived",
    "reference": "x",
    "period": "2026-10",
    "role-role": "admin",
}


def unsafe_routes(app: Flask) -> list[tuple[Rule, str]]:
    """Each (rule, method) of the app that may change state."""
    return [
        (rule, method)
        for rule in rules(app)
        for method in sorted((rule.methods or set()) & UNSAFE_METHODS)
    ]


def unprotected(
    app: Flask,
    world: World,
    routes: list[tuple[Rule, str]],
    clients: dict[str, FlaskClient] | None = None,
) -> list[str]:
    """The routes that did not answer 400 to a request without a token or with a forged one
    (sent by a client of the role each route is for)."""
    if clients is None:
        clients = {role: signed_in(app, role) for role in ("admin", "jeweller", "officer",
                                                             "shopper")}
    found = []
    with _csrf_on(app):
        for rule, method in routes:
            url = world.url(rule)
            client = clients[role_for(rule.rule)]
            for token in (None, "forged-token"):
                data = dict(FORM, **({"csrf_token": token} if token else {}))
                response = client.open(url, method=method, data=data)
                if response.status_code != 400:
                    found.append(f"{method} {url} ({rule.endpoint}), token {token}: "
                                 f"{response.status_code}")
    return found


def _exempt(app: Flask, rule: Rule) -> bool:
    """Whether Flask-WTF skips the CSRF check for ``rule`` (its view or its blueprint)."""
    view = app.view_functions[rule.endpoint]
    return (
        f"{view.__module__}.{view.__name__}" in csrf._exempt_views
        or app.blueprints.get(rule.endpoint.rpartition(".")[0]) in csrf._exempt_blueprints
    )


class _csrf_on:
    """CSRF protection on, as in production (the test app runs with it off)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __enter__(self) -> None:
        self.before = self.app.config["WTF_CSRF_ENABLED"]
        self.app.config["WTF_CSRF_ENABLED"] = True

    def __exit__(self, *exc: object) -> None:
        self.app.config["WTF_CSRF_ENABLED"] = self.before


def test_every_unsafe_route_refuses_a_request_without_a_csrf_token_and_changes_nothing(
    app, world
):
    routes = [(r, m) for r, m in unsafe_routes(app) if r.endpoint not in EXEMPT]
    endpoints = {rule.endpoint for rule, _ in routes}
    # The walk reaches the forms that matter most (a sanity check on the enumeration).
    assert {"accounts.login", "orders.cart_update", "orders.pay_page", "admin.new_lot",
            "jeweller.new_piece", "payouts.run", "admin.deactivate_user"} <= endpoints
    before = database_state()

    failures = unprotected(app, world, routes)

    assert failures == []
    assert database_state() == before


def test_the_stripe_webhook_is_the_only_exempt_route_and_refuses_an_unsigned_body(
    app, client, monkeypatch
):
    assert {rule.endpoint for rule, _ in unsafe_routes(app) if _exempt(app, rule)} == EXEMPT
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_test")
    before = database_state()
    event = {
        "id": "evt_forged",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_forged", "object": "payment_intent"}},
    }
    unsigned = client.post(
        "/webhooks/stripe", data=json.dumps(event), content_type="application/json"
    )
    forged = client.post(
        "/webhooks/stripe",
        data=json.dumps(event),
        content_type="application/json",
        headers={"Stripe-Signature": "t=1700000000,v1=" + "0" * 64},
    )
    assert (unsigned.status_code, forged.status_code) == (400, 400)
    assert database_state() == before


def test_a_new_unsafe_route_without_csrf_protection_is_caught_by_the_walk(app, world, tmp_path):
    # A second app (on an empty database of its own) with one extra route that skips the CSRF
    # check: the walk must name it.
    other = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SIGNING_KEY_DIR": str(tmp_path),
        }
    )

    @other.post("/account/notes")
    @csrf.exempt
    def notes() -> str:
        return "kept"

    added = [(r, m) for r, m in unsafe_routes(other) if r.rule == "/account/notes"]
    anonymous = other.test_client()

    assert _exempt(other, added[0][0])
    assert unprotected(other, world, added, dict.fromkeys(("shopper",), anonymous)) == [
        "POST /account/notes (notes), token None: 200",
        "POST /account/notes (notes), token forged-token: 200",
    ]
