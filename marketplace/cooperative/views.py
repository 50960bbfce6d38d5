"""The cooperative workspace at /cooperative/."""

from __future__ import annotations

from flask import Blueprint, render_template

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role

bp = Blueprint("cooperative", __name__, url_prefix="/cooperative")


@bp.get("/")
@role_required(Role.OFFICER)
def index() -> str:
    """The workspace home."""
    return render_template("cooperative/index.html", user=signed_in_user())
