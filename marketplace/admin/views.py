"""The Central's console at /admin/."""

from __future__ import annotations

from flask import Blueprint, render_template

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    """The console home."""
    return render_template("admin/index.html", user=signed_in_user())
