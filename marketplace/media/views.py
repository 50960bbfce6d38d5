"""Serving stored files. Names are content hashes, so responses are cacheable forever."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, request

from marketplace.extensions import db
from marketplace.media.models import MediaFile

bp = Blueprint("media", __name__)


@bp.get("/media/<string:sha256>.<string:ext>")
def file(sha256: str, ext: str) -> Response:
    """Send a stored file by its hash, with an immutable cache lifetime."""
    if len(sha256) != 64 or ext not in {"jpg", "png", "webp", "pdf", "txt", "bin"}:
        abort(404)
    if request.if_none_match.contains(sha256):
        response = Response(status=304)
    else:
        media = db.session.scalar(sa.select(MediaFile).where(MediaFile.sha256 == sha256))
        if media is None or media.extension != ext:
            abort(404)
        response = Response(media.data, mimetype=media.content_type)
        response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(sha256)
    response.cache_control.public = True
    response.cache_control.max_age = 31536000
    response.cache_control.immutable = True
    return response
