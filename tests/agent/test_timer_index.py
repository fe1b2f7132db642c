"""The event-time timer index the link and process agents file deadlines in, on a plain dict.

Deadlines are kept per partition in 15-minute buckets of event time; a key is handed out as soon
as stream time reaches its deadline (as the replay engine fires it), and only once. A deadline that
is already behind the index's cursor (a late event parked with an expired TTL) must still fire at
the next call rather than be filed under a bucket that will never be read again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core_world import T0

from s2c.streams.runtime.reorder import Reorder
from s2c.streams.runtime.timers import BUCKET_SECONDS, TimerIndex, bucket_of

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


def test_before_hands_out_only_deadlines_strictly_before_now() -> None:
    timers = TimerIndex(Table())
    timers.schedule(0, CASE, T0 + 62 * MINUTE)

    assert timers.due(0, T0 + 62 * MINUTE, before=True) == []  # an event at the instant is in time
    assert timers.due(0, T0 + 62 * MINUTE) == [CASE]


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


class CountingTable(Table):
    """Counts the keys the index reads: the work a `due` call does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def decoded(self, key: bytes, decode: Callable[[bytes], Any]) -> Any:
        self.reads += 1
        return super().decoded(key, decode)


THOUSAND_YEARS = timedelta(days=365_250)


def test_a_thousand_year_jump_reads_only_the_buckets_that_hold_deadlines() -> None:
    """An event dated a millennium ahead moves stream time 35 million quarter hours at once; the
    index must hand out exactly what is due, reading its few filled buckets, not every bucket."""
    table = CountingTable()
    timers = TimerIndex(table)
    timers.schedule(0, CASE, T0 + 20 * MINUTE)  # an authorization due this morning
    timers.schedule(0, VISIT, T0 + 30 * 24 * 60 * MINUTE)  # a remittance due in 30 days
    far = b"CASE-C-2999"
    timers.schedule(0, far, T0 + THOUSAND_YEARS - MINUTE)
    beyond = b"CASE-C-3999"
    timers.schedule(0, beyond, T0 + THOUSAND_YEARS + MINUTE)
    table.reads = 0

    assert timers.due(0, T0 + THOUSAND_YEARS) == [CASE, VISIT, far]
    assert table.reads < 10
    assert timers.due(0, T0 + THOUSAND_YEARS) == []  # each filing handed out once
    assert timers.due(0, T0 + THOUSAND_YEARS + 2 * MINUTE) == [beyond]
    assert filed(table) == {}


def test_a_deadline_filed_in_the_far_future_costs_nothing_until_it_is_due() -> None:
    table = CountingTable()
    timers = TimerIndex(table)
    timers.schedule(2, CASE, T0.replace(year=2999))  # a poison event's deadline
    timers.schedule(2, VISIT, T0 + 62 * MINUTE)
    table.reads = 0
    assert timers.due(2, T0 + 24 * 60 * MINUTE) == [VISIT]
    assert timers.due(2, T0.replace(year=2998)) == []
    assert table.reads < 10
    assert timers.due(2, T0.replace(year=2999)) == [CASE]


def test_an_index_written_with_a_cursor_is_read_into_a_directory_once() -> None:
    """Tables written before the directory existed: a cursor and filled buckets, nothing else."""
    table = Table()
    first, later = bucket_of(T0 + 20 * MINUTE), bucket_of(T0 + 5 * 60 * MINUTE)
    table[b"1:cursor"] = str(first).encode()
    table[f"1:{first}".encode()] = b'{"%s": %d}' % (
        CASE,
        int((T0 + 20 * MINUTE).timestamp() * 1000),
    )
    table[f"1:{later}".encode()] = b'{"%s": %d}' % (
        VISIT,
        int((T0 + 5 * 60 * MINUTE).timestamp() * 1000),
    )
    timers = TimerIndex(table)

    assert timers.due(1, T0 + 60 * MINUTE) == [CASE]
    assert b"1:cursor" not in table
    assert timers.due(1, T0 + THOUSAND_YEARS) == [VISIT]
    assert filed(table) == {}


async def test_a_cursor_index_in_a_faust_table_is_read_into_a_directory(tmp_path) -> None:
    """The same migration through the agents' batched view of a real (memory-store) table."""
    from agentkit import World

    from s2c.streams.runtime.store import BatchedTable

    class Message:
        partition = 1

    class Event:
        message = Message()

    w = World(tmp_path)
    table = w.t.tables["process_timers"]
    at = T0 + 20 * MINUTE
    first = bucket_of(at)
    table.data[b"1:cursor"] = str(first).encode()
    table.data[f"1:{first}".encode()] = b'{"%s": %d}' % (CASE, int(at.timestamp() * 1000))
    table.data[b"1:upstream"] = b"{}"  # the watermark marks share the table
    view = BatchedTable(table)
    view.event = Event()

    assert TimerIndex(view).due(1, T0 + 60 * MINUTE) == [CASE]
    view.flush(w.producer)
    assert b"1:cursor" not in table.data and f"1:{first}".encode() not in table.data


class CountedKeys(Table):
    """A `Table` that counts the scans of its keys."""

    scans = 0

    def keys(self):  # type: ignore[override]
        self.scans += 1
        return super().keys()


def crash_drops_directory_entry(
    table: dict[bytes, bytes], partition: int, bucket: int, prefix: str = ""
) -> None:
    """What a worker killed amid a batch's changelog records can leave: the bucket's members
    reached the broker, the directory's new entry did not."""
    directory = f"{partition}:{prefix}buckets".encode()
    named = [b for b in json.loads(table[directory]) if b != bucket]
    table[directory] = json.dumps(named).encode()


def test_a_bucket_no_directory_names_is_found_at_the_first_use_after_partitions_move() -> None:
    table = CountedKeys()
    before = TimerIndex(table)
    before.schedule(1, CASE, T0 + 20 * MINUTE)
    before.schedule(1, VISIT, T0 + 5 * 60 * MINUTE)
    crash_drops_directory_entry(table, 1, bucket_of(T0 + 5 * 60 * MINUTE))
    # The batch read again files VISIT into its bucket again: the bucket is not empty, so the
    # directory is not touched there. Without the check VISIT never fired.
    table.scans = 0
    after = TimerIndex(table)  # the worker that recovers the partition
    after.schedule(1, VISIT, T0 + 5 * 60 * MINUTE)
    assert after.due(1, T0 + 6 * 60 * MINUTE) == [CASE, VISIT]
    assert filed(table) == {}
    assert table.scans == 1  # once per partition, not per call
    after.due(1, T0 + 7 * 60 * MINUTE)
    assert table.scans == 1


def test_forget_makes_a_running_index_check_its_directories_again() -> None:
    table = Table()
    timers = TimerIndex(table)
    timers.schedule(2, CASE, T0 + 20 * MINUTE)
    timers.schedule(2, VISIT, T0 + 3 * 60 * MINUTE)
    assert timers.due(2, T0 + 30 * MINUTE) == [CASE]
    # the partition went to a worker that was killed amid a batch, and came back
    crash_drops_directory_entry(table, 2, bucket_of(T0 + 3 * 60 * MINUTE))
    assert timers.due(2, T0 + 4 * 60 * MINUTE) == []  # checked already: the bucket is unseen
    timers.forget()  # what a rebalance calls
    assert timers.due(2, T0 + 4 * 60 * MINUTE) == [VISIT]


def test_held_events_are_counted_over_the_index_and_released_after_a_crash() -> None:
    """What a `kill -9` left on 2026-12-06: an earlier version's counter at 36 over one held
    event, and held events whose filings never reached the changelog (kept for good: the
    partition never drained)."""
    table = Table()
    held = Reorder(table)
    first, later = T0 + 20 * MINUTE, T0 + 5 * 60 * MINUTE
    for n, (at, source) in enumerate([(first, "case:C-1"), (later, "case:C-2")]):
        held.hold(1, at, source, {"n": n, "at": int(at.timestamp() * 1000)})
    table[b"1:held-count"] = b"36"
    assert held.count(1) == 2
    crash_drops_directory_entry(table, 1, bucket_of(later), prefix="held")
    del table[f"1:held{bucket_of(later)}".encode()]  # the filing itself is gone too
    assert held.count(1) == 1  # what the index names

    recovered = Reorder(table)  # the worker that recovers the partition
    assert [r["n"] for r in recovered.release(1, first)] == [0]
    assert recovered.count(1) == 1  # the unfiled event, filed again at the first use
    assert [r["n"] for r in recovered.release(1, later)] == [1]
    assert recovered.count(1) == 0
    assert not [k for k in table if k.startswith(b"1:held:")]


def test_a_running_reorder_checks_again_only_after_partitions_move() -> None:
    table = Table()
    held = Reorder(table)
    at = T0 + 20 * MINUTE
    held.hold(3, at, "case:C-1", {"n": 0, "at": int(at.timestamp() * 1000)})
    table[b"3:held:000000000000099"] = json.dumps(
        {"n": 99, "at": int(at.timestamp() * 1000)}
    ).encode()
    assert [r["n"] for r in held.release(3, at)] == [0]  # checked at the hold: 99 came after
    held.forget()
    assert [r["n"] for r in held.release(3, at)] == [99]
