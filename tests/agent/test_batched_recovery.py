"""Table recovery reads changelog records in batches (streams/runtime/overrides/recovery.py) and keeps Faust's rules.

The loop that replaced Faust's per-record one must still: take only records newer than the
offset a partition has reached, apply each table's buffer when it reaches the table's buffer
size, apply what is left and signal the end once no active partition is behind its highwater,
leave records of partitions it does not track out, and go on after a record that raises.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from s2c.streams.runtime.overrides.app import RAW, App
from s2c.streams.runtime.overrides.recovery import BatchedRecovery, BatchedRecoveryTables

A, B, STRAY = TP("app-processes-changelog", 0), TP("app-processes-changelog", 1), TP("x", 0)


class Table:
    """What recovery uses of a table: buffer sizes, its hook, and applying a batch."""

    def __init__(self, buffer_size: int) -> None:
        self.recovery_buffer_size = self.standby_buffer_size = buffer_size
        self._on_changelog_event = None
        self.applied: list[list[int]] = []  # offsets of each applied batch

    def apply_changelog_batch(self, batch: list[Any]) -> None:
        if batch:  # the flush at the end applies every buffer, empty ones too
            self.applied.append([event.message.offset for event in batch])


def record(tp: TP, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


def recovery_over(table: Table, highwaters: dict[TP, int]) -> BatchedRecovery:
    app = App("recovery-test", store="memory://", TableManager=BatchedRecoveryTables)
    recovery = app.tables.recovery
    assert isinstance(recovery, BatchedRecovery)
    recovery.active_tps = set(highwaters)
    recovery.tp_to_table = {tp: table for tp in highwaters}
    recovery.active_highwaters.update(highwaters)
    recovery.active_offsets.update({tp: -1 for tp in highwaters})
    recovery._set_recovery_started()  # as Faust's recovery does before resuming the flow
    return recovery


async def test_newer_records_are_buffered_and_applied_at_the_buffer_size() -> None:
    table = Table(buffer_size=3)
    recovery = recovery_over(table, {A: 10, B: 10})
    await recovery._apply(
        [
            record(A, 0),
            record(A, 1),
            record(B, 0),
            record(A, 1),
            record(STRAY, 5),
            record(A, 2),
            record(B, 1),
        ]
    )
    assert table.applied == [[0, 1, 0]]  # the repeated offset 1 and the stray are left out
    assert [e.message.offset for e in recovery.buffers[table]] == [2, 1]
    assert (recovery.active_offsets[A], recovery.active_offsets[B]) == (2, 1)


async def test_the_loop_applies_the_rest_and_signals_the_end_at_the_highwaters() -> None:
    table = Table(buffer_size=1000)
    recovery = recovery_over(table, {A: 4, B: 2})
    queue = recovery.tables.changelog_queue
    for event in [record(A, n) for n in range(5)] + [record(B, n) for n in range(3)]:
        queue.put_nowait(event)
    # Faust's recovery is already waiting for the signal when the loop sets it (and the loop
    # clears it again on its next turn), so the wait starts first here too.
    ended = asyncio.ensure_future(recovery.signal_recovery_end.wait())
    await asyncio.sleep(0)
    loop = asyncio.ensure_future(BatchedRecovery._slurp_changelogs(recovery))
    try:
        await asyncio.wait_for(ended, 5)
    finally:
        loop.cancel()
    assert table.applied == [[0, 1, 2, 3, 4, 0, 1, 2]]  # one flush at the end
    assert not recovery.in_recovery and not recovery.need_recovery()


async def test_recovery_is_not_signalled_while_a_partition_is_behind() -> None:
    table = Table(buffer_size=1000)
    recovery = recovery_over(table, {A: 4, B: 2})
    queue = recovery.tables.changelog_queue
    for n in range(5):
        queue.put_nowait(record(A, n))
    loop = asyncio.ensure_future(BatchedRecovery._slurp_changelogs(recovery))
    try:
        await asyncio.sleep(0.2)
        assert not recovery.signal_recovery_end.is_set() and recovery.in_recovery
        assert table.applied == []  # buffered, waiting for the buffer size or the end
        queue.put_nowait(record(B, 2))  # compaction left only the last offset of B
        await asyncio.wait_for(recovery.signal_recovery_end.wait(), 5)
    finally:
        loop.cancel()
    assert table.applied == [[0, 1, 2, 3, 4, 2]]


async def test_a_record_that_raises_is_logged_and_the_loop_goes_on(caplog: Any) -> None:
    table = Table(buffer_size=1)
    recovery = recovery_over(table, {A: 1})
    queue = recovery.tables.changelog_queue
    queue.put_nowait(SimpleNamespace(message=None))  # no tp, no offset: AttributeError
    loop = asyncio.ensure_future(BatchedRecovery._slurp_changelogs(recovery))
    try:
        await asyncio.sleep(0.05)
        queue.put_nowait(record(A, 0))
        queue.put_nowait(SimpleNamespace(message=None))  # in the middle of a batch this time
        queue.put_nowait(record(A, 1))
        await asyncio.wait_for(recovery.signal_recovery_end.wait(), 5)
    finally:
        loop.cancel()
    assert table.applied == [[0], [1]]
    assert "Error in recovery" in caplog.text


def test_the_raw_schema_hands_on_the_bytes_and_events_carry_them() -> None:
    app = App("raw-test", store="memory://")
    message = SimpleNamespace(key=b"k", value=b'{"a": 1}', headers=None)
    event = app.create_event(
        RAW.loads_key(app, message), RAW.loads_value(app, message), None, message
    )
    assert (event.key, event.value, event.message) == (b"k", b'{"a": 1}', message)
    assert type(event) is app.conf.Event
    assert RAW.loads_value(app, SimpleNamespace(key=None, value=None)) is None  # a tombstone
