"""The console's blueprint and what its views share: refusals shown on the form, page numbers,
and a readable answer to an upload that is too large to read."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import FieldList

from marketplace.admin.fields import error_list
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.provenance.services import MAX_EVIDENCE_BYTES

bp = Blueprint("admin", __name__, url_prefix="/admin")


def form_errors(form: FlaskForm) -> list[tuple[str, str, str]]:
    """Every message of a form: (field id, label, message); form-wide ones have no id."""
    found = error_list(form)
    found.extend(("", "", str(message)) for message in form.form_errors)
    return found


def refuse(form: FlaskForm, error: DomainError, rename: dict[str, str] | None = None) -> None:
    """Undo what the refused change flushed, and show its message on the field it is about."""
    db.session.rollback()
    name = getattr(error, "field", None)
    name = (rename or {}).get(name or "", name)
    target = form._fields.get(name) if name else None
    if target is not None and not isinstance(target, FieldList):
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)
    form._errors = None


def status_for(*forms: FlaskForm) -> int:
    """422 when any form on the page carries a message, else 200."""
    return 422 if any(form_errors(form) for form in forms) else 200


def page_arg() -> int:
    """The ``page`` query argument: a positive whole number, 1 otherwise."""
    page = request.args.get("page", "1")
    return int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1


@bp.context_processor
def _helpers() -> dict[str, object]:
    """Let the console's templates list a form's messages."""
    return {"form_errors": form_errors}


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """An upload above the request limit cannot be read at all: say so, and that nothing
    changed, instead of a bare 413."""
    rule = request.url_rule
    # A form that posts to its own page goes back there; one posted from another page (a
    # lot's evidence form) goes back to that page, one level up.
    back = request.path if rule and "GET" in (rule.methods or ()) else (
        request.path.rsplit("/", 1)[0])
    return render_template(
        "admin/too_large.html",
        limit_mb=MAX_EVIDENCE_BYTES // (1024 * 1024),
        request_mb=(request.content_length or 0) // (1024 * 1024),
        back=back,
    ), 413
