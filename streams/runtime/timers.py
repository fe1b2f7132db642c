"""Event-time timers kept in a Faust table: which keys have a deadline in which time bucket.

Per partition, keys are filed under the 15-minute bucket of their next deadline
(`<partition>:<bucket>` -> JSON {key: deadline in epoch ms}), and a directory
(`<partition>:buckets` -> sorted JSON list) names the buckets that hold any. When stream time moves,
every key whose deadline it has reached is handed back once and removed. Firing reads only the
directory and the buckets it names up to stream time: its cost follows the timers that are due,
not the time that passed, so an event dated 2999 (or a partition idle for years) costs a handful of
reads, not one per quarter hour up to the watermark (34 million of them, which once wedged a
worker). A deadline fires at the first event at or after it, exactly as the replay engine fires it.
An entry may be stale (the key's deadline moved): the caller checks the key's real next deadline,
as a heap with lazy deletion would. Everything is written inside stream iteration of the partition
it belongs to, so it travels with the partition on a rebalance and comes back from the changelog
after a crash.

The directory is a key of its own rather than an iteration over the store's keys: it works on any
store (the agent tier runs on `memory://`) and through the batch's held writes, which a RocksDB
iterator would not see. An index written before the directory existed (a cursor key,
`<partition>:cursor`, then named the first bucket to read) is read once, by a scan of the table,
into a directory.

A bucket is a decoded dict held for the agent's batch (`BatchedTable.decoded` / `hold`): a busy
bucket holds hundreds of keys, and it is parsed and encoded once per batch, not per event.

A crash can leave a bucket that no directory names. A batch's changelog records go out one key
at a time, and a worker killed while they are on their way leaves only some of them on the
broker: a bucket's members without the directory entry that was to name it. Whoever recovers
the partition from the changelog reads the batch again. Filing the same keys into that bucket
finds it not empty and leaves the directory as it is. A bucket no directory names is never read,
so its deadlines never fire and the events it holds back are never applied. So the first use of
a partition after its partitions moved (a start is one) checks the directory against the bucket
keys the store holds, one scan of the table's keys, and files the missing ones.
"""

from __future__ import annotations

import bisect
import logging
from datetime import datetime
from typing import Any

from s2c.streams.runtime.states import sorted_json
from s2c.tables.codec import loads

BUCKET_SECONDS = 900
log = logging.getLogger(__name__)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def bucket_of(at: datetime) -> int:
    return int(at.timestamp()) // BUCKET_SECONDS


class TimerIndex:
    """`prefix` names the index inside its table, so another index (the events a stage holds
    back, reorder.py) can share the table: `<partition>:<prefix><bucket>`."""

    def __init__(self, table: Any, prefix: str = "") -> None:
        self._table, self._prefix = table, prefix
        # partitions whose directory was checked against the stored buckets since they last
        # moved (bounded by the partition count)
        self._checked: set[int] = set()

    def forget(self) -> None:
        """Partitions moved: check each one's directory again at its next use."""
        self._checked.clear()

    def filed(self, partition: int) -> set[str]:
        """Every key filed for the partition, whatever its deadline."""
        names: set[str] = set()
        for bucket in self._buckets(partition):
            names.update(self._table.decoded(self._slot(partition, bucket), loads) or ())
        return names

    def size(self, partition: int) -> int:
        """How many filings the partition's buckets hold. Reads the stored bytes (`get`), so it
        works over a plain table too, as the web server reads it."""
        stored = self._table.get(self._directory(partition))
        return sum(
            len(loads(self._table.get(self._slot(partition, bucket)) or b"{}"))
            for bucket in (loads(stored) if stored else [])
        )

    def schedule(self, partition: int, key: bytes, deadline: datetime | None) -> None:
        """File `key` under its deadline's bucket. A deadline already behind stream time (one the
        caller could not fire yet: its watermark lags) fires at the first call that reaches it."""
        if deadline is None:
            return
        bucket = bucket_of(deadline)
        slot = self._slot(partition, bucket)
        members: dict[str, int] = self._table.decoded(slot, loads) or {}
        name, when = key.decode(), _ms(deadline)
        if members.get(name) != when:
            if not members:
                self._file(partition, bucket)
            members[name] = when
            self._table.hold(slot, members, sorted_json)

    def due(self, partition: int, now: datetime, before: bool = False) -> list[bytes]:
        """Keys whose filed deadline is at or before `now` (`before`: strictly before it); each
        filing is handed out once."""
        buckets = self._buckets(partition)
        reached = bisect.bisect_right(buckets, bucket_of(now))
        if not reached:
            return []
        upto = _ms(now) - 1 if before else _ms(now)
        keys: list[bytes] = []
        kept: list[int] = []  # reached buckets still holding keys later in their quarter hour
        for bucket in buckets[:reached]:
            slot = self._slot(partition, bucket)
            members: dict[str, int] = self._table.decoded(slot, loads) or {}
            fired = sorted((when, name) for name, when in members.items() if when <= upto)
            keys.extend(name.encode() for _, name in fired)
            left = {name: when for name, when in members.items() if when > upto}
            if not left:
                del self._table[slot]
                continue
            kept.append(bucket)
            if fired:
                self._table.hold(slot, left, sorted_json)
        if len(kept) < reached:
            remaining = kept + buckets[reached:]
            if remaining:
                self._table.hold(self._directory(partition), remaining, sorted_json)
            else:
                del self._table[self._directory(partition)]
        return list(dict.fromkeys(keys))

    def _buckets(self, partition: int) -> list[int]:
        buckets: list[int] | None = self._table.decoded(self._directory(partition), loads)
        if buckets is None:
            buckets = self._from_cursor_index(partition)
        if partition not in self._checked:
            self._checked.add(partition)
            buckets = self._with_unnamed(partition, buckets)
        return buckets

    def _with_unnamed(self, partition: int, buckets: list[int]) -> list[int]:
        """The directory with the buckets the store holds but it does not name (a crash in the
        middle of a batch's changelog records), filed."""
        stored = set()
        head = f"{partition}:{self._prefix}".encode()
        for key in self._table.keys():
            if key.startswith(head) and key[len(head) :].lstrip(b"-").isdigit():
                stored.add(int(key[len(head) :]))
        unnamed = stored.difference(buckets)
        if not unnamed:
            return buckets
        log.warning(
            "timer index %r of partition %d: %d bucket(s) no directory named, filed again",
            self._prefix or "deadlines",
            partition,
            len(unnamed),
        )
        buckets = sorted(unnamed.union(buckets))
        self._table.hold(self._directory(partition), buckets, sorted_json)
        return buckets

    def _file(self, partition: int, bucket: int) -> None:
        buckets = self._buckets(partition)
        at = bisect.bisect_left(buckets, bucket)
        if at == len(buckets) or buckets[at] != bucket:
            buckets.insert(at, bucket)
            self._table.hold(self._directory(partition), buckets, sorted_json)

    def _from_cursor_index(self, partition: int) -> list[int]:
        """The directory of an index kept before directories existed: its filled buckets, found
        by one scan of the table (then the cursor is dropped). Empty for a new partition."""
        cursor = f"{partition}:cursor".encode()
        if self._prefix or self._table.get(cursor) is None:
            return []
        prefix = f"{partition}:"
        buckets = sorted(
            int(name[len(prefix) :])
            for name in (k.decode() for k, _ in self._table.items())
            if name.startswith(prefix) and name[len(prefix) :].lstrip("-").isdigit()
        )
        self._table.hold(self._directory(partition), buckets, sorted_json)
        del self._table[cursor]
        return buckets

    def _directory(self, partition: int) -> bytes:
        return f"{partition}:{self._prefix}buckets".encode()

    def _slot(self, partition: int, bucket: int) -> bytes:
        return f"{partition}:{self._prefix}{bucket}".encode()


class PartitionTimers:
    """One partition of a `TimerIndex` with str keys: the `Timers` of a stage runner
    (s2c.tables.stage)."""

    def __init__(self, index: TimerIndex, partition: int) -> None:
        self.index, self.partition = index, partition

    def schedule(self, key: str, deadline: datetime | None) -> None:
        self.index.schedule(self.partition, key.encode(), deadline)

    def due(self, now: datetime, before: bool = False) -> list[str]:
        return [key.decode() for key in self.index.due(self.partition, now, before)]
