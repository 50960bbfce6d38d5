"""The OpenAPI 3.1 document of the read-only API, served at ``/api/v1/openapi.json``.

Built as a plain dict so it needs nothing beyond the standard library; the response schemas are
in ``marketplace.api.schemas``. ``tests/web/test_openapi.py`` keeps it in step with the routes
(every ``/api/v1`` rule is documented and every documented path exists) and validates the demo
data's answers against it; ``.ci/schemathesis.sh`` fuzzes the running app against it.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from marketplace.api.schemas import (
    CATEGORIES,
    KARATS,
    SORT_NAMES,
    Schema,
    component_schemas,
    ref,
)
from marketplace.api.views import LOTS_PER_PAGE, MAX_PER_PAGE, PIECES_PER_PAGE

DESCRIPTION = """\
Public, read-only JSON about the shop's pieces, the certified gold lots they are made of, the
custody chain of each lot, the cooperatives of the Central San Antonio de Poto and the
community premium routed to them. Nothing here needs an account, and nothing here names a
buyer.

* **Units.** Money is an integer of minor units with its ISO 4217 currency; gold is an integer
  of milligrams; fineness is parts per thousand; exact decimals (fineness, rates) are strings.
  Dates are ISO 8601; timestamps are UTC.
* **Lenient arguments.** Query arguments are read like the catalog page reads them: a value that
  cannot be understood is dropped and named in `ignored`, never an error. The only error an
  argument can cause is a 404 for an unknown slug or code. Every error is JSON
  (`{"error": "..."}`).
* **Caching.** Answers carry an `ETag` (strong; the transparency figures' is weak) and answer
  `304 Not Modified` to a matching `If-None-Match`. Pieces may be cached for 60 s, lots,
  cooperatives, EPCIS exports and this document for 300 s.
* **Rate limit.** Each client address may make 300 requests a minute over all operations
  together (the shop may configure another budget); past it the answer is `429` with
  `Retry-After` (seconds) and a JSON error.
* **Claims.** Each lot figure says whether it is *evidenced* (the cooperative's own record) or
  *verified* (a named third party), and what the lot's traceability model does not prove.
* **Demo data** is marked `demo: true`: every lot, weight, certificate number, jeweller and price
  in it is invented.
"""

_HEADERS = {
    "ETag": {
        "description": "Changes whenever the body's data changes",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "How long any cache may keep the answer",
        "required": True,
        "schema": {"type": "string", "pattern": "public"},
    },
}


def _ok(schema: Schema, description: str, media_type: str = "application/json") -> Schema:
    return {
        "description": description,
        "headers": deepcopy(_HEADERS),
        "content": {media_type: {"schema": schema}},
    }


def _responses(schema: Schema, description: str, *, not_found: str | None = None,
               media_type: str = "application/json") -> dict[str, Schema]:
    responses: dict[str, Schema] = {
        "200": _ok(schema, description, media_type),
        "304": {
            "description": "Not modified: the `If-None-Match` ETag still matches",
            "headers": deepcopy(_HEADERS),
        },
    }
    responses["429"] = {
        "description": "Too many requests from this client address (`API_RATE_LIMIT`, 300 a "
                       "minute unless the shop says otherwise, over all operations together); "
                       "try again after `Retry-After` seconds",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before the next request is answered",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            },
        },
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if not_found:
        responses["404"] = {
            "description": not_found,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return responses


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _parameters() -> dict[str, Schema]:
    def query(name: str, schema: Schema, description: str) -> Schema:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    def path(name: str, description: str, max_length: int) -> Schema:
        return {"name": name, "in": "path", "required": True, "description": description,
                "schema": {"type": "string", "minLength": 1, "maxLength": max_length}}

    def per_page(default: int) -> Schema:
        return query(
            "per_page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": default},
            f"Items per page, 1 to {MAX_PER_PAGE} (more gives {MAX_PER_PAGE}).",
        )

    return {
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "An ETag from an earlier answer; 304 when it still matches.",
        },
        "slug": path("slug", "The piece's URL name, as in /products/<slug>.", 120),
        "code": path("code", "The lot's code, as in /lots/<code>.", 40),
        "q": query(
            "q", {"type": "string", "maxLength": 100},
            "Words to find in the title, description, jeweller or cooperative name "
            "(all of the first six must match).",
        ),
        "category": query("category", {"type": "string", "enum": CATEGORIES}, "Kind of piece."),
        "karat": query("karat", {"type": "integer", "enum": KARATS},
                       "Karat (`18` or `18k`)."),
        "cooperative": query(
            "cooperative", {"type": "string", "maxLength": 80},
            "Slug of a cooperative whose gold is in the piece.",
        ),
        "min_price": query("min_price", {"type": "number", "minimum": 0},
                           "Lowest price in soles (`450`, `1,200.50`)."),
        "max_price": query("max_price", {"type": "number", "minimum": 0},
                           "Highest price in soles; swapped with `min_price` if lower."),
        "sort": query("sort", {"type": "string", "enum": SORT_NAMES},
                      "Order of the results: `relevance` (best match first) when `q` has "
                      "words, else `newest`."),
        "page": query(
            "page", {"type": "integer", "minimum": 1, "default": 1},
            "Page number; past the last page gives the last page (noted in `ignored`).",
        ),
        "pieces_per_page": per_page(PIECES_PER_PAGE),
        "lots_per_page": per_page(LOTS_PER_PAGE),
    }


def _get(operation_id: str, tag: str, summary: str, description: str,
         parameters: list[str], responses: dict[str, Schema]) -> Schema:
    return {
        "get": {
            "operationId": operation_id,
            "tags": [tag],
            "summary": summary,
            "description": description,
            "parameters": [_param(p) for p in [*parameters, "IfNoneMatch"]],
            "responses": responses,
        }
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    no_piece = "No piece is published with this slug (drafts are never shown)"
    no_lot = "No lot is registered with this code"
    paths = {
        "/api/v1/pieces": _get(
            "listPieces", "catalog", "The catalog, filtered, sorted and paginated",
            "Active pieces with the filters of `/products`. Every active piece appears on "
            "exactly one page.",
            ["q", "category", "karat", "cooperative", "min_price", "max_price", "sort", "page",
             "pieces_per_page"],
            _responses(ref("PieceList"), "A page of pieces"),
        ),
        "/api/v1/pieces/{slug}": _get(
            "getPiece", "catalog", "One piece",
            "A piece (active, or archived: no longer sold) with its photos, its fine gold per "
            "lot and how much of its price goes to each cooperative as community premium.",
            ["slug"],
            _responses(ref("PieceDetail"), "The piece", not_found=no_piece),
        ),
        "/api/v1/pieces/{slug}/provenance": _get(
            "getPieceProvenance", "provenance", "Where a piece's gold comes from",
            "Each lot of the piece with its assay, certificate, mercury and water figures and "
            "evidence documents, and the custody events that concern the piece (the lot's "
            "origin, transfers to the piece's jeweller, the crafting and sales of the piece) "
            "with their hashes.",
            ["slug"],
            _responses(ref("PieceProvenance"), "The piece's provenance", not_found=no_piece),
        ),
        "/api/v1/products/{slug}/epcis": _get(
            "getPieceEpcis", "provenance", "A piece's custody events as GS1 EPCIS 2.0",
            "Its lots' commissioning, assay and certification, its crafting and its sales as "
            "an EPCISDocument (JSON-LD). The ETag is of the events.",
            ["slug"],
            _responses(ref("EpcisDocument"), "The EPCIS document", not_found=no_piece,
                       media_type="application/ld+json"),
        ),
        "/api/v1/lots": _get(
            "listLots", "registry", "The certified lot registry",
            "Lots, newest extraction first, with where each lot's fine gold is now.",
            ["page", "lots_per_page"],
            _responses(ref("LotList"), "A page of lots"),
        ),
        "/api/v1/lots/{code}": _get(
            "getLot", "registry", "One lot with its custody chain",
            "Everything on the lot's page: its data with the basis of each claim, evidence "
            "documents, where its gold is, its whole custody chain with hashes, the result of "
            "recomputing that chain now, and the jewellers and pieces its gold went to.",
            ["code"],
            _responses(ref("LotDetail"), "The lot", not_found=no_lot),
        ),
        "/api/v1/lots/{code}/epcis": _get(
            "getLotEpcis", "registry", "A lot's custody events as GS1 EPCIS 2.0",
            "Every custody event of the lot as an EPCISDocument (JSON-LD). The ETag is of the "
            "events.",
            ["code"],
            _responses(ref("EpcisDocument"), "The EPCIS document", not_found=no_lot,
                       media_type="application/ld+json"),
        ),
        "/api/v1/cooperatives": _get(
            "listCooperatives", "registry", "The Central and its member cooperatives",
            "Public facts with their sources: FLO ID, certifications with validity and "
            "membership reports. Payout accounts are never shown.",
            [],
            _responses(ref("CooperativeList"), "The Central first, then members by name"),
        ),
        "/api/v1/transparency": _get(
            "getTransparency", "transparency", "Community premium per cooperative and month",
            "Booked, pending, available, in payment and paid, in minor units, read from the "
            "ledger. The ETag is weak (of the figures, not of `generated_at`).",
            [],
            _responses(ref("Transparency"), "The figures"),
        ),
        "/api/v1/openapi.json": _get(
            "getOpenApi", "meta", "This document", "The OpenAPI 3.1 description of the API.",
            [],
            _responses(ref("OpenApiDocument"), "The OpenAPI document"),
        ),
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Oro de Poto marketplace: public API",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "tags": [
            {"name": "catalog", "description": "Pieces on sale"},
            {"name": "provenance", "description": "Where a piece's gold comes from"},
            {"name": "registry", "description": "Certified lots and cooperatives"},
            {"name": "transparency", "description": "The community premium"},
            {"name": "meta", "description": "About the API"},
        ],
        "paths": paths,
        "components": {"schemas": component_schemas(), "parameters": _parameters()},
    }
