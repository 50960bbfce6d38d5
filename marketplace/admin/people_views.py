"""Console pages for people: jeweller applications (approve or decline) and user accounts
(role, workshop or cooperative, active)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role, User
from marketplace.admin import services
from marketplace.admin.blueprint import bp, page_arg, refuse, status_for
from marketplace.admin.forms import ApproveForm, ConfirmForm, DeclineForm, RoleForm
from marketplace.catalog.models import Jeweller, JewellerStatus
from marketplace.core.errors import DomainError
from marketplace.extensions import db


def role_word(role: str) -> str:
    """A role as the console names it, in the page's language."""
    words = {"shopper": _("shopper"), "jeweller": _("jeweller"), "officer": _("officer"),
             "admin": _("admin")}
    return words.get(role, role)


# --- Jewellers -------------------------------------------------------------------------------


@bp.get("/jewellers")
@role_required(Role.ADMIN)
def jewellers() -> str:
    """Workshops by status: applications waiting for a decision first."""
    rows = services.jewellers_by_status()
    groups = {status.value: [j for j in rows if j.status == status.value]
              for status in JewellerStatus}
    return render_template("admin/jewellers.html", groups=groups)


def _application_page(
    jeweller: Jeweller, approve: FlaskForm | None = None, decline: FlaskForm | None = None
) -> ResponseReturnValue:
    """A jeweller's application with the decision forms."""
    approve = approve or ApproveForm(prefix="approve", formdata=None)
    decline = decline or DeclineForm(prefix="decline", formdata=None)
    users = db.session.scalars(
        sa.select(User.email).where(User.jeweller_id == jeweller.id).order_by(User.email)).all()
    return render_template("admin/jeweller.html", jeweller=jeweller, approve_form=approve,
                           decline_form=decline, users=users), status_for(approve, decline)


@bp.get("/jewellers/<int:jeweller_id>")
@role_required(Role.ADMIN)
def jeweller(jeweller_id: int) -> ResponseReturnValue:
    """A jeweller's application: business, RUC, city, story, Fairtrade status, applied date."""
    return _application_page(db.get_or_404(Jeweller, jeweller_id))


@bp.post("/jewellers/<int:jeweller_id>/approve")
@role_required(Role.ADMIN)
def approve_jeweller(jeweller_id: int) -> ResponseReturnValue:
    """Approve an application: the workshop may then receive gold and list pieces."""
    found = db.get_or_404(Jeweller, jeweller_id)
    form = ApproveForm(prefix="approve")
    if form.validate_on_submit():
        try:
            services.decide_application(found, JewellerStatus.APPROVED, actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s is approved.", name=found.business_name), "success")
            return redirect(url_for("admin.jewellers"))
    return _application_page(db.get_or_404(Jeweller, jeweller_id), approve=form)


@bp.post("/jewellers/<int:jeweller_id>/decline")
@role_required(Role.ADMIN)
def decline_jeweller(jeweller_id: int) -> ResponseReturnValue:
    """Decline an application with the reason the applicant will read."""
    found = db.get_or_404(Jeweller, jeweller_id)
    form = DeclineForm(prefix="decline")
    if form.validate_on_submit():
        try:
            services.decide_application(found, JewellerStatus.DECLINED, actor=signed_in_user(),
                                        reason=form.reason.data or "")
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s is declined.", name=found.business_name), "success")
            return redirect(url_for("admin.jewellers"))
    return _application_page(db.get_or_404(Jeweller, jeweller_id), decline=form)


# --- Users -----------------------------------------------------------------------------------


@bp.get("/users")
@role_required(Role.ADMIN)
def users() -> str:
    """Accounts by email, with their role and what they act for; search by email."""
    query = request.args.get("q", "")[:254]
    return render_template("admin/users.html", page=services.find_users(query, page_arg()),
                           q=query)


def _user_page(
    user: User, role_form: RoleForm | None = None, active_form: FlaskForm | None = None
) -> ResponseReturnValue:
    """A user's page with the role form and the (de)activate button."""
    if role_form is None:
        role_form = RoleForm(prefix="role", formdata=None, data={
            "role": user.role,
            "jeweller_id": user.jeweller_id or 0,
            "cooperative_id": user.cooperative_id or 0,
        })
    active_form = active_form or ConfirmForm(prefix="active", formdata=None)
    return render_template("admin/user.html", account=user, role_form=role_form,
                           active_form=active_form, me=signed_in_user()), status_for(
                               role_form, active_form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user(user_id: int) -> ResponseReturnValue:
    """A user: change the role and what it acts for."""
    account = db.get_or_404(User, user_id)
    if request.method == "GET":
        return _user_page(account)
    form = RoleForm(prefix="role")
    if form.validate_on_submit():
        try:
            changed = services.change_role(
                account, form.role.data or "", actor=signed_in_user(),
                jeweller_id=form.jeweller_id.data or None,
                cooperative_id=form.cooperative_id.data or None)
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("%(email)s is now %(role)s.", email=account.email,
                    role=role_word(account.role)) if changed else _("Nothing changed."),
                  "success" if changed else "info")
            return redirect(url_for("admin.user", user_id=account.id))
    return _user_page(db.get_or_404(User, user_id), role_form=form)


def _set_active(user_id: int, active: bool) -> ResponseReturnValue:
    """Deactivate or reactivate, then back to the user's page."""
    account = db.get_or_404(User, user_id)
    form = ConfirmForm(prefix="active")
    if form.validate_on_submit():
        try:
            changed = services.set_active(account, active, actor=signed_in_user())
        except DomainError as error:
            refuse(form, error)
        else:
            db.session.commit()
            if changed:
                message = (_("%(email)s is active.", email=account.email) if active
                           else _("%(email)s is deactivated.", email=account.email))
            else:
                message = (_("%(email)s was already active.", email=account.email) if active
                           else _("%(email)s was already deactivated.", email=account.email))
            flash(message, "success" if changed else "info")
            return redirect(url_for("admin.user", user_id=account.id))
    return _user_page(db.get_or_404(User, user_id), active_form=form)


@bp.post("/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_user(user_id: int) -> ResponseReturnValue:
    """Stop a user signing in (and end their sessions)."""
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate_user(user_id: int) -> ResponseReturnValue:
    """Let a deactivated user sign in again."""
    return _set_active(user_id, True)
