"""Account forms (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

from marketplace.accounts.services import MIN_PASSWORD_LENGTH

_email = [
    DataRequired(message="Enter your email."),
    Email(message="Enter a valid email."),
    Length(max=254),
]


def _strip(value: str | None) -> str | None:
    """Drop spaces pasted around an address."""
    return value.strip() if value else value


#: Signing in and asking for a reset only need something shaped like an address: the
#: strict check (which refuses reserved domains such as the demo's ``.test``) is for new emails.
_known_email = [
    DataRequired(message="Enter your email."),
    Regexp(r"^[^@\s]+@[^@\s]+$", message="Enter a valid email."),
    Length(max=254),
]
_new_password = [
    DataRequired(message="Choose a password."),
    Length(
        min=MIN_PASSWORD_LENGTH, max=200, message=f"Use at least {MIN_PASSWORD_LENGTH} characters."
    ),
]


class LoginForm(FlaskForm):
    """Sign in."""

    email = EmailField(
        "Email", validators=_known_email, filters=[_strip], render_kw={"autocomplete": "username"}
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")


class RegisterForm(FlaskForm):
    """Open a shopper account."""

    name = StringField(
        "Your name", validators=[Length(max=120)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        "Email", validators=_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )
    password = PasswordField(
        "Password", validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ResetRequestForm(FlaskForm):
    """Ask for a password reset link."""

    email = EmailField(
        "Email", validators=_known_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )


class ResetForm(FlaskForm):
    """Choose a new password with a reset link."""

    password = PasswordField(
        "New password", validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    """Change the password, knowing the current one."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password", validators=_new_password, render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangeEmailForm(FlaskForm):
    """Change the sign-in email."""

    email = EmailField(
        "New email", validators=_email, filters=[_strip], render_kw={"autocomplete": "email"}
    )
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
