"""Form fields for exact quantities: numbers typed as text and parsed as Decimal, never float.

A browser's number input accepts ``1e999`` and rounds through floats; these fields take text,
accept plain digits with a point for decimals and nothing else, and say in words what is wrong.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import DateField, StringField
from wtforms.form import BaseForm

_NUMBER = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,15})?")


def tidy(value: Decimal) -> Decimal:
    """A Decimal without trailing zeros (912.40 → 912.4, 1000.0 → 1000)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


class ExactNumberField(StringField):
    """A number typed as text: digits and an optional point, within a range, to ``places``.

    ``data`` is a ``Decimal`` (an ``int`` when ``places`` is 0), or None when left empty.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        places: int = 0,
        above: Decimal | int | None = None,
        minimum: Decimal | int | None = None,
        maximum: Decimal | int | None = None,
        unit: str = "",
        example: str = "",
        **kwargs: Any,
    ) -> None:
        """Set the number of decimals, the range and how messages name the unit."""
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("inputmode", "decimal" if places else "numeric")
        render_kw.setdefault("autocomplete", "off")
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.places = places
        self.above = None if above is None else Decimal(above)
        self.minimum = None if minimum is None else Decimal(minimum)
        self.maximum = None if maximum is None else Decimal(maximum)
        self.unit = unit
        self.example = example or ("1250.375" if places else "120")

    def _with_unit(self, value: Decimal) -> str:
        """A bound for a message: "1,000 ‰", "0 g"."""
        text = f"{value:,}"
        return f"{text} {self.unit}".strip() if self.unit else text

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the text exactly; a ValueError becomes the field's message."""
        if not valuelist:
            return
        raw = str(valuelist[0]).strip()
        self.data = None
        if raw == "":
            return
        if not _NUMBER.fullmatch(raw):
            if self.places:
                raise ValueError(
                    _("Enter digits only, such as %(example)s, with a point for decimals.",
                      example=self.example))
            raise ValueError(_("Enter digits only, such as %(example)s.", example=self.example))
        value = Decimal(raw)
        if value != value.quantize(Decimal(1).scaleb(-self.places)):
            if self.places == 0:
                raise ValueError(_("Enter a whole number."))
            raise ValueError(ngettext("Enter at most %(num)d decimal.",
                                      "Enter at most %(num)d decimals.", self.places))
        if self.above is not None and value <= self.above:
            raise ValueError(_("Enter more than %(bound)s.", bound=self._with_unit(self.above)))
        if self.minimum is not None and value < self.minimum:
            raise ValueError(_("Enter %(bound)s or more.", bound=self._with_unit(self.minimum)))
        if self.maximum is not None and value > self.maximum:
            raise ValueError(_("Enter at most %(bound)s.", bound=self._with_unit(self.maximum)))
        self.data = int(value) if self.places == 0 else tidy(value)

    @property
    def whole(self) -> int | None:
        """The value as a whole number (fields with no decimals)."""
        return None if self.data is None else int(self.data)

    @property
    def exact(self) -> Decimal | None:
        """The value as an exact Decimal."""
        return None if self.data is None else Decimal(self.data)

    def _value(self) -> str:
        """What the input shows: what was typed, else the current value."""
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)


class DayField(DateField):
    """A date (a date picker where the browser has one; YYYY-MM-DD typed otherwise)."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        """Use a message that says which format is expected."""
        kwargs.setdefault("invalid_value_message", _l("Enter a date as YYYY-MM-DD."))
        super().__init__(label, validators, **kwargs)


class TextField(StringField):
    """Text with surrounding spaces removed; empty text becomes None."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Strip the text."""
        if valuelist:
            text = str(valuelist[0]).strip()
            self.data = text or None


def error_list(form: BaseForm, prefix: str = "") -> list[tuple[str, str, str]]:
    """Every error of a form, nested forms included, as (field id, label, message)."""
    found: list[tuple[str, str, str]] = []
    for field in form:
        label = prefix + (field.label.text if field.label else field.name)
        entries = getattr(field, "entries", None)
        if entries is not None:  # a FieldList of sub-forms
            for number, entry in enumerate(entries, start=1):
                subform = getattr(entry, "form", None)
                if isinstance(subform, BaseForm):
                    found.extend(error_list(subform, f"{label} {number}: "))
            found.extend((field.id, label, m) for m in field.errors if isinstance(m, str))
        elif isinstance(getattr(field, "form", None), BaseForm):  # a FormField
            found.extend(error_list(field.form, f"{label}: "))
        else:
            found.extend((field.id, label, str(m)) for m in field.errors)
    return found
