"""Custody events are hash-chained: any edit of a stored event is found, by name."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.provenance.models import CustodyEvent, GoldLot
from marketplace.provenance.services import transfer_to_jeweller, verify_lot_chain
from tests import factories


def _demo_lot() -> GoldLot:
    lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == "DEMO-2024-01"))
    assert lot is not None
    return lot


def test_every_seeded_lot_chain_verifies(app):
    for lot in db.session.scalars(sa.select(GoldLot)):
        check = verify_lot_chain(lot)
        assert check.ok, (lot.code, check)
        assert check.checked >= 3  # registered, assayed, certified


def test_editing_a_stored_custody_event_makes_verification_fail_at_that_event(app):
    lot = _demo_lot()
    second = lot.custody_events[1]
    db.session.execute(
        sa.update(CustodyEvent)
        .where(CustodyEvent.id == second.id)
        .values(details={**second.details, "fineness": "999.9"})
    )
    db.session.expire_all()
    check = verify_lot_chain(db.session.get(GoldLot, lot.id))
    assert not check.ok
    assert check.first_bad == second.ref
    assert check.reason == "contents changed"
    assert check.checked == 1


def test_editing_an_event_column_outside_its_details_is_found_too(app):
    lot = _demo_lot()
    first = lot.custody_events[0]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == first.id).values(fine_mg=first.fine_mg + 1)
    )
    db.session.expire_all()
    check = verify_lot_chain(db.session.get(GoldLot, lot.id))
    assert (check.ok, check.first_bad) == (False, first.ref)


def test_removing_an_event_breaks_the_link_of_the_next_one(app):
    lot = _demo_lot()
    events = list(lot.custody_events)
    db.session.execute(sa.delete(CustodyEvent).where(CustodyEvent.id == events[1].id))
    db.session.expire_all()
    check = verify_lot_chain(db.session.get(GoldLot, lot.id))
    assert (check.first_bad, check.reason) == (events[2].ref, "link broken")


def test_new_events_extend_the_chain_in_order(app):
    lot = factories.lot()
    jeweller = factories.jeweller()
    event = transfer_to_jeweller(lot, jeweller, 5_000, invoice_ref="INV-9", actor="test")
    db.session.expire(lot, ["custody_events"])
    kinds = [e.kind for e in lot.custody_events]
    assert kinds == ["registered", "transferred"]
    assert event.prev_hash == lot.custody_events[0].hash
    assert verify_lot_chain(lot).ok


def test_the_chain_command_names_the_first_event_that_does_not_match(app):
    runner = app.test_cli_runner()
    good = runner.invoke(args=["provenance", "verify-chains"])
    assert good.exit_code == 0 and " 0 broken." in good.output
    lot = _demo_lot()
    event = lot.custody_events[2]
    db.session.execute(
        sa.update(CustodyEvent).where(CustodyEvent.id == event.id).values(actor="Someone")
    )
    db.session.expire_all()
    bad = runner.invoke(args=["provenance", "verify-chains"])
    assert bad.exit_code == 1
    assert f"{lot.code}: BROKEN at event {event.ref} (contents changed)" in bad.output
