"""Agents take events in natural batches and acknowledge them once their work is durable.

`take_batches` (streams/runtime/batches.py) closes a batch as soon as nothing more is queued, so
a lone event does not wait for the batch window, and a batch never holds more than `max_`.
`run_stage` (runtime/loop.py) has its checkpoint (runtime/checkpoint.py) acknowledge a batch's
events (let their offsets be committed) only after the broker acknowledged their outputs and,
where they wrote states, those states' changelog records.
"""

from __future__ import annotations

import asyncio
from typing import Any

from s2c.streams.runtime.batches import take_batches
from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.loop import run_stage
from s2c.streams.runtime.overrides.app import RAW, App

LONG = 30.0  # a batch window no test waits for: a batch that waited for it fails the test


def app_with_topic(name: str) -> tuple[App, Any]:
    app = App(f"take-{name}", store="memory://")
    return app, app.topic(f"take-{name}", schema=RAW)


async def test_a_lone_event_goes_at_once_not_after_the_window() -> None:
    app, topic = app_with_topic("lone")
    batches: asyncio.Queue[list[bytes]] = asyncio.Queue()

    @app.agent(topic)
    async def agent(stream: Any) -> None:
        async for batch in take_batches(stream, 10, LONG):
            if batch:
                await batches.put([event.value for event in batch])

    async with agent.test_context() as ctx:
        await ctx.put(key=b"k", value=b"one")
        assert await asyncio.wait_for(batches.get(), 5) == [b"one"]
        await ctx.put(key=b"k", value=b"two")
        assert await asyncio.wait_for(batches.get(), 5) == [b"two"]


async def test_events_queued_meanwhile_come_together_at_most_max() -> None:
    app, topic = app_with_topic("queued")
    batches: list[list[bytes]] = []
    gate, first_taken, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @app.agent(topic)
    async def agent(stream: Any) -> None:
        async for batch in take_batches(stream, 3, LONG):
            if not batch:
                continue
            batches.append([event.value for event in batch])
            first_taken.set()
            await gate.wait()  # the first batch is slow: the others queue up behind it
            if sum(map(len, batches)) == 5:
                done.set()

    async with agent.test_context() as ctx:
        await ctx.put(key=b"k", value=b"a")
        await asyncio.wait_for(first_taken.wait(), 5)
        for value in (b"b", b"c", b"d", b"e"):
            await ctx.put(key=b"k", value=value, wait=False)  # the drainer waits too
        gate.set()
        await asyncio.wait_for(done.wait(), 5)
    assert batches == [[b"a"], [b"b", b"c", b"d"], [b"e"]]


class LoggedCheckpoint(Checkpoint):
    """The stage checkpoint, whose state writing (and draining of the changelog records) is
    logged, and happens only when told to."""

    def __init__(self, outbox: Any, log: list[str], writes: bool) -> None:
        super().__init__({}, (), outbox)
        self.log, self.writes = log, writes

    async def write_states(self) -> None:
        if self.writes:
            self.log.append("write")
            await self.outbox.drain()


class Outbox:
    def __init__(self, log: list[str], taken: list[Any]) -> None:
        self.log, self.taken = log, taken

    async def drain(self) -> None:
        self.log.append(f"drain (acked: {[event.message.acked for event in self.taken]})")


async def acked_after(writes: bool) -> list[str]:
    app, topic = app_with_topic(f"ack-{writes}")
    log: list[str] = []
    taken: list[Any] = []
    outbox = Outbox(log, taken)
    checkpoint = LoggedCheckpoint(outbox, log, writes)

    async def handle(message: Any) -> None:
        log.append(f"handle {message.value.decode()}")

    async def failed(message: Any, exc: Exception) -> None:
        raise AssertionError("no record fails here") from exc

    @app.agent(topic)
    async def agent(stream: Any) -> None:
        await run_stage(stream, checkpoint, handle, failed)

    async with agent.test_context() as ctx:
        event = await ctx.put(key=b"k", value=b"e1")
        taken.append(event)
        deadline = asyncio.get_running_loop().time() + 5
        while not event.message.acked:
            assert asyncio.get_running_loop().time() < deadline, log
            await asyncio.sleep(0.005)
    return log


async def test_an_event_is_acked_only_after_its_outputs_and_states_drained() -> None:
    assert await acked_after(writes=True) == [
        "handle e1",
        "drain (acked: [False])",
        "write",
        "drain (acked: [False])",
    ]


async def test_an_event_that_wrote_no_state_is_acked_after_its_outputs_drained() -> None:
    assert await acked_after(writes=False) == ["handle e1", "drain (acked: [False])"]
