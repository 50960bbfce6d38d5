"""The JSON API's rate limit: one budget per client address over every /api/v1 route; past it a
JSON 429 with Retry-After. The HTML 429 page says when to try again."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from marketplace import create_app
from marketplace.api.views import json_errors
from marketplace.extensions import limiter


@pytest.fixture
def three_a_minute(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small budget, so a test reaches it in a few requests."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")


def test_past_the_api_budget_the_answer_is_a_json_429_with_retry_after(client, three_a_minute):
    statuses = [client.get("/api/v1/cooperatives").status_code for _ in range(3)]
    refused = client.get("/api/v1/cooperatives")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.mimetype == "application/json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    message = refused.get_json()["error"]
    assert re.search(rf"try again in {refused.headers['Retry-After']} seconds", message)
    assert refused.headers["Access-Control-Allow-Origin"] == "*"


def test_the_budget_is_shared_by_every_api_route_the_epcis_exports_included(
    client, three_a_minute
):
    client.get("/api/v1/pieces")
    client.get("/api/v1/lots")
    client.get("/api/v1/products/no-such-piece/epcis")

    assert client.get("/api/v1/lots/NO-SUCH-LOT/epcis").status_code == 429
    assert client.get("/api/v1/openapi.json").status_code == 429
    # Pages are not part of the API's budget.
    assert client.get("/products").status_code == 200


def test_each_client_address_has_its_own_budget(app, three_a_minute):
    first = app.test_client()
    first.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    second = app.test_client()
    second.environ_base["REMOTE_ADDR"] = "198.51.100.8"
    for _ in range(3):
        first.get("/api/v1/cooperatives")

    assert first.get("/api/v1/cooperatives").status_code == 429
    assert second.get("/api/v1/cooperatives").status_code == 200


def test_a_forged_forwarded_for_header_does_not_buy_a_new_budget(client, three_a_minute):
    statuses = [
        client.get("/api/v1/cooperatives", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        .status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_the_budget_is_per_forwarded_client(app, tmp_path):
    behind_proxy = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SIGNING_KEY_DIR": str(tmp_path),
            "TRUSTED_PROXIES": 1,
            "API_RATE_LIMIT": "2 per minute",
        }
    )
    limiter.reset()
    web = behind_proxy.test_client()

    def get(client_address: str) -> int:
        headers = {"X-Forwarded-For": client_address, "X-Forwarded-Proto": "https"}
        return web.get("/api/v1/openapi.json", headers=headers).status_code

    assert [get("192.0.2.1"), get("192.0.2.1"), get("192.0.2.1")] == [200, 200, 429]
    assert get("192.0.2.2") == 200


def test_the_page_shown_past_a_limit_says_when_to_try_again(client):
    for _ in range(10):
        client.post("/account/login", data={"email": "nobody@example.org", "password": "x"})
    page = client.post("/account/login", data={"email": "nobody@example.org", "password": "x"})

    assert page.status_code == 429
    wait = int(page.headers["Retry-After"])
    text = page.get_data(as_text=True)
    assert f"try again in {wait} second" in text or f"try again in {-(-wait // 60)} minute" in text


def test_the_api_writes_its_json_error_after_the_limiter_writes_retry_after(app):
    # After-request functions run last registered first. Written before Flask-Limiter's headers,
    # a 429's message could say 60 seconds while the limiter, a moment later, sent 59.
    functions = app.after_request_funcs[None]
    limiter_at = next(
        i for i, f in enumerate(functions) if "inject_headers" in getattr(f, "func", f).__name__
    )
    assert functions.index(json_errors) < limiter_at
