"""What the seed and the load scripts share: where scratch files go, the environment every app
process of a benchmark gets, and running the shop's own ``flask`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Scratch files (signing keys, locust CSVs, server logs); never the repository's instance/.
SCRATCH = Path(os.environ.get("BENCH_DIR", "/tmp/oro-bench"))
#: Every app process of one benchmark must sign sessions with the same key.
SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "bench-secret-key-not-for-production")


def scratch(*parts: str) -> Path:
    """A path under the scratch folder, its parent created."""
    path = SCRATCH.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def app_settings(database_url: str) -> dict[str, Any]:
    """Settings of the shop under load: its database, a shared secret and signing key folder,
    sandbox payments. Nothing is written into the repository's instance folder."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "SIGNING_KEY_DIR": str(scratch("keys", "x").parent),
        "PAYMENT_GATEWAY": "sandbox",
    }


def app_env(
    database_url: str,
    *,
    rate_limits: bool = False,
    ratelimit_storage: str | None = None,
) -> dict[str, str]:
    """The environment of an app process (gunicorn or ``flask``) for a benchmark.

    Rate limits are off unless asked for: from one address the sign-in, cart and pay limits
    would stop a load test. With several processes they are on and kept in Redis.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MARKETPLACE_ENV", "MAIL_SERVER", "STRIPE_SECRET_KEY"}
    }
    env.update({key: str(value) for key, value in app_settings(database_url).items()})
    env["RATELIMIT_ENABLED"] = "true" if rate_limits else "false"
    if ratelimit_storage:
        env["RATELIMIT_STORAGE_URI"] = ratelimit_storage
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def flask_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app wsgi <args>`` on the database; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=app_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )


def verify_books_and_chains(database_url: str, *, chains: bool = True) -> tuple[bool, list[str]]:
    """``flask ledger verify`` (and ``flask provenance verify-chains``): whether they pass, and
    their verdict lines (every difference or broken chain, then each command's last line)."""
    lines: list[str] = []
    ok = True
    commands = [("ledger", "verify")] + ([("provenance", "verify-chains")] if chains else [])
    for args in commands:
        done = flask_command(database_url, *args)
        out = [line for line in done.stdout.splitlines() if line.strip()]
        notable = [line for line in out if "DIFFERS" in line or "BROKEN" in line]
        verdict = out[-1] if out else (done.stderr.strip().splitlines() or ["no output"])[-1]
        lines.append(f"flask {' '.join(args)}: {verdict} (exit {done.returncode})")
        lines += [f"    {line.strip()}" for line in notable[:20]]
        ok = ok and done.returncode == 0
    return ok, lines


def describe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
