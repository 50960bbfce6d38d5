"""Forms of the jeweller's workspace (CSRF-protected by Flask-WTF).

Weights and prices are typed by people, so they are read as text and parsed exactly with
``Decimal``: grams to whole milligrams, soles to whole céntimos. Anything that is not a plain
amount (a comma for the decimal point, too many decimals, zero, a negative, an absurd value)
gets a message saying what to type instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    Field,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from marketplace.catalog.models import Category, FairtradeStatus, PieceStatus
from marketplace.core.gold import KARAT_FINENESS
from marketplace.core.money import to_minor
from marketplace.core.peru import PERU_REGIONS
from marketplace.jeweller.services import invalid_ruc, ruc_is_valid

MAX_GROSS_MG = 1_000_000  # 1 kg: no piece of jewellery weighs more
MAX_PRICE_MINOR = 100_000_000  # S/ 1,000,000
MAX_STOCK = 10_000

REGIONS = PERU_REGIONS

CATEGORY_LABELS = {
    Category.RING.value: _l("Ring"),
    Category.CHAIN.value: _l("Chain"),
    Category.EARRINGS.value: _l("Earrings"),
    Category.BRACELET.value: _l("Bracelet"),
    Category.PENDANT.value: _l("Pendant"),
}
STATUS_LABELS = {
    PieceStatus.DRAFT.value: _l("Draft: only you see it"),
    PieceStatus.ACTIVE.value: _l("Active: in the shop"),
    PieceStatus.ARCHIVED.value: _l("Archived: off the shop for good, stock returned"),
}
FAIRTRADE_LABELS = {
    FairtradeStatus.NONE.value: _l("Not registered with Fairtrade"),
    FairtradeStatus.LICENSEE.value: _l("Fairtrade licensee (may stamp the mark)"),
    FairtradeStatus.REGISTERED_GOLDSMITH.value: _l(
        "Registered goldsmith (under 500 g a year; may not stamp the mark)"
    ),
}

_PLAIN_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,12})?")
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,12})?")


def parse_grams(text: str) -> int:
    """Grams as typed ("3.75", "3.751 g") → whole milligrams (3750); ValueError with a message."""
    raw = text.strip().lower().removesuffix("g").strip()
    if raw.startswith("-"):
        raise ValueError(_("The weight must be more than 0 g."))
    if "," in raw:
        raise ValueError(_("Use a point for decimals, like 3.75 (not 3,75)."))
    if not _PLAIN_NUMBER.fullmatch(raw):
        raise ValueError(_("Give the gross weight in grams, like 3.75."))
    mg = Decimal(raw) * 1000
    if mg != mg.to_integral_value():
        raise ValueError(_("Weigh to the milligram: at most 3 decimals, like 3.751."))
    if mg <= 0:
        raise ValueError(_("The weight must be more than 0 g."))
    if mg > MAX_GROSS_MG:
        raise ValueError(_("That is over 1 kg; check the weight (in grams, like 3.75)."))
    return int(mg)


def parse_soles(text: str) -> int:
    """Soles as typed ("1250.50", "S/ 1,250.50") → céntimos (125050); ValueError with a message."""
    raw = text.strip()
    for prefix in ("S/.", "S/", "s/.", "s/"):
        raw = raw.removeprefix(prefix)
    raw = raw.strip()
    if raw.startswith("-"):
        raise ValueError(_("The price must be more than S/ 0."))
    if _GROUPED_NUMBER.fullmatch(raw):
        raw = raw.replace(",", "")
    elif "," in raw:
        raise ValueError(
            _("Write the price like 1250.50 or 1,250.50 (a point before the céntimos).")
        )
    if not _PLAIN_NUMBER.fullmatch(raw):
        raise ValueError(_("Give the price in soles, like 1250 or 1250.50."))
    value = Decimal(raw)
    if value * 100 != (value * 100).to_integral_value():
        raise ValueError(_("Prices go to the céntimo: at most 2 decimals."))
    minor = to_minor(value, "PEN")
    if minor <= 0:
        raise ValueError(_("The price must be more than S/ 0."))
    if minor > MAX_PRICE_MINOR:
        raise ValueError(_("That is over S/ 1,000,000; check the price."))
    return minor


class _ParsedField(StringField):
    """Text parsed into a whole number; ``data`` is the number, the text is shown back as typed."""

    def parse(self, text: str) -> int:
        """Turn the text into the number (ValueError with a message otherwise)."""
        raise NotImplementedError

    def show(self, value: int) -> str:
        """How a stored number is written in the field."""
        return str(value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the submitted text; an empty field leaves ``data`` None."""
        self.data = None
        if valuelist and str(valuelist[0]).strip():
            self.data = self.parse(str(valuelist[0])[:40])

    def _value(self) -> str:
        """The text to put back in the input."""
        if self.raw_data:
            return str(self.raw_data[0])[:40]
        return self.show(self.data) if isinstance(self.data, int) else ""


class GramsField(_ParsedField):
    """A weight in grams, kept as whole milligrams."""

    def parse(self, text: str) -> int:
        """Grams → mg."""
        return parse_grams(text)

    def show(self, value: int) -> str:
        """mg → "3.750"."""
        return format(Decimal(value).scaleb(-3), "f")


class SolesField(_ParsedField):
    """A price in soles, kept as whole céntimos."""

    def parse(self, text: str) -> int:
        """Soles → céntimos."""
        return parse_soles(text)

    def show(self, value: int) -> str:
        """céntimos → "1250.50"."""
        return format(Decimal(value).scaleb(-2), "f")


class ChoiceField(SelectField):
    """A select whose refusal says what to choose."""

    def __init__(self, *args: Any, invalid: str | None = None, **kwargs: Any) -> None:
        """``invalid`` is the message for a value that is not one of the choices."""
        super().__init__(*args, **kwargs)
        self.invalid = invalid or _l("Choose one of the options.")

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Coerce the value; an uncoercible one is refused in ``pre_validate``."""
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None

    def pre_validate(self, form: Any) -> None:
        """Refuse anything that is not one of the choices."""
        if self.data is None or not any(choice.selected for choice in self.iter_choices()):
            raise ValidationError(self.invalid)


def _options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def _ruc(form: Any, field: Field) -> None:
    """The RUC must pass SUNAT's rules (python-stdnum)."""
    if field.data and not ruc_is_valid(field.data):
        raise ValidationError(invalid_ruc())


class ApplicationForm(FlaskForm):
    """Apply to sell on the marketplace."""

    business_name = StringField(
        _l("Business name"),
        validators=[
            DataRequired(message=_l("Enter the name of your business.")),
            Length(max=200, message=_l("Keep the name under 200 characters.")),
        ],
        render_kw={"autocomplete": "organization"},
    )
    ruc = StringField(
        _l("RUC"),
        validators=[DataRequired(message=_l("Enter your RUC (11 digits).")), Length(max=20), _ruc],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    city = StringField(
        _l("City"),
        validators=[
            DataRequired(message=_l("Enter the city of your workshop.")),
            Length(max=80, message=_l("Keep the city under 80 characters.")),
        ],
        render_kw={"autocomplete": "address-level2"},
    )
    region = ChoiceField(
        _l("Region"),
        choices=_options([("", _l("Choose a region")), *((r, r) for r in REGIONS)]),
        validators=[DataRequired(message=_l("Choose the region of your workshop."))],
        invalid=_l("Choose the region of your workshop."),
    )
    story = TextAreaField(
        _l("Your story"),
        validators=[Length(max=4000, message=_l("Keep the story under 4,000 characters."))],
    )
    fairtrade_status = ChoiceField(
        _l("Fairtrade"),
        choices=_options(FAIRTRADE_LABELS.items()),
        default=FairtradeStatus.NONE.value,
        invalid=_l("Choose how you work with Fairtrade."),
    )
    fairtrade_number = StringField(
        _l("Fairtrade licence or registration number"),
        validators=[Length(max=40, message=_l("Keep the number under 40 characters."))],
    )

    def validate_fairtrade_number(self, field: Field) -> None:
        """Licensees and registered goldsmiths give their number."""
        if (
            self.fairtrade_status.data != FairtradeStatus.NONE.value
            and not (field.data or "").strip()
        ):
            raise ValidationError(_("Give your Fairtrade licence or registration number."))


class PieceForm(FlaskForm):
    """What a piece is and costs."""

    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(message=_l("Give the piece a title.")),
            Length(max=200, message=_l("Keep the title under 200 characters.")),
        ],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Length(max=5000, message=_l("Keep the description under 5,000 characters."))],
    )
    category = ChoiceField(
        _l("Category"), choices=_options(CATEGORY_LABELS.items()), invalid=_l("Choose a category.")
    )
    karat = ChoiceField(
        _l("Karat"),
        coerce=int,
        choices=_options(
            (k, _l("%(karat)sk (%(fineness)s‰ gold)", karat=k, fineness=f))
            for k, f in sorted(KARAT_FINENESS.items(), reverse=True)
        ),
        default=18,
        invalid=_l("Choose a karat: 24k, 22k, 18k, 14k, 10k or 9k."),
    )
    gross_weight = GramsField(
        _l("Gross weight (grams)"),
        validators=[InputRequired(message=_l("Enter the gross weight in grams, like 3.75."))],
        render_kw={"inputmode": "decimal"},
    )
    price = SolesField(
        _l("Price (soles)"),
        validators=[InputRequired(message=_l("Enter the price in soles, like 1250.50."))],
        render_kw={"inputmode": "decimal"},
    )


class EditPieceForm(PieceForm):
    """A piece's details and where it stands."""

    status = ChoiceField(
        _l("Status"),
        choices=_options(STATUS_LABELS.items()),
        invalid=_l("Choose draft, active or archived."),
    )


class StockForm(FlaskForm):
    """Units on the shelf."""

    stock = IntegerField(
        _l("Units in stock"),
        validators=[
            InputRequired(message=_l("Enter how many units are on the shelf, like 3.")),
            NumberRange(
                min=0,
                max=MAX_STOCK,
                message=_l("Enter a whole number from 0 to %(max)s.", max=f"{MAX_STOCK:,}"),
            ),
        ],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_STOCK},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Say plainly when the text is not a whole number."""
        super().__init__(*args, **kwargs)
        self.stock.process_errors = [
            _("Enter a whole number of units, like 3.") for _error in self.stock.process_errors
        ]


class PhotoForm(FlaskForm):
    """Upload a photo of a piece."""

    photo = FileField(
        _l("Photo"),
        validators=[
            FileRequired(message=_l("Choose a photo to upload.")),
            FileAllowed(
                ["jpg", "jpeg", "png", "webp"],
                message=_l("Upload a JPEG, PNG or WebP photo (.jpg, .png or .webp)."),
            ),
        ],
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    alt = StringField(
        _l("What the photo shows"),
        validators=[
            DataRequired(
                message=_l("Describe the photo in a few words for people who cannot see it.")
            ),
            Length(max=300, message=_l("Keep the description under 300 characters.")),
        ],
    )


class DeletePhotoForm(FlaskForm):
    """A button that deletes one photo (the form carries only the CSRF token)."""


def lot_field_name(lot_id: int) -> str:
    """The form field of a lot on the backing page."""
    return f"lot_{lot_id}"


def backing_form(lots: Iterable[tuple[int, str]], current: Mapping[int, int]) -> FlaskForm:
    """A form with one "mg of fine gold per unit" field per lot (id, label) the workshop holds."""

    class BackingForm(FlaskForm):
        """Fine gold per unit, lot by lot."""

    for lot_id, label in lots:
        setattr(
            BackingForm,
            lot_field_name(lot_id),
            IntegerField(
                label,
                validators=[
                    Optional(),
                    NumberRange(
                        min=0,
                        max=MAX_GROSS_MG,
                        message=_l("Enter whole milligrams, 0 or more, like 2250."),
                    ),
                ],
                render_kw={"inputmode": "numeric", "min": 0},
            ),
        )
    data = {lot_field_name(lot_id): mg for lot_id, mg in current.items()}
    form = BackingForm(data=data)
    for field in form:
        if getattr(field, "process_errors", None):
            field.process_errors = [_("Enter whole milligrams, like 2250 (no decimals).")]
    return form


def allocation_from(form: FlaskForm, lot_ids: Iterable[int]) -> dict[int, int]:
    """The {lot id: mg per unit} a backing form asks for (blank fields count as 0)."""
    return {lot_id: int(form[lot_field_name(lot_id)].data or 0) for lot_id in lot_ids}


class PayoutDetailsForm(FlaskForm):
    """Where the Central sends the workshop's earnings by bank transfer."""

    payout_bank = StringField(
        _l("Bank"), validators=[DataRequired(message=_l("Name the bank.")), Length(max=120)]
    )
    payout_account_holder = StringField(
        _l("Account holder"),
        validators=[DataRequired(message=_l("Give the account holder's name.")), Length(max=200)],
    )
    payout_cci = StringField(
        _l("CCI (20-digit interbank code)"),
        validators=[
            DataRequired(message=_l("Give the 20-digit CCI.")),
            Regexp(r"^\d{20}$", message=_l("The CCI has exactly 20 digits, without spaces.")),
        ],
        filters=[lambda v: "".join(ch for ch in v if ch.isdigit()) if v else v],
    )
