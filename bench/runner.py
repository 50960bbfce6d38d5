"""Serving, loading and reporting for ``bench/http`` and ``bench/two_processes``: gunicorn
servers, locust runs and their CSV statistics, the workers' memory, markdown tables."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import ROOT, app_settings, scratch

BIN = Path(sys.executable).parent
SEARCH_WORD = "chakana"


# --- What the users ask for ---------------------------------------------------------------------


def write_targets(database_url: str, path: Path, buy_from: int, seed: int = 8) -> dict[str, Any]:
    """Bring the database to the latest migration (the shop under test may need a newer
    schema than the seed wrote), then pick the pieces, lots and words the users ask for."""
    from flask_migrate import upgrade

    from marketplace import create_app
    from marketplace.extensions import db

    app = create_app(app_settings(database_url))
    rng = random.Random(seed)
    with app.app_context():
        upgrade()
        conn = db.session.connection()
        active = conn.execute(
            sa.text("SELECT id, slug FROM piece WHERE status = 'active' ORDER BY id")
        ).all()
        lots = conn.execute(sa.text("SELECT code FROM gold_lot ORDER BY id")).scalars().all()
        in_stock = (
            conn.execute(
                sa.text(
                    "SELECT slug FROM piece WHERE status = 'active' AND stock > 0 "
                    "ORDER BY created_at DESC, id DESC LIMIT :n"
                ),
                {"n": buy_from},
            )
            .scalars()
            .all()
        )
        matches = conn.execute(
            sa.text("SELECT COUNT(*) FROM piece WHERE status = 'active' AND lower(title) LIKE :w"),
            {"w": f"%{SEARCH_WORD}%"},
        ).scalar()
        units = conn.execute(
            sa.text(
                "SELECT COALESCE(SUM(stock), 0) FROM piece WHERE slug IN "
                "(SELECT slug FROM piece WHERE status = 'active' AND stock > 0 "
                "ORDER BY created_at DESC, id DESC LIMIT :n)"
            ),
            {"n": buy_from},
        ).scalar()
        db.session.rollback()
        db.engine.dispose()
    sample = rng.sample(active, min(5000, len(active)))
    targets = {
        "piece_ids": [int(pid) for pid, _ in sample],
        "piece_slugs": [slug for _, slug in sample],
        "lot_codes": rng.sample(list(lots), min(1000, len(lots))),
        "buy_slugs": list(in_stock),
        "units_to_buy": int(units or 0),
        "search_word": SEARCH_WORD,
        "search_matches": int(matches or 0),
        "pieces": len(active),
        "lots": len(lots),
        "officer_email": "coop@demo.test",
        "password": "demo-password",
    }
    path.write_text(json.dumps(targets), encoding="utf-8")
    return targets


# --- gunicorn ---------------------------------------------------------------------------------


@dataclass
class Server:
    """A running gunicorn master."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """The master's worker processes (from /proc)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def rss_mb(self) -> dict[str, float]:
        """Resident memory (VmRSS) of the master and each worker, in MB."""
        found = {"master": _rss_mb(self.process.pid)}
        for n, pid in enumerate(self.worker_pids(), 1):
            found[f"worker {n}"] = _rss_mb(pid)
        return found


def _rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def gunicorn(
    name: str,
    app_spec: str,
    port: int,
    *,
    workers: int,
    threads: int,
    env: Mapping[str, str],
    ready_path: str,
) -> Iterator[Server]:
    """Serve ``app_spec`` on 127.0.0.1:``port`` until the block ends."""
    log = scratch("logs", f"{name}-{port}.log")
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
        app_spec,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, ready_path)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Server, path: str, timeout: float = 90) -> None:
    """Wait until the server answers ``path`` with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} did not start; see {server.log}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{server.name} did not answer {path} in {timeout:.0f} s; see {server.log}")


def warm(urls: list[str], concurrency: int) -> None:
    """Ask for each page a few times before measuring (templates compiled, pools filled)."""

    def fetch(url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(fetch, urls))


# --- locust -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of locust's statistics."""

    kind: str
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


def run_locust(
    user_classes: list[str],
    *,
    host: str | None,
    users: int,
    run_time: str,
    csv_prefix: Path,
    env: Mapping[str, str],
) -> list[Row]:
    """Run locust headless against ``host`` and read its statistics."""
    command = [
        str(BIN / "locust"),
        "--headless",
        "--locustfile",
        str(ROOT / "bench" / "locustfile.py"),
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        run_time,
        "--stop-timeout",
        "10",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        *([] if host is None else ["--host", host]),
        *user_classes,
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    stats = Path(f"{csv_prefix}_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no statistics:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    Path(f"{csv_prefix}.out").write_text(done.stdout + done.stderr, encoding="utf-8")
    rows = []
    with stats.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            rows.append(
                Row(
                    kind=record["Type"],
                    name=record["Name"],
                    requests=int(record["Request Count"]),
                    failures=int(record["Failure Count"]),
                    rps=float(record["Requests/s"]),
                    p50=_number(record["50%"]),
                    p95=_number(record["95%"]),
                    p99=_number(record["99%"]),
                )
            )
    return rows


def _number(text: str) -> float:
    """A percentile from locust's CSV ("N/A" when there were no requests)."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def locust_env(targets: Path, hosts: list[str] | None = None) -> dict[str, str]:
    """The environment of a locust run: what to ask for, and which app processes."""
    env = dict(os.environ)
    env["BENCH_TARGETS"] = str(targets)
    env["PYTHONPATH"] = str(ROOT)
    if hosts:
        env["BENCH_HOSTS"] = ",".join(hosts)
    return env


# --- Reporting --------------------------------------------------------------------------------


def ms(value: float) -> str:
    """Milliseconds for the table."""
    if value != value:  # NaN
        return "—"
    return f"{value:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine(database_urls: list[str]) -> list[str]:
    """What the figures were measured on: CPU, cores, memory, OS, Python, databases, tools."""
    import platform
    import sqlite3
    from importlib.metadata import version

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) // 1024
    system = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip('"') + f" (kernel {platform.release()})"
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} cores",
        f"- memory: {memory / 1024:.1f} GB",
        f"- OS: {system}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"gunicorn {version('gunicorn')}, locust {version('locust')}, "
        f"SQLAlchemy {version('SQLAlchemy')}, Flask {version('Flask')}",
    ]
    for url in database_urls:
        if url.startswith(("postgres://", "postgresql")):
            lines.append(f"- {postgres_version(url)}")
            break
    return lines


def postgres_version(url: str) -> str:
    """``SELECT version()``, shortened to "PostgreSQL 15.20 (Debian ...)"."""
    from marketplace.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            text = str(conn.execute(sa.text("SELECT version()")).scalar())
    finally:
        engine.dispose()
    return text.split(" on ")[0]


def database_label(url: str) -> str:
    """ "PostgreSQL" or "SQLite"."""
    return "PostgreSQL" if url.startswith(("postgres://", "postgresql")) else "SQLite"
