"""The Central's use cases on cooperatives, jeweller applications and users, and reading the
audit trail. Each change is written to the audit trail with the object before and after; the
functions flush, the view commits."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Role, User
from marketplace.admin import audit
from marketplace.admin.models import AuditRecord
from marketplace.catalog.models import Jeweller, JewellerStatus
from marketplace.catalog.services import slugify
from marketplace.core.errors import DomainError
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount
from marketplace.provenance.models import Cooperative, CooperativeCertification, GoldLot

#: What the audit trail keeps of a user (never the password hash).
USER_FIELDS = ("email", "name", "role", "jeweller_id", "cooperative_id", "active")
JEWELLER_DECISION_FIELDS = ("status", "decline_reason", "decided_at")
AUDIT_PAGE_SIZE = 50
USERS_PAGE_SIZE = 50


def application_status_word(status: str) -> str:
    """A jeweller application's status ("pending", "approved", "declined") in the page's
    language."""
    words = {
        JewellerStatus.PENDING.value: _("pending"),
        JewellerStatus.APPROVED.value: _("approved"),
        JewellerStatus.DECLINED.value: _("declined"),
    }
    return words.get(status, status)


class FieldError(DomainError):
    """A refused change; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        """Keep the message and the field it is about."""
        super().__init__(message)
        self.field = field


# --- The console home ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleCounts:
    """What the console home shows first."""

    pending_jewellers: int
    jewellers: int
    cooperatives: int
    lots: int
    unallocated_mg: int
    users: int
    inactive_users: int


def console_counts() -> ConsoleCounts:
    """Counts for the console home, a query each."""

    def count(stmt: sa.Select[Any]) -> int:
        return int(db.session.scalar(stmt) or 0)

    return ConsoleCounts(
        pending_jewellers=count(sa.select(sa.func.count(Jeweller.id)).where(
            Jeweller.status == JewellerStatus.PENDING.value)),
        jewellers=count(sa.select(sa.func.count(Jeweller.id))),
        cooperatives=count(sa.select(sa.func.count(Cooperative.id))),
        lots=count(sa.select(sa.func.count(GoldLot.id))),
        unallocated_mg=count(sa.select(sa.func.sum(LedgerAccount.balance)).where(
            LedgerAccount.kind == AccountKind.LOT_UNALLOCATED.value)),
        users=count(sa.select(sa.func.count(User.id))),
        inactive_users=count(sa.select(sa.func.count(User.id)).where(User.active.is_(False))),
    )


# --- Cooperatives and their certifications ---------------------------------------------------


@dataclass(frozen=True)
class CooperativeData:
    """A cooperative's editable facts and payout details."""

    name: str
    short_name: str
    flo_id: str | None = None
    altitude_m: int | None = None
    area_ha: int | None = None
    description: str = ""
    payout_bank: str | None = None
    payout_account_holder: str | None = None
    payout_cci: str | None = None
    stripe_account_id: str | None = None


def _check_cooperative(data: CooperativeData, coop_id: int | None) -> None:
    """Refuse facts that are malformed or that clash with another cooperative."""
    if not data.name.strip():
        raise FieldError(_("Enter the name."), "name")
    if not data.short_name.strip():
        raise FieldError(_("Enter a short name."), "short_name")
    if data.flo_id is not None:
        if not re.fullmatch(r"\d{1,20}", data.flo_id):
            raise FieldError(_("A FLO ID is digits only (up to 20)."), "flo_id")
        taken = db.session.scalar(
            sa.select(Cooperative.name).where(Cooperative.flo_id == data.flo_id,
                                              Cooperative.id != (coop_id or 0)))
        if taken is not None:
            raise FieldError(_("FLO ID %(flo_id)s already belongs to %(name)s.", flo_id=data.flo_id,
                                   name=taken), "flo_id")
    if data.payout_cci is not None and not re.fullmatch(r"\d{20}", data.payout_cci):
        raise FieldError(_("A CCI is exactly 20 digits."), "payout_cci")
    bank_details = (data.payout_bank, data.payout_account_holder, data.payout_cci)
    if any(bank_details) and not all(bank_details):
        missing = next(name for name, value in zip(
            ("payout_bank", "payout_account_holder", "payout_cci"), bank_details, strict=True)
            if not value)
        raise FieldError(_("Give the bank, the account holder and the CCI together."), missing)
    if data.stripe_account_id is not None and not re.fullmatch(
        r"acct_[A-Za-z0-9]{1,55}", data.stripe_account_id
    ):
        raise FieldError(_('A Stripe account id starts with "acct_".'), "stripe_account_id")


def _unique_cooperative_slug(text: str) -> str:
    """A free slug for a new cooperative."""
    base = slugify(text)[:70] or "cooperative"
    taken = set(db.session.scalars(sa.select(Cooperative.slug).where(
        sa.or_(Cooperative.slug == base, Cooperative.slug.like(f"{base}-%")))))
    n, slug = 2, base
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def save_cooperative(
    coop: Cooperative | None, data: CooperativeData, *, actor: User
) -> Cooperative:
    """Create a member cooperative of the Central (``coop`` None) or update one."""
    _check_cooperative(data, coop.id if coop else None)
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    values["name"], values["short_name"] = data.name.strip(), data.short_name.strip()
    if coop is None:
        central_id = db.session.scalar(
            sa.select(Cooperative.id).where(Cooperative.parent_id.is_(None))
            .order_by(Cooperative.id).limit(1))
        coop = Cooperative(slug=_unique_cooperative_slug(data.short_name),
                           parent_id=central_id, **values)
        db.session.add(coop)
        db.session.flush()
        audit.record(actor, "cooperative.created", coop, after=audit.snapshot(coop),
                     summary=f"Cooperative {coop.name} added")
        return coop
    before = audit.snapshot(coop)
    for name, value in values.items():
        setattr(coop, name, value)
    db.session.flush()
    audit.record(actor, "cooperative.updated", coop, before=before, after=audit.snapshot(coop),
                 summary=f"Cooperative {coop.name} edited")
    return coop


@dataclass(frozen=True)
class CertificationData:
    """A cooperative certification as entered."""

    scheme: str
    body: str
    valid_from: date
    certificate_number: str | None = None
    first_certified_year: int | None = None
    valid_until: date | None = None
    source: str = ""


def save_certification(
    coop: Cooperative,
    cert: CooperativeCertification | None,
    data: CertificationData,
    *,
    actor: User,
) -> CooperativeCertification:
    """Add a certification to ``coop`` (``cert`` None) or edit one of its certifications."""
    if not data.scheme.strip():
        raise FieldError(_("Enter the scheme."), "scheme")
    if not data.body.strip():
        raise FieldError(_("Enter the certification body."), "body")
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise FieldError(_("The validity cannot end before it starts."), "valid_until")
    if cert is not None and cert.cooperative_id != coop.id:
        raise DomainError(_("That certification belongs to another cooperative."))
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    if cert is None:
        cert = CooperativeCertification(cooperative_id=coop.id, **values)
        db.session.add(cert)
        db.session.flush()
        audit.record(actor, "certification.added", cert, after=audit.snapshot(cert),
                     summary=f"{data.scheme} certification added to {coop.name}")
        return cert
    before = audit.snapshot(cert)
    for name, value in values.items():
        setattr(cert, name, value)
    db.session.flush()
    audit.record(actor, "certification.updated", cert, before=before, after=audit.snapshot(cert),
                 summary=f"{cert.scheme} certification of {coop.name} edited")
    return cert


# --- Jeweller applications -------------------------------------------------------------------


def decide_application(
    jeweller: Jeweller, decision: JewellerStatus, *, actor: User, reason: str = ""
) -> Jeweller:
    """Approve a pending (or earlier declined) application, or decline a pending one with a
    reason the applicant will read."""
    reason = reason.strip()
    before = audit.snapshot(jeweller, JEWELLER_DECISION_FIELDS)
    if decision is JewellerStatus.APPROVED:
        if jeweller.approved:
            raise DomainError(_("%(name)s is already approved.", name=jeweller.business_name))
        jeweller.decline_reason = None
    elif decision is JewellerStatus.DECLINED:
        if jeweller.status != JewellerStatus.PENDING.value:
            raise DomainError(_(
                "%(name)s is %(status)s; only a pending application can be declined.",
                name=jeweller.business_name, status=application_status_word(jeweller.status)))
        if not reason:
            raise FieldError(_("Say why the application is declined."), "reason")
        jeweller.decline_reason = reason
    else:
        raise DomainError(_("Approve or decline the application."))
    jeweller.status = decision.value
    jeweller.decided_at = utcnow()
    db.session.flush()
    audit.record(
        actor, f"jeweller.{decision.value}", jeweller, before=before,
        after=audit.snapshot(jeweller, JEWELLER_DECISION_FIELDS),
        summary=f"{jeweller.business_name} {decision.value}" + (f": {reason}" if reason else ""),
    )
    return jeweller


def jewellers_by_status() -> list[Jeweller]:
    """Every workshop: pending applications first (oldest first), then approved, declined."""
    order = sa.case((Jeweller.status == JewellerStatus.PENDING.value, 0),
                    (Jeweller.status == JewellerStatus.APPROVED.value, 1), else_=2)
    return list(db.session.scalars(
        sa.select(Jeweller).order_by(order, Jeweller.created_at, Jeweller.id)))


# --- Users -----------------------------------------------------------------------------------


def find_users(query: str = "", page: int = 1) -> Pagination:
    """Users by email (containing ``query``, any case), a page at a time."""
    stmt = sa.select(User).order_by(User.email).options(
        selectinload(User.jeweller), selectinload(User.cooperative))
    text = query.strip().lower()
    if text:
        stmt = stmt.where(User.email.contains(text, autoescape=True))
    return db.paginate(stmt, page=page, per_page=USERS_PAGE_SIZE, error_out=False)


def change_role(
    user: User,
    role: str,
    *,
    actor: User,
    jeweller_id: int | None = None,
    cooperative_id: int | None = None,
) -> bool:
    """Give ``user`` a role and tie them to the workshop or cooperative the role acts for.

    Ties the role does not use are cleared. An admin cannot demote themself (another admin
    must), so the console always keeps one admin. Returns False when nothing changed.
    """
    try:
        new_role = Role(role)
    except ValueError:
        raise FieldError(_("Choose one of the roles."), "role") from None
    if user.id == actor.id and new_role is not Role.ADMIN:
        raise FieldError(_("You cannot take away your own admin role; another admin can."), "role")
    jeweller = db.session.get(Jeweller, jeweller_id) if jeweller_id else None
    coop = db.session.get(Cooperative, cooperative_id) if cooperative_id else None
    if new_role is Role.JEWELLER and jeweller is None:
        raise FieldError(_("A jeweller account needs a workshop."), "jeweller_id")
    if new_role is Role.OFFICER and coop is None:
        raise FieldError(_("A cooperative officer needs a cooperative."), "cooperative_id")
    before = audit.snapshot(user, USER_FIELDS)
    user.role = new_role.value
    user.jeweller_id = jeweller.id if new_role is Role.JEWELLER and jeweller else None
    user.cooperative_id = coop.id if new_role is Role.OFFICER and coop else None
    after = audit.snapshot(user, USER_FIELDS)
    if after == before:
        return False
    db.session.flush()
    tie = (f" for {jeweller.business_name}" if user.jeweller_id and jeweller
           else f" for {coop.name}" if user.cooperative_id and coop else "")
    audit.record(actor, "user.role_changed", user, before=before, after=after,
                 summary=f"{user.email} is now {new_role.value}{tie}")
    return True


def set_active(user: User, active: bool, *, actor: User) -> bool:
    """Deactivate (signs them out and stops sign-in) or reactivate a user.

    An admin cannot deactivate themself. Returns False when the user already was so.
    """
    if user.id == actor.id and not active:
        raise FieldError(_("You cannot deactivate your own account; another admin can."))
    if user.active == active:
        return False
    before = audit.snapshot(user, USER_FIELDS)
    user.active = active
    db.session.flush()
    audit.record(actor, "user.reactivated" if active else "user.deactivated", user,
                 before=before, after=audit.snapshot(user, USER_FIELDS),
                 summary=f"{user.email} {'reactivated' if active else 'deactivated'}")
    return True


# --- Reading the audit trail -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One key of an audited object that changed."""

    key: str
    before: Any
    after: Any
    added: bool = False  # the object did not exist before


def changes(record: AuditRecord) -> list[Change]:
    """The keys whose values differ between the record's before and after."""
    before, after = record.before or {}, record.after or {}
    created = record.before is None
    keys = list(after) + [key for key in before if key not in after]
    return [
        Change(key, before.get(key), after.get(key), added=created)
        for key in keys
        if key not in before or key not in after or before[key] != after[key]
    ]


def audit_object_types() -> list[str]:
    """The kinds of object the trail has records for."""
    return list(db.session.scalars(
        sa.select(AuditRecord.object_type).distinct().order_by(AuditRecord.object_type)))


def audit_trail(object_type: str | None = None, page: int = 1) -> Pagination:
    """Audit records, newest first, optionally of one kind of object."""
    stmt = sa.select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
    if object_type:
        stmt = stmt.where(AuditRecord.object_type == object_type)
    return db.paginate(stmt, page=page, per_page=AUDIT_PAGE_SIZE, error_out=False)
