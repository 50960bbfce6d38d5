"""Account forms (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

from marketplace.accounts.services import MIN_PASSWORD_LENGTH

_email = [
    DataRequired(message=_l("Enter your email.")),
    Email(message=_l("Enter a valid email.")),
    Length(max=254),
]


def _strip(value: str | None) -> str | None:
    """Drop spaces pasted around an address."""
    return value.strip() if value else value


#: Signing in and asking for a reset only need something shaped like an address: the
#: strict check (which refuses reserved domains such as the demo's ``.test``) is for new emails.
_known_email = [
    DataRequired(message=_l("Enter your email.")),
    Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Enter a valid email.")),
    Length(max=254),
]
_new_password = [
    DataRequired(message=_l("Choose a password.")),
    # WTForms fills in %(min)d.
    Length(min=MIN_PASSWORD_LENGTH, max=200, message=_l("Use at least %(min)d characters.")),
]


class LoginForm(FlaskForm):
    """Sign in."""

    email = EmailField(
        _l("Email"),
        validators=_known_email,
        filters=[_strip],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))


class RegisterForm(FlaskForm):
    """Open a shopper account."""

    name = StringField(
        _l("Your name"), validators=[Length(max=120)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        _l("Email"), validators=_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )
    password = PasswordField(
        _l("Password"), validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ResetRequestForm(FlaskForm):
    """Ask for a password reset link."""

    email = EmailField(
        _l("Email"), validators=_known_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )


class ResetForm(FlaskForm):
    """Choose a new password with a reset link."""

    password = PasswordField(
        _l("New password"), validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    """Change the password, knowing the current one."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        _l("New password"), validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangeEmailForm(FlaskForm):
    """Change the sign-in email."""

    email = EmailField(
        _l("New email"), validators=_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
