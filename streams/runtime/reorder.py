"""Events held back until every upstream partition has passed their time, then handed out in
time order.

A stage partition hears from several upstream partitions (a process partition from every ingest
partition directly and from every link partition), and while a backlog drains one of them can
run days of business time ahead of another. Applied as they arrive, an instance's events from
two source keys (its case straight from ingest, its account through the link stage) could reach
it in another order than `s2c replay` applies them, and a deadline could fire between them that
replay never fires (an encounter applied before the case's authorization still queued upstream).
So a stage applies an event only once its watermark (watermarks.py: every upstream has announced
it got that far, after sending everything before it) reaches the event's *upstream time*:

- from ingest, the event's own business time;
- from the link stage, the time the link applied it at (header `s2c.time`, epoch ms): a parked
  event the link releases when its account is linked goes on at the time of the event that
  linked it, so it never reaches its instance before the event that opened it;
- and never earlier than an event of the same *source key* (the appointment or case an event
  is keyed by, else its account: tables/routing.py) still held here. One key's events keep the
  order they came in, which is the order replay applies them in, even where a feed sends a
  correction dated before the message it corrects. An event of another key goes by its time.

An event that is later than the watermark has passed (it came late to its own ingest
partition) is applied at once, after the deadlines the watermark already fired, as replay
applies a late event after the deadlines its stream time passed.

Until then the event waits here, durably, in the stage's timer table:

- `<partition>:held:<seq>` -> the event (JSON), `seq` counting up per partition, so events with
  the same time come out in the order they came in;
- `<partition>:held-key:<source key>` -> the latest upstream time of that key's held events
  (epoch ms), dropped when that event is handed out;
- a `TimerIndex` with prefix `held` files each `seq` under its upstream time, so handing out
  reads only the buckets up to the watermark, however many events wait.

Written through the stage's batched view like every other write of the batch, so a held event is
durable before its input offset is committed, moves with its partition on a rebalance and comes
back from the changelog after a crash.

How many wait (the worker's `/health/` reports it: a pipeline is drained only when no event
waits, as none shows as consumer lag) is counted over the index's buckets, not kept as a counter.
A counter is one more key among the batch's changelog records; a crash that lands only some of
them, followed by the batch read again, left one at 36 over a single held event, and a drained
pipeline never looked drained. A `<partition>:held-count` key written by an earlier version is no
longer read.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from s2c.streams.runtime.timers import TimerIndex
from s2c.streams.runtime.watermarks import of_ms, to_ms
from s2c.tables.codec import dumps_bytes, loads

TIME_HEADER = "s2c.time"  # on the link and process topics: the upstream time of an event, epoch ms
_SEQ = "{}:held-seq"
_EVENT = "{}:held:{}"
_KEY = "{}:held-key:{}"
log = logging.getLogger(__name__)


def upstream_ms(headers: Any) -> int | None:
    """The upstream time a record carries (`TIME_HEADER`), None if it has none (a record sent by
    a worker before this existed: its own business time stands in)."""
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in pairs:
        if name == TIME_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def time_header(at_ms: int) -> tuple[str, bytes]:
    return (TIME_HEADER, str(at_ms).encode())


class Reorder:
    """The held events of one stage's partitions, over the stage's batched timer view."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._index = TimerIndex(table, prefix="held")
        self._checked: set[int] = set()  # as TimerIndex's: partitions checked since they moved

    def _check(self, partition: int) -> None:
        """At the first use of a partition after partitions moved: file again every held event
        the index does not name. A crash amid a batch's changelog records can leave an event's
        record without its filing, and an event no filing names is never handed out (seen on
        2026-12-06: 25 events of a partition kept for good after a `kill -9`, and a pipeline that
        never drained). One scan of the table's keys; a filing whose event is gone is dropped
        when it is due."""
        if partition in self._checked:
            return
        self._checked.add(partition)
        head = _EVENT.format(partition, "").encode()
        filed = self._index.filed(partition)
        unfiled = [
            key
            for key in self._table.keys()
            if key.startswith(head) and key[len(head) :].decode() not in filed
        ]
        for key in unfiled:
            stored = self._table.get(key)
            if stored is not None:
                self._index.schedule(partition, key[len(head) :], of_ms(loads(stored)["at"]))
        if unfiled:
            log.warning(
                "held events of partition %d: %d no filing named, filed again",
                partition,
                len(unfiled),
            )

    def not_before(self, partition: int, source: str, at: datetime) -> datetime:
        """`at`, or the upstream time of the latest event of `source` still held, if later: the
        time an event of that key must wait for so that it does not overtake it."""
        kept = self._table.get(_KEY.format(partition, source).encode())
        return at if kept is None else max(at, of_ms(int(kept)))

    def hold(self, partition: int, at: datetime, source: str, record: dict[str, Any]) -> None:
        """Keep `record` (an event of source key `source`) until `release` reaches `at`, which
        the caller took from `not_before`."""
        self._check(partition)
        seq_slot = _SEQ.format(partition).encode()
        seq = int(self._table.get(seq_slot) or 0) + 1
        self._table[seq_slot] = str(seq).encode()
        name = f"{seq:015d}"
        self._table[_EVENT.format(partition, name).encode()] = dumps_bytes(
            {**record, "source": source}
        )
        self._table[_KEY.format(partition, source).encode()] = str(to_ms(at)).encode()
        self._index.schedule(partition, name.encode(), at)

    def count(self, partition: int) -> int:
        """How many events wait in `partition`: the filings of the index (an entry a crash left
        behind its handed-out event counts until the watermark reaches it and drops it)."""
        return self._index.size(partition)

    def forget(self) -> None:
        """Partitions moved: check each one again at its next use."""
        self._checked.clear()
        self._index.forget()

    def release(self, partition: int, upto: datetime) -> list[dict[str, Any]]:
        """The records held at or before `upto`, earliest first (in arrival order at one time),
        each handed out once."""
        self._check(partition)
        out = []
        for name in self._index.due(partition, upto):
            slot = _EVENT.format(partition, name.decode()).encode()
            stored = self._table.get(slot)
            if stored is None:
                continue  # handed out already: the index entry outlived a crash
            del self._table[slot]
            record = loads(stored)
            source = record.get("source")
            if source is not None:  # the key's latest held event goes: nothing of it waits now
                key_slot = _KEY.format(partition, source).encode()
                kept = self._table.get(key_slot)
                if kept is not None and int(kept) <= record["at"]:
                    del self._table[key_slot]
            out.append(record)
        return out
