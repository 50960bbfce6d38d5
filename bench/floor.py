"""The floor: the least a page of the shop can cost on this machine.

A minimal Flask app that reads one piece by primary key through Flask-SQLAlchemy (from the same
database as the shop, with the shop's engine options and SQLite set-up) and renders a short
Jinja template. Served by gunicorn with the same workers and threads as the shop, its requests
per second are what every page of the shop is compared with:

    DATABASE_URL=... gunicorn -w 2 --threads 4 'bench.floor:create_app()'
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, abort, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from marketplace.config import Defaults, normalise_database_url
from marketplace.db import configure_sqlite


class Base(DeclarativeBase):
    """The floor's own metadata (it never creates tables)."""


db = SQLAlchemy(model_class=Base)


class FloorPiece(db.Model):  # type: ignore[name-defined]
    """Four columns of the shop's ``piece`` table."""

    __tablename__ = "piece"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str] = mapped_column(sa.String(200))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)


def create_app(database_url: str | None = None) -> Flask:
    """The floor app on ``database_url`` (default: ``DATABASE_URL`` from the environment)."""
    url = database_url or os.environ["DATABASE_URL"]
    app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(Defaults.SQLALCHEMY_ENGINE_OPTIONS)
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)

    @app.get("/pieces/<int:piece_id>")
    def piece(piece_id: int) -> str:
        """One primary-key read, one short template."""
        found = db.session.get(FloorPiece, piece_id)
        if found is None:
            abort(404)
        return render_template("floor.html", piece=found)

    return app
