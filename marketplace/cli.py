"""Command-line tasks: ``flask --app wsgi demo`` and friends."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade

from marketplace.extensions import db


def register(app: Flask) -> None:
    """Add the commands to ``flask``."""

    @app.cli.command("demo")
    @click.option("--no-photos", is_flag=True, help="Skip drawing the demo photos (faster).")
    def demo(no_photos: bool) -> None:
        """Bring the database to the latest migration and seed the demo shop (idempotent)."""
        from marketplace.demo import seed

        click.echo("Migrating the database to the latest version ...")
        upgrade()
        click.echo("Seeding demo data ...")
        try:
            created = seed(photos=not no_photos, progress=click.echo)
        except Exception:
            db.session.rollback()
            raise
        if created:
            db.session.commit()
            click.echo("Demo data ready: every lot, weight and amount in it is invented.")
        else:
            click.echo("Demo data is already present; nothing changed.")
