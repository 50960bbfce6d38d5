"""A database of a test's own, for tests that must commit (races, killed workers, the browser's
server) and so cannot use the rolled-back transaction of tests/conftest.py: a PostgreSQL schema,
and the demo shop migrated and seeded on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db


def postgres_url() -> str | None:
    """``TEST_DATABASE_URL`` when it names PostgreSQL, else None."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql")) else None


def fresh_schema(url: str, schema: str) -> str:
    """Drop and recreate ``schema`` in the database at ``url``; return a URL whose connections
    use it (``search_path``)."""
    base = normalise_database_url(url)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def demo_shop(config: dict[str, Any]) -> Iterator[Flask]:
    """The demo shop (without photos) on the database ``config`` names, migrated from empty,
    with its signing key made once here (not by several workers at their first sale); its
    connections closed afterwards."""
    from marketplace.demo import seed
    from marketplace.provenance.signing import current_key

    app = create_app(config)
    with app.app_context():
        upgrade()
        seed(photos=False)
        current_key()
        db.session.commit()
        db.session.remove()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
