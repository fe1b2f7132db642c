"""JSON Lines output for `s2c replay`: `events.jsonl` plus `master/<RecordName>.jsonl`.

Event lines are `{"schema": "<RecordName>", "event": {...}}`; master files hold one record per line.
JSON conventions of s2c files (the same as `s2c.tables.codec.dumps`): instants as ISO-8601 UTC with
milliseconds and a `Z`, dates as YYYY-MM-DD, money as decimal strings, never a float. Field order is
the catalogue's and `produced_at = occurred_at`, so the same seed and parameters give the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
POISON_FILE = "poison.jsonl"  # with --poison: {"line": N, "kind": ...} per bad line
MASTER_DIR = "master"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):  # always aware UTC here
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


_encode = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False).encode


def event_line(schema: str, record: dict[str, Any]) -> str:
    return _encode({"schema": schema, "event": record})


def record_line(record: dict[str, Any]) -> str:
    return _encode(record)


def write_master(out_dir: Path, master: Iterable[tuple[str, str, dict[str, Any]]]) -> Counter[str]:
    """Writes `out_dir/master/<RecordName>.jsonl`; returns records per record name."""
    folder = out_dir / MASTER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    by_name: dict[str, list[str]] = {}
    for name, _key, record in master:
        by_name.setdefault(name, []).append(record_line(record))
    for name, lines in by_name.items():
        (folder / f"{name}.jsonl").write_text(
            "".join(f"{line}\n" for line in lines), encoding="utf-8"
        )
    return Counter({name: len(lines) for name, lines in by_name.items()})


def write_events(out_dir: Path, events: Iterable[Any]) -> Counter[str]:
    """Writes `out_dir/events.jsonl` in the given (arrival) order; returns events per schema.
    Bad records (`Poison`) are written as their line and listed in `poison.jsonl`; they are not
    counted as events."""
    from s2c.streams.synth.poison import Poison

    out_dir.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    tags: list[str] = []
    with (out_dir / EVENTS_FILE).open("w", encoding="utf-8", newline="\n") as sink:
        batch: list[str] = []
        number = 0
        for item in events:
            number += 1
            if isinstance(item, Poison):
                line = item.line if item.line is not None else event_line(item.schema, item.record)
                batch.append(line)
                tags.append(_encode({"line": number, "kind": item.kind}))
            else:
                schema, _key, record = item
                counts[schema] += 1
                batch.append(event_line(schema, record))
            if len(batch) >= 10_000:
                sink.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            sink.write("\n".join(batch) + "\n")
    if tags:
        (out_dir / POISON_FILE).write_text("".join(f"{tag}\n" for tag in tags), encoding="utf-8")
    return counts
