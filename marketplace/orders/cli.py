"""``flask orders expire`` and ``flask orders complete``: the order clock, run from cron."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from marketplace.core.states import OrderStatus
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.orders.aftersale import complete_order
from marketplace.orders.models import Order
from marketplace.orders.services import expire_order


def register(app: Flask) -> None:
    """Add the ``orders`` command group."""
    group = AppGroup("orders", help="Expire unpaid orders and complete delivered ones.")

    @group.command("expire")
    def expire() -> None:
        """Expire orders unpaid after 30 minutes, putting their pieces back on the shelf."""
        now = utcnow()
        ids = db.session.scalars(
            sa.select(Order.id).where(
                Order.status == OrderStatus.PENDING_PAYMENT.value, Order.expires_at <= now
            )
        ).all()
        click.echo(f"{len(ids)} unpaid order(s) past their time.")
        done = 0
        for n, order_id in enumerate(ids, 1):
            order = db.session.get(Order, order_id)
            if order is not None and expire_order(order, now=now):
                db.session.commit()
                done += 1
                click.echo(f"  [{n}/{len(ids)}] {order.number} expired")
        click.echo(f"Expired {done} order(s).")

    @group.command("complete")
    @click.option("--days", type=int, default=None, help="Return window (default: config).")
    def complete(days: int | None) -> None:
        """Complete paid orders delivered longer ago than the return window."""
        from datetime import timedelta

        window = timedelta(
            days=days if days is not None else int(current_app.config["RETURN_WINDOW_DAYS"])
        )
        now = utcnow()
        ids = db.session.scalars(
            sa.select(Order.id).where(Order.status == OrderStatus.PAID.value)
        ).all()
        click.echo(f"{len(ids)} paid order(s) to check (return window {window.days} days).")
        done = 0
        for n, order_id in enumerate(ids, 1):
            order = db.session.get(Order, order_id)
            if order is not None and complete_order(
                order, now=now, window=window, actor="flask orders complete"
            ):
                db.session.commit()
                done += 1
                click.echo(f"  [{n}/{len(ids)}] {order.number} completed")
        click.echo(f"Completed {done} order(s); their money is now available for payout.")

    app.cli.add_command(group)
