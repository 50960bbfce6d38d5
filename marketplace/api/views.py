"""The read-only JSON API, ``/api/v1``. For now: the community premium per cooperative and month.

``GET /api/v1/transparency`` →
``{"currency", "amounts_in", "months_in", "cooperatives": [{"slug", "name", "months": [{"month",
"booked", "pending", "available", "in_payment", "paid"}], "totals": {...}}], "generated_at"}``.
Amounts are integer minor units read from the ledger: ``booked`` is what the month's sales booked
net of refunds; ``pending`` / ``available`` / ``in_payment`` / ``paid`` are the balances at the
end of that month (``totals``: all-time booked, balances now). A cooperative without sales has
no months and zero totals. The response carries a weak ETag of its figures (``generated_at``
aside) and may be cached for a minute.
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, current_app, request

from marketplace.db import utcnow
from marketplace.statements import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/transparency")
def transparency() -> Response:
    """Premium booked, pending, available and paid per cooperative and month."""
    currency = str(current_app.config["PLATFORM_CURRENCY"])
    document = services.transparency_json(services.transparency(currency), currency)
    etag = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:32]
    document["generated_at"] = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
    response = Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        mimetype="application/json",
    )
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    response.make_conditional(request)
    return response
