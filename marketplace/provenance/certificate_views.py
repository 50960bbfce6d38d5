"""Public certificate pages: verify, print (with its QR code), download, and the public keys."""

from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup

from marketplace.extensions import db
from marketplace.provenance import signing
from marketplace.provenance.certificates import check_certificate, document, verify_url
from marketplace.provenance.models import Certificate, SigningKey

bp = Blueprint("certificates", __name__)


def qr_image(url: str) -> Markup:
    """A QR code for ``url`` (segno) as an inline PNG image, sharp in print and on phones."""
    data_uri = segno.make(url, error="m").png_data_uri(scale=6, border=2)
    return Markup('<img src="{}" alt="{}" width="222" height="222">').format(
        Markup(data_uri),  # nosec B704  # segno's own base64 data URI
        _("QR code to %(url)s", url=url),  # plain text: format() escapes it
    )


def _find(short_id: str) -> Certificate | None:
    return db.session.scalar(sa.select(Certificate).where(Certificate.short_id == short_id))


@bp.get("/verify/<short_id>")
def verify(short_id: str) -> ResponseReturnValue:
    """Say whether a certificate is valid, and why."""
    cert = _find(short_id.upper())
    if cert is None:
        return render_template("certificates/verify.html", cert=None, short_id=short_id), 404
    result = check_certificate(cert)
    return render_template(
        "certificates/verify.html",
        cert=cert,
        result=result,
        subject=cert.credential["credentialSubject"],
    )


@bp.get("/certificates/<short_id>")
def printable(short_id: str) -> ResponseReturnValue:
    """The certificate to print, with its QR code to the verification page."""
    cert = _find(short_id.upper())
    if cert is None:
        return render_template("certificates/verify.html", cert=None, short_id=short_id), 404
    return render_template(
        "certificates/certificate.html",
        cert=cert,
        subject=cert.credential["credentialSubject"],
        qr=qr_image(verify_url(cert)),
        url=verify_url(cert),
    )


@bp.get("/certificates/<short_id>.json")
def download(short_id: str) -> ResponseReturnValue:
    """The signed certificate as JSON, for offline checks (``flask provenance verify``)."""
    cert = _find(short_id.upper())
    if cert is None:
        return jsonify(error="not found"), 404
    response = jsonify(document(cert))
    response.headers["Content-Disposition"] = f'attachment; filename="{cert.short_id}.json"'
    return response


@bp.get("/.well-known/jwks.json")
def jwks() -> ResponseReturnValue:
    """Every public key that signs or signed certificates (retired keys stay published)."""
    rows = db.session.scalars(sa.select(SigningKey).order_by(SigningKey.created_at)).all()
    response = jsonify(
        keys=[
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": row.kid,
                "x": row.public_key,
                "retired": row.retired_at.isoformat() if row.retired_at else None,
            }
            for row in rows
        ]
    )
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


def keys_from_jwks(data: object) -> dict[str, str]:
    """Public keys by key id from a JWKS document (as served above)."""
    keys: dict[str, str] = {}
    if isinstance(data, dict):
        for key in data.get("keys", []):
            if isinstance(key, dict) and key.get("crv") == "Ed25519":
                keys[str(key.get("kid"))] = str(key.get("x"))
    return keys


__all__ = ["bp", "keys_from_jwks", "qr_image", "signing"]
