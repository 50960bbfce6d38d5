"""Writing the audit trail: every admin action records who, when, what, before and after."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marketplace.accounts.models import User
from marketplace.admin.models import AuditRecord
from marketplace.extensions import db


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a column value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def snapshot(obj: object, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The columns of a model row (or just ``fields``) as a JSON-safe dict."""
    table = getattr(obj, "__table__")  # noqa: B009 - any mapped row
    names = list(fields) if fields is not None else [c.key for c in table.columns]
    return {name: _plain(getattr(obj, name)) for name in names}


def record(
    actor: User,
    action: str,
    obj: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    summary: str = "",
) -> AuditRecord:
    """Append an audit record for ``action`` on ``obj`` (flushes; the caller commits)."""
    entry = AuditRecord(
        actor_id=actor.id,
        actor_email=actor.email,
        action=action,
        object_type=getattr(obj, "__tablename__", type(obj).__name__),
        object_id=str(getattr(obj, "id", "")),
        summary=summary[:300],
        before=before,
        after=after,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
