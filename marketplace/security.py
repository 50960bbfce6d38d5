"""Security headers and cookies: Flask-Talisman, with a Content-Security-Policy per page.

Every response says where a page may load things from. Scripts, styles, fonts, frames and
connections come from the shop itself, images also from ``data:`` URIs (the certificate's QR
code); there is no inline script or event handler anywhere, so ``script-src 'self'`` holds. The
one inline style attribute left, the server-drawn chart's, is allowed by its hash only. Nobody
may frame the shop (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``); browsers must not
sniff content types; other sites see only the shop's origin as the referrer.

The pay page is the only page that talks to Stripe: with the Stripe gateway it also allows
Stripe.js and its frames (the origin of ``STRIPE_JS_URL``) and Stripe's API (the origin of
``STRIPE_API_BASE``, Stripe itself when empty), so tests against localstripe still work.

In production (``MARKETPLACE_ENV=production``) plain HTTP is redirected to HTTPS (except
``/healthz``, which load balancers probe over HTTP), HTTPS answers carry HSTS, and the session
and remember-me cookies are Secure; they are HttpOnly and SameSite=Lax everywhere. Behind a
reverse proxy, ``TRUSTED_PROXIES`` (how many) lets the shop read the client's address and scheme
from ``X-Forwarded-For`` / ``X-Forwarded-Proto``, so that rate limits count per client.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

#: The page that mounts Stripe's card form (templates/orders/_stripe_form.html).
PAY_ENDPOINT = "orders.pay_page"
#: Probed by load balancers over plain HTTP: never redirected.
HEALTH_ENDPOINT = "site.healthz"
#: Stripe's own origins (its Content-Security-Policy guide): Stripe.js is served from
#: js.stripe.com and its subdomains, 3-D Secure pages come from hooks.stripe.com.
STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_JS_SUBDOMAINS = "https://*.js.stripe.com"
STRIPE_HOOKS_ORIGIN = "https://hooks.stripe.com"
STRIPE_API_ORIGIN = "https://api.stripe.com"
HSTS_MAX_AGE = 365 * 24 * 3600


def csp_hash(text: str) -> str:
    """The CSP source expression allowing exactly ``text`` inline (``'sha256-...'``)."""
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (what CSP source lists match), or "" if it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def base_policy() -> dict[str, list[str]]:
    """The Content-Security-Policy of every page but Stripe's pay page."""
    return {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def stripe_sources(config: Any) -> dict[str, list[str]]:
    """What Stripe.js needs, per directive, derived from the configured Stripe addresses."""
    js = origin(str(config.get("STRIPE_JS_URL") or "")) or STRIPE_JS_ORIGIN
    api_base = str(config.get("STRIPE_API_BASE") or "")
    api = origin(api_base) or STRIPE_API_ORIGIN
    scripts = [js]
    frames = [js]
    if js == STRIPE_JS_ORIGIN:
        scripts.append(STRIPE_JS_SUBDOMAINS)
        frames.append(STRIPE_JS_SUBDOMAINS)
    if not api_base:  # Stripe itself: its 3-D Secure pages open in a frame
        frames.append(STRIPE_HOOKS_ORIGIN)
    return {"script-src": scripts, "frame-src": frames, "connect-src": [api]}


def content_security_policy() -> dict[str, list[str]]:
    """The policy of the current request: the base one, plus Stripe's origins on its pay page."""
    policy = base_policy()
    config = current_app.config
    if request.endpoint == PAY_ENDPOINT and config.get("PAYMENT_GATEWAY") == "stripe":
        for directive, sources in stripe_sources(config).items():
            kept = [s for s in policy[directive] if s != "'none'"]
            policy[directive] = kept + [s for s in sources if s not in kept]
    return policy


class ShopTalisman(Talisman):
    """Talisman with the policy chosen per request (it only knows fixed or per-view ones)."""

    def _get_local_options(self) -> dict[str, Any]:
        options = dict(super()._get_local_options())
        options["content_security_policy"] = content_security_policy()
        if request.endpoint == HEALTH_ENDPOINT:
            options["force_https"] = False
        return options


def init_security(app: Flask) -> None:
    """Install the headers and cookie settings on ``app`` (after its config is loaded)."""
    production = bool(app.config.get("PRODUCTION"))
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )
    # One instance per app: Talisman keeps its settings on itself, and a production app and a
    # test app may live in one process.
    app.extensions["talisman"] = ShopTalisman(
        app,
        force_https=production,
        strict_transport_security=production,
        strict_transport_security_max_age=HSTS_MAX_AGE,
        strict_transport_security_include_subdomains=False,
        content_security_policy=base_policy(),
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy={
            "browsing-topics": "()",
            "camera": "()",
            "geolocation": "()",
            "microphone": "()",
        },
        session_cookie_secure=production,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    if production:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
