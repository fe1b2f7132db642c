"""What `s2c replay` reads: the stream file (events, master records and master deletes, in the
order they stand) and the master-data folder, each line as the item it is or, when it is none, as a `DeadLine`: the
reason the workers would dead-letter it, and the line itself. Reading never stops at a bad line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2c.tables.codec import loads
from s2c.tables.events import Event, event_from_record
from s2c.tables.master import MASTER_TYPES, master_record, master_rows

UNUSABLE_MASTER = "unusable-master-record"  # the workers' master replica's reason


@dataclass(frozen=True)
class DeadLine:
    """A line replay refused, as the workers dead-letter it: why, and the line itself. `file`
    names a master-data file the line is from (None: the events file)."""

    line: int
    reason: str
    exception_class: str
    message: str
    original: str
    stage: str = "ingest"
    file: str | None = None

    def to_record(self) -> dict[str, object]:
        where: dict[str, object] = {} if self.file is None else {"file": self.file}
        return {
            **where,
            "line": self.line,
            "stage": self.stage,
            "reason": self.reason,
            "exception_class": self.exception_class,
            "message": self.message,
            "original": self.original,
        }


def _refused(number: int, reason: str, exc: Exception, text: str, **where: Any) -> DeadLine:
    told = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return DeadLine(number, reason, type(exc).__name__, told[:300], text, **where)


@dataclass(frozen=True)
class MasterLine:
    """A master record standing in the stream: `name` is its record name."""

    line: int
    name: str
    record: Any


@dataclass(frozen=True)
class MasterDelete:
    """A master record retired in the stream, `{"schema": "Provider", "delete": "<id>"}`: the
    tombstone of topic key `<name>:<key>` (`key` is the record's first field)."""

    line: int
    name: str
    key: str


_UNREADABLE = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError)


def read_events(
    path: Path,
) -> Iterator[tuple[int, str, Event | MasterLine | MasterDelete | DeadLine]]:
    """Yield (line number, line, item) for each line of a JSON Lines file: the event, or a
    `MasterLine` for a line whose schema is a master record name with its fields under
    "record" (under "event" it is an event of an unknown schema, refused as live), a
    `MasterDelete` for one with the id of the record it retires under "delete",
    or a `DeadLine` in place of either for a line that is neither (`undecodable`: not JSON;
    `invalid-event`: JSON, but not a canonical event; `unusable-master-record`), as the workers
    dead-letter such records."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            text = line.rstrip("\n")
            try:
                row = loads(line)
            except ValueError as exc:
                yield (
                    number,
                    text,
                    DeadLine(number, "undecodable", type(exc).__name__, str(exc), text),
                )
                continue
            # a master record carries "record"; one under "event" was sent as an event (to the
            # events topic) and is refused as the ingest stage refuses it
            name = row.get("schema") if isinstance(row, dict) and "event" not in row else None
            if isinstance(name, str) and name in MASTER_TYPES and "delete" in row:
                key = row["delete"]
                if isinstance(key, str) and key.strip() and "record" not in row:
                    yield number, text, MasterDelete(number, name, key)
                else:
                    problem = ValueError(f"{name}: a delete names the record's id, a string")
                    yield (
                        number,
                        text,
                        _refused(number, UNUSABLE_MASTER, problem, text, stage="master"),
                    )
                continue
            if isinstance(name, str) and name in MASTER_TYPES:
                try:
                    yield number, text, MasterLine(number, name, master_record(name, row["record"]))
                except _UNREADABLE as exc:
                    yield number, text, _refused(number, UNUSABLE_MASTER, exc, text, stage="master")
                continue
            try:
                yield number, text, event_from_record(row["schema"], row["event"])
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                yield number, text, _refused(number, "invalid-event", exc, text)


def read_master_dir(directory: Path) -> Iterator[tuple[str, DeadLine | Any]]:
    """Yield (record name, record) for every line of every `<RecordName>.jsonl` in `directory`,
    with a `DeadLine` (stage `master`, the file named) for a line that is no such record.
    A file with any other name raises ValueError: that is a wrong folder, not a bad line."""
    for path, number, text, name in master_rows(directory):
        try:
            yield name, master_record(name, json.loads(text))
        except _UNREADABLE as exc:
            yield name, _refused(number, UNUSABLE_MASTER, exc, text, stage="master", file=path.name)
