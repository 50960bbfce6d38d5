"""Sign in and out, register, reset and change the password, change the email."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.access import signed_in_user
from marketplace.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    LoginForm,
    RegisterForm,
    ResetForm,
    ResetRequestForm,
)
from marketplace.accounts.models import Role, User
from marketplace.core.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.mail import send_template

bp = Blueprint("accounts", __name__, url_prefix="/account")

HOME_FOR_ROLE = {
    Role.ADMIN.value: "admin.index",
    Role.JEWELLER.value: "jeweller.index",
    Role.OFFICER.value: "cooperative.index",
}


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home(user: User) -> str:
    """Where a user lands after signing in."""
    endpoint = HOME_FOR_ROLE.get(user.role)
    return url_for(endpoint) if endpoint else url_for("site.home")


def _email_key() -> str:
    """Rate-limit key for sign-in attempts on one account, whatever the address."""
    return "login-email:" + services.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
@limiter.limit("20 per hour", methods=["POST"], key_func=_email_key)
def login() -> ResponseReturnValue:
    """Sign in; after too many attempts the limiter answers with the 429 page."""
    if current_user.is_authenticated:
        return redirect(_home(signed_in_user()))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append(_("That email and password do not match an account."))
        else:
            login_user(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")) or _home(user))
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token, so no page can sign you out)."""
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("site.home"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register() -> ResponseReturnValue:
    """Open a shopper account and sign in."""
    if current_user.is_authenticated:
        return redirect(_home(signed_in_user()))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.email.data or "", form.password.data or "", name=form.name.data or ""
            )
        except DomainError as error:
            form.email.errors.append(error.message)
        else:
            db.session.commit()
            login_user(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("accounts.index"))
    status = 422 if form.errors else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def reset_request() -> ResponseReturnValue:
    """Mail a reset link; the answer is the same whether the account exists or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        started = services.start_password_reset(form.email.data or "")
        db.session.commit()
        if started is not None:
            user, token = started
            send_template(
                user.email,
                _("Reset your Oro de Poto password"),
                "password_reset",
                user=user,
                link=url_for("accounts.reset", token=token, _external=True),
                hours=int(services.RESET_LIFETIME.total_seconds() // 3600),
            )
        flash(
            _(
                "If an account uses that email, a reset link is on its way. It works once, "
                "for one hour."
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    status = 422 if form.errors else 200
    return render_template("accounts/reset_request.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def reset(token: str) -> ResponseReturnValue:
    """Choose a new password with a reset link."""
    if services.reset_for_token(token) is None:
        flash(_("This reset link has expired or was already used. Ask for a new one."), "error")
        return redirect(url_for("accounts.reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            services.complete_password_reset(token, form.password.data or "")
        except DomainError as error:
            form.password.errors.append(error.message)
        else:
            db.session.commit()
            logout_user()
            flash(_("Your password is changed. Sign in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    status = 422 if form.errors else 200
    return render_template("accounts/reset.html", form=form), status


@bp.get("/")
@login_required
def index() -> str:
    """The account page: who you are, and where to go."""
    return render_template("accounts/index.html", user=signed_in_user())


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Change the password or the email."""
    user = signed_in_user()
    password_form = ChangePasswordForm(prefix="pw")
    email_form = ChangeEmailForm(prefix="em")
    if "pw-current" in request.form and password_form.validate_on_submit():
        try:
            services.change_password(
                user, password_form.current.data or "", password_form.password.data or ""
            )
        except DomainError as error:
            password_form.current.errors.append(error.message)
        else:
            db.session.commit()
            login_user(user)  # keep this session; the others ended with the old version
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect(url_for("accounts.settings"))
    elif "em-email" in request.form and email_form.validate_on_submit():
        try:
            services.change_email(user, email_form.password.data or "", email_form.email.data or "")
        except DomainError as error:
            email_form.email.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("You now sign in as %(email)s.", email=user.email), "success")
            return redirect(url_for("accounts.settings"))
    status = 422 if (password_form.errors or email_form.errors) else 200
    return render_template(
        "accounts/settings.html", user=user, password_form=password_form, email_form=email_form
    ), status


from marketplace.accounts import privacy  # noqa: E402, F401  (its routes are on this blueprint)
