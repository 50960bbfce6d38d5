"""Checkout and payment forms."""

from __future__ import annotations

from babel import Locale
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from marketplace.core.peru import PERU_REGIONS


def country_choices(locale: str = "en") -> list[tuple[str, str]]:
    """ISO 3166 countries by name, Peru first."""
    names = Locale.parse(locale).territories
    countries = sorted(
        (
            (code, name)
            for code, name in names.items()
            if len(code) == 2
            and code.isalpha()
            and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
        ),
        key=lambda item: item[1],
    )
    return [("PE", names["PE"])] + [c for c in countries if c[0] != "PE"]


def _strip(value: str | None) -> str | None:
    """Trim what was typed."""
    return value.strip() if isinstance(value, str) else value


class AddToCartForm(FlaskForm):
    """Add a piece to the cart."""

    piece_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[
            DataRequired(message="Choose how many."),
            NumberRange(min=1, max=20, message="Choose between 1 and 20."),
        ],
    )


class CheckoutForm(FlaskForm):
    """Who receives the order, and where."""

    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            DataRequired(message="Enter your email."),
            Email(message="Enter a valid email."),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
    name = StringField(
        "Full name",
        filters=[_strip],
        validators=[DataRequired(message="Enter the recipient's name."), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    phone = StringField(
        "Phone",
        filters=[_strip],
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "tel"},
    )
    country = SelectField("Country", default="PE", render_kw={"autocomplete": "country"})
    region = SelectField(
        "Region (Peru)",
        choices=[("", "—")] + [(r, r) for r in PERU_REGIONS],
        default="",
    )
    city = StringField(
        "City or district",
        filters=[_strip],
        validators=[DataRequired(message="Enter the city."), Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )
    address_line1 = StringField(
        "Address",
        filters=[_strip],
        validators=[DataRequired(message="Enter the street address."), Length(max=200)],
        render_kw={"autocomplete": "address-line1"},
    )
    address_line2 = StringField(
        "Apartment, reference (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "address-line2"},
    )
    postal_code = StringField(
        "Postal code (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "postal-code"},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Fill the country list."""
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()

    def validate_region(self, field: SelectField) -> None:
        """Peruvian addresses need a region; other countries do not use the list."""
        if self.country.data == "PE" and not field.data:
            raise ValidationError("Choose the region in Peru.")
        if self.country.data != "PE":
            field.data = ""


class SandboxCardForm(FlaskForm):
    """The sandbox's card form (offline test cards)."""

    card_number = StringField(
        "Card number",
        filters=[_strip],
        validators=[DataRequired(message="Enter the card number.")],
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
    )
    expiry = StringField(
        "Expiry (MM/YY)",
        filters=[_strip],
        validators=[DataRequired(message="Enter the expiry date.")],
        render_kw={"autocomplete": "cc-exp", "placeholder": "MM/YY"},
    )
    cvc = StringField(
        "Security code",
        filters=[_strip],
        validators=[DataRequired(message="Enter the security code.")],
        render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
    )
