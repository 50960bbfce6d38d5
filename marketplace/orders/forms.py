"""Checkout and payment forms."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from babel import Locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import EmailField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import Select, html_params

from marketplace.core.peru import PERU_REGIONS
from marketplace.i18n import format_locale


def _sort_key(name: str) -> str:
    """A country's name for sorting, without accents or case: "Islas Åland" among the A's."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=8)
def _countries(locale: str) -> tuple[tuple[str, str], ...]:
    """The country list for one locale (built once per locale and process)."""
    names = Locale.parse(locale).territories
    countries = sorted(
        (
            (code, name)
            for code, name in names.items()
            if len(code) == 2
            and code.isalpha()
            and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
        ),
        key=lambda item: _sort_key(item[1]),
    )
    return (("PE", names["PE"]),) + tuple(c for c in countries if c[0] != "PE")


def country_choices(locale: str = "en") -> list[tuple[str, str]]:
    """ISO 3166 countries named in ``locale`` (a Babel locale such as "es_PE"), Peru first."""
    return list(_countries(locale))


#: One option, as WTForms writes it (``Markup.format`` escapes the label).
OPTION = Markup("<option {}>{}</option>")


@lru_cache(maxsize=32)
def _options(
    choices: tuple[tuple[str, str], ...],
) -> tuple[tuple[Markup, ...], dict[str, list[int]]]:
    """Each choice's ``<option>``, escaped once per list of choices (and language), and where
    each value is in the list."""
    rendered = tuple(
        OPTION.format(html_params(value=value), label or value) for value, label in choices
    )
    where: dict[str, list[int]] = {}
    for index, (value, _label) in enumerate(choices):
        where.setdefault(value, []).append(index)
    return rendered, where


class KeptOptionsSelect(Select):
    """WTForms' ``<select>``, with the options of a plain list of ``(value, label)`` strings
    escaped once and reused: the country list has some 250 options, which took 7 ms to render
    on every view of the checkout form. The HTML is the same as ``Select``'s."""

    def __call__(self, field: object, **kwargs: object) -> Markup:
        choices = getattr(field, "choices", None)
        if (
            self.multiple
            or getattr(field, "coerce", None) is not str
            or not isinstance(choices, list | tuple)
            or not all(
                isinstance(c, tuple) and len(c) == 2 and all(type(x) is str for x in c)
                for c in choices
            )
        ):
            plain: Markup = super().__call__(field, **kwargs)
            return plain
        kwargs.setdefault("id", getattr(field, "id"))  # noqa: B009 - a WTForms field
        flags = getattr(field, "flags", {})
        for name in self.validation_attrs:
            if name not in kwargs and getattr(flags, name, False):
                kwargs[name] = getattr(flags, name)
        rendered, where = _options(tuple(choices))
        html = list(rendered)
        data = getattr(field, "data", None)
        for index in where.get(data, []) if isinstance(data, str) else []:
            value, label = choices[index]
            html[index] = OPTION.format(html_params(selected=True, value=value), label or value)
        name = getattr(field, "name")  # noqa: B009
        return Markup("<select {}>{}</select>").format(
            html_params(name=name, **kwargs), Markup("").join(html)
        )


def _strip(value: str | None) -> str | None:
    """Trim what was typed."""
    return value.strip() if isinstance(value, str) else value


class AddToCartForm(FlaskForm):
    """Add a piece to the cart."""

    piece_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[
            DataRequired(message=_l("Choose how many.")),
            NumberRange(min=1, max=20, message=_l("Choose between 1 and 20.")),
        ],
    )


class CheckoutForm(FlaskForm):
    """Who receives the order, and where."""

    email = EmailField(
        _l("Email"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter your email.")),
            Email(message=_l("Enter a valid email.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
    name = StringField(
        _l("Full name"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the recipient's name.")), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    phone = StringField(
        _l("Phone"),
        filters=[_strip],
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "tel"},
    )
    country = SelectField(
        _l("Country"),
        default="PE",
        render_kw={"autocomplete": "country"},
        widget=KeptOptionsSelect(),
    )
    region = SelectField(
        _l("Region (Peru)"),
        choices=[("", "—")] + [(r, r) for r in PERU_REGIONS],
        default="",
        widget=KeptOptionsSelect(),
    )
    city = StringField(
        _l("City or district"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the city.")), Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )
    address_line1 = StringField(
        _l("Address"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the street address.")), Length(max=200)],
        render_kw={"autocomplete": "address-line1"},
    )
    address_line2 = StringField(
        _l("Apartment, reference (optional)"),
        filters=[_strip],
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "address-line2"},
    )
    postal_code = StringField(
        _l("Postal code (optional)"),
        filters=[_strip],
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "postal-code"},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Fill the country list, named in the page's language."""
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices(format_locale())

    def validate_region(self, field: SelectField) -> None:
        """Peruvian addresses need a region; other countries do not use the list."""
        if self.country.data == "PE" and not field.data:
            raise ValidationError(_l("Choose the region in Peru."))
        if self.country.data != "PE":
            field.data = ""


class SandboxCardForm(FlaskForm):
    """The sandbox's card form (offline test cards)."""

    card_number = StringField(
        _l("Card number"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the card number."))],
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
    )
    expiry = StringField(
        _l("Expiry (MM/YY)"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the expiry date."))],
        render_kw={"autocomplete": "cc-exp", "placeholder": _l("MM/YY")},
    )
    cvc = StringField(
        _l("Security code"),
        filters=[_strip],
        validators=[DataRequired(message=_l("Enter the security code."))],
        render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
    )
