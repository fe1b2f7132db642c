"""The event-time timer index the link and process agents file deadlines in, on a plain dict.

Deadlines are kept per partition in 15-minute buckets of event time; a key is handed out as soon
as stream time reaches its deadline (as the replay engine fires it), and only once. A deadline that
is already behind the index's cursor (a late event parked with an expired TTL) must still fire at
the next call rather than be filed under a bucket that will never be read again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core_world import T0

from s2c.streams.topology.timers import BUCKET_SECONDS, TimerIndex, bucket_of

MINUTE = timedelta(minutes=1)
CASE = b"CASE-C-1001"
VISIT = b"APPT-A-2001"


class Table(dict):
    """A dict with the batched view's object calls (`BatchedTable.decoded` / `hold`), each
    written through at once, so every step below is checked against stored bytes."""

    def decoded(self, key: bytes, decode: Callable[[bytes], Any]) -> Any:
        stored = self.get(key)
        return None if stored is None else decode(stored)

    def hold(self, key: bytes, state: Any, encode: Callable[[Any], bytes]) -> None:
        self[key] = encode(state)


def filed(table: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in table.items() if not k.endswith(b":cursor")}


def test_buckets_are_a_quarter_hour_of_event_time() -> None:
    assert BUCKET_SECONDS == 900
    assert bucket_of(T0 + 14 * MINUTE) == bucket_of(T0)
    assert bucket_of(T0 + 15 * MINUTE) == bucket_of(T0) + 1


def test_a_deadline_is_due_once_stream_time_reaches_it_and_only_once() -> None:
    table = Table()
    timers = TimerIndex(table)
    timers.schedule(0, CASE, T0 + 62 * MINUTE)

    assert timers.due(0, T0 + 30 * MINUTE) == []
    assert timers.due(0, T0 + 61 * MINUTE) == []  # same bucket, deadline not reached yet
    assert timers.due(0, T0 + 62 * MINUTE) == [CASE]
    assert timers.due(0, T0 + 90 * MINUTE) == []
    assert timers.due(0, T0 + 3 * 60 * MINUTE) == []
    assert filed(table) == {}  # fired buckets are deleted: the index holds only the future


def test_a_deadline_already_behind_the_cursor_fires_at_the_next_call() -> None:
    timers = TimerIndex(Table())
    timers.schedule(0, CASE, T0 + 20 * MINUTE)
    assert timers.due(0, T0 + 60 * MINUTE) == [CASE]  # cursor now at 09:00

    timers.schedule(0, VISIT, T0 - 2 * 60 * MINUTE)  # 06:00, long gone
    assert timers.due(0, T0 + 61 * MINUTE) == [VISIT]
    assert timers.due(0, T0 + 90 * MINUTE) == []


def test_a_key_filed_twice_is_handed_out_once() -> None:
    timers = TimerIndex(Table())
    timers.schedule(1, CASE, T0 + 20 * MINUTE)
    timers.schedule(1, CASE, T0 + 25 * MINUTE)  # same bucket
    timers.schedule(1, CASE, T0 + 50 * MINUTE)  # deadline moved: a stale entry stays
    timers.schedule(1, VISIT, T0 + 40 * MINUTE)
    assert timers.due(1, T0 + 4 * 60 * MINUTE) == [CASE, VISIT]


def test_partitions_keep_their_own_stream_time() -> None:
    timers = TimerIndex(Table())
    timers.schedule(0, CASE, T0 + 20 * MINUTE)
    timers.schedule(3, VISIT, T0 + 20 * MINUTE)

    assert timers.due(0, T0 + 8 * 60 * MINUTE) == [CASE]
    assert timers.due(3, T0 + 10 * MINUTE) == []  # partition 3 has not reached the deadline
    assert timers.due(3, T0 + 30 * MINUTE) == [VISIT]


def test_no_deadline_files_nothing() -> None:
    table = Table()
    timers = TimerIndex(table)
    timers.schedule(0, CASE, None)
    assert table == {}
    assert timers.due(0, T0 + 60 * MINUTE) == []
