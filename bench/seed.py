"""Bulk seed for benchmarks: thousands of pieces, lots and paid orders, with books that verify.

    python -m bench.seed --database-url postgresql://postgres@127.0.0.1:5432/bench \\
        --pieces 100000 --lots 1000 --orders 100000

The database is migrated to the latest version and seeded with the demo (``flask demo
--no-photos``: the demo logins) first, then the bench data is added in one transaction.

Going through the services row by row would take hours at this size, so the seed replays what
they do in memory and writes the rows in bulk (COPY on PostgreSQL, executemany on SQLite). It
is a replay, not an imitation: the same rules build the rows. Account keys come from
``ledger.services.AccountRef``, every transaction passes ``core.ledger.check_balanced`` and is
netted and ordered as ``post_transaction`` does, balances may not go below zero where the
database would refuse it, carts are priced by ``orders.pricing.price_cart`` with the rates in
force on the day (``premium.services.rates_on``), the sandbox gateway computes the processor
fee, custody events are hashed from ``CustodyEvent.payload`` on each lot's chain, and
certificates are signed with the shop's signing key. Each step mirrors one service:

* ``provenance.services.register_lot`` (+ the demo's assay and certification events and
  evidence) and ``transfer_to_jeweller``;
* ``catalog.services.create_piece``, ``back_piece``, ``set_stock`` and ``publish``;
* ``orders.services.place_order``, ``payments.services.pay`` and ``orders.services.mark_paid``
  (with ``provenance.certificates.issue_for_order``).

At the end it runs ``flask ledger verify`` and ``flask provenance verify-chains``, checks a
sample of certificates with ``check_certificate``, places and pays one more order through the
real services (rolled back) and prints the verdicts and the time taken.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``marketplace`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from tqdm import tqdm

from bench.bulk import Ids, Writer
from bench.common import app_settings, describe_url, verify_books_and_chains
from bench.plan import BENCH_LOT_PREFIX, CITIES, plan
from bench.replay import Seeder
from marketplace.demo import ruc_with_check


def empty_database(url: str) -> None:
    """Drop every table (PostgreSQL: the public schema; SQLite: the file)."""
    from marketplace.config import normalise_database_url

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    engine = sa.create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def prepare(app: Any) -> None:
    """``flask db upgrade`` and ``flask demo --no-photos`` (both do nothing when done)."""
    from flask_migrate import upgrade

    from marketplace.demo import ensure_demo_logins, seed
    from marketplace.extensions import db

    with app.app_context():
        upgrade()
        seed(photos=False)
        ensure_demo_logins()
        db.session.commit()


def run_seed(app: Any, args: argparse.Namespace) -> dict[str, int]:
    """Plan and write the bench data in one transaction; rows written per table."""
    from marketplace.db import utcnow
    from marketplace.extensions import db

    rng = random.Random(args.seed)
    with app.app_context(), app.test_request_context():
        conn = db.session.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-200000")
        taken = conn.execute(
            sa.text("SELECT COUNT(*) FROM gold_lot WHERE code LIKE :p"),
            {"p": BENCH_LOT_PREFIX + "%"},
        ).scalar()
        if taken:
            raise SystemExit(
                f"This database already holds {taken} bench lots; use --fresh to start over."
            )
        metadata = db.metadata
        ids = Ids(conn, metadata.sorted_tables)
        writer = Writer(conn, metadata)
        members = [
            (int(r.id), r.name, r.flo_id)
            for r in conn.execute(
                sa.text(
                    "SELECT id, name, flo_id FROM cooperative WHERE parent_id IS NOT NULL "
                    "ORDER BY id"
                )
            )
        ]
        if not members:
            raise SystemExit("No member cooperatives: the demo seed did not run.")
        coops = {cid: (name, flo) for cid, name, flo in members}
        taken_slugs = set(conn.execute(sa.text("SELECT slug FROM piece")).scalars())
        now = utcnow()
        started = time.perf_counter()
        p = plan(args, rng, ids, members, taken_slugs, now)
        print(
            f"Planned {len(p.lots)} lots, {len(p.jewellers)} workshops, {len(p.pieces)} pieces, "
            f"{len(p.orders)} orders ({sum(pc.left + pc.sold for pc in p.pieces)} units made) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        seeder = Seeder(conn, writer, ids, rng)
        for j, jeweller in enumerate(p.jewellers):
            city, region = CITIES[j % len(CITIES)]
            writer.add(
                "jeweller",
                {
                    "id": jeweller.id,
                    "slug": jeweller.slug,
                    "business_name": jeweller.name,
                    "ruc": ruc_with_check(f"20{70000000 + j:08d}"),
                    "city": city,
                    "region": region,
                    "story": "Bench workshop: the name and story are invented.",
                    "fairtrade_status": "licensee" if j % 3 else "registered_goldsmith",
                    "fairtrade_number": f"BENCH-FT-L-{j + 1:04d}",
                    "pledge_percent": jeweller.pledge,
                    "status": "approved",
                    "payout_bank": "Banco de Crédito del Perú (demo account)",
                    "payout_account_holder": jeweller.name,
                    "payout_cci": f"002{j:017d}",
                    "decline_reason": None,
                    "decided_at": now - timedelta(days=1000),
                    "created_at": now - timedelta(days=1000),
                    "is_demo": True,
                },
            )
            jeweller.ns = SimpleNamespace(
                id=jeweller.id, business_name=jeweller.name, pledge_percent=jeweller.pledge
            )

        # Everything happens in time order, so each lot's chain is in time order too.
        actions: list[tuple[datetime, int, int, Any]] = []
        for k, lot in enumerate(p.lots):
            actions.append((lot.registered_at, 0, k, lot))
        transfer_times = p.transfer_at
        for n, ((j, lot_index), mg) in enumerate(sorted(p.transfers.items())):
            actions.append((transfer_times[(j, lot_index)], 1, n, (j, lot_index, mg)))
        for k, piece in enumerate(p.pieces):
            actions.append((piece.created_at, 2, k, piece))
        for k, order in enumerate(p.orders):
            actions.append((order.placed_at, 3, k, order))
        actions.sort(key=lambda a: (a[0], a[1], a[2]))
        pieces_by_id = {piece.id: piece for piece in p.pieces}
        for _, kind, n, item in tqdm(actions, desc="Replaying", unit=" steps", mininterval=1.0):
            if kind == 0:
                seeder.register_lot(item, coops)
            elif kind == 1:
                j, lot_index, mg = item
                seeder.transfer(
                    p.jewellers[j], p.lots[lot_index], mg, transfer_times[(j, lot_index)], n
                )
            elif kind == 2:
                seeder.list_piece(item, p.jewellers[item.jeweller], p.lots)
            else:
                if any(pieces_by_id[k].created_at >= item.placed_at for k in item.cart):
                    raise RuntimeError("seed bug: an order placed before its piece was listed")
                seeder.sell(item, pieces_by_id)
        print("Writing the last rows and the balances ...")
        writer.set_balances(seeder.books.final_balances())
        writer.reset_sequences()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Planner statistics now, as autovacuum would give them some minutes later: a
            # benchmark run right after the seed should not meet plans made for empty tables.
            print("ANALYZE ...")
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return dict(writer.written)


def checks(app: Any, sample: int) -> list[str]:
    """Certificates sampled and checked, and one order through the real services (rolled
    back), so the seeded state is one the shop itself accepts."""
    from marketplace.catalog.models import Piece
    from marketplace.extensions import db
    from marketplace.orders.models import OrderLine
    from marketplace.orders.services import Address, mark_paid, place_order
    from marketplace.provenance.certificates import build_credential, check_certificate
    from marketplace.provenance.models import Certificate

    lines: list[str] = []
    with app.app_context(), app.test_request_context():
        certs = db.session.scalars(
            sa.select(Certificate).order_by(sa.func.random()).limit(sample)
        ).all()
        bad = 0
        for cert in certs:
            result = check_certificate(cert)
            line = db.session.get(OrderLine, cert.order_line_id)
            assert line is not None
            rebuilt = build_credential(line, line.order, cert.short_id)
            stored = json.loads(json.dumps(cert.credential))
            for entry in stored["credentialSubject"]["lots"] + rebuilt["credentialSubject"]["lots"]:
                entry.pop("chainHead")  # the chain has grown since the sale
            if not result.valid or stored != rebuilt:
                bad += 1
                print("  certificate", cert.short_id, result.reasons, file=sys.stderr)
        lines.append(
            f"certificates: {len(certs) - bad} of {len(certs)} sampled verify and match "
            "build_credential"
        )
        piece = db.session.scalar(
            sa.select(Piece)
            .where(Piece.status == "active", Piece.stock > 0)
            .order_by(Piece.id.desc())
            .limit(1)
        )
        if piece is None:
            lines.append("real services: no piece in stock to try")
            return lines
        from flask import current_app

        nested = db.session.begin_nested()
        try:
            order = place_order(
                {piece.id: 1},
                Address(
                    email="check@example.com",
                    name="Seed check",
                    country="PE",
                    region="Puno",
                    city="Puno",
                    address_line1="Jr. Lima 1",
                ),
                user_id=None,
                currency=current_app.config["PLATFORM_CURRENCY"],
                fee_percent=Decimal(current_app.config["PLATFORM_FEE_PERCENT"]),
            )
            paid = mark_paid(order, processor_fee=100, actor="seed check")
            lines.append(
                f"real services: placed and paid {order.number} for {piece.slug} on the seeded "
                f"books ({'paid' if paid else 'NOT paid'}), then rolled back"
            )
        finally:
            nested.rollback()
            db.session.rollback()
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.seed",
        description="Bulk seed for benchmarks: pieces, lots and paid orders with books that "
        "verify. Migrates the database and seeds the demo first.",
    )
    parser.add_argument(
        "--database-url",
        required=True,
        help="sqlite:////tmp/bench.db or postgresql://postgres@127.0.0.1:5432/bench",
    )
    parser.add_argument("--pieces", type=int, default=10_000)
    parser.add_argument("--lots", type=int, default=1_000)
    parser.add_argument("--orders", type=int, default=10_000, help="paid orders")
    parser.add_argument("--jewellers", type=int, default=200)
    parser.add_argument(
        "--lots-per-jeweller", type=int, default=10, help="lots each workshop holds gold of"
    )
    parser.add_argument("--seed", type=int, default=8, help="random seed (same seed, same data)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="empty the database first (drops every table, or deletes the SQLite file)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the checks at the end (faster)"
    )
    parser.add_argument("--sample", type=int, default=25, help="certificates checked at the end")
    args = parser.parse_args(argv)
    if args.lots < 1 or args.jewellers < 1 or args.pieces < 1 or args.orders < 0:
        parser.error("give at least one lot, workshop and piece")
    return args


def main(argv: list[str] | None = None) -> int:
    """Seed, then print the verdicts and the time taken."""
    args = parse_args(argv)
    url = args.database_url
    if "/instance/" in url:
        raise SystemExit("Seed a database of its own, not the one in instance/.")
    from marketplace import create_app

    started = time.perf_counter()
    if args.fresh:
        empty_database(url)
    app = create_app(app_settings(url))
    print(f"Database: {describe_url(url)}")
    prepare(app)
    print(f"Migrated and demo seeded in {time.perf_counter() - started:.1f} s")
    written = run_seed(app, args)
    seeded = time.perf_counter() - started
    total = sum(written.values())
    print(
        f"Seeded {total:,} rows in {seeded:.1f} s: "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(written.items()))
    )
    ok = True
    if not args.no_verify:
        verified = time.perf_counter()
        ok, lines = verify_books_and_chains(url)
        lines += checks(app, args.sample)
        for line in lines:
            print(line)
        print(f"Checks took {time.perf_counter() - verified:.1f} s")
    with app.app_context():
        from marketplace.extensions import db

        db.engine.dispose()
    print(f"Total {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
