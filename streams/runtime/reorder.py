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
- `<partition>:held-count` -> how many wait (the worker's `/health/` reports it: a pipeline is
  drained only when no event waits, as none shows as consumer lag);
- a `TimerIndex` with prefix `held` files each `seq` under its upstream time, so handing out
  reads only the buckets up to the watermark, however many events wait.

Written through the stage's batched view like every other write of the batch, so a held event is
durable before its input offset is committed, moves with its partition on a rebalance and comes
back from the changelog after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from s2c.streams.runtime.timers import TimerIndex
from s2c.streams.runtime.watermarks import of_ms, to_ms
from s2c.tables.codec import dumps_bytes, loads

TIME_HEADER = "s2c.time"  # on the link and process topics: the upstream time of an event, epoch ms
_SEQ = "{}:held-seq"
_EVENT = "{}:held:{}"
_KEY = "{}:held-key:{}"
_COUNT = "{}:held-count"


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

    def not_before(self, partition: int, source: str, at: datetime) -> datetime:
        """`at`, or the upstream time of the latest event of `source` still held, if later: the
        time an event of that key must wait for so that it does not overtake it."""
        kept = self._table.get(_KEY.format(partition, source).encode())
        return at if kept is None else max(at, of_ms(int(kept)))

    def hold(self, partition: int, at: datetime, source: str, record: dict[str, Any]) -> None:
        """Keep `record` (an event of source key `source`) until `release` reaches `at`, which
        the caller took from `not_before`."""
        seq_slot = _SEQ.format(partition).encode()
        seq = int(self._table.get(seq_slot) or 0) + 1
        self._table[seq_slot] = str(seq).encode()
        name = f"{seq:015d}"
        self._table[_EVENT.format(partition, name).encode()] = dumps_bytes(
            {**record, "source": source}
        )
        self._table[_KEY.format(partition, source).encode()] = str(to_ms(at)).encode()
        self._index.schedule(partition, name.encode(), at)
        self._add(partition, 1)

    def count(self, partition: int) -> int:
        """How many events wait in `partition`."""
        return int(self._table.get(_COUNT.format(partition).encode()) or 0)

    def _add(self, partition: int, n: int) -> None:
        self._table[_COUNT.format(partition).encode()] = str(
            max(self.count(partition) + n, 0)
        ).encode()

    def release(self, partition: int, upto: datetime) -> list[dict[str, Any]]:
        """The records held at or before `upto`, earliest first (in arrival order at one time),
        each handed out once."""
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
        if out:
            self._add(partition, -len(out))
        return out
