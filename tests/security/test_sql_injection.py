"""Search and every filter of the catalog, the lot registry and the API take SQL as plain text.

Each payload goes into the search, into each filter and into each slug or code of the public
pages and the API (and the Central's user search). Nothing may change in any table, every
answer is 200, 400 or 404 without a traceback or a database message, and a search for
``' OR '1'='1`` finds no more than a search for its words does.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest

from marketplace.api.views import PIECE_ARGS
from tests.security.walk import database_state, signed_in

PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DROP TABLE piece",
    "1; DROP TABLE pieces --",
    "'; DELETE FROM piece; --",
    "%' UNION SELECT id, email, password_hash FROM \"user\" --",
    "1 UNION SELECT NULL, sqlite_version() --",
    "1) OR (1=1",
    "' AND 1=CAST((SELECT version()) AS int) --",
    "%",
    "_",
    "\\",
]
#: Words that only a database error or a traceback would put in an answer.
LEAKS = re.compile(
    r"Traceback|sqlalchemy|sqlite3|psycopg|OperationalError|ProgrammingError|DataError|"
    r"IntegrityError|syntax error|unrecognized token|no such (?:column|table)|\[SQL:|LINE 1:",
    re.IGNORECASE,
)
#: (url, query arguments it reads) — the public lists and the API.
LISTS = {
    "/products": PIECE_ARGS,
    "/lots": ("page",),
    "/api/v1/pieces": (*PIECE_ARGS, "per_page"),
    "/api/v1/lots": ("page", "per_page"),
}
#: Pages and API routes found by a slug or code.
BY_KEY = [
    "/products/{}",
    "/lots/{}",
    "/cooperatives/{}",
    "/jewellers/{}",
    "/verify/{}",
    "/certificates/{}",
    "/api/v1/pieces/{}",
    "/api/v1/pieces/{}/provenance",
    "/api/v1/lots/{}",
    "/api/v1/lots/{}/epcis",
    "/api/v1/products/{}/epcis",
]


def _problems(response, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    if response.status_code not in (200, 400, 404):
        problems.append(f"{url}: {response.status_code}")
    match = LEAKS.search(response.get_data(as_text=True))
    if match:
        problems.append(f"{url}: shows “{match.group(0)}”")
    return problems


def _slugs(client, q: str) -> set[str]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/pieces?" + urlencode({"q": q, "per_page": 100}))
    assert response.status_code == 200
    body = response.get_json()
    assert body["pages"] == 1, "more than one page: compare every page"
    return {item["slug"] for item in body["items"]}


@pytest.fixture
def unlimited_api(app, monkeypatch):  # type: ignore[no-untyped-def]
    """Hundreds of API requests in a few seconds: past the rate limit, which is not tested here."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


def test_sql_in_search_filters_and_keys_changes_nothing_and_leaks_nothing(
    app, client, unlimited_api
):
    before = database_state()
    problems: list[str] = []
    for payload in PAYLOADS:
        for path, names in LISTS.items():
            for name in names:
                url = f"{path}?{urlencode({name: payload})}"
                problems += _problems(client.get(url), url)
            url = f"{path}?{urlencode(dict.fromkeys(names, payload))}"
            problems += _problems(client.get(url), url)
        for pattern in BY_KEY:
            url = pattern.format(quote(payload, safe=""))
            response = client.get(url)
            problems += _problems(response, url)
            if response.status_code != 404:
                problems.append(f"{url}: {response.status_code}, found something")

    assert problems == []
    assert database_state() == before


@pytest.mark.parametrize("payload", ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', "1) OR (1=1"])
def test_a_search_for_an_always_true_condition_finds_no_more_than_its_words(
    client, unlimited_api, payload
):
    words = re.sub(r"[^\w\s]", " ", payload)
    everything = _slugs(client, "")

    found = _slugs(client, payload)

    assert found <= _slugs(client, words)
    assert found != everything


def test_the_centrals_user_and_audit_searches_take_sql_as_text(app):
    admin = signed_in(app, "admin")
    before = database_state()
    problems: list[str] = []
    for payload in PAYLOADS:
        for url in (f"/admin/users?{urlencode({'q': payload})}",
                    f"/admin/audit?{urlencode({'type': payload})}"):
            response = admin.get(url)
            problems += _problems(response, url)
    listed = admin.get("/admin/users?" + urlencode({"q": "' OR '1'='1"}))

    assert problems == []
    assert "buyer@demo.test" not in listed.get_data(as_text=True)
    assert database_state() == before
