"""Console pages for certified lots: the list with gold figures, registering a lot, and a lot's
page where evidence, an assay, a certificate and gold transfers are recorded."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.admin import lots as lot_services
from marketplace.admin.blueprint import bp, page_arg, refuse, status_for
from marketplace.admin.forms import (
    AssayForm,
    EvidenceForm,
    LotCertificationForm,
    LotForm,
    TransferForm,
)
from marketplace.core.errors import DomainError
from marketplace.core.gold import format_grams
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.ledger.services import LotGold, lot_gold
from marketplace.provenance.models import GoldLot
from marketplace.provenance.services import verify_lot_chain

#: LotRegistration fields named differently on the form.
_LOT_FIELDS = {"gross_mg": "gross_g", "registered_at": "received_on"}


@bp.get("/lots")
@role_required(Role.ADMIN)
def lots() -> str:
    """Every lot with where its fine gold is now, read from the gold ledger."""
    page = lot_services.lots_page(page_arg())
    return render_template("admin/lots.html", page=page, empty=LotGold())


@bp.route("/lots/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_lot() -> ResponseReturnValue:
    """Register a certified lot with its documents: books its fine gold, opens its chain."""
    form = LotForm()
    if form.validate_on_submit():
        try:
            lot = lot_services.register_lot(form.registration(), form.documents(),
                                            actor=signed_in_user())
        except DomainError as error:
            refuse(form, error, _LOT_FIELDS)
        else:
            db.session.commit()
            flash(_("Lot %(code)s is registered: %(weight)s of fine gold booked, custody chain "
                    "opened.", code=lot.code, weight=format_grams(lot.fine_mg, format_locale())),
                  "success")
            return redirect(url_for("admin.lot", code=lot.code))
    return render_template("admin/lot_form.html", form=form), status_for(form)


def _lot_or_404(code: str) -> GoldLot:
    """The lot with this code, or a 404."""
    lot = lot_services.find_lot(code)
    if lot is None:
        abort(404)
    return lot


def _lot_page(lot: GoldLot, **forms: FlaskForm) -> ResponseReturnValue:
    """A lot's console page; ``forms`` replaces the blank form of a section (with messages)."""
    page_forms: dict[str, FlaskForm] = {
        "evidence_form": EvidenceForm(prefix="ev", formdata=None),
        "assay_form": AssayForm(prefix="assay", formdata=None),
        "cert_form": LotCertificationForm(prefix="cert", formdata=None),
        "transfer_form": TransferForm(prefix="xfer", formdata=None),
    }
    page_forms.update(forms)
    return render_template(
        "admin/lot.html",
        lot=lot,
        gold=lot_gold([lot.id]).get(lot.id, LotGold()),
        check=verify_lot_chain(lot),
        **page_forms,
    ), status_for(*page_forms.values())


@bp.get("/lots/<code>")
@role_required(Role.ADMIN)
def lot(code: str) -> ResponseReturnValue:
    """A lot: its data, gold figures, evidence, custody chain, and what can be recorded."""
    return _lot_page(_lot_or_404(code))


@bp.post("/lots/<code>/evidence")
@role_required(Role.ADMIN)
def add_evidence(code: str) -> ResponseReturnValue:
    """Keep more documents behind a lot."""
    lot = _lot_or_404(code)
    form = EvidenceForm(prefix="ev")
    if form.validate_on_submit():
        try:
            count = lot_services.add_evidence(lot, form.documents(), actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(ngettext("%(num)d document added to lot %(code)s.",
                           "%(num)d documents added to lot %(code)s.", count, code=code),
                  "success")
            return redirect(url_for("admin.lot", code=code, _anchor="evidence"))
    return _lot_page(_lot_or_404(code), evidence_form=form)


@bp.post("/lots/<code>/assay")
@role_required(Role.ADMIN)
def record_assay(code: str) -> ResponseReturnValue:
    """Record an assay report that confirms the registered fineness."""
    lot = _lot_or_404(code)
    form = AssayForm(prefix="assay")
    if form.validate_on_submit():
        try:
            event = lot_services.record_assay(
                lot, lab=form.lab.data or "", report_number=form.report_number.data or "",
                assayed_on=form.assayed_on.data,
                fineness=form.fineness.exact or Decimal(0),
                actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("Assay recorded on lot %(code)s as custody event %(event)s.", code=code,
                    event=event.ref), "success")
            return redirect(url_for("admin.lot", code=code, _anchor="chain"))
    return _lot_page(_lot_or_404(code), assay_form=form)


@bp.post("/lots/<code>/certification")
@role_required(Role.ADMIN)
def certify_lot(code: str) -> ResponseReturnValue:
    """Record the certificate that covers the lot."""
    lot = _lot_or_404(code)
    form = LotCertificationForm(prefix="cert")
    if form.validate_on_submit():
        try:
            event = lot_services.certify_lot(
                lot, certificate_number=form.certificate_number.data or "",
                body=form.body.data or "",
                valid_from=form.valid_from.data,
                valid_until=form.valid_until.data, actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("Certificate recorded on lot %(code)s as custody event %(event)s.",
                    code=code, event=event.ref), "success")
            return redirect(url_for("admin.lot", code=code, _anchor="chain"))
    return _lot_page(_lot_or_404(code), cert_form=form)


@bp.post("/lots/<code>/transfer")
@role_required(Role.ADMIN)
def transfer(code: str) -> ResponseReturnValue:
    """Sell fine gold of the lot to an approved jeweller, by invoice."""
    lot = _lot_or_404(code)
    form = TransferForm(prefix="xfer")
    if form.validate_on_submit():
        try:
            event = lot_services.transfer_gold(
                lot, form.jeweller_id.data or 0, form.fine_mg,
                invoice_ref=form.invoice_ref.data or "", actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(weight)s of fine gold of lot %(code)s transferred to %(jeweller)s "
                    "(invoice %(invoice)s).", weight=format_grams(form.fine_mg, format_locale()),
                    code=code, jeweller=event.details.get("to"),
                    invoice=event.details.get("invoice")), "success")
            return redirect(url_for("admin.lot", code=code, _anchor="transfer"))
    return _lot_page(_lot_or_404(code), transfer_form=form)
