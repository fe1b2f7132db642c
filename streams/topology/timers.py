"""Event-time timers kept in a Faust table: which keys have a deadline in which time bucket.

Per partition, keys are filed under the 15-minute bucket of their next deadline
(`<partition>:<bucket>` -> JSON list of keys) and a cursor (`<partition>:cursor`) remembers the
first bucket not yet fired. When stream time passes a bucket, its keys are handed back once and the
bucket is deleted, so the index holds only future deadlines and firing costs one read per bucket,
not a scan of every instance. An entry may be stale (the key's deadline moved): the caller checks the
key's real next deadline, as a heap with lazy deletion would. Everything is written inside stream
iteration of the partition it belongs to, so it travels with the partition on a rebalance and comes
back from the changelog after a crash.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

BUCKET_SECONDS = 900


def bucket_of(at: datetime) -> int:
    return int(at.timestamp()) // BUCKET_SECONDS


class TimerIndex:
    def __init__(self, table: Any) -> None:
        self._table = table

    def schedule(self, partition: int, key: bytes, deadline: datetime | None,
                 now: datetime) -> None:
        if deadline is None:
            return
        bucket = bucket_of(deadline)
        cursor = self._cursor(partition)
        if cursor is None:
            cursor = bucket_of(now)
            self._table[f"{partition}:cursor".encode()] = str(cursor).encode()
        bucket = max(bucket, cursor)  # already past: fire with the first bucket not yet fired
        slot = f"{partition}:{bucket}".encode()
        members: list[str] = json.loads(self._table.get(slot) or b"[]")
        name = key.decode()
        if name not in members:
            members.append(name)
            self._table[slot] = json.dumps(members).encode()

    def due(self, partition: int, now: datetime) -> list[bytes]:
        """Keys whose bucket lies wholly before `now`'s bucket; each bucket is handed out once."""
        cursor = self._cursor(partition)
        upto = bucket_of(now)
        if cursor is None or cursor >= upto:
            return []
        keys: list[bytes] = []
        for bucket in range(cursor, upto):
            slot = f"{partition}:{bucket}".encode()
            members = self._table.get(slot)
            if members:
                keys.extend(name.encode() for name in json.loads(members))
                del self._table[slot]
        self._table[f"{partition}:cursor".encode()] = str(upto).encode()
        return list(dict.fromkeys(keys))

    def _cursor(self, partition: int) -> int | None:
        raw = self._table.get(f"{partition}:cursor".encode())
        return int(raw) if raw else None
