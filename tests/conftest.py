"""Shared fixtures: one app per session on a migrated, demo-seeded database; each test runs in
a transaction that is rolled back at its end (views' commits become savepoint releases).

``TEST_DATABASE_URL=postgresql://...`` runs the suite on PostgreSQL (the database is emptied
first); by default a fresh SQLite file is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db


def _empty_database(url: str) -> None:
    """Drop everything in a PostgreSQL test database so migrations start from nothing."""
    engine = sa.create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app under test, its database migrated from empty and seeded with the demo."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        _empty_database(url)
    else:
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('db')) / 'test.db'}"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        from marketplace.demo import seed

        seed(photos=True)
        db.session.commit()
        # Each test joins the outer transaction through savepoints.
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run each test that uses the database inside a transaction rolled back at its end."""
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection  # type: ignore[assignment]
        try:
            yield
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()
            engines[None] = engine


@pytest.fixture
def count_queries(app: Flask) -> Iterator[list[str]]:
    """Collects the SQL statements run while the test uses it (a list you can len())."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    yield statements
    sa.event.remove(engine, "before_cursor_execute", before)
