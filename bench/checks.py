"""After a load run: do the books verify, and was any unit sold twice?

    python -m bench.checks --database-url postgresql://postgres@127.0.0.1:5432/bench

"Oversold" is checked three ways, per piece (and per lot of its gold):

1. the units made (the "crafted" custody events) are exactly the units on the shelf plus the
   units in live orders (awaiting payment, paid or completed);
2. the gold committed in the ledger is exactly the shelf's units × gold per unit;
3. the gold reserved and sold is exactly that of the units in unpaid and in paid orders.

A unit sold twice, or sold without its gold, breaks at least one of them.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.common import app_settings, verify_books_and_chains

#: Orders that hold their units (expired and cancelled ones gave them back).
LIVE = ("pending_payment", "paid", "completed")
SOLD = ("paid", "completed")


@dataclass
class StockCheck:
    """What the oversold check found."""

    pieces: int = 0
    units_made: int = 0
    units_in_orders: int = 0
    paid_since: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No unit sold twice or without its gold."""
        return not self.problems


def check_stock(since: datetime | None = None) -> StockCheck:
    """Compare shelves, orders, custody events and gold accounts (inside an app context)."""
    from marketplace.extensions import db

    conn = db.session.connection()
    result = StockCheck()
    stock = {int(pid): int(s) for pid, s in conn.execute(sa.text("SELECT id, stock FROM piece"))}
    result.pieces = len(stock)
    per_unit: dict[int, dict[int, int]] = defaultdict(dict)
    for pid, lot, mg in conn.execute(
        sa.text("SELECT piece_id, lot_id, fine_mg_per_unit FROM piece_gold")
    ):
        per_unit[int(pid)][int(lot)] = int(mg)
    made: dict[tuple[int, int], int] = defaultdict(int)
    rows = db.session.execute(
        sa.select(sa.column("piece_id"), sa.column("lot_id"), sa.column("details", sa.JSON))
        .select_from(sa.table("custody_event"))
        .where(sa.column("kind") == "crafted")
    )
    for pid, lot, details in rows:
        made[(int(pid), int(lot))] += int(details.get("units", 0))
    in_orders: dict[str, dict[int, int]] = {"reserved": defaultdict(int), "sold": defaultdict(int)}
    for pid, status, units in conn.execute(
        sa.text(
            "SELECT l.piece_id, o.status, SUM(l.quantity - l.refunded_quantity) "
            "FROM order_line l JOIN shop_order o ON o.id = l.order_id "
            "WHERE o.status IN ('pending_payment', 'paid', 'completed') "
            "GROUP BY l.piece_id, o.status"
        )
    ):
        kind = "sold" if status in SOLD else "reserved"
        in_orders[kind][int(pid)] += int(units)
    gold: dict[tuple[str, int, int], int] = {}
    for kind, pid, lot, balance in conn.execute(
        sa.text(
            "SELECT kind, piece_id, lot_id, balance FROM ledger_account "
            "WHERE piece_id IS NOT NULL AND kind IN "
            "('piece_committed', 'piece_reserved', 'lot_sold')"
        )
    ):
        gold[(str(kind), int(pid), int(lot))] = int(balance)
    for pid, shelf in stock.items():
        reserved = in_orders["reserved"].get(pid, 0)
        sold = in_orders["sold"].get(pid, 0)
        result.units_in_orders += reserved + sold
        lots = per_unit.get(pid, {})
        if shelf < 0:
            result.problems.append(f"piece {pid}: stock {shelf}")
        crafted = {made.get((pid, lot), 0) for lot in lots} or {0}
        if len(crafted) != 1:
            result.problems.append(f"piece {pid}: its lots record different units made {crafted}")
        units = max(crafted)
        result.units_made += units
        if units != shelf + reserved + sold:
            result.problems.append(
                f"piece {pid}: {units} units made, but {shelf} on the shelf + {reserved} "
                f"reserved + {sold} sold = {shelf + reserved + sold}"
            )
        for lot, mg in lots.items():
            for kind, want in (
                ("piece_committed", shelf * mg),
                ("piece_reserved", reserved * mg),
                ("lot_sold", sold * mg),
            ):
                have = gold.get((kind, pid, lot), 0)
                if have != want:
                    result.problems.append(
                        f"piece {pid}, lot {lot}: {kind} holds {have} mg, the units say {want} mg"
                    )
    if since is not None:
        result.paid_since = int(
            db.session.execute(
                sa.text("SELECT COUNT(*) FROM shop_order WHERE paid_at >= :since"),
                {"since": since.replace(tzinfo=None) if conn.dialect.name == "sqlite" else since},
            ).scalar()
            or 0
        )
    return result


def after_run(database_url: str, since: datetime | None = None) -> tuple[bool, list[str]]:
    """The books (``flask ledger verify``) and the oversold check, as printable lines."""
    from marketplace import create_app

    ok, lines = verify_books_and_chains(database_url, chains=False)
    app = create_app(app_settings(database_url))
    with app.app_context():
        found = check_stock(since)
        from marketplace.extensions import db

        db.session.rollback()
        db.engine.dispose()
    paid = f"; orders paid during the run: {found.paid_since}" if since is not None else ""
    lines.append(
        f"oversold: {'none' if found.ok else 'YES'}: {found.pieces} pieces, "
        f"{found.units_made} units made = shelves + {found.units_in_orders} units in live "
        f"orders{' for every piece' if found.ok else ''}{paid}"
    )
    lines += [f"    {problem}" for problem in found.problems[:20]]
    return ok and found.ok, lines


def main(argv: list[Any] | None = None) -> int:
    """Print the verdicts; exit 1 when the books differ or a unit was oversold."""
    parser = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    ok, lines = after_run(args.database_url)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
