"""Concurrency tests run on PostgreSQL, in a schema of their own, with real commits (and one on a
SQLite file of its own: shoppers checking out together on the embedded database).

Threads race through separate connections, so these tests cannot run inside the rolled-back
transaction the other tests use; they get a fresh ``concurrency`` schema instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.extensions import db
from tests.schemas import fresh_schema, postgres_url

SCHEMA = "concurrency"


@pytest.fixture(scope="session")
def race_app() -> Iterator[Flask]:
    """An app on its own PostgreSQL schema, migrated from empty (skips without PostgreSQL)."""
    url = postgres_url()
    if not url:
        pytest.skip("concurrency tests need PostgreSQL: set TEST_DATABASE_URL=postgresql://...")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": fresh_schema(url, SCHEMA),
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
