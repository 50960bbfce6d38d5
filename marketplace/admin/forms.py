"""The console's forms (CSRF-protected by Flask-WTF). They check shape and range; the services
check the rules that need the database (unique codes, enough gold, approved jewellers)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import FieldList, Form, FormField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from marketplace.accounts.models import Role
from marketplace.admin.fields import DayField, ExactNumberField, TextField
from marketplace.admin.services import application_status_word
from marketplace.catalog.models import Jeweller, JewellerStatus
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, TraceabilityModel
from marketplace.provenance.services import (
    EvidenceDocument,
    LotRegistration,
    check_evidence_file,
)

MAX_GROSS_G = 1_000_000  # a tonne: far above any lot of the Central, far below the column's limit
EVIDENCE_SLOTS = 3

_optional = [Optional()]


def options(pairs: Iterable[tuple[object, str | LazyString]]) -> list[SelectChoice]:
    """Choices for a select or radio group."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def _required(message: LazyString) -> list[Any]:
    """A required field, with a message naming it ("Enter the fineness.")."""
    return [InputRequired(message=message)]


def cooperative_choices() -> list[tuple[int, str]]:
    """Cooperatives for a select: the Central first, then the members by name."""
    rows = db.session.scalars(
        sa.select(Cooperative).order_by(Cooperative.parent_id.is_not(None), Cooperative.name)
    ).all()
    return [(c.id, _("%(name)s (the Central)", name=c.name) if c.is_central else c.name)
            for c in rows]


def jeweller_choices(approved_only: bool = False) -> list[tuple[int, str]]:
    """Workshops for a select, by name."""
    stmt = sa.select(Jeweller).order_by(Jeweller.business_name)
    if approved_only:
        stmt = stmt.where(Jeweller.status == JewellerStatus.APPROVED.value)
    return [
        (j.id, j.business_name if j.approved
         else _("%(name)s (%(status)s)", name=j.business_name,
                status=application_status_word(j.status)))
        for j in db.session.scalars(stmt)
    ]


# --- Cooperatives ----------------------------------------------------------------------------


class CooperativeForm(FlaskForm):
    """A cooperative's public facts and where its community premium is paid."""

    name = TextField(_l("Name"), validators=[InputRequired(message=_l("Enter the name.")),
                                         Length(max=200)])
    short_name = TextField(_l("Short name"), validators=[
        InputRequired(message=_l("Enter a short name.")), Length(max=80)])
    flo_id = TextField("FLO ID", validators=[
        Optional(), Regexp(r"^\d{1,20}$", message=_l("A FLO ID is digits only (up to 20)."))])
    altitude_m = ExactNumberField(_l("Altitude (m)"), _optional, minimum=0, maximum=7000, unit="m",
                                  example="4800")
    area_ha = ExactNumberField(_l("Area (ha)"), _optional, minimum=0, maximum=10_000_000, unit="ha",
                               example="1240")
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    payout_bank = TextField(_l("Bank"), validators=[Optional(), Length(max=120)])
    payout_account_holder = TextField(_l("Account holder"),
                                      validators=[Optional(), Length(max=200)])
    payout_cci = TextField(_l("CCI (20 digits)"), validators=[Optional()])
    stripe_account_id = TextField(_l("Stripe connected account"), validators=[
        Optional(), Regexp(r"^acct_[A-Za-z0-9]{1,55}$",
                           message=_l('A Stripe account id starts with "acct_", e.g. acct_1AbC.'))])

    def validate_payout_cci(self, field: TextField) -> None:
        """Peru's interbank code: 20 digits (spaces and hyphens as typed are dropped)."""
        if field.data:
            digits = field.data.replace(" ", "").replace("-", "")
            if not (digits.isascii() and digits.isdigit() and len(digits) == 20):
                raise ValidationError(_("A CCI is exactly 20 digits."))
            field.data = digits


class CertificationForm(FlaskForm):
    """A certification a cooperative holds."""

    scheme = TextField(_l("Scheme"), validators=[InputRequired(message=_l("Enter the scheme.")),
                                             Length(max=80)],
                       render_kw={"placeholder": "Fairtrade Gold"})
    body = TextField(_l("Certification body"), validators=[
        InputRequired(message=_l("Enter the certification body.")), Length(max=80)],
        render_kw={"placeholder": "FLOCERT"})
    certificate_number = TextField(_l("Certificate number"),
                                   validators=[Optional(), Length(max=80)])
    first_certified_year = ExactNumberField(_l("First certified (year)"), _optional, minimum=1990,
                                            maximum=2100, example="2011")
    valid_from = DayField(_l("Valid from"), validators=[InputRequired(message=_l("Enter a date."))])
    valid_until = DayField(_l("Valid until"), validators=[Optional()])
    source = TextAreaField(_l("Source"), validators=[Length(max=2000)])

    def validate_valid_until(self, field: DayField) -> None:
        """A certificate ends on or after it starts."""
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_("The validity cannot end before it starts."))


# --- Lots ------------------------------------------------------------------------------------


class EvidenceSlot(Form):
    """One evidence document: the file and what it is (an empty slot is skipped)."""

    file = FileField(_l("File (PDF, JPEG or PNG, up to 10 MB)"))
    title = TextField(_l("Title"), validators=[Optional(), Length(max=200)])
    level = RadioField(
        _l("Kind"),
        choices=options([("evidenced", _l("Evidenced: the cooperative's own record")),
                         ("verified", _l("Verified: issued by a named third party"))]),
        default="evidenced",
    )
    issuer = TextField(_l("Issuer"), validators=[Optional(), Length(max=200)])

    content: bytes | None = None

    def validate(self, extra_validators: Any = None) -> bool:
        """Check the slot as a whole: a file needs a title and an issuer, and a usable kind."""
        super().validate(extra_validators)
        self._errors = None
        storage = self.file.data
        if not isinstance(storage, FileStorage) or not storage.filename:
            if self.title.data:
                self.file.errors.append(
                    _("Choose the file for “%(title)s”.", title=self.title.data))
            return not any(field.errors for field in self)
        if not self.title.data:
            self.title.errors.append(_("Give the document a title."))
        if not self.issuer.data:
            self.issuer.errors.append(_("Say who issued the document."))
        data = storage.stream.read()  # bounded by the request size limit (MAX_CONTENT_LENGTH)
        storage.stream.seek(0)
        try:
            check_evidence_file(data, storage.filename)
        except DomainError as error:
            self.file.errors.append(error.message)
        else:
            self.content = data
        return not any(field.errors for field in self)

    def document(self) -> EvidenceDocument:
        """The slot as a document for the services (after validation)."""
        storage = self.file.data
        return EvidenceDocument(
            title=self.title.data or "",
            level=self.level.data or "",
            issuer=self.issuer.data or "",
            data=self.content or b"",
            filename=(storage.filename or "") if isinstance(storage, FileStorage) else "",
        )


class _WithEvidence:
    """Forms carrying evidence slots."""

    evidence: FieldList

    def documents(self) -> list[EvidenceDocument]:
        """The filled slots, as documents (call after validation)."""
        docs = []
        for entry in self.evidence.entries:
            slot = entry.form
            if slot.content is not None:
                docs.append(slot.document())
        return docs


def _evidence_slots() -> FieldList:
    """Evidence slots for a form: a few files at once, no JavaScript needed."""
    return FieldList(FormField(EvidenceSlot), label=_l("Evidence"), min_entries=EVIDENCE_SLOTS,
                     max_entries=EVIDENCE_SLOTS)


class LotForm(_WithEvidence, FlaskForm):
    """Everything the Central records about a certified lot when it comes in (DESIGN §7)."""

    code = TextField(_l("Lot code"), validators=[
        InputRequired(message=_l("Enter the lot code.")),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
               message=_l("Use up to 40 letters, digits, points and hyphens, e.g. PT-2025-014."))])
    cooperative_id = SelectField(_l("Cooperative"), coerce=int, validate_choice=False)
    traceability_model = RadioField(
        _l("Traceability model"),
        choices=options([
            (TraceabilityModel.SEGREGATED.value, _l("Segregated: kept apart from other gold")),
            (TraceabilityModel.MASS_BALANCE.value, _l("Mass balance: booked, may be mixed")),
        ]),
        # No default: which model applies is a claim the shop makes to buyers; choose it.
        validators=[InputRequired(message=_l("Choose a traceability model."))],
    )
    extraction_start = DayField(_l("Extraction started"), validators=[
        InputRequired(message=_l("Enter the day extraction started."))])
    extraction_end = DayField(_l("Extraction ended"), validators=[Optional()])
    gross_g = ExactNumberField(_l("Gross mass (g)"), _required(_l("Enter the gross mass.")),
                               places=3, above=0, maximum=MAX_GROSS_G, unit="g")
    assayed_fineness = ExactNumberField(
        _l("Assayed fineness (‰)"), _required(_l("Enter the assayed fineness.")), places=1, above=0,
        maximum=1000, unit="‰", example="912.4")
    assay_lab = TextField(_l("Assay laboratory"), validators=[Optional(), Length(max=200)])
    assay_report_number = TextField(_l("Assay report number"), validators=[Optional(),
                                                                       Length(max=80)])
    assayed_on = DayField(_l("Assayed on"), validators=[Optional()])
    refiner = TextField(_l("Refiner"), validators=[Optional(), Length(max=200)])
    bar_serial = TextField(_l("Bar serial"), validators=[Optional(), Length(max=80)])
    bar_year = ExactNumberField(_l("Bar year"), _optional, minimum=1990, maximum=2100,
                                example="2025")
    certificate_number = TextField(_l("Certificate number"), validators=[Optional(),
                                                                     Length(max=80)])
    certificate_body = TextField(_l("Certification body"), validators=[Optional(), Length(max=120)])
    certificate_valid_from = DayField(_l("Certificate valid from"), validators=[Optional()])
    certificate_valid_until = DayField(_l("Certificate valid until"), validators=[Optional()])
    mercury_used_g = ExactNumberField(_l("Mercury used (g)"), _optional, minimum=0,
                                      maximum=10_000_000, unit="g", example="120")
    mercury_recovered_g = ExactNumberField(_l("Mercury recovered (g)"), _optional, minimum=0,
                                           maximum=10_000_000, unit="g", example="115")
    water_recycled_percent = ExactNumberField(_l("Water recycled (%)"), _optional, minimum=0,
                                              maximum=100, unit="%", example="85")
    notes = TextAreaField(_l("Notes"), validators=[Length(max=5000)])
    received_on = DayField(_l("Received by the Central on"), validators=[Optional()])
    evidence = _evidence_slots()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Offer the cooperatives."""
        super().__init__(*args, **kwargs)
        self.cooperative_id.choices = options(
            [(0, _("Choose a cooperative")), *cooperative_choices()])

    def validate_cooperative_id(self, field: SelectField) -> None:
        """One of the listed cooperatives."""
        if field.data not in {value for value, _name in cooperative_choices()}:
            raise ValidationError(_("Choose one of the Central's cooperatives."))

    def validate_extraction_end(self, field: DayField) -> None:
        """Extraction ends on or after it starts."""
        if field.data and self.extraction_start.data and field.data < self.extraction_start.data:
            raise ValidationError(_("The extraction cannot end before it starts."))

    def validate_bar_serial(self, field: TextField) -> None:
        """A refined lot names both its refiner and its bar."""
        if bool(field.data) != bool(self.refiner.data):
            raise ValidationError(_("Give both the refiner and the bar serial, or neither."))

    def validate_certificate_valid_from(self, field: DayField) -> None:
        """A certificate number comes with its body and start day."""
        if self.certificate_number.data and not (field.data and self.certificate_body.data):
            raise ValidationError(_("A certificate needs its body and the day it is valid from."))

    def validate_certificate_valid_until(self, field: DayField) -> None:
        """A certificate ends on or after it starts."""
        start = self.certificate_valid_from.data
        if field.data and start and field.data < start:
            raise ValidationError(_("The validity cannot end before it starts."))

    def validate_mercury_recovered_g(self, field: ExactNumberField) -> None:
        """No more mercury comes back than was used."""
        used = self.mercury_used_g.data
        if field.data is not None and used is None and not self.mercury_used_g.errors:
            raise ValidationError(_("Give the mercury used as well."))
        if field.data is not None and used is not None and field.data > used:
            raise ValidationError(_(
                "More mercury recovered (%(recovered)s g) than used (%(used)s g) is not possible.",
                recovered=field.data, used=used))

    def validate_received_on(self, field: DayField) -> None:
        """A lot is received after extraction starts, and not in the future."""
        if field.data is None:
            return
        if field.data > date.today():
            raise ValidationError(_("The day received cannot be in the future."))
        if self.extraction_start.data and field.data < self.extraction_start.data:
            raise ValidationError(_("The lot cannot be received before extraction started."))

    def registration(self) -> LotRegistration:
        """The validated form as a registration (gross grams → integer milligrams)."""
        gross = self.gross_g.exact or Decimal(0)
        return LotRegistration(
            code=(self.code.data or "").upper(),
            cooperative_id=int(self.cooperative_id.data),
            traceability_model=self.traceability_model.data or "",
            extraction_start=self.extraction_start.data,
            extraction_end=self.extraction_end.data,
            gross_mg=int(gross * 1000),
            assayed_fineness=self.assayed_fineness.exact or Decimal(0),
            assay_lab=self.assay_lab.data,
            assay_report_number=self.assay_report_number.data,
            assayed_on=self.assayed_on.data,
            refiner=self.refiner.data,
            bar_serial=self.bar_serial.data,
            bar_year=self.bar_year.whole,
            certificate_number=self.certificate_number.data,
            certificate_body=self.certificate_body.data,
            certificate_valid_from=self.certificate_valid_from.data,
            certificate_valid_until=self.certificate_valid_until.data,
            mercury_used_g=self.mercury_used_g.whole,
            mercury_recovered_g=self.mercury_recovered_g.whole,
            water_recycled_percent=self.water_recycled_percent.whole,
            notes=(self.notes.data or "").strip(),
            registered_at=(
                datetime.combine(self.received_on.data, time(12), tzinfo=UTC)
                if self.received_on.data and self.received_on.data < date.today()
                else None  # today (or not given): now
            ),
        )


class EvidenceForm(_WithEvidence, FlaskForm):
    """Add documents to a registered lot."""

    evidence = _evidence_slots()

    def validate_evidence(self, field: FieldList) -> None:
        """At least one file."""
        if not any(entry.form.content is not None for entry in field.entries):
            if not any(entry.form.file.errors for entry in field.entries):
                raise ValidationError(_("Choose at least one file."))


class AssayForm(FlaskForm):
    """An assay report for a registered lot."""

    lab = TextField(_l("Laboratory"), validators=[
        InputRequired(message=_l("Enter the laboratory.")), Length(max=200)])
    report_number = TextField(_l("Report number"), validators=[
        InputRequired(message=_l("Enter the report number.")), Length(max=80)])
    assayed_on = DayField(_l("Assayed on"), validators=[InputRequired(message=_l("Enter a date."))])
    fineness = ExactNumberField(_l("Fineness (‰)"), _required(_l("Enter the fineness.")),
                                places=1, above=0, maximum=1000, unit="‰", example="912.4")

    def validate_assayed_on(self, field: DayField) -> None:
        """An assay is not dated in the future."""
        if field.data and field.data > date.today():
            raise ValidationError(_("The assay cannot be dated in the future."))


class LotCertificationForm(FlaskForm):
    """The certificate that covers a lot."""

    certificate_number = TextField(_l("Certificate number"), validators=[
        InputRequired(message=_l("Enter the certificate number.")), Length(max=80)])
    body = TextField(_l("Certification body"), validators=[
        InputRequired(message=_l("Enter the certification body.")), Length(max=120)],
        render_kw={"placeholder": "FLOCERT"})
    valid_from = DayField(_l("Valid from"), validators=[InputRequired(message=_l("Enter a date."))])
    valid_until = DayField(_l("Valid until"), validators=[Optional()])

    def validate_valid_until(self, field: DayField) -> None:
        """A certificate ends on or after it starts."""
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_("The validity cannot end before it starts."))


class TransferForm(FlaskForm):
    """Sell fine gold of a lot to an approved jeweller, by invoice."""

    jeweller_id = SelectField(_l("Jeweller"), coerce=int, validate_choice=False)
    fine_g = ExactNumberField(_l("Fine gold (g)"),
                              _required(_l("Enter the fine gold to transfer.")), places=3,
                              above=0, maximum=MAX_GROSS_G, unit="g", example="50.000")
    invoice_ref = TextField(_l("Invoice reference"), validators=[
        InputRequired(message=_l("Enter the invoice reference.")), Length(max=80)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Offer the approved workshops."""
        super().__init__(*args, **kwargs)
        self.jeweller_id.choices = options(
            [(0, _("Choose a jeweller")), *jeweller_choices(approved_only=True)])

    def validate_jeweller_id(self, field: SelectField) -> None:
        """A jeweller must be chosen (whether it may receive gold is the service's rule)."""
        if not field.data:
            raise ValidationError(_("Choose a jeweller."))

    @property
    def fine_mg(self) -> int:
        """The fine gold asked for, in milligrams."""
        return int((self.fine_g.exact or Decimal(0)) * 1000)


# --- Jewellers and users ---------------------------------------------------------------------


class ApproveForm(FlaskForm):
    """Approve an application (the button and the CSRF token)."""


class DeclineForm(FlaskForm):
    """Decline an application, saying why."""

    reason = TextAreaField(_l("Reason (sent to the applicant)"), validators=[
        InputRequired(message=_l("Say why the application is declined.")), Length(max=2000)])


class RoleForm(FlaskForm):
    """A user's role and the workshop or cooperative they act for."""

    role = SelectField(_l("Role"), choices=options([
        (Role.SHOPPER.value, _l("Shopper")),
        (Role.JEWELLER.value, _l("Jeweller (needs a workshop)")),
        (Role.OFFICER.value, _l("Cooperative officer (needs a cooperative)")),
        (Role.ADMIN.value, _l("Central admin")),
    ]))
    jeweller_id = SelectField(_l("Workshop"), coerce=int, validate_choice=False)
    cooperative_id = SelectField(_l("Cooperative"), coerce=int, validate_choice=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Offer every workshop and cooperative."""
        super().__init__(*args, **kwargs)
        self.jeweller_id.choices = options([(0, _("None")), *jeweller_choices()])
        self.cooperative_id.choices = options([(0, _("None")), *cooperative_choices()])

    def validate_jeweller_id(self, field: SelectField) -> None:
        """A jeweller acts for a workshop."""
        if self.role.data == Role.JEWELLER.value and not field.data:
            raise ValidationError(_("A jeweller account needs a workshop."))

    def validate_cooperative_id(self, field: SelectField) -> None:
        """An officer acts for a cooperative."""
        if self.role.data == Role.OFFICER.value and not field.data:
            raise ValidationError(_("A cooperative officer needs a cooperative."))


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (deactivate, reactivate)."""
