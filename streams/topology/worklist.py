"""The work queue: the last work items kept per key, and `/exceptions/` reading them as pages.

Kept: each stage keeps the last `MAX_EXCEPTIONS_KEPT` work items raised for a key
(`keep_raised`) in its exceptions table, beside the state, for the experience API.

Pages: `/exceptions/` reads a bounded slice of the kept work items per request.

Order: by the key they are kept under (the process id, or the account's pseudonym for items
raised in the LINK stage; bytewise, the order RocksDB keeps keys in), then process items before
link items before the ERP keeper's items (erp.py) of the same key, then in the order they were
raised. Not by time: a time order would
need an index the tables do not have, or a scan of every key per request.

Cursor: the position of the last item of a page, `[key, table, index]` as URL-safe base64 JSON;
`?after=<cursor>` gives the items after it. It holds keys, which carry no patient data (process
ids and account pseudonyms). A page holds at most `limit` items (default 100, at most 1000); each
worker reads at most `limit + 1` items past the cursor from its own partitions, starting at the
cursor's key (a RocksDB seek per partition), so a request costs the same at any table size.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from s2c.streams.runtime.overrides.store import active_databases
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.outputs import WorkQueueException

MAX_EXCEPTIONS_KEPT = 50  # work items kept per key for the experience API
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Position = tuple[str, int, int]  # key, table (0 process, 1 link, 2 erp), index in the key's list
KeyedRows = Callable[[bytes], Iterator[tuple[bytes, bytes]]]  # (key, value) from a key on


def keep_raised(kept_here: Any, key: bytes, outputs: list[Any]) -> None:
    """Keep the last work items raised for `key` (a stage's batched exceptions table)."""
    raised = [o.to_record() for o in outputs if isinstance(o, WorkQueueException)]
    if raised:
        kept = (kept_here.decoded(key, loads) or []) + loads(dumps_bytes(raised))
        kept_here.hold(key, kept[-MAX_EXCEPTIONS_KEPT:], dumps_bytes)


class BadPage(ValueError):
    """A `limit` or cursor the caller got wrong (HTTP 400)."""


def page_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadPage("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadPage(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> Position | None:
    if not raw:
        return None
    try:
        key, table, index = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if isinstance(key, str) and isinstance(table, int) and isinstance(index, int):
            return key, table, index
    except (ValueError, TypeError):
        pass
    raise BadPage("cursor is not one this API gave")


def local_items(
    tables: list[KeyedRows], after: Position | None, limit: int
) -> list[tuple[Position, dict[str, Any]]]:
    """Up to `limit` items after `after` from this worker's `tables` (each a list of items per
    key), in page order; reads keys from the cursor's key on and stops when it has enough."""
    start = after[0].encode() if after else b""
    streams = [_positions(rows(start), tag) for tag, rows in enumerate(tables)]
    merged = heapq.merge(*streams, key=lambda found: found[0])
    return list(islice((f for f in merged if after is None or f[0] > after), limit))


def _positions(rows: Iterable[tuple[bytes, bytes]], tag: int) -> Iterator[tuple[Position, Any]]:
    for key, value in rows:
        name = key.decode()
        for index, item in enumerate(json.loads(value)):
            yield (name, tag, index), item


def page(
    found: Iterable[tuple[Position, dict[str, Any]]], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The first `limit` items of every worker's answer and the cursor of the next page (None
    when there is none)."""
    ordered = sorted(found, key=lambda f: f[0])
    items = [item for _, item in ordered[:limit]]
    more = len(ordered) > limit
    return items, encode_cursor(ordered[limit - 1][0]) if more else None


def rows_from(table: Any) -> KeyedRows:
    """A Faust table's (key, value) pairs from a key on, in key order, over its active partitions:
    a seek per RocksDB database. The memory store (agent tests) has no order: a sorted copy."""
    store = table.data

    def from_key(start: bytes) -> Iterator[tuple[bytes, bytes]]:
        if not getattr(store, "use_rocksdict", False):
            yield from sorted((k, v) for k, v in table.items() if k >= start)
            return
        walks = [_walk(db, start, store.offset_key) for db in active_databases(store)]
        yield from heapq.merge(*walks, key=lambda kv: kv[0])

    return from_key


def _walk(db: Any, start: bytes, skip: bytes) -> Iterator[tuple[bytes, bytes]]:
    it = db.iter()
    it.seek(start)
    while it.valid():
        key = it.key()
        if key != skip:
            yield key, it.value()
        it.next()
