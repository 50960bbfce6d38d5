"""The payout console's forms (CSRF-protected by Flask-WTF); the services check the rest."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import ValidationError
from wtforms.validators import DataRequired, InputRequired, Length

from marketplace.admin.fields import TextField
from marketplace.core.errors import DomainError
from marketplace.payouts.services import parse_period


class RunForm(FlaskForm):
    """Which month to pay out."""

    period = TextField(
        _l("Month"),
        validators=[InputRequired(message=_l("Enter the month to pay, as YYYY-MM."))],
        # A month picker where the browser has one; text (YYYY-MM) where it does not.
        render_kw={"type": "month", "inputmode": "numeric", "autocomplete": "off",
                   "placeholder": _l("YYYY-MM")},
    )

    def validate_period(self, field: TextField) -> None:
        """A real month that has begun."""
        try:
            field.data = parse_period(field.data)
        except DomainError as error:
            raise ValidationError(error.message) from None


class BankReferenceForm(FlaskForm):
    """The reference the Central's bank gave a transfer."""

    reference = TextField(
        _l("Bank's reference"),
        validators=[
            DataRequired(message=_l("Enter the reference the bank gave the transfer.")),
            Length(max=120, message=_l("A bank reference is at most 120 characters.")),
        ],
        render_kw={"autocomplete": "off"},
    )


class RetryForm(FlaskForm):
    """Send a Stripe payout again (the button carries only the CSRF token)."""
