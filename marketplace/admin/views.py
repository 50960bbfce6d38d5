"""The Central's console at /admin/: the home, cooperatives and their certifications, the audit
trail. Lots live in ``lot_views``, jewellers and users in ``people_views``; all of it is for
admins only, and each change is one service call, one commit, a message and a redirect."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.admin import lot_views, people_views, services
from marketplace.admin.blueprint import bp, page_arg, refuse, status_for
from marketplace.admin.forms import CertificationForm, CooperativeForm
from marketplace.admin.models import AuditRecord
from marketplace.catalog.models import Jeweller, JewellerStatus
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, CooperativeCertification

__all__ = ["bp", "lot_views", "people_views"]


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    """The console home: applications waiting first, then counts and where to go."""
    pending = db.session.scalars(
        sa.select(Jeweller).where(Jeweller.status == JewellerStatus.PENDING.value)
        .order_by(Jeweller.created_at).limit(10)).all()
    recent = db.session.scalars(
        sa.select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(5)
    ).all()
    return render_template("admin/index.html", user=signed_in_user(), pending=pending,
                           counts=services.console_counts(), recent=recent)


# --- Cooperatives ----------------------------------------------------------------------------


def _cooperative_data(form: CooperativeForm) -> services.CooperativeData:
    """The validated form as plain data."""
    return services.CooperativeData(
        name=form.name.data or "",
        short_name=form.short_name.data or "",
        flo_id=form.flo_id.data,
        altitude_m=form.altitude_m.whole,
        area_ha=form.area_ha.whole,
        description=(form.description.data or "").strip(),
        payout_bank=form.payout_bank.data,
        payout_account_holder=form.payout_account_holder.data,
        payout_cci=form.payout_cci.data,
        stripe_account_id=form.stripe_account_id.data,
    )


@bp.get("/cooperatives")
@role_required(Role.ADMIN)
def cooperatives() -> str:
    """The Central and its members, with their certifications and payout details."""
    rows = db.session.scalars(
        sa.select(Cooperative)
        .options(selectinload(Cooperative.certifications))
        .order_by(Cooperative.parent_id.is_not(None), Cooperative.name)).all()
    return render_template("admin/cooperatives.html", cooperatives=rows)


@bp.route("/cooperatives/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_cooperative() -> ResponseReturnValue:
    """Add a member cooperative of the Central."""
    form = CooperativeForm()
    if form.validate_on_submit():
        try:
            coop = services.save_cooperative(None, _cooperative_data(form),
                                             actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s is added.", name=coop.name), "success")
            return redirect(url_for("admin.cooperative", coop_id=coop.id))
    return render_template("admin/cooperative_form.html", form=form, coop=None), status_for(form)


@bp.route("/cooperatives/<int:coop_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def cooperative(coop_id: int) -> ResponseReturnValue:
    """Edit a cooperative's facts and payout details; its certifications are listed below."""
    coop = db.get_or_404(Cooperative, coop_id)
    form = CooperativeForm(obj=coop)
    if form.validate_on_submit():
        try:
            services.save_cooperative(coop, _cooperative_data(form), actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s is saved.", name=coop.name), "success")
            return redirect(url_for("admin.cooperative", coop_id=coop.id))
    return render_template("admin/cooperative_form.html", form=form, coop=coop), status_for(form)


def _certification_data(form: CertificationForm) -> services.CertificationData:
    """The validated form as plain data."""
    return services.CertificationData(
        scheme=form.scheme.data or "",
        body=form.body.data or "",
        valid_from=form.valid_from.data,
        certificate_number=form.certificate_number.data,
        first_certified_year=form.first_certified_year.whole,
        valid_until=form.valid_until.data,
        source=(form.source.data or "").strip(),
    )


@bp.route("/cooperatives/<int:coop_id>/certifications/new", methods=["GET", "POST"])
@bp.route("/cooperatives/<int:coop_id>/certifications/<int:cert_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def certification(coop_id: int, cert_id: int | None = None) -> ResponseReturnValue:
    """Add a certification to a cooperative, or edit one of its certifications."""
    coop = db.get_or_404(Cooperative, coop_id)
    cert = db.get_or_404(CooperativeCertification, cert_id) if cert_id else None
    if cert is not None and cert.cooperative_id != coop.id:
        abort(404)
    form = CertificationForm(obj=cert)
    if form.validate_on_submit():
        try:
            saved = services.save_certification(coop, cert, _certification_data(form),
                                                actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("The %(scheme)s certification of %(name)s is saved.", scheme=saved.scheme,
                    name=coop.short_name), "success")
            return redirect(url_for("admin.cooperative", coop_id=coop.id))
    return render_template("admin/certification_form.html", form=form, coop=coop,
                           cert=cert), status_for(form)


# --- The audit trail -------------------------------------------------------------------------


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit() -> str:
    """Every admin change, newest first, with what changed; filter by kind of object."""
    types = services.audit_object_types()
    chosen = request.args.get("type", "")
    chosen = chosen if chosen in types else ""
    page = services.audit_trail(chosen or None, page_arg())
    return render_template("admin/audit.html", page=page, types=types, chosen=chosen,
                           changes=services.changes)
