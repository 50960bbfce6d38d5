"""The signer: Ed25519 keys for provenance certificates.

Private keys live in the instance folder (``SIGNING_KEY_DIR``, default ``instance/keys``), one
PEM file per key id, created on first use; public keys are also stored in the database, so
every app process can verify and the well-known URL keeps publishing retired keys after a
rotation (``flask keys rotate``).
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.provenance.models import SigningKey


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWKs and proofs write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """The bytes of unpadded base64url text."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_dir() -> Path:
    """Where private keys are kept (created owner-only)."""
    configured = current_app.config.get("SIGNING_KEY_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "keys"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_private(kid: str, key: Ed25519PrivateKey) -> None:
    path = key_dir() / f"{kid}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def new_key() -> SigningKey:
    """Make a new signing key, retire the current one (still published), store both halves."""
    key = Ed25519PrivateKey.generate()
    kid = f"op-{utcnow():%Y%m%d}-{secrets.token_hex(3)}"
    _write_private(kid, key)
    now = utcnow()
    db.session.execute(
        sa.update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    row = SigningKey(kid=kid, public_key=b64url(_public_bytes(key)), created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def current_key() -> tuple[str, Ed25519PrivateKey]:
    """The key id and private key to sign with now, made on first use."""
    row = db.session.scalar(
        sa.select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
    )
    path = key_dir() / f"{row.kid}.pem" if row else None
    if row is None or path is None or not path.exists():
        row = new_key()
        path = key_dir() / f"{row.kid}.pem"
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):  # pragma: no cover - we only write Ed25519
        raise RuntimeError(f"{path} is not an Ed25519 key")
    return row.kid, private


def sign(data: bytes) -> tuple[str, str]:
    """Sign ``data``; returns (key id, base64url signature)."""
    kid, key = current_key()
    return kid, b64url(key.sign(data))


def public_keys() -> dict[str, str]:
    """Every published public key (current and retired), by key id."""
    rows = db.session.execute(sa.select(SigningKey.kid, SigningKey.public_key)).all()
    return {kid: public for kid, public in rows}


def verify_signature(public_key: str, signature: str, data: bytes) -> bool:
    """Whether ``signature`` (base64url) is the key's signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(from_b64url(public_key)).verify(
            from_b64url(signature), data
        )
    except (InvalidSignature, ValueError):
        return False
    return True
