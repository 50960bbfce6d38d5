"""Command-line tasks: ``flask --app wsgi demo`` and friends."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from marketplace.accounts.models import Role
from marketplace.accounts.services import create_user
from marketplace.catalog.models import Jeweller
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative


def register(app: Flask) -> None:
    """Add the commands to ``flask``."""

    @app.cli.command("demo")
    @click.option("--no-photos", is_flag=True, help="Skip drawing the demo photos (faster).")
    def demo(no_photos: bool) -> None:
        """Bring the database to the latest migration and seed the demo shop (idempotent)."""
        from flask_migrate import upgrade

        from marketplace.demo import DEMO_PASSWORD, ensure_demo_logins, seed

        click.echo("Migrating the database to the latest version ...")
        upgrade()
        click.echo("Seeding demo data ...")
        try:
            created = seed(photos=not no_photos, progress=click.echo)
        except Exception:
            db.session.rollback()
            raise
        logins = ensure_demo_logins()
        db.session.commit()
        if created:
            click.echo("Demo data ready: every lot, weight and amount in it is invented.")
        else:
            click.echo("Demo data is already present; nothing changed.")
        for email in logins:
            click.echo(f"  created demo login {email} (password: {DEMO_PASSWORD})")

    users = AppGroup("users", help="Manage accounts.")

    @users.command("create")
    @click.option("--email", required=True, help="Sign-in email.")
    @click.option(
        "--role",
        type=click.Choice([r.value for r in Role]),
        default=Role.ADMIN.value,
        show_default=True,
    )
    @click.option("--name", default="", help="Display name.")
    @click.option("--jeweller", "jeweller_slug", help="Workshop slug (role jeweller).")
    @click.option("--cooperative", "cooperative_slug", help="Cooperative slug (role officer).")
    @click.password_option(help="Asked for when not given.")
    def create_user_command(
        email: str,
        role: str,
        name: str,
        jeweller_slug: str | None,
        cooperative_slug: str | None,
        password: str,
    ) -> None:
        """Create an account, e.g. the first admin of a new deployment."""
        jeweller_id = cooperative_id = None
        if jeweller_slug:
            jeweller_id = db.session.scalar(
                sa.select(Jeweller.id).where(Jeweller.slug == jeweller_slug)
            )
            if jeweller_id is None:
                raise click.ClickException(f"No workshop with slug {jeweller_slug!r}.")
        if cooperative_slug:
            cooperative_id = db.session.scalar(
                sa.select(Cooperative.id).where(Cooperative.slug == cooperative_slug)
            )
            if cooperative_id is None:
                raise click.ClickException(f"No cooperative with slug {cooperative_slug!r}.")
        try:
            user = create_user(
                email,
                password,
                name=name,
                role=Role(role),
                jeweller_id=jeweller_id,
                cooperative_id=cooperative_id,
            )
        except DomainError as error:
            raise click.ClickException(error.message) from error
        db.session.commit()
        click.echo(f"Created {user.role} {user.email}.")

    app.cli.add_command(users)

    ledger = AppGroup("ledger", help="Check the books.")

    @ledger.command("verify")
    def verify() -> None:
        """Recompute every balance, transaction and lot from the entries; exit 1 on a difference."""
        from marketplace.ledger.verify import verify_books

        click.echo("Recomputing the books from their entries ...")
        result = verify_books()
        for problem in result.problems:
            click.echo(f"  DIFFERS: {problem}")
        click.echo(
            f"Checked {result.accounts} accounts, {result.transactions} transactions and "
            f"{result.lots} lots: "
            + ("the books verify." if result.ok else f"{len(result.problems)} difference(s).")
        )
        if not result.ok:
            raise SystemExit(1)

    app.cli.add_command(ledger)

    provenance = AppGroup("provenance", help="Check provenance records.")

    @provenance.command("verify-chains")
    def verify_chains() -> None:
        """Recompute every lot's custody hash chain; name the first event that does not match."""
        from sqlalchemy.orm import selectinload

        from marketplace.provenance.models import GoldLot
        from marketplace.provenance.services import verify_lot_chain

        lots = db.session.scalars(
            sa.select(GoldLot).order_by(GoldLot.code).options(selectinload(GoldLot.custody_events))
        ).all()
        broken = 0
        for n, lot in enumerate(lots, 1):
            check = verify_lot_chain(lot)
            if check.ok:
                click.echo(f"  [{n}/{len(lots)}] {lot.code}: {check.checked} events verify")
            else:
                broken += 1
                click.echo(
                    f"  [{n}/{len(lots)}] {lot.code}: BROKEN at event {check.first_bad} "
                    f"({check.reason}); {check.checked} events before it verify"
                )
        click.echo(f"{len(lots)} lots checked, {broken} broken.")
        if broken:
            raise SystemExit(1)

    @provenance.command("verify")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option(
        "--keys",
        "keys_file",
        type=click.Path(exists=True, dir_okay=False),
        help="A JWKS file (from /.well-known/jwks.json); without it, the keys in the database.",
    )
    def verify_certificate(file: str, keys_file: str | None) -> None:
        """Check a downloaded certificate offline: its Ed25519 signature over its contents."""
        import json

        from marketplace.provenance.certificate_views import keys_from_jwks
        from marketplace.provenance.certificates import check_document
        from marketplace.provenance.signing import public_keys

        try:
            with open(file, encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError) as error:
            raise click.ClickException(f"{file} is not a JSON certificate: {error}") from error
        if keys_file:
            with open(keys_file, encoding="utf-8") as handle:
                keys = keys_from_jwks(json.load(handle))
        else:
            keys = public_keys()
        result = check_document(doc, keys)
        click.echo(("VALID: " if result.valid else "NOT VALID: ") + " ".join(result.reasons))
        if not result.valid:
            raise SystemExit(1)

    app.cli.add_command(provenance)

    keys = AppGroup("keys", help="Certificate signing keys.")

    @keys.command("rotate")
    def rotate() -> None:
        """Start signing with a new key; old public keys stay published."""
        from marketplace.provenance.signing import new_key

        row = new_key()
        db.session.commit()
        click.echo(f"Now signing with {row.kid}; earlier keys stay published for checks.")

    app.cli.add_command(keys)

    from marketplace.orders import cli as orders_cli

    orders_cli.register(app)
