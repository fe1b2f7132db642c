"""The stall watch behind `s2c_stalled_partitions` and the worker's "stalled" warning."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from s2c.streams.runtime.overrides.stream import describe_consumer
from s2c.streams.topology.stalls import StallWatch, task_stacks

TP = ("s2c.events", 3)


def test_waiting_records_without_progress_stall_once_after_the_window() -> None:
    watch = StallWatch(stall_seconds=30)
    assert not watch.observe(TP, position=75, highwater=76, now=0)
    assert not watch.observe(TP, position=75, highwater=76, now=29)
    assert watch.observe(TP, position=75, highwater=76, now=31)  # reported once...
    assert not watch.observe(TP, position=75, highwater=76, now=60)  # ...not every round
    assert watch.stalled(now=60) == [TP]


def test_progress_or_nothing_to_read_is_no_stall() -> None:
    watch = StallWatch(stall_seconds=30)
    watch.observe(TP, position=10, highwater=500, now=0)
    assert not watch.observe(TP, position=11, highwater=500, now=40)  # moved: a busy partition
    assert not watch.observe(TP, position=500, highwater=500, now=100)  # caught up, idle
    assert not watch.observe(TP, position=500, highwater=500, now=200)
    assert watch.stalled(now=200) == []


def test_a_stall_that_clears_and_comes_back_is_reported_again() -> None:
    watch = StallWatch(stall_seconds=30)
    watch.observe(TP, 75, 76, now=0)
    assert watch.observe(TP, 75, 76, now=31)
    watch.observe(TP, 76, 77, now=40)  # progress clears it
    assert watch.stalled(now=41) == []
    assert watch.observe(TP, 76, 77, now=71)


def test_partitions_handed_away_are_forgotten() -> None:
    watch = StallWatch(stall_seconds=30)
    watch.observe(TP, 75, 76, now=0)
    watch.observe(TP, 75, 76, now=31)
    watch.forget_others(keep={("s2c.events", 0)})
    assert watch.stalled(now=60) == []


def test_the_consumer_description_names_its_state_and_no_records() -> None:
    consumer = SimpleNamespace(
        _paused_partitions={TP},
        _buffered_partitions=set(),
        flow_active=True,
        _read_offset={TP: 75},
        _committed_offset={TP: 75},
        _acked={TP: [79, 77]},
        _gap={},
    )
    text = describe_consumer(consumer, TP)
    assert text == (
        "paused=True buffered=False flow_active=True read_offset=75 committed=75 "
        "acked=[77, 79] gaps=0"
    )


def test_task_stacks_follow_awaits_down_to_where_a_task_waits() -> None:
    async def inner(gate: asyncio.Event) -> None:
        await gate.wait()

    async def outer(gate: asyncio.Event) -> None:
        await inner(gate)

    async def main() -> str:
        gate = asyncio.Event()
        task = asyncio.create_task(outer(gate), name="held-task")
        await asyncio.sleep(0)
        text = task_stacks()
        gate.set()
        await task
        return text

    [line] = [row for row in asyncio.run(main()).splitlines() if "held-task" in row]
    assert "outer > " in line and "inner > " in line and "wait" in line.rsplit(">", 1)[1]
