"""The console's services against the database: each refusal writes nothing, each change is
audited with what it was before and after."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.admin import lots as lot_services
from marketplace.admin import services
from marketplace.admin.models import AuditRecord
from marketplace.catalog.models import JewellerStatus
from marketplace.catalog.services import slugify
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.ledger.services import lot_gold
from marketplace.media.models import MediaFile
from marketplace.provenance.models import Cooperative, CustodyEvent, GoldLot, LotEvidence
from marketplace.provenance.services import (
    EvidenceDocument,
    LotDataError,
    LotRegistration,
    record_assay,
)
from tests import factories

PDF = b"%PDF-1.7\nassay\n%%EOF\n"


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _audit_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count(AuditRecord.id))) or 0)


def _registration(**overrides: object) -> LotRegistration:
    values: dict[str, object] = {
        "code": "SVC-1",
        "cooperative_id": factories.cooperative().id,
        "traceability_model": "mass_balance",
        "extraction_start": date(2025, 5, 1),
        "extraction_end": date(2025, 5, 31),
        "gross_mg": 2_000_001,
        "assayed_fineness": Decimal("999.9"),
    }
    values.update(overrides)
    return LotRegistration(**values)  # type: ignore[arg-type]


def _doc(data: bytes = PDF, title: str = "Assay", filename: str = "assay.pdf") -> EvidenceDocument:
    return EvidenceDocument(title=title, level="verified", issuer="Lab", data=data,
                            filename=filename)


# --- Lots ------------------------------------------------------------------------------------


def test_registering_a_lot_rounds_its_fine_gold_down_and_audits_each_document(app):
    admin = _user("admin@demo.test")
    lot = lot_services.register_lot(_registration(), [_doc()], actor=admin)
    assert lot.fine_mg == 2_000_001 * 9999 // 10_000 == 1_999_800
    assert lot_gold([lot.id])[lot.id].registered == 1_999_800
    actions = db.session.scalars(sa.select(AuditRecord.action).where(
        AuditRecord.actor_id == admin.id).order_by(AuditRecord.id)).all()
    assert actions == ["lot.registered", "lot.evidence_added"]
    first_event = db.session.scalar(sa.select(CustodyEvent).where(CustodyEvent.lot_id == lot.id))
    assert first_event is not None and "admin@demo.test" not in first_event.actor


def test_one_bad_document_stops_the_whole_registration_before_anything_is_written(app):
    lots_before = db.session.scalar(sa.select(sa.func.count(GoldLot.id)))
    files_before = db.session.scalar(sa.select(sa.func.count(MediaFile.id)))
    with pytest.raises(LotDataError, match="not a PDF, JPEG or PNG"):
        lot_services.register_lot(
            _registration(), [_doc(), _doc(b"GIF89a...", "Photo", "photo.gif")],
            actor=_user("admin@demo.test"))
    assert db.session.scalar(sa.select(sa.func.count(GoldLot.id))) == lots_before
    assert db.session.scalar(sa.select(sa.func.count(MediaFile.id))) == files_before
    assert _audit_count() == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"mercury_used_g": 10, "mercury_recovered_g": 11}, "mercury_recovered_g"),
    ({"mercury_recovered_g": 3}, "mercury_used_g"),
    ({"water_recycled_percent": 101}, "water_recycled_percent"),
    ({"certificate_number": "C", "certificate_body": "FLOCERT",
      "certificate_valid_from": date(2025, 6, 2), "certificate_valid_until": date(2025, 6, 1)},
     "certificate_valid_until"),
    ({"assayed_fineness": Decimal("1000.1")}, "assayed_fineness"),
    ({"assayed_fineness": Decimal("912.45")}, "assayed_fineness"),
    ({"gross_mg": 0}, "gross_mg"),
    ({"code": "DEMO-2024-01"}, "code"),
])
def test_the_registration_service_refuses_contradictory_data_without_the_form(
    app, overrides, field
):
    with pytest.raises(LotDataError) as refused:
        lot_services.register_lot(_registration(**overrides), [], actor=_user("admin@demo.test"))
    assert refused.value.field == field
    assert db.session.scalar(sa.select(GoldLot.id).where(GoldLot.code == "SVC-1")) is None


def test_evidence_is_typed_by_its_bytes_not_its_name(app):
    lot = factories.lot()
    lot_services.add_evidence(lot, [_doc(filename="looks-like.png")],
                              actor=_user("admin@demo.test"))
    evidence = db.session.scalar(sa.select(LotEvidence).where(LotEvidence.lot_id == lot.id))
    assert evidence is not None and evidence.media_file is not None
    assert evidence.media_file.content_type == "application/pdf"


def test_an_assay_fills_missing_lot_fields_but_keeps_the_registered_ones(app):
    lot = factories.lot()  # registered without assay data
    record_assay(lot, lab="Lab A", report_number="R-1", assayed_on=date(2025, 2, 1),
                 fineness=Decimal("900.0"), actor="Lab A")
    record_assay(lot, lab="Lab B", report_number="R-2", assayed_on=date(2025, 3, 1),
                 fineness=Decimal("900"), actor="Lab B")
    assert (lot.assay_lab, lot.assay_report_number) == ("Lab A", "R-1")
    kinds = db.session.scalars(sa.select(CustodyEvent.kind).where(
        CustodyEvent.lot_id == lot.id).order_by(CustodyEvent.seq)).all()
    assert kinds == ["registered", "assayed", "assayed"]


def test_a_transfer_beyond_the_free_gold_names_the_field_and_moves_nothing(app):
    lot = factories.lot(gross_mg=10_000, fineness="500")  # 5,000 mg fine
    jeweller = factories.jeweller()
    with pytest.raises(services.FieldError) as refused:
        lot_services.transfer_gold(lot, jeweller.id, 5_001, invoice_ref="F-1",
                                   actor=_user("admin@demo.test"))
    assert refused.value.field == "fine_g" and "Not enough gold" in refused.value.message
    assert lot_gold([lot.id])[lot.id].unallocated == 5_000
    lot_services.transfer_gold(lot, jeweller.id, 5_000, invoice_ref="F-1",
                               actor=_user("admin@demo.test"))
    assert lot_gold([lot.id])[lot.id].held == 5_000


# --- Jewellers -------------------------------------------------------------------------------


def test_declining_without_a_reason_is_refused_and_not_audited(app):
    pending = factories.jeweller(approved=False)
    with pytest.raises(services.FieldError) as refused:
        services.decide_application(pending, JewellerStatus.DECLINED,
                                    actor=_user("admin@demo.test"), reason="  ")
    assert refused.value.field == "reason"
    assert pending.status == "pending" and _audit_count() == 0


def test_a_declined_application_can_still_be_approved_and_the_reason_is_cleared(app):
    admin = _user("admin@demo.test")
    pending = factories.jeweller(approved=False)
    services.decide_application(pending, JewellerStatus.DECLINED, actor=admin,
                                reason="Missing RUC")
    services.decide_application(pending, JewellerStatus.APPROVED, actor=admin)
    assert pending.approved and pending.decline_reason is None
    records = db.session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id)).all()
    assert [r.action for r in records] == ["jeweller.declined", "jeweller.approved"]
    assert records[1].before is not None and records[1].before["decline_reason"] == "Missing RUC"


def test_an_approved_jeweller_cannot_be_declined_or_approved_again(app):
    approved = factories.jeweller(approved=True)
    admin = _user("admin@demo.test")
    with pytest.raises(DomainError, match="only a pending application"):
        services.decide_application(approved, JewellerStatus.DECLINED, actor=admin,
                                    reason="x")
    with pytest.raises(DomainError, match="already approved"):
        services.decide_application(approved, JewellerStatus.APPROVED, actor=admin)
    assert approved.status == "approved" and _audit_count() == 0


# --- Users -----------------------------------------------------------------------------------


def test_a_new_role_clears_the_ties_it_does_not_use(app):
    jeweller_user = _user("jeweller@demo.test")
    assert jeweller_user.jeweller_id is not None
    services.change_role(jeweller_user, "shopper", actor=_user("admin@demo.test"),
                         jeweller_id=jeweller_user.jeweller_id)
    assert jeweller_user.role == "shopper" and jeweller_user.jeweller_id is None


def test_an_admin_demoting_themself_is_refused(app):
    admin = _user("admin@demo.test")
    with pytest.raises(services.FieldError, match="your own admin role"):
        services.change_role(admin, "officer", actor=admin,
                             cooperative_id=factories.cooperative().id)
    assert admin.role == "admin" and _audit_count() == 0


def test_saving_the_same_role_changes_nothing_and_writes_no_audit(app):
    officer = _user("coop@demo.test")
    changed = services.change_role(officer, "officer", actor=_user("admin@demo.test"),
                                   cooperative_id=officer.cooperative_id)
    assert changed is False and _audit_count() == 0


def test_deactivating_is_audited_without_the_password_hash(app):
    buyer = _user("buyer@demo.test")
    assert services.set_active(buyer, False, actor=_user("admin@demo.test"))
    record = db.session.scalar(sa.select(AuditRecord))
    assert record is not None and record.action == "user.deactivated"
    assert record.before == {**(record.after or {}), "active": True}
    assert "password_hash" not in (record.after or {})


# --- Cooperatives and the trail --------------------------------------------------------------


def test_a_new_cooperative_joins_the_central_with_a_free_slug(app):
    admin = _user("admin@demo.test")
    central = db.session.scalar(sa.select(Cooperative).where(Cooperative.parent_id.is_(None)))
    existing = factories.cooperative()
    coop = services.save_cooperative(
        None, services.CooperativeData(name="Cooperativa Nueva", short_name=existing.short_name),
        actor=admin)
    assert central is not None and coop.parent_id == central.id
    taken = set(db.session.scalars(sa.select(Cooperative.slug).where(Cooperative.id != coop.id)))
    assert coop.slug not in taken and coop.slug.startswith(slugify(existing.short_name))
    record = db.session.scalar(sa.select(AuditRecord))
    assert record is not None and record.action == "cooperative.created"
    assert record.before is None and record.after is not None


def test_changes_lists_only_the_keys_that_differ():
    record = AuditRecord(
        before={"status": "pending", "city": "Lima", "gone": 1},
        after={"status": "approved", "city": "Lima", "new": 2},
    )
    assert [(c.key, c.before, c.after) for c in services.changes(record)] == [
        ("status", "pending", "approved"), ("new", None, 2), ("gone", 1, None)]
    created = AuditRecord(before=None, after={"a": 1})
    assert [(c.key, c.added) for c in services.changes(created)] == [("a", True)]
