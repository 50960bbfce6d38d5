"""The fair trade gold jewellery marketplace: application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

#: The repository root: templates/ and static/ live beside the package.
ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages and commands."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
    )
    from marketplace.config import load_config

    load_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)

    from marketplace import cli, errors, templating

    errors.register(app)
    templating.register(app)
    cli.register(app)

    from marketplace.payments import cli as payments_cli

    payments_cli.register(app)

    from marketplace.payouts import cli as payouts_cli

    payouts_cli.register(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions (and make every model known to the metadata)."""
    from flask_babel import lazy_gettext

    from marketplace import caching, http_caching, i18n, models  # noqa: F401  (models: tables)
    from marketplace.accounts.models import User
    from marketplace.db import configure_sqlite
    from marketplace.extensions import csrf, db, limiter, login_manager
    from marketplace.migrating import init_migrations
    from marketplace.security import init_security

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    init_migrations(app, ROOT / "migrations")
    caching.init_app(app)
    http_caching.init_app(app)
    csrf.init_app(app)
    init_security(app)
    i18n.init_app(app)
    # After-request functions run last registered first: the API's JSON error bodies are
    # written after Flask-Limiter's headers (a 429 names its final Retry-After) and before the
    # compression, the caching headers and the security headers registered above.
    from marketplace.api.views import json_errors

    app.after_request(json_errors)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Please sign in to open that page.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """The user of a session, unless the password changed since (then: signed out)."""
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.session_version != int(version) or not user.active:
            return None
        return user


def register_blueprints(app: Flask) -> None:
    """Mount each feature's blueprint."""
    from marketplace.accounts.views import bp as accounts_bp
    from marketplace.admin.views import bp as admin_bp
    from marketplace.api.views import bp as api_bp
    from marketplace.catalog.views import bp as catalog_bp
    from marketplace.cooperative.views import bp as cooperative_bp
    from marketplace.jeweller.views import bp as jeweller_bp
    from marketplace.media.views import bp as media_bp
    from marketplace.orders.fulfilment_views import bp as fulfilment_bp
    from marketplace.orders.views import bp as orders_bp
    from marketplace.payments.webhooks import bp as stripe_webhooks_bp
    from marketplace.payouts.views import bp as payouts_bp
    from marketplace.provenance.certificate_views import bp as certificates_bp
    from marketplace.provenance.epcis_views import bp as epcis_bp
    from marketplace.provenance.views import bp as provenance_bp
    from marketplace.site.views import bp as site_bp
    from marketplace.statements.views import bp as statements_bp

    for bp in (
        site_bp,
        catalog_bp,
        provenance_bp,
        media_bp,
        accounts_bp,
        jeweller_bp,
        cooperative_bp,
        admin_bp,
        orders_bp,
        fulfilment_bp,
        stripe_webhooks_bp,
        certificates_bp,
        epcis_bp,
        statements_bp,
        api_bp,
        payouts_bp,
    ):
        app.register_blueprint(bp)
