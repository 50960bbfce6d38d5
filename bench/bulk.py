"""Writing rows in bulk: ids handed out in Python, rows buffered per table and written parents
first, with COPY on PostgreSQL and executemany elsewhere."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

FLUSH_ROWS = 50_000


class Ids:
    """Primary keys handed out in Python (max + 1 per table), so rows can refer to each other
    before they are written; PostgreSQL's sequences are moved past them at the end."""

    def __init__(self, conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
        """Read the highest id of each table."""
        self.next_id: dict[str, int] = {}
        for table in tables:
            if "id" in table.c:
                top = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
                self.next_id[table.name] = int(top or 0) + 1

    def take(self, table: str) -> int:
        """A new id of ``table``."""
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value


class Writer:
    """Buffers rows per table and writes them in bulk, parents before children."""

    def __init__(self, conn: sa.Connection, metadata: sa.MetaData) -> None:
        """Write through ``conn`` (inside the seed's one transaction)."""
        self.conn = conn
        self.order = [t for t in metadata.sorted_tables]
        self.tables = {t.name: t for t in self.order}
        self.buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pending = 0
        self.written: dict[str, int] = defaultdict(int)
        self.postgres = conn.dialect.name == "postgresql"

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row."""
        self.buffers[table].append(row)
        self.pending += 1
        if self.pending >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write every queued row, tables in foreign-key order."""
        for table in self.order:
            rows = self.buffers.pop(table.name, None)
            if rows:
                self._write(table, self._with_defaults(table, rows))
                self.written[table.name] += len(rows)
        self.pending = 0

    @staticmethod
    def _with_defaults(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fill the columns a row leaves out with the model's Python default, as the ORM would
        (COPY knows only server defaults)."""
        missing = [
            c
            for c in table.c
            if c.name not in rows[0] and c.default is not None and not c.primary_key
        ]
        for column in missing:
            default = column.default
            for row in rows:
                if getattr(default, "is_scalar", False):
                    row[column.name] = default.arg  # type: ignore[union-attr]
                elif getattr(default, "is_callable", False):
                    row[column.name] = default.arg(None)  # type: ignore[union-attr]
        return rows

    def _write(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """COPY on PostgreSQL, executemany elsewhere."""
        if not self.postgres:
            self.conn.execute(table.insert(), rows)
            return
        names = list(rows[0])
        json_columns = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
        columns = ", ".join(f'"{name}"' for name in names)
        raw = self.conn.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(
                        [
                            json.dumps(row[name]) if name in json_columns else row[name]
                            for name in names
                        ]
                    )

    def set_balances(self, balances: Mapping[int, int]) -> None:
        """Store the final balance of every account the seed moved."""
        self.flush()
        items = [{"account_id": k, "new_balance": v} for k, v in balances.items()]
        if not items:
            return
        if not self.postgres:
            self.conn.execute(
                sa.text("UPDATE ledger_account SET balance = :new_balance WHERE id = :account_id"),
                items,
            )
            return
        self.conn.exec_driver_sql(
            "CREATE TEMP TABLE bench_balance (id bigint PRIMARY KEY, balance bigint) ON COMMIT DROP"
        )
        raw = self.conn.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy("COPY bench_balance (id, balance) FROM STDIN") as copy:
                for item in items:
                    copy.write_row((item["account_id"], item["new_balance"]))
        self.conn.exec_driver_sql(
            "UPDATE ledger_account SET balance = b.balance FROM bench_balance b "
            "WHERE ledger_account.id = b.id"
        )

    def reset_sequences(self) -> None:
        """Move PostgreSQL's id sequences past the ids the seed handed out."""
        if not self.postgres:
            return
        for table in self.order:
            if "id" not in table.c:
                continue
            self.conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)'
            )
