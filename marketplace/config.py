"""Configuration: defaults, then ``instance/config.py``, then the environment.

Every setting can be given as an environment variable of the same name; the environment wins,
so a deployment never needs to edit files. The secret key is generated into the instance folder
on first run when none is configured, so a fresh checkout starts without any setup.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask


def _flag(value: str) -> bool:
    """An on/off setting: ``0``, ``false``, ``no`` and ``off`` (any case) are off."""
    return value.strip().lower() not in {"0", "false", "no", "off"}


#: Settings read from the environment, with the type each is converted to.
ENV_SETTINGS: dict[str, Callable[[str], Any]] = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "PAYMENT_GATEWAY": str,
    "STRIPE_SECRET_KEY": str,
    "STRIPE_PUBLISHABLE_KEY": str,
    "STRIPE_WEBHOOK_SECRET": str,
    "STRIPE_API_BASE": str,
    "STRIPE_JS_URL": str,
    "PLATFORM_CURRENCY": str,
    "PLATFORM_FEE_PERCENT": Decimal,
    "RATELIMIT_STORAGE_URI": str,
    #: "false" turns every rate limit off (load tests from one address); on by default.
    "RATELIMIT_ENABLED": _flag,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_DEFAULT_SENDER": str,
    "CATALOG_PAGE_SIZE": int,
    "RETURN_WINDOW_DAYS": int,
    "SIGNING_KEY_DIR": str,
    "PAYOUT_MINIMUM_MINOR": int,
    "PAYOUT_CURRENCY": str,
    "PUBLIC_BASE_URL": str,
    "STRIPE_FEE_PERCENT": Decimal,
    "STRIPE_FEE_FIXED_MINOR": int,
    "STRIPE_TIMEOUT_SECONDS": float,
    "STRIPE_MAX_NETWORK_RETRIES": int,
    "API_RATE_LIMIT": str,
    "TRUSTED_PROXIES": int,
    "CACHE_TYPE": str,
    "CACHE_REDIS_URL": str,
    "CACHE_DEFAULT_TIMEOUT": int,
    "CACHE_THRESHOLD": int,
    #: "false" renders every public page afresh (no whole pages kept for anonymous visitors).
    "PAGE_CACHE": _flag,
}


class Defaults:
    """Safe defaults for a local run: SQLite in the instance folder, sandbox payments."""

    PAYMENT_GATEWAY = "sandbox"
    PLATFORM_CURRENCY = "PEN"
    PLATFORM_FEE_PERCENT = Decimal("8")
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_DEFAULT_SENDER = "Oro de Poto <tienda@localhost>"
    CATALOG_PAGE_SIZE = 24
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SEND_FILE_MAX_AGE_DEFAULT = 3600
    STRIPE_JS_URL = "https://js.stripe.com/v3/"
    STRIPE_API_BASE = ""  # empty: Stripe itself; tests point it at localstripe
    STRIPE_FEE_PERCENT = Decimal("3.6")  # estimate, used when Stripe reports no fee in PEN
    STRIPE_FEE_FIXED_MINOR = 100
    STRIPE_TIMEOUT_SECONDS = 8.0  # x3 attempts with back-off stays under gunicorn's 30 s
    STRIPE_MAX_NETWORK_RETRIES = 2
    RATELIMIT_HEADERS_ENABLED = True
    SANDBOX_FEE_PERCENT = Decimal("3.5")
    SANDBOX_FEE_FIXED_MINOR = 50
    RETURN_WINDOW_DAYS = 14
    PAYOUT_MINIMUM_MINOR = 5000  # S/ 50.00: smaller balances wait for a later month
    PAYOUT_CURRENCY = ""  # empty: the platform currency
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    API_RATE_LIMIT = "300 per minute"  # per client address, over every /api/v1 route
    TRUSTED_PROXIES = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are believed


def _secret_key(instance: Path) -> str:
    """Read the instance's secret key, creating it (readable by the owner only) on first run."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and ``overrides``."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for name, kind in ENV_SETTINGS.items():
        value = os.environ.get(name)
        if value not in (None, ""):
            app.config[name] = kind(value)
    if overrides:
        app.config.update(overrides)

    url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'marketplace.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    app.config["PRODUCTION"] = (
        os.environ.get("MARKETPLACE_ENV", "").lower() == "production"
        or bool(app.config.get("PRODUCTION"))
    )
    if app.config["PRODUCTION"]:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the short way (``postgres://``, ``postgresql://``)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
