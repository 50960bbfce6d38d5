"""Concurrency tests run on PostgreSQL only, in a schema of their own, with real commits.

Threads race through separate connections, so these tests cannot run inside the rolled-back
transaction the other tests use; they get a fresh ``concurrency`` schema instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db

SCHEMA = "concurrency"


@pytest.fixture(scope="session")
def race_app() -> Iterator[Flask]:
    """An app on its own PostgreSQL schema, migrated from empty (skips without PostgreSQL)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        pytest.skip("concurrency tests need PostgreSQL: set TEST_DATABASE_URL=postgresql://...")
    base = normalise_database_url(url)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"{base}{sep}options=-csearch_path%3D{SCHEMA}",
            "SECRET_KEY": "test",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 30, "max_overflow": 10},
        }
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
