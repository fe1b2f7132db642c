"""The reference ERP's general-ledger database: decisions, documents, journal lines, periods.

One row per command id ever answered (`erp_commands`, UNIQUE command_id), applied or rejected,
so the answer to a command is decided once and read back, never decided again: a redelivered
command is not posted twice and gets the acknowledgement it got the first time (same document
number, reason and time). A command's decision, its document and its journal lines are written in
ONE transaction; a crash leaves all of them or none. Money is stored as integer cents: exact, and
`SUM()` in SQL stays exact.

SQLite by default (a file path; the stdlib driver, WAL journal). A `postgresql://` URL uses
psycopg when it is installed (`pip install 'psycopg[binary]'`); s2c does not depend on it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from s2c.streams.erp.ddl import ID_COLUMN, TABLES
from s2c.streams.erp.rules import DOCUMENT_KINDS, JOURNALS, Chart, cents, decide, period_of
from s2c.tables.codec import json_default

APPLIED, REJECTED = "APPLIED", "REJECTED"


@dataclass(frozen=True)
class Ack:
    """The ERP's answer to one command, as stored; `to_record` is the `s2c.erp.CommandAck`."""

    command_id: str
    process_id: str
    command_type: str
    status: str
    erp_document_number: str | None
    reason: str | None
    acknowledged_at: datetime

    def to_record(self, erp_system: str) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "process_id": self.process_id,
            "command_type": self.command_type,
            "status": self.status,
            "erp_document_number": self.erp_document_number,
            "reason": self.reason,
            "erp_system": erp_system,
            "acknowledged_at": self.acknowledged_at,
        }


class Ledger:
    """The database behind a small interface: `apply` a command, read its `ack`, set periods."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self._db = connection
        self._dialect = dialect
        self._integrity_error: type[Exception] = (
            sqlite3.IntegrityError if dialect == "sqlite" else _psycopg().IntegrityError
        )
        with self._transaction():
            for statement in TABLES.format(id_column=ID_COLUMN[dialect]).split(";"):
                if statement.strip():
                    self._run(statement)

    @classmethod
    def open(cls, target: str) -> Ledger:
        """A file path (SQLite, created if missing) or a `postgresql://` URL."""
        if target.startswith(("postgresql://", "postgres://")):
            return cls(_psycopg().connect(target, autocommit=True), "postgresql")
        path = target.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return cls(connection, "sqlite")

    def close(self) -> None:
        self._db.close()

    def set_periods(self, periods: Iterable[str], state: str) -> None:
        with self._transaction():
            for period in periods:
                self._run(
                    "INSERT INTO erp_periods (period, state) VALUES (?, ?) "
                    "ON CONFLICT (period) DO UPDATE SET state = excluded.state",
                    (period, state),
                )

    def periods(self) -> dict[str, str]:
        return dict(self._run("SELECT period, state FROM erp_periods ORDER BY period").fetchall())

    def ack(self, command_id: str) -> Ack | None:
        row = self._run(
            "SELECT command_id, process_id, command_type, status, document_number, reason, "
            "acknowledged_at_ms FROM erp_commands WHERE command_id = ?",
            (command_id,),
        ).fetchone()
        if row is None:
            return None
        at = datetime.fromtimestamp(row[6] / 1000, UTC)
        return Ack(row[0], row[1], row[2], row[3], row[4], row[5], at)

    def apply(
        self, record_name: str, command: dict[str, Any], chart: Chart, now: datetime
    ) -> tuple[Ack, bool]:
        """Decide and record `command` (an Avro-decoded `s2c.commands.<record_name>`) unless
        its id has an answer already. Returns the answer and whether it was decided now."""
        command_id = command["header"]["command_id"]
        try:
            with self._transaction(immediate=True):
                known = self.ack(command_id)
                if known is not None:
                    return known, False
                self._decide(record_name, command, chart, now)
        except self._integrity_error:
            # Another sink answered the same id between our read and our insert: its answer
            # stands, ours was rolled back whole.
            known = self.ack(command_id)
            if known is None:
                raise
            return known, False
        ack = self.ack(command_id)
        assert ack is not None
        return ack, True

    def _decide(
        self, record_name: str, command: dict[str, Any], chart: Chart, now: datetime
    ) -> None:
        header = command["header"]
        open_periods = {p for p, state in self.periods().items() if state == "open"}
        rejection = decide(record_name, command, chart, open_periods, self._applied)
        seq = self._run(
            "INSERT INTO erp_commands (command_id, process_id, command_type, status, reason, "
            "acknowledged_at_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
            (
                header["command_id"],
                header["process_id"],
                header["command_type"],
                REJECTED if rejection else APPLIED,
                rejection.reason if rejection else None,
                int(now.timestamp() * 1000),
            ),
        ).fetchone()[0]
        if rejection is None:
            self._post(record_name, command, seq)

    def _post(self, record_name: str, command: dict[str, Any], seq: int) -> None:
        header = command["header"]
        kind, prefix = DOCUMENT_KINDS[record_name]
        number = f"{prefix}-{seq:010d}"
        period = period_of(header["effective_date"])
        self._run("UPDATE erp_commands SET document_number = ? WHERE seq = ?", (number, seq))
        journal = record_name in JOURNALS
        detail = {k: v for k, v in command.items() if k not in ("header", "lines")}
        self._run(
            "INSERT INTO erp_documents (document_number, command_id, kind, effective_date, "
            "period, cost_center_id, reverses_command_id, amount_cents, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                header["command_id"],
                kind,
                header["effective_date"].isoformat(),
                period,
                header["cost_center_id"],
                header.get("reverses_command_id"),
                cents(command["amount"]) if journal else None,
                json.dumps(
                    detail if journal else command,
                    default=json_default,
                    sort_keys=True,
                    separators=(",", ":"),
                ),
            ),
        )
        for line_number, line in enumerate(command["lines"] if journal else (), 1):
            self._run(
                "INSERT INTO gl_journal_lines (document_number, line_number, gl_account, "
                "cost_center_id, period, debit_cents, credit_cents, memo) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    line_number,
                    line["gl_account"],
                    header["cost_center_id"],
                    period,
                    cents(line["debit"]),
                    cents(line["credit"]),
                    line["memo"],
                ),
            )

    def _applied(self, command_id: str) -> bool:
        found = self._run(
            "SELECT 1 FROM erp_commands WHERE command_id = ? AND status = 'APPLIED'",
            (command_id,),
        ).fetchone()
        return found is not None

    def totals(self) -> tuple[Decimal, Decimal]:
        """(debits, credits) of every posted journal line: equal in a sound ledger."""
        debit, credit = self._run(
            "SELECT COALESCE(SUM(debit_cents), 0), COALESCE(SUM(credit_cents), 0) "
            "FROM gl_journal_lines"
        ).fetchone()
        return Decimal(debit) / 100, Decimal(credit) / 100

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self._dialect == "postgresql":
            sql = sql.replace("?", "%s")
        return self._db.execute(sql, params)

    @contextmanager
    def _transaction(self, immediate: bool = False) -> Iterator[None]:
        # SQLite: IMMEDIATE takes the write lock now, so the read of a command id and the insert
        # of its answer cannot interleave with another writer's.
        sqlite = self._dialect == "sqlite"
        self._run("BEGIN IMMEDIATE" if sqlite and immediate else "BEGIN")
        try:
            yield
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Read-only queries for reports and tests."""
        yield from self._run(sql, params).fetchall()


def _psycopg() -> Any:
    try:
        import psycopg  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        raise SystemExit(
            "s2c erp-sink: a postgresql:// ledger needs psycopg (pip install 'psycopg[binary]')"
        ) from exc
    return psycopg
