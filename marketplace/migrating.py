"""``flask db ...`` (Flask-Migrate), set up on first use.

Alembic and its templates take about 10 MB of every process that imports them, and a web
worker never migrates. So the app gets a stand-in for Flask-Migrate's state and a ``db`` command
group that load the real ones the first time something asks: ``flask --app wsgi db upgrade``,
``flask --app wsgi demo``, or ``flask_migrate.upgrade()`` called in an app context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask, g

from marketplace.extensions import db


def _load(app: Flask, directory: Path) -> click.Group:
    """Bind Flask-Migrate to ``app`` (once); its ``db`` command group."""
    from flask_migrate import Migrate
    from flask_migrate.cli import db as commands

    if isinstance(app.extensions.get("migrate"), _Pending):
        Migrate(app, db, directory=str(directory), render_as_batch=True)
    return commands


class _Pending:
    """Stands for Flask-Migrate's state in ``app.extensions["migrate"]`` until first read."""

    def __init__(self, app: Flask, directory: Path) -> None:
        self._app = app
        self._directory = directory

    def __getattr__(self, name: str) -> Any:
        _load(self._app, self._directory)
        return getattr(self._app.extensions["migrate"], name)


def _remember_options(directory: str | None, x_arg: tuple[str, ...]) -> None:
    """What Flask-Migrate's own ``db`` group does with its options (its commands read them)."""
    g.directory = directory
    g.x_arg = x_arg


class _Commands(click.Group):
    """``flask db``: Flask-Migrate's commands, imported when the group is used. The group's
    options are Flask-Migrate's own."""

    def __init__(self, app: Flask, directory: Path) -> None:
        super().__init__(
            "db",
            help="Database migrations (Flask-Migrate and Alembic).",
            params=[
                click.Option(
                    ["-d", "--directory"],
                    default=None,
                    help='Migration script directory (default is "migrations")',
                ),
                click.Option(
                    ["-x", "--x-arg"],
                    multiple=True,
                    help="Additional arguments consumed by custom env.py scripts",
                ),
            ],
            callback=_remember_options,
        )
        self._app = app
        self._directory = directory

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _load(self._app, self._directory).list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load(self._app, self._directory).get_command(ctx, cmd_name)


def init_migrations(app: Flask, directory: Path) -> None:
    """Give ``app`` migrations from ``directory`` without importing Alembic yet."""
    app.extensions["migrate"] = _Pending(app, directory)
    app.cli.add_command(_Commands(app, directory))
