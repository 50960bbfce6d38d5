"""Error pages: every failure gets a page in the shop's layout, never a bare traceback."""

from __future__ import annotations

import time

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from marketplace.extensions import db, limiter


def register(app: Flask) -> None:
    """Install the handlers."""

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
