"""The jeweller's workspace at /jeweller/."""

from __future__ import annotations

from flask import Blueprint, render_template

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role

bp = Blueprint("jeweller", __name__, url_prefix="/jeweller")


@bp.get("/")
@role_required(Role.JEWELLER)
def index() -> str:
    """The workspace home."""
    return render_template("jeweller/index.html", user=signed_in_user())


@bp.get("/apply")
def apply() -> str:
    """Apply to sell (the application form)."""
    return render_template("jeweller/index.html", user=signed_in_user())
