"""One request at a time: what each page costs in the app itself, with no server and no load.

    python -m bench.pages --database-url postgresql://postgres@127.0.0.1:5432/bench

Each page of ``bench/http`` is asked for through Flask's test client: once to warm up, then
``--repeat`` times; it prints the median time, the SQL statements run and the page's size as a
markdown table. Less noisy than a load test on a busy machine, and it says where to look.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.common import app_settings, describe_url, scratch
from bench.runner import database_label, table, write_targets


def measure(database_url: str, repeat: int) -> list[list[str]]:
    """Time every page; one table row each."""
    from marketplace import create_app
    from marketplace.extensions import db

    targets = write_targets(database_url, scratch("targets-pages.json"), 10)
    app = create_app({**app_settings(database_url), "RATELIMIT_ENABLED": False})
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    client = app.test_client()
    pieces = targets["piece_slugs"]
    lots = targets["lot_codes"]
    pages: list[tuple[str, Any]] = [
        ("home page", lambda n: "/"),
        ("catalog page 1", lambda n: "/products"),
        ("catalog page 50", lambda n: "/products?page=50"),
        ("search", lambda n: f"/products?q={targets['search_word']}"),
        ("filtered catalog", lambda n: "/products?category=ring&karat=18&sort=price_asc"),
        ("piece page", lambda n: f"/products/{pieces[n % len(pieces)]}"),
        ("lot page", lambda n: f"/lots/{lots[n % len(lots)]}"),
        ("cooperative dashboard", lambda n: "/cooperative/"),
    ]
    rows = []
    for title, path in pages:
        if title == "cooperative dashboard":
            form = client.get("/account/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
            client.post(
                "/account/login",
                data={
                    "csrf_token": token.group(1) if token else "",
                    "email": targets["officer_email"],
                    "password": targets["password"],
                },
            )
        client.get(path(0))
        times, counts, size = [], [], 0
        for n in range(1, repeat + 1):
            statements[0] = 0
            started = time.perf_counter()
            response = client.get(path(n))
            times.append((time.perf_counter() - started) * 1000)
            counts.append(statements[0])
            size = len(response.data)
        rows.append([title, f"{statistics.median(times):.0f}", str(max(counts)), f"{size // 1024}"])
        print(f"  {title}: {rows[-1][1]} ms, {rows[-1][2]} statements", flush=True)
    with app.app_context():
        db.engine.dispose()
    return rows


def main() -> int:
    """Print the table for each database given."""
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--database-url", action="append", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for url in args.database_url:
        print(f"\n{database_label(url)} ({describe_url(url)})", flush=True)
        rows = measure(url, args.repeat)
        print()
        print(table(["page", "median ms", "SQL statements", "KB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
