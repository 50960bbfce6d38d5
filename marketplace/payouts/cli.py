"""``flask payouts run --period YYYY-MM`` and ``flask payouts retry --id N``.

``run`` books the month's payouts, commits, then sends each one and commits its answer, printing
a line per payee and a summary; it exits 1 when any payout could not be sent (refused, or no
answer), so a scheduler notices. Running it twice for a month creates nothing the second time.
``retry`` sends one Stripe payout again (see ``services.retry_payout``).
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.payouts import services
from marketplace.payouts.models import Payout

payouts = AppGroup("payouts", help="Paying cooperatives and jewellers what is available to them.")

ACTOR = "flask payouts"


def _period(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """Check ``--period`` (last month when it is not given)."""
    try:
        return services.parse_period(value if value is not None else services.last_month())
    except DomainError as error:
        raise click.BadParameter(error.message) from None


@payouts.command("run")
@click.option(
    "--period",
    callback=_period,
    metavar="YYYY-MM",
    help="The month to pay out (default: last month).",
)
def run(period: str) -> None:
    """Book and send the payouts of a month."""
    click.echo(f"Payouts for {period}:")
    try:
        summary = services.run_payouts(
            period, actor=ACTOR, progress=lambda line: click.echo(f"  {line}"),
            commit=db.session.commit,
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    click.echo(summary.text())
    for payout in summary.missing_details:
        click.echo(
            f"Payout #{payout.id} ({payout.payee_name}) has no bank details: enter them, "
            "then download the bank file again."
        )
    if summary.send_failed:
        ids = " ".join(str(p.id) for p in summary.failed + summary.unknown)
        click.echo(f"Not sent: payout(s) {ids}. Retry with `flask payouts retry --id N`.",
                   err=True)
        raise click.exceptions.Exit(1)


@payouts.command("retry")
@click.option("--id", "payout_id", required=True, type=click.IntRange(min=1),
              help="The payout's number.")
def retry(payout_id: int) -> None:
    """Send a failed (or unanswered) Stripe payout again."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise click.ClickException(f"There is no payout #{payout_id}.")
    try:
        outcome = services.retry_payout(payout, actor=ACTOR)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    label = f"Payout #{payout.id} to {payout.payee_name}"
    if outcome == "paid":
        click.echo(f"{label}: paid ({payout.provider_ref}).")
        return
    click.echo(f"{label}: {'FAILED' if outcome == 'failed' else 'NO ANSWER'}: "
               f"{payout.failure_reason}", err=True)
    raise click.exceptions.Exit(1)


def register(app: Flask) -> None:
    """Add ``flask payouts ...`` to the app's commands."""
    app.cli.add_command(payouts)
