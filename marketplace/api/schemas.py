"""JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses them) of every /api/v1 answer.

Objects are closed (``additionalProperties: false``) and list every property as required, so a
field added to ``serializers`` without being described here fails the API tests. References
point into the OpenAPI document's ``components/schemas``.
"""

from __future__ import annotations

from typing import Any

from marketplace.catalog.models import Category, PieceStatus
from marketplace.catalog.queries import SORTS
from marketplace.core.gold import KARAT_FINENESS
from marketplace.provenance.models import CustodyEventKind, TraceabilityModel

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null."""
    if set(schema) == {"$ref"}:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    widened = {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}
    if "enum" in schema:
        widened["enum"] = [*schema["enum"], None]
    return widened


def closed(properties: dict[str, Schema], description: str = "") -> Schema:
    """An object with exactly these properties, all present."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def text(description: str = "", **extra: Any) -> Schema:
    """A string."""
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def whole(description: str = "", **extra: Any) -> Schema:
    """An integer."""
    schema: Schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


def array(items: Schema, description: str = "") -> Schema:
    """A list."""
    schema: Schema = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


SLUG = text("URL name", minLength=1)
URL = text(format="uri")
DAY = text(format="date")
DECIMAL = text("An exact decimal written as text", pattern=r"^-?[0-9]+(\.[0-9]+)?$")
SHA256 = text(pattern="^[0-9a-f]{64}$")
MG = whole("Milligrams", minimum=0)
KARATS = sorted(KARAT_FINENESS)
CATEGORIES = [c.value for c in Category]
SORT_NAMES = list(SORTS)
EVENT_KINDS = [k.value for k in CustodyEventKind]
MODELS = [m.value for m in TraceabilityModel]


def _piece_summary_properties() -> dict[str, Schema]:
    return {
        "slug": SLUG,
        "title": text(),
        "category": text(enum=CATEGORIES),
        "karat": whole(enum=KARATS),
        "fineness": whole("Parts per thousand for the karat (18k: 750)", minimum=1, maximum=1000),
        "gross_mg": whole("Weight in milligrams", minimum=1),
        "fine_mg": whole(
            "Fine gold in milligrams: weight × fineness / 1000, rounded up", minimum=1
        ),
        "price": ref("Money"),
        "stock": whole("Units on sale now", minimum=0),
        "jeweller": ref("JewellerRef"),
        "cooperatives": array(SLUG, "Cooperatives whose gold is in the piece, most gold first"),
        "thumbnail_url": nullable({**URL, "description": "The first photo, small"}),
        "demo": {"type": "boolean", "description": "Invented demo data"},
        "url": URL,
        "api_url": URL,
        "provenance_url": URL,
    }


def _lot_facts_properties() -> dict[str, Schema]:
    return {
        "code": text(minLength=1),
        "demo": {"type": "boolean"},
        "cooperative": ref("CooperativeRef"),
        "extraction": closed(
            {"start": DAY, "end": nullable(DAY), "basis": ref("Basis")},
            "Extraction period (end null: ongoing)",
        ),
        "gross_mg": MG,
        "assayed_fineness": {**DECIMAL, "description": "Parts per thousand, e.g. 912.4"},
        "fine_mg": {**MG, "description": "gross × assayed fineness / 1000, rounded down"},
        "assay": closed(
            {
                "lab": nullable(text()),
                "report_number": nullable(text()),
                "assayed_on": nullable(DAY),
                "basis": ref("Basis"),
            }
        ),
        "refining": nullable(
            closed(
                {
                    "refiner": text(),
                    "bar_serial": text(),
                    "bar_year": nullable(whole()),
                    "basis": ref("Basis"),
                }
            )
        ),
        "certificate": nullable(
            closed(
                {
                    "number": text(),
                    "body": nullable(text()),
                    "valid_from": nullable(DAY),
                    "valid_until": nullable(DAY),
                    "valid_today": {"type": "boolean"},
                    "basis": ref("Basis"),
                }
            )
        ),
        "mercury": closed(
            {
                "used_g": nullable(whole(minimum=0)),
                "recovered_g": nullable(whole(minimum=0)),
                "mercury_free": {"type": "boolean"},
                "basis": ref("Basis"),
            },
            "Mercury used and recovered in the extraction period, in grams (null: not reported)",
        ),
        "water": closed(
            {
                "recycled_percent": nullable(whole(minimum=0, maximum=100)),
                "basis": ref("Basis"),
            }
        ),
        "traceability": closed(
            {"model": text(enum=MODELS), "meaning": text("What the model proves and does not")}
        ),
        "evidence": array(
            closed(
                {
                    "title": text(),
                    "level": text(enum=["evidenced", "verified"]),
                    "issuer": text(),
                    "sha256": SHA256,
                    "url": nullable(URL),
                }
            ),
            "Documents behind the lot's claims, with the SHA-256 of their bytes",
        ),
        "url": URL,
        "api_url": URL,
        "epcis_url": URL,
    }


def _listing(item: str, description: str, **extra: Schema) -> Schema:
    return closed(
        {
            "items": array(ref(item)),
            "page": whole(minimum=1),
            "pages": whole(minimum=1),
            "per_page": whole(minimum=1, maximum=100),
            "total": whole(minimum=0),
            **extra,
            "ignored": array(text(), "Arguments that could not be understood and were dropped"),
        },
        description,
    )


def _premium_figures() -> Schema:
    names = ("booked", "pending", "available", "in_payment", "paid")
    return closed({name: whole("Minor units") for name in names})


def component_schemas() -> dict[str, Schema]:
    """Every schema the document refers to, by name."""
    piece_detail = _piece_summary_properties()
    piece_detail.update(
        {
            "status": text(enum=[PieceStatus.ACTIVE.value, PieceStatus.ARCHIVED.value]),
            "description": text(),
            "maker_mark": nullable(text()),
            "hallmark": nullable(text()),
            "jeweller": closed(
                {
                    "slug": SLUG,
                    "name": text(),
                    "city": text(),
                    "fairtrade_status": text(
                        enum=["licensee", "registered_goldsmith", "none"]
                    ),
                    "fairtrade_number": nullable(text()),
                    "url": URL,
                }
            ),
            "photos": array(ref("Photo")),
            "gold": array(ref("PieceGold"), "Fine gold per unit, lot by lot"),
            "premium": nullable(ref("Premium")),
            "epcis_url": URL,
        }
    )
    provenance_lot = _lot_facts_properties()
    provenance_lot.update(
        {
            "fine_mg_per_unit": whole(minimum=1),
            "events": array(ref("CustodyEvent"), "The events of this lot that concern the piece"),
            "chain_url": {**URL, "description": "The lot with its whole chain, checked"},
        }
    )
    lot_detail = _lot_facts_properties()
    lot_detail.update(
        {
            "notes": text(),
            "gold": ref("GoldFigures"),
            "chain": ref("ChainCheck"),
            "events": array(ref("CustodyEvent"), "The whole custody chain, oldest first"),
            "holders": array(
                closed({"slug": SLUG, "name": text(), "url": URL}),
                "Jewellers the lot's gold was transferred to",
            ),
            "pieces": array(
                closed({"slug": SLUG, "title": text(), "url": URL, "api_url": URL}),
                "Pieces on sale made from this lot (the 24 newest)",
            ),
        }
    )
    return {
        "Error": closed({"error": text("What went wrong")}),
        "Money": closed(
            {
                "amount_minor": whole("Minor units (céntimos, cents)"),
                "currency": text("ISO 4217", pattern="^[A-Z]{3}$"),
            }
        ),
        "Basis": closed(
            {
                "level": text(
                    "evidenced: the cooperative's own record; verified: a named third party",
                    enum=["evidenced", "verified"],
                ),
                "by": text(),
            }
        ),
        "JewellerRef": closed({"slug": SLUG, "name": text()}),
        "CooperativeRef": closed(
            {
                "slug": SLUG,
                "name": text(),
                "short_name": text(),
                "flo_id": nullable(text("Fairtrade (FLOCERT) ID; null where none is published")),
                "url": URL,
            }
        ),
        "PieceSummary": closed(_piece_summary_properties()),
        "PieceList": _listing(
            "PieceSummary",
            "A page of the catalog",
            filters=closed(
                {
                    "q": nullable(text()),
                    "category": nullable(text(enum=CATEGORIES)),
                    "karat": nullable(whole(enum=KARATS)),
                    "cooperative": nullable(text()),
                    "min_price_minor": nullable(whole(minimum=0)),
                    "max_price_minor": nullable(whole(minimum=0)),
                    "sort": text(enum=SORT_NAMES),
                },
                "The filters applied, after dropping what could not be understood",
            ),
        ),
        "Photo": closed(
            {
                "alt": text(),
                "image_url": URL,
                "thumb_url": URL,
                "width": nullable(whole()),
                "height": nullable(whole()),
            }
        ),
        "PieceGold": closed(
            {
                "lot": text(),
                "fine_mg_per_unit": whole(minimum=1),
                "cooperative": closed(
                    {"slug": SLUG, "name": text(), "flo_id": nullable(text())}
                ),
                "traceability_model": text(enum=MODELS),
                "url": URL,
                "api_url": URL,
            }
        ),
        "Premium": closed(
            {
                "on": DAY,
                "usd_per_fine_kg": DECIMAL,
                "fx_rate": {**DECIMAL, "description": "Price currency per USD"},
                "pledge_percent": DECIMAL,
                "total": ref("Money"),
                "rate_part": ref("Money"),
                "pledge_part": ref("Money"),
                "by_cooperative": array(
                    closed({"slug": SLUG, "name": text(), "amount": ref("Money")})
                ),
                "note": text(),
            },
            "The community premium of one unit (null in the piece when no rate is in force)",
        ),
        "PieceDetail": closed(piece_detail),
        "PieceProvenance": closed(
            {
                "piece": closed(
                    {
                        "slug": SLUG,
                        "title": text(),
                        "fine_mg": whole(minimum=1),
                        "url": URL,
                        "api_url": URL,
                    }
                ),
                "lots": array(ref("ProvenanceLot")),
                "epcis_url": URL,
            }
        ),
        "ProvenanceLot": closed(provenance_lot),
        "CustodyEvent": closed(
            {
                "seq": whole(minimum=1),
                "kind": text(enum=EVENT_KINDS),
                "occurred_at": text(format="date-time"),
                "actor": text(),
                "jeweller": nullable(ref("JewellerRef")),
                "piece": nullable(SLUG),
                "fine_mg": nullable(MG),
                "units": nullable(whole()),
                "prev_hash": {
                    **SHA256,
                    "description": "Hash of the event before (64 zeros for the first)",
                },
                "hash": {
                    **SHA256,
                    "description": 'SHA-256 of the canonical JSON {"prev", "event"}',
                },
            },
            "One link of a lot's hash chain",
        ),
        "GoldFigures": closed(
            {
                "registered": MG,
                "unallocated": MG,
                "held": MG,
                "in_pieces": MG,
                "sold": MG,
                "balances": {
                    "type": "boolean",
                    "description": "registered = unallocated + held + in_pieces + sold",
                },
            },
            "Where a lot's fine gold is now, in mg, from the gold ledger",
        ),
        "ChainCheck": closed(
            {
                "ok": {"type": "boolean"},
                "checked": whole("Events found good before stopping", minimum=0),
                "first_bad": nullable(text()),
                "reason": nullable(text(enum=["link broken", "contents changed"])),
            }
        ),
        "LotSummary": closed(
            {
                "code": text(minLength=1),
                "demo": {"type": "boolean"},
                "cooperative": ref("CooperativeRef"),
                "extraction": closed({"start": DAY, "end": nullable(DAY)}),
                "traceability_model": text(enum=MODELS),
                "fine_mg": MG,
                "gold": ref("GoldFigures"),
                "url": URL,
                "api_url": URL,
            }
        ),
        "LotList": _listing("LotSummary", "A page of the certified lot registry"),
        "LotDetail": closed(lot_detail),
        "Cooperative": closed(
            {
                "slug": SLUG,
                "name": text(),
                "short_name": text(),
                "flo_id": nullable(text()),
                "parent": nullable({**SLUG, "description": "The Central (null for the Central)"}),
                "is_central": {"type": "boolean"},
                "demo": {"type": "boolean"},
                "district": text(),
                "province": text(),
                "region": text(),
                "altitude_m": nullable(whole()),
                "area_ha": nullable(whole()),
                "founded_on": nullable(DAY),
                "description": text(),
                "sources": text("Where the public facts were read"),
                "certifications": array(
                    closed(
                        {
                            "scheme": text(),
                            "body": text(),
                            "certificate_number": nullable(text()),
                            "first_certified_year": nullable(whole()),
                            "valid_from": DAY,
                            "valid_until": nullable(DAY),
                            "valid_today": {"type": "boolean"},
                            "source": text(),
                            "demo": {"type": "boolean"},
                        }
                    )
                ),
                "membership_reports": array(
                    closed(
                        {
                            "members": nullable(whole(minimum=0)),
                            "workers": nullable(whole(minimum=0)),
                            "reported_on": DAY,
                            "source": text(),
                        }
                    )
                ),
                "url": URL,
            }
        ),
        "CooperativeList": closed({"items": array(ref("Cooperative"))}),
        "Transparency": closed(
            {
                "currency": text(pattern="^[A-Z]{3}$"),
                "amounts_in": text(const="minor units"),
                "months_in": text(const="UTC"),
                "cooperatives": array(
                    closed(
                        {
                            "slug": SLUG,
                            "name": text(),
                            "months": array(
                                closed(
                                    {
                                        "month": text(pattern="^[0-9]{4}-[0-9]{2}$"),
                                        **_premium_figures()["properties"],
                                    }
                                )
                            ),
                            "totals": _premium_figures(),
                        }
                    )
                ),
                "generated_at": text(format="date-time"),
            },
            "The community premium per cooperative and month, from the ledger",
        ),
        "EpcisDocument": {
            "type": "object",
            "description": "A GS1 EPCIS 2.0 EPCISDocument (JSON-LD)",
            "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
            "properties": {
                "@context": array(URL),
                "type": text(const="EPCISDocument"),
                "schemaVersion": text(const="2.0"),
                "creationDate": text(format="date-time"),
                "epcisBody": {
                    "type": "object",
                    "required": ["eventList"],
                    "properties": {
                        "eventList": array(
                            {
                                "type": "object",
                                "required": [
                                    "type",
                                    "eventID",
                                    "eventTime",
                                    "eventTimeZoneOffset",
                                    "bizStep",
                                ],
                                "properties": {
                                    "type": text(
                                        enum=[
                                            "ObjectEvent",
                                            "TransformationEvent",
                                            "TransactionEvent",
                                            "AggregationEvent",
                                            "AssociationEvent",
                                        ]
                                    ),
                                    "eventID": URL,
                                    "eventTime": text(format="date-time"),
                                    "eventTimeZoneOffset": text(
                                        pattern="^[+-][0-9]{2}:[0-9]{2}$"
                                    ),
                                    "bizStep": text(),
                                },
                            }
                        )
                    },
                },
            },
        },
        "OpenApiDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": text(pattern=r"^3\.1\.[0-9]+$")},
        },
    }
