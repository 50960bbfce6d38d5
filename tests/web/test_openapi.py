"""/api/v1/openapi.json stays in step with the routes and describes what the demo data answers."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Piece, PieceStatus
from marketplace.catalog.services import archive_piece
from marketplace.extensions import db, limiter
from marketplace.provenance.models import GoldLot
from tests import factories

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    return response.get_json()


def _template(rule: str) -> str:
    """Flask's ``/lots/<code>`` (or ``<string:code>``) as OpenAPI's ``/lots/{code}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_api_route_is_documented_and_every_documented_path_exists(app, client):
    doc = _document(client)
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            routes.setdefault(_template(rule.rule), set()).update(
                (rule.methods or set()) - IGNORED_METHODS
            )
    documented = {
        path: {method.upper() for method in operations}
        for path, operations in doc["paths"].items()
    }
    assert set(routes) - set(documented) == set(), "routes missing from the document"
    assert set(documented) - set(routes) == set(), "documented paths without a route"
    assert routes == documented
    for must in ("/api/v1/transparency", "/api/v1/lots/{code}/epcis",
                 "/api/v1/products/{slug}/epcis", "/api/v1/openapi.json"):
        assert must in documented


def test_the_document_is_openapi_3_1_with_every_reference_and_parameter_resolved(client):
    doc = _document(client)
    assert doc["openapi"].startswith("3.1.")
    for ref in _refs(doc):
        assert ref.startswith("#/components/"), ref
        _resolve(doc, {"$ref": ref})  # raises KeyError when it names nothing
    operation_ids = []
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            operation_ids.append(operation["operationId"])
            parameters = [_resolve(doc, p) for p in operation["parameters"]]
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == set(re.findall(r"{([^}]+)}", path)), path
            assert all(p["required"] for p in parameters if p["in"] == "path")
            assert "200" in operation["responses"] and "304" in operation["responses"]
            assert "429" in operation["responses"], f"{path}: the rate limit's answer"
    assert len(operation_ids) == len(set(operation_ids))
    for name, schema in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_the_document_passes_the_openapi_3_1_meta_schema(client):
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    validator = jsonschema_rs.Draft202012Validator(definitions.OPENAPI_31)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(_document(client))]
    assert errors == []


class Checker:
    """Validates answers against the response the document declares for their status."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.validators: dict[tuple[str, str, str], jsonschema_rs.Validator] = {}
        self.seen: set[tuple[str, str]] = set()

    def check(self, client, path: str, url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        response = client.get(url, headers=headers or {})
        responses = self.doc["paths"][path]["get"]["responses"]
        status = str(response.status_code)
        assert status in responses, (url, status, response.get_data(as_text=True)[:300])
        declared = _resolve(self.doc, responses[status])
        for name, header in declared.get("headers", {}).items():
            if header.get("required"):
                assert response.headers.get(name), (url, name)
        content = declared.get("content")
        if not content:
            assert response.data == b"", url
            self.seen.add((path, status))
            return response
        assert response.mimetype in content, (url, response.mimetype)
        key = (path, status, response.mimetype)
        if key not in self.validators:
            schema = {
                **content[response.mimetype]["schema"],
                "components": self.doc["components"],
            }
            self.validators[key] = jsonschema_rs.Draft202012Validator(
                schema, validate_formats=True
            )
        body = response.get_json(force=True)
        errors = [f"{e.instance_path}: {e.message}" for e in self.validators[key].iter_errors(body)]
        assert errors == [], (url, errors[:5])
        self.seen.add((path, status))
        return response


def test_every_documented_get_of_the_demo_data_matches_its_response_schema(
    app, client, monkeypatch
):
    # Hundreds of requests in a few seconds: past the API's rate limit per client address.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    # Besides the demo: a sale (sold events, premium per month), an archived piece, a draft.
    sold = factories.piece(factories.jeweller(), stock=3)
    factories.paid_order({sold: 1})
    archived = factories.piece(factories.jeweller(), stock=1)
    archive_piece(archived, actor="test")
    draft = factories.piece(factories.jeweller())
    draft.status = PieceStatus.DRAFT.value
    db.session.flush()

    doc = _document(client)
    checker = Checker(doc)
    slugs = list(
        db.session.scalars(
            sa.select(Piece.slug).where(Piece.status != PieceStatus.DRAFT.value).order_by(Piece.id)
        )
    )
    codes = list(db.session.scalars(sa.select(GoldLot.code).order_by(GoldLot.id)))
    examples = {
        "{slug}": [*slugs, "no-such-piece", draft.slug, "%00"],
        "{code}": [*codes, "NO-SUCH-LOT", "x" * 300],
    }
    queries = {
        "/api/v1/pieces": [
            "", "?per_page=100", "?page=2&sort=price_desc", "?category=ring&karat=18",
            "?cooperative=santiago-de-ananea&min_price=500&max_price=5000&q=gold",
            "?karat=abc&category=tiara&min_price=x&sort=y&page=-1&per_page=0",
            "?page=999999&per_page=1000&q=%00",
        ],
        "/api/v1/lots": ["", "?per_page=3&page=2", "?page=abc&per_page=-1", "?page=99999"],
    }
    for path in doc["paths"]:
        urls = [path]
        for placeholder, values in examples.items():
            if placeholder in path:
                urls = [path.replace(placeholder, value) for value in values]
        urls = [url + query for url in urls for query in queries.get(path, [""])]
        for url in urls:
            response = checker.check(client, path, url)
            if response.status_code == 200:
                checker.check(client, path, url, {"If-None-Match": response.headers["ETag"]})
    for path in doc["paths"]:
        assert (path, "200") in checker.seen and (path, "304") in checker.seen, path
        if "{" in path:
            assert (path, "404") in checker.seen, path


def test_every_operation_answers_a_documented_429_with_retry_after_past_the_rate_limit(
    app, client, monkeypatch
):
    doc = _document(client)
    checker = Checker(doc)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    slug = db.session.scalar(
        sa.select(Piece.slug).where(Piece.status == PieceStatus.ACTIVE.value).order_by(Piece.id)
    )
    code = db.session.scalar(sa.select(GoldLot.code).order_by(GoldLot.id))
    for path in doc["paths"]:
        limiter.reset()
        url = path.replace("{slug}", str(slug)).replace("{code}", str(code))
        statuses = [checker.check(client, path, url).status_code for _ in range(3)]
        assert statuses == [200, 200, 429], (url, statuses)
        assert (path, "429") in checker.seen
