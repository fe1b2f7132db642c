"""Event-time timers kept in a Faust table: which keys have a deadline in which time bucket.

Per partition, keys are filed under the 15-minute bucket of their next deadline
(`<partition>:<bucket>` -> JSON {key: deadline in epoch ms}) and a cursor (`<partition>:cursor`)
remembers the first bucket that may still hold a deadline (filing one further back moves it
back). When stream time moves, every key whose
deadline it has reached is handed back once and removed, so firing costs one read per bucket passed,
not a scan of every instance, and a deadline fires at the first event at or after it, exactly as
the replay engine fires it. An entry may be stale (the key's deadline moved): the caller checks the
key's real next deadline, as a heap with lazy deletion would. Everything is written inside stream
iteration of the partition it belongs to, so it travels with the partition on a rebalance and comes
back from the changelog after a crash.

A bucket is a decoded dict held for the agent's batch (`BatchedTable.decoded` / `hold`): a busy
bucket holds hundreds of keys, and it is parsed and encoded once per batch, not per event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from s2c.streams.topology.states import sorted_json
from s2c.tables.codec import loads

BUCKET_SECONDS = 900


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def bucket_of(at: datetime) -> int:
    return int(at.timestamp()) // BUCKET_SECONDS


class TimerIndex:
    def __init__(self, table: Any) -> None:
        self._table = table

    def schedule(self, partition: int, key: bytes, deadline: datetime | None) -> None:
        """File `key` under its deadline's bucket. A deadline behind the cursor (one the caller
        could not fire yet: its watermark lags) moves the cursor back to it, so it still fires
        at the first call that reaches it."""
        if deadline is None:
            return
        bucket = bucket_of(deadline)
        cursor = self._cursor(partition)
        if cursor is None or bucket < cursor:
            self._set_cursor(partition, bucket)
        slot = self._slot(partition, bucket)
        members: dict[str, int] = self._table.decoded(slot, loads) or {}
        name, when = key.decode(), _ms(deadline)
        if members.get(name) != when:
            members[name] = when
            self._table.hold(slot, members, sorted_json)

    def due(self, partition: int, now: datetime) -> list[bytes]:
        """Keys whose filed deadline is at or before `now`; each filing is handed out once."""
        cursor = self._cursor(partition)
        if cursor is None:
            return []
        upto, now_ms = bucket_of(now), _ms(now)
        keys: list[bytes] = []
        for bucket in range(cursor, upto + 1):
            slot = self._slot(partition, bucket)
            members: dict[str, int] | None = self._table.decoded(slot, loads)
            if not members:
                continue
            fired = sorted((when, name) for name, when in members.items() if when <= now_ms)
            if not fired:
                continue
            keys.extend(name.encode() for _, name in fired)
            left = {name: when for name, when in members.items() if when > now_ms}
            if left:
                self._table.hold(slot, left, sorted_json)
            else:
                del self._table[slot]
        if upto > cursor:
            self._set_cursor(partition, upto)
        return list(dict.fromkeys(keys))

    def _cursor(self, partition: int) -> int | None:
        raw = self._table.get(f"{partition}:cursor".encode())
        return int(raw) if raw else None

    def _set_cursor(self, partition: int, bucket: int) -> None:
        self._table[f"{partition}:cursor".encode()] = str(bucket).encode()

    @staticmethod
    def _slot(partition: int, bucket: int) -> bytes:
        return f"{partition}:{bucket}".encode()
