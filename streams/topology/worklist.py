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
Each item also says the `key` it is kept under and its `stage` (`process` or `link`): what a
person's action on it names (api.py).

Filters: `state`, `kind`, `site`, `min_age` (workitems.Filter) keep the order and the cursor. A
filtered request still reads a bounded slice: each worker reads at most `MAX_SCANNED` items
past the cursor, matching or not. A worker that stops there before finding a page's worth says
where it stopped; the page then ends at the nearest such place, so it may hold fewer than
`limit` items (even none) and still give a `next` cursor. Follow `next` until it is null: every
matching item comes exactly once, as without a filter.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from s2c.streams.runtime.overrides.store import active_databases
from s2c.streams.topology import workitems
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.outputs import WorkQueueException
from s2c.tables.vocabulary import ExceptionKind

MAX_EXCEPTIONS_KEPT = 50  # work items kept per key for the experience API
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SCANNED = 10_000  # items one worker reads for one filtered request
STAGES = ("process", "link", "erp")  # the table an item is kept in, by its position's table number

Position = tuple[str, int, int]  # key, table (0 process, 1 link, 2 erp), index in the key's list
KeyedRows = Callable[[bytes], Iterator[tuple[bytes, bytes]]]  # (key, value) from a key on


def keep_raised(kept_here: Any, key: bytes, outputs: list[Any]) -> dict[str, int]:
    """Keep the last work items raised for `key` (a stage's batched exceptions table), a notice
    closing the item it resolves (workitems.py); the moves of the open-items tally."""
    raised = [o.to_record() for o in outputs if isinstance(o, WorkQueueException)]
    if not raised:
        return {}
    before = kept_here.decoded(key, loads) or []
    kept = workitems.keep(loads(dumps_bytes(before)), loads(dumps_bytes(raised)))
    kept = kept[-MAX_EXCEPTIONS_KEPT:]
    kept_here.hold(key, kept, dumps_bytes)
    return workitems.moves(before, kept)


def apply_action(kept_here: Any, key: bytes, action: dict[str, Any]) -> dict[str, int]:
    """A person's action on an item kept for `key`; the moves of the open-items tally."""
    before = kept_here.decoded(key, loads) or []
    kept = loads(dumps_bytes(before))
    if workitems.act(kept, action) is None:
        return {}
    moved = workitems.moves(before, kept)
    if kept != before:
        kept_here.hold(key, kept, dumps_bytes)
    return moved


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


def page_filter(query: Any) -> workitems.Filter:
    """The filter of `/exceptions/?state=&kind=&site=&min_age=` (BadPage when one is wrong)."""
    state, kind = query.get("state") or None, query.get("kind") or None
    if state is not None and state not in workitems.STATES:
        raise BadPage(f"state must be one of {', '.join(workitems.STATES)}")
    if kind is not None and kind not in {k.value for k in ExceptionKind}:
        raise BadPage(f"no work item kind {kind}")
    raw_age = query.get("min_age") or None
    try:
        min_age = None if raw_age is None else workitems.parse_age(raw_age)
    except ValueError as exc:
        raise BadPage(str(exc)) from None
    return workitems.Filter(state, kind, query.get("site") or None, min_age)


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
    return list(islice(_following(tables, after), limit))


def local_matching(
    tables: list[KeyedRows],
    after: Position | None,
    limit: int,
    wanted: workitems.Filter,
    now: datetime | None = None,
) -> tuple[list[tuple[Position, dict[str, Any]]], Position | None]:
    """`local_items` that match `wanted`: stops when it has `limit` of them, or after reading
    `MAX_SCANNED` items, and then also says the position it read up to (else None)."""
    if not wanted.any:
        return local_items(tables, after, limit), None
    at = now or datetime.now(UTC)
    found: list[tuple[Position, dict[str, Any]]] = []
    for scanned, (position, item) in enumerate(_following(tables, after), 1):
        if wanted.matches(item, at):
            found.append((position, item))
            if len(found) == limit:
                break
        if scanned == MAX_SCANNED:
            return found, position
    return found, None


def _following(
    tables: list[KeyedRows], after: Position | None
) -> Iterator[tuple[Position, dict[str, Any]]]:
    start = after[0].encode() if after else b""
    streams = [_positions(rows(start), tag) for tag, rows in enumerate(tables)]
    merged = heapq.merge(*streams, key=lambda found: found[0])
    return (f for f in merged if after is None or f[0] > after)


def _positions(rows: Iterable[tuple[bytes, bytes]], tag: int) -> Iterator[tuple[Position, Any]]:
    for key, value in rows:
        name = key.decode()
        for index, item in enumerate(json.loads(value)):
            yield (name, tag, index), item


def page(
    found: Iterable[tuple[Position, dict[str, Any]]],
    limit: int,
    upto: Iterable[Position | None] = (),
) -> tuple[list[dict[str, Any]], str | None]:
    """The first `limit` items of every worker's answer and the cursor of the next page (None
    when there is none). `upto`: where each worker stopped scanning for a filter; past the
    nearest of them a worker has not looked, so the page ends there and its cursor too. An item
    two workers both answered with (a partition that is moving: for a moment both list it as
    theirs) is listed once, as the first answer had it (this worker's own comes first)."""
    once: dict[Position, dict[str, Any]] = {}
    for position, item in found:
        once.setdefault(position, item)
    ordered = sorted(once.items(), key=lambda f: f[0])
    bound = min((p for p in upto if p is not None), default=None)
    if bound is not None:
        ordered = [f for f in ordered if f[0] <= bound]
    items = [
        {**item, "state": workitems.state_of(item), "key": key, "stage": STAGES[table]}
        for (key, table, _), item in ordered[:limit]
    ]
    if len(ordered) > limit:
        return items, encode_cursor(ordered[limit - 1][0])
    return items, encode_cursor(bound) if bound is not None else None


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
