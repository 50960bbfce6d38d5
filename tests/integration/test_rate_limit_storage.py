"""Rate limits live in Redis when ``RATELIMIT_STORAGE_URI`` says so (several app processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    host, port = "127.0.0.1", 6379
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_sign_in_limits_are_shared_through_redis(tmp_path):
    # A separate process, because the limiter is bound to one app per process.
    script = textwrap.dedent(
        f"""
        import redis
        from marketplace import create_app
        store = redis.Redis.from_url({REDIS!r})
        store.flushdb()
        def client():
            app = create_app({{"DATABASE_URL": "sqlite:///{tmp_path}/r.db", "SECRET_KEY": "x",
                              "RATELIMIT_STORAGE_URI": {REDIS!r}, "WTF_CSRF_ENABLED": False}})
            with app.app_context():
                from marketplace.extensions import db
                db.create_all()
            return app.test_client()
        first, second = client(), client()   # two "processes" sharing one Redis
        codes = [first.post("/account/login", data={{"email": "a@example.org",
                 "password": "wrong-password"}}).status_code for _ in range(6)]
        codes += [second.post("/account/login", data={{"email": "a@example.org",
                  "password": "wrong-password"}}).status_code for _ in range(5)]
        import json
        print(json.dumps({{"codes": codes, "keys": len(store.keys("*"))}}))
        store.flushdb()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["keys"] > 0  # the counters are in Redis
    assert result["codes"][:10] == [422] * 10 and result["codes"][10] == 429
