"""EPCIS 2.0 exports of every demo lot and of pieces carry the fields their event types need."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.extensions import db
from marketplace.provenance.models import GoldLot
from tests import factories

REQUIRED = {"type", "eventTime", "eventTimeZoneOffset", "bizStep"}


def _check_event(event: dict) -> None:
    assert REQUIRED <= set(event), event
    if event["type"] == "ObjectEvent":
        assert event["action"] in {"ADD", "OBSERVE", "DELETE"}
        assert event["quantityList"] and all(
            {"epcClass", "quantity"} <= set(q) for q in event["quantityList"]
        )
    if event["bizStep"] == "commissioning":
        assert event["action"] == "ADD" and event["ilmd"]["cooperative"]
    if event["bizStep"] == "shipping" and "sourceList" in event:
        assert event["sourceList"][0]["type"] == "owning_party"
        assert event["destinationList"][0]["destination"]
        assert event["bizTransactionList"]
    if event["type"] == "TransformationEvent":
        assert event["inputQuantityList"] and event["outputQuantityList"]
    if event["bizStep"] == "retail_selling":
        assert event["disposition"] == "retail_sold"


def test_every_demo_lot_exports_a_valid_epcis_document(client):
    for code in db.session.scalars(sa.select(GoldLot.code)):
        response = client.get(f"/api/v1/lots/{code}/epcis")
        assert response.status_code == 200 and response.mimetype == "application/ld+json"
        doc = response.get_json()
        assert doc["@context"] == ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
        assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
        events = doc["epcisBody"]["eventList"]
        steps = [e["bizStep"] for e in events]
        assert steps[:3] == ["commissioning", "inspecting", "inspecting"], code
        for event in events:
            _check_event(event)


def test_a_sold_piece_exports_its_crafting_and_its_sale(client):
    piece = factories.piece(factories.jeweller(), stock=2)
    factories.paid_order({piece: 1})
    doc = client.get(f"/api/v1/products/{piece.slug}/epcis").get_json()
    types = {(e["type"], e["bizStep"]) for e in doc["epcisBody"]["eventList"]}
    assert ("TransformationEvent", "transforming") in types
    assert ("ObjectEvent", "retail_selling") in types
    for event in doc["epcisBody"]["eventList"]:
        _check_event(event)


def test_epcis_answers_carry_an_etag_and_unknown_ids_are_404(client):
    code = db.session.scalar(sa.select(GoldLot.code))
    first = client.get(f"/api/v1/lots/{code}/epcis")
    assert first.headers["ETag"] and "max-age=300" in first.headers["Cache-Control"]
    again = client.get(
        f"/api/v1/lots/{code}/epcis", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert client.get("/api/v1/lots/NOPE/epcis").status_code == 404
    draft = db.session.scalar(sa.select(Piece.slug).where(Piece.status == "draft"))
    assert client.get(f"/api/v1/products/{draft or 'nope'}/epcis").status_code == 404
