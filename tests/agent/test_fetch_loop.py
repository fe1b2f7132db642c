"""The worker's fetch loop (streams/runtime/overrides/transport.py, repair 4) hands records on with one await each.

Faust raced every record against the flow being stopped with two tasks; ours awaits the agents'
queue directly and keeps one guard that gives a waiting record up when a rebalance stops the
flow. The loop must still: give up a record stuck on a full queue once the flow stops (or the
rebalance would wait forever for a fetch loop blocked on an agent that no longer reads), hand on
nothing more until the flow is back, remember how far it read, report offsets that never come as
gaps, and let a real cancellation (shutdown) through.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest

from s2c.streams.runtime.overrides.transport import RewindingConsumer, _Delivery

TP = ("s2c.process", 0)


class FetchLoop:
    """The fetch loop's methods on the few attributes of a Faust consumer they use."""

    _hand_on = RewindingConsumer._hand_on
    _deliver = RewindingConsumer._deliver
    _guard_delivery = RewindingConsumer._guard_delivery

    def __init__(self, room: int) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(room)  # an agent's queue, nobody reading
        self.suspend_flow = asyncio.Event()
        self._read_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.gaps: list[tuple[int, int]] = []
        self.cancelling: list[int] = []  # the loop task's pending cancellations after each run
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))

    @property
    def flow_active(self) -> bool:
        return not self.suspend_flow.is_set()

    async def callback(self, message: Any) -> None:
        await self.queue.put(message.offset)

    async def _add_gap(self, tp: Any, start: int, end: int) -> None:
        self.gaps.append((start, end))

    async def run(self, offsets: list[int]) -> None:
        """One fetched batch through `_hand_on`, guarded as `_drain_messages` guards it."""
        state = _Delivery()
        task = asyncio.current_task()
        assert task is not None
        guard = asyncio.ensure_future(self._guard_delivery(task, state))
        try:
            await self._hand_on(records(offsets), state)
            self.cancelling.append(task.cancelling())
        finally:
            guard.cancel()


async def records(offsets: list[int]) -> Any:
    for offset in offsets:
        yield TP, SimpleNamespace(offset=offset, topic=TP[0])


async def until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.001)


async def test_a_record_stuck_on_a_full_queue_is_given_up_when_the_flow_stops() -> None:
    loop = FetchLoop(room=1)
    run = asyncio.ensure_future(loop.run([10, 11, 12]))
    await until(lambda: loop.queue.full())  # 10 queued, 11 waits for room
    await asyncio.sleep(0.01)
    assert not run.done()

    loop.suspend_flow.set()  # a rebalance stops the flow
    done, _ = await asyncio.wait({run}, timeout=2)  # (wait_for would cancel it on a time-out)

    assert done == {run} and run.exception() is None
    assert loop.cancelling == [0]  # the guard's cancel was taken back
    handed = [loop.queue.get_nowait() for _ in range(loop.queue.qsize())]
    assert handed == [10]  # 11 given up, 12 not handed on
    assert loop._read_offset[TP] == 12  # the seek after the rebalance reads 11 and 12 again


async def test_the_loop_goes_on_after_a_record_was_given_up() -> None:
    loop = FetchLoop(room=1)
    first = asyncio.ensure_future(loop.run([10, 11]))
    await until(lambda: loop.queue.full())
    loop.suspend_flow.set()
    done, _ = await asyncio.wait({first}, timeout=2)
    assert done == {first}

    loop.queue.get_nowait()
    loop.suspend_flow.clear()  # the rebalance is over
    again = asyncio.ensure_future(loop.run([11]))  # the seek reads 11 again
    done, _ = await asyncio.wait({again}, timeout=2)
    assert done == {again} and loop.cancelling == [0, 0]
    assert loop.queue.get_nowait() == 11


async def test_shutdown_still_cancels_a_loop_waiting_on_a_full_queue() -> None:
    loop = FetchLoop(room=1)
    run = asyncio.ensure_future(loop.run([10, 11]))
    await until(lambda: loop.queue.full())
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_records_already_read_are_skipped_and_missing_offsets_are_gaps() -> None:
    loop = FetchLoop(room=10)
    await loop.run([3, 4, 8])
    await loop.run([7, 8, 9])  # a seek went back: 7 is behind what was read, 8 is read again

    handed = [loop.queue.get_nowait() for _ in range(loop.queue.qsize())]
    assert handed == [3, 4, 8, 8, 9]
    assert loop.gaps == [(5, 8)]
    assert loop._read_offset[TP] == 9
