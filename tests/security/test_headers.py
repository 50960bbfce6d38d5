"""Security headers on every kind of answer; Stripe only on its pay page; HSTS and Secure cookies
only in production."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask

from marketplace import create_app
from marketplace.security import (
    STRIPE_API_ORIGIN,
    STRIPE_HOOKS_ORIGIN,
    STRIPE_JS_ORIGIN,
    csp_hash,
    origin,
    stripe_sources,
)
from tests.security.walk import LOGINS, Page, html_pages, signed_in
from tests.stripe_fixtures import (  # the *_fixture names are fixtures, used as parameters
    localstripe_server_fixture,  # noqa: F401
    localstripe_url_fixture,  # noqa: F401
    placed_order,
    stripe_on_fixture,  # noqa: F401
)


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def check_headers(response, where: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What is missing or too permissive in the headers of one answer."""
    problems = []
    header = response.headers.get("Content-Security-Policy", "")
    csp = policy(header)
    scripts = csp.get("script-src", csp.get("default-src", []))
    if not header:
        problems.append("no Content-Security-Policy")
    elif scripts != ["'self'"]:
        problems.append(f"script-src {scripts}")
    if csp.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors {csp.get('frame-ancestors')}")
    if csp.get("object-src") != ["'none'"] or csp.get("base-uri") != ["'none'"]:
        problems.append("object-src / base-uri not 'none'")
    if "stripe" in header:
        problems.append("Stripe allowed")
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    for name, value in expected.items():
        if response.headers.get(name) != value:
            problems.append(f"{name}: {response.headers.get(name)}")
    if "Strict-Transport-Security" in response.headers:
        problems.append("HSTS outside production")
    return [f"{where}: {p}" for p in problems]


def inline_styles_refused(page: Page, header: str) -> list[str]:
    """Inline styles on ``page`` that its policy would block (there must be none)."""
    csp = policy(header)
    allowed = set(csp.get("style-src-attr", []))
    found = [f"<style> element in {page.url}" for tag, _ in page.tags if tag == "style"]
    for tag, attrs in page.tags:
        if "style" in attrs and csp_hash(attrs["style"]) not in allowed:
            found.append(f'<{tag} style="{attrs["style"]}"> in {page.url}')
    return found


def test_every_page_of_every_role_has_the_security_headers_and_no_inline_script_or_style(
    app, world
):
    problems: list[str] = []
    pages = 0
    for role in (None, *LOGINS):
        client = signed_in(app, role)
        for url in html_pages(app, world, role):
            response = client.get(url)
            problems += check_headers(response, f"{role} {url}")
            if response.mimetype == "text/html":
                pages += 1
                page = Page(response.get_data(as_text=True), url)
                header = response.headers["Content-Security-Policy"]
                problems += inline_styles_refused(page, header)
                problems += [
                    f"inline script in {url}" for tag, attrs in page.tags
                    if tag == "script" and "src" not in attrs
                ]
                problems += [
                    f"<{tag} {name}> in {url}" for tag, attrs in page.tags
                    for name in attrs if name.startswith("on")
                ]
    assert problems == []
    assert pages > 100  # the walk saw the pages of every role


def test_the_chart_carries_no_inline_style_and_the_policy_allows_none(app, world, as_user):
    client = as_user("jeweller@demo.test")  # the world's order booked earnings this month
    response = client.get("/jeweller/earnings")
    page = Page(response.get_data(as_text=True), "/jeweller/earnings")
    csp = policy(response.headers["Content-Security-Policy"])

    assert any(tag == "svg" for tag, _ in page.tags)  # the chart is there
    assert [attrs["style"] for _, attrs in page.tags if "style" in attrs] == []
    assert csp["style-src"] == ["'self'"]
    assert "style-src-attr" not in csp and "'unsafe-inline'" not in str(csp)
    # The dashboard's own rules come from a stylesheet of the shop, not a <style> element.
    assert "/static/css/dashboard.css" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/pieces",
        "/api/v1/openapi.json",
        "/static/css/site.css",
        "/static/js/pay.js",
        "/no-such-page",
        "/products?page=%00",
        "/healthz",
        "/.well-known/jwks.json",
    ],
)
def test_answers_that_are_not_pages_carry_the_headers_too(client, url):
    assert check_headers(client.get(url), url) == []


def test_a_stored_photo_carries_the_headers(client, world):
    url = f"/media/{world.values['sha256']}.{world.values['ext']}"
    response = client.get(url)
    assert response.status_code == 200
    assert check_headers(response, url) == []


def test_stripes_origins_are_allowed_on_its_pay_page_only(
    client, stripe_on, localstripe_url
):
    order = placed_order()
    with client.session_transaction() as session:
        session["orders"] = [order.number]

    pay_page = client.get(f"/orders/{order.number}/pay")
    elsewhere = [client.get(url) for url in (f"/orders/{order.number}", "/cart", "/products")]

    assert pay_page.status_code == 200
    assert f'<script src="{localstripe_url}/js.stripe.com/v3/">' in pay_page.get_data(as_text=True)
    csp = policy(pay_page.headers["Content-Security-Policy"])
    stripe = origin(localstripe_url)
    assert csp["script-src"] == ["'self'", stripe]
    assert csp["frame-src"] == [stripe]
    assert csp["connect-src"] == ["'self'", stripe]
    assert csp["frame-ancestors"] == ["'none'"]
    for response in elsewhere:
        header = response.headers["Content-Security-Policy"]
        assert stripe not in header and policy(header)["script-src"] == ["'self'"]


def test_with_stripe_itself_the_pay_page_allows_its_script_frames_and_api_hosts():
    real = stripe_sources({"STRIPE_JS_URL": "https://js.stripe.com/v3/", "STRIPE_API_BASE": ""})
    assert real == {
        "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
        "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", STRIPE_HOOKS_ORIGIN],
        "connect-src": [STRIPE_API_ORIGIN],
    }


def test_the_sandbox_pay_page_allows_no_stripe_origin(client):
    order = placed_order()
    with client.session_transaction() as session:
        session["orders"] = [order.number]
    response = client.get(f"/orders/{order.number}/pay")
    assert response.status_code == 200
    assert check_headers(response, "sandbox pay page") == []


# --- Production -----------------------------------------------------------------------------------


@pytest.fixture
def production(app: Flask, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """The app as ``MARKETPLACE_ENV=production`` builds it, on the test database (read only)."""
    yield create_app(
        {
            "TESTING": True,
            "PRODUCTION": True,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "production-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SIGNING_KEY_DIR": str(tmp_path),
        }
    )


def _cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    found = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie"
    return found[0]


def test_in_production_https_is_enforced_with_hsts_and_secure_cookies(production, app, client):
    web = production.test_client()

    plain = web.get("/account/login")
    health = web.get("/healthz")
    secure = web.get("/account/login", base_url="https://shop.example")
    behind_proxy = web.get("/account/login", headers={"X-Forwarded-Proto": "https"})

    assert plain.status_code == 302
    assert plain.headers["Location"].startswith("https://")
    assert health.status_code == 200  # load balancers probe it over plain HTTP
    assert secure.status_code == behind_proxy.status_code == 200
    for response in (secure, behind_proxy):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    session = _cookie(secure, "session")
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    config = production.config
    assert config["REMEMBER_COOKIE_SECURE"] and config["REMEMBER_COOKIE_HTTPONLY"]
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    # The test app beside it keeps its own settings: no redirect, no HSTS.
    assert client.get("/account/login").status_code == 200


def test_outside_production_there_is_no_hsts_no_redirect_and_cookies_are_not_secure(
    app, client, csrf_on
):
    plain = client.get("/account/login")
    secure = client.get("/account/login", base_url="https://shop.example")

    assert plain.status_code == secure.status_code == 200
    assert "Strict-Transport-Security" not in secure.headers
    session = _cookie(plain, "session")
    assert "Secure" not in session
    assert "HttpOnly" in session and "SameSite=Lax" in session


def test_the_remember_me_cookie_is_httponly_and_samesite(app, client):
    response = client.post(
        "/account/login",
        data={"email": "buyer@demo.test", "password": "demo-password", "remember": "y"},
    )
    assert response.status_code == 302
    remember = _cookie(response, "remember_token")
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert "Secure" not in remember  # outside production only
    assert re.search(r"Expires=", remember)
