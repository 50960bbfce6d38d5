"""Error pages: every failure gets a page in the shop's layout, never a bare traceback."""

from __future__ import annotations

import time

from flask import Flask, abort, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from marketplace.extensions import db, limiter


def register(app: Flask) -> None:
    """Install the handlers."""

    @app.before_request
    def refuse_nul_characters() -> None:
        """A NUL character is never part of a real address or form (and PostgreSQL cannot
        store or compare it): 404 for the path, 400 for a form field or query argument, except
        on the catalog and the API, which drop what they cannot read with a note."""
        if "\x00" in request.path:
            abort(404)
        lenient = request.path.startswith(("/products", "/api/v1/"))
        if not lenient and any("\x00" in value for value in request.args.values()):
            abort(400, description=_("The address contains a character we cannot read."))
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            if any("\x00" in value for value in request.form.values()):
                abort(
                    400, description=_("Something you sent contains a character we cannot read.")
                )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
        """Render 4xx/5xx raised by views (404 unknown slug, 400 bad form ...)."""
        code = error.code or 500
        if code >= 500:
            db.session.rollback()
        # Keep the exception's headers (Allow on a 405, WWW-Authenticate ...).
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        return render_template("errors/error.html", error=error, code=code), code, headers

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> tuple[str, int, dict[str, str]]:
        """Say plainly that there were too many attempts, and when to try again."""
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        return (
            render_template("errors/429.html", wait=wait, minutes=-(-wait // 60)),
            429,
            {"Retry-After": str(wait)},
        )

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        """Roll back whatever the request half-wrote, then say sorry."""
        db.session.rollback()
        return render_template("errors/500.html"), 500
