"""Setup: configuration, migrations, the demo command and the error pages."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from marketplace import ROOT, create_app
from marketplace.catalog.models import Piece
from marketplace.catalog.search import include_name
from marketplace.config import _secret_key, normalise_database_url
from marketplace.extensions import db
from marketplace.provenance.models import GoldLot


def test_migrations_have_a_single_head():
    script = ScriptDirectory(str(ROOT / "migrations"))
    assert len(script.get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    context = MigrationContext.configure(
        db.session.connection(), opts={"include_name": include_name}
    )
    assert compare_metadata(context, db.metadata) == []


def test_the_demo_command_migrates_an_empty_database_and_is_idempotent(tmp_path):
    fresh = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "SECRET_KEY": "x"})
    runner = fresh.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-photos"])
    assert first.exit_code == 0, first.output
    assert "Demo data ready" in first.output
    with fresh.app_context():
        counts = (
            db.session.scalar(sa.select(sa.func.count(Piece.id))),
            db.session.scalar(sa.select(sa.func.count(GoldLot.id))),
        )
        db.session.remove()
    second = runner.invoke(args=["demo", "--no-photos"])
    assert second.exit_code == 0, second.output
    assert "already present; nothing changed" in second.output
    with fresh.app_context():
        assert counts == (
            db.session.scalar(sa.select(sa.func.count(Piece.id))),
            db.session.scalar(sa.select(sa.func.count(GoldLot.id))),
        )
        assert counts[0] >= 24 and counts[1] >= 12
        db.session.remove()
        db.engine.dispose()


def test_demo_has_the_promised_variety(app):
    pieces = db.session.scalars(sa.select(Piece)).all()
    assert {p.category for p in pieces} == {"ring", "chain", "earrings", "bracelet", "pendant"}
    assert {p.karat for p in pieces} == {14, 18, 22}
    assert len({p.jeweller_id for p in pieces}) >= 2
    assert all(p.photos and p.is_demo for p in pieces)
    assert all(lot.is_demo and lot.certificate_number for lot in db.session.scalars(
        sa.select(GoldLot)))


def test_a_secret_key_is_generated_once_and_kept_private(tmp_path):
    first = _secret_key(tmp_path)
    assert len(first) == 64 and _secret_key(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_use_psycopg_3(given, used):
    assert normalise_database_url(given) == used


def test_environment_overrides_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_FEE_PERCENT", "7.5")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app({"SECRET_KEY": "x"})
    assert str(app.config["PLATFORM_FEE_PERCENT"]) == "7.5"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert app.config["PAYMENT_GATEWAY"] == "sandbox"


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_crash_rolls_back_what_the_request_wrote_and_shows_the_500_page(app: Flask):
    crashing = create_app(
        {"TESTING": False, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x"}
    )

    @crashing.get("/_crash")
    def crash() -> str:
        db.session.execute(
            sa.update(GoldLot).where(GoldLot.code == "DEMO-2024-01").values(notes="half-written")
        )
        raise RuntimeError("boom")

    with crashing.app_context():
        response = crashing.test_client().get("/_crash")
        assert response.status_code == 500
        assert "Nothing you sent was half-saved" in response.get_data(as_text=True)
        assert db.session.scalar(
            sa.select(sa.func.count(GoldLot.id)).where(GoldLot.notes == "half-written")
        ) == 0
        db.session.remove()
