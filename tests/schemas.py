"""A PostgreSQL schema of a test's own, for tests that must commit (races, killed workers, the
browser's server) and so cannot use the rolled-back transaction of tests/conftest.py."""

from __future__ import annotations

import os

import sqlalchemy as sa

from marketplace.config import normalise_database_url


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
