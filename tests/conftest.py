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
from flask import Flask, g
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.config import normalise_database_url
from marketplace.extensions import db, limiter


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
            "RATELIMIT_STORAGE_URI": "memory://",
            "SIGNING_KEY_DIR": str(tmp_path_factory.mktemp("keys")),
        }
    )

    @app.before_request
    def _load_the_user_per_request() -> None:
        # Tests share one app context (and so one ``g``) across requests; in production each
        # request has its own. Drop Flask-Login's cached user, Flask-Babel's cached locale
        # and Flask-WTF's CSRF token so each request finds them afresh.
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        g.pop("csrf_token", None)

    with app.app_context():
        upgrade()
        from marketplace.demo import ensure_demo_logins, seed

        seed(photos=True)
        ensure_demo_logins()
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
    limiter.reset()  # rate limits stay on, as in production, but each test starts afresh
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


def login(client, email: str, password: str = "demo-password"):  # type: ignore[no-untyped-def]
    """Sign ``client`` in through the real form; returns the response."""
    return client.post(
        "/account/login", data={"email": email, "password": password}, follow_redirects=False
    )


@pytest.fixture
def as_user(client):  # type: ignore[no-untyped-def]
    """``as_user("jeweller@demo.test")`` signs the test client in as that demo login."""

    def sign_in(email: str, password: str = "demo-password"):  # type: ignore[no-untyped-def]
        response = login(client, email, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return sign_in


@pytest.fixture
def csrf_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn CSRF protection on for one test (it is off by default to keep tests short)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def csrf_token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the form on ``url``."""
    import re

    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)
