"""The cooperative workspace: an officer sees its own lots, chains and where the gold went.

The workspace speaks Spanish unless the officer chooses English; these tests read it in English.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot


@pytest.fixture(autouse=True)
def _in_english(client):  # type: ignore[no-untyped-def]
    client.set_cookie("lang", "en")


def _lots_of(slug: str) -> list[GoldLot]:
    coop = db.session.scalar(sa.select(Cooperative).where(Cooperative.slug == slug))
    return list(coop.lots)


def test_an_officer_sees_every_lot_of_their_cooperative_and_no_other(client, as_user):
    as_user("coop@demo.test")
    html = client.get("/cooperative/").get_data(as_text=True)
    mine = _lots_of("santiago-de-ananea")
    assert mine
    for lot in mine:
        assert lot.code in html
    for lot in _lots_of("san-antonio-de-ananea"):
        assert lot.code not in html
    assert "✓ verifies" in html


def test_another_cooperatives_lot_is_not_found(client, as_user):
    as_user("coop@demo.test")
    other = _lots_of("san-antonio-de-ananea")[0]
    assert client.get(f"/cooperative/lots/{other.code}").status_code == 404


def test_the_lot_page_shows_transfers_pieces_and_a_verified_chain(client, as_user):
    as_user("coop@demo.test")
    lot = next(
        lot
        for lot in _lots_of("santiago-de-ananea")
        if any(e.kind == "transferred" for e in lot.custody_events)
    )
    html = client.get(f"/cooperative/lots/{lot.code}").get_data(as_text=True)
    assert "Transfers to jewellers" in html and "invoice DEMO-F001-" in html
    assert "The chain verifies" in html
    assert "Pieces made from this lot" in html


def test_a_tampered_event_shows_on_the_officers_dashboard(client, as_user):
    as_user("coop@demo.test")
    lot = _lots_of("santiago-de-ananea")[0]
    event = lot.custody_events[1]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == event.id).values(actor="forged")
    )
    db.session.expire_all()
    html = client.get("/cooperative/").get_data(as_text=True)
    assert f"✗ {event.ref}" in html


def test_other_roles_cannot_open_the_cooperative_workspace(client, as_user):
    as_user("jeweller@demo.test")
    assert client.get("/cooperative/").status_code == 403
