"""LINK (`s2c.link`, keyed by the account's pseudonym): which process instance an account belongs to.

One `StageRunner` (s2c.tables.stage: the timer rule replay runs too) per partition over the
batched `links` table and the partition's timer index. Per record: fire the partition's due
deadlines (parked events that never got a link become work items), apply the event, keep the
state, and forward what the core released. A registration copy (header `s2c.control:
register`: the event went straight to its process) records the link and releases what was
parked, without forwarding the event again. Deadlines fire up to the partition's watermark
(s2c.streams.runtime.watermarks), which the ingest partitions' announcements on this topic move.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import faust

from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.loop import isolated, run_stage
from s2c.streams.runtime.states import StateView, json_states
from s2c.streams.runtime.timers import PartitionTimers, TimerIndex
from s2c.streams.runtime.watermarks import WATERMARK, InputProgress, Upstream
from s2c.streams.topology.announce import sources_of
from s2c.streams.topology.context import REGISTRATION, Topology, control_of
from s2c.streams.topology.worklist import keep_raised
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.link import LinkState
from s2c.tables.stage import LinkStage, StageRunner

PARKED = "PARKED|link"


class LinkKeeper:
    """A link partition's states: saved in the batch, their parked events counted for the gauge,
    their outputs sent (forwards with the bytes of the event that arrived)."""

    def __init__(self, t: Topology, checkpoint: Checkpoint, states: StateView, partition: int):
        self.t, self.states, self.partition = t, states, partition
        self.counts, self.raised = checkpoint["link_counts"], checkpoint["link_exceptions"]
        self._parked_before: dict[str, int] = {}

    def load(self, key: str) -> LinkState | None:
        state = self.states.load(key.encode())
        self._parked_before[key] = len(state.parked) if state is not None else 0
        return state

    def keep(self, key: str, state: LinkState, outputs: list[Any], cause: Any) -> None:
        self.t.sink.emit(outputs, arrived=cause)
        keep_raised(self.raised, key.encode(), outputs)
        self.states.save(key.encode(), state)
        parked_before = self._parked_before.pop(key, 0)
        if len(state.parked) != parked_before:  # feeds the parked-events gauge
            slot = str(self.partition).encode()
            tally = self.counts.decoded(slot, loads) or {}
            tally[PARKED] = max(tally.get(PARKED, 0) + len(state.parked) - parked_before, 0)
            self.counts.hold(slot, tally, dumps_bytes)


def attach_link(t: Topology, progress: InputProgress) -> None:
    checkpoint = Checkpoint(
        t.tables,
        ("links", "link_counts", "link_exceptions", "link_timers"),
        t.outbox,
        progress=("link_timers",),
    )
    index = TimerIndex(checkpoint["link_timers"])
    upstream = Upstream(checkpoint["link_timers"], sources_of("link", t.settings.partitions))
    states = json_states(t.app, checkpoint["links"], LinkState, t.settings.state_cache)
    stage, grace = LinkStage(t.ids), timedelta(hours=t.settings.deadline_grace_hours)
    runners: dict[int, StageRunner[LinkState]] = {}  # bounded by the partition count

    def runner(partition: int) -> StageRunner[LinkState]:
        found = runners.get(partition)
        if found is None:
            keeper = LinkKeeper(t, checkpoint, states, partition)
            found = runners[partition] = StageRunner(
                stage, keeper, PartitionTimers(index, partition), grace
            )
        return found

    def isolate(partition: int) -> Any:
        def run(key: str, fire: Any) -> Any:
            return isolated(
                checkpoint, fire, lambda exc: t.deadline_failed("link", partition, key, exc)
            )

        return run

    @t.app.agent(t.link_t, name="s2c-link", concurrency=1)
    async def link(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        await run_stage(stream, checkpoint, link_one, link_failed)

    async def link_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "link", exc)

    async def link_one(message: Any) -> None:
        partition = message.partition
        progress.took(partition, message.offset)  # the announcer's drained check
        control = control_of(message)
        here = runner(partition)
        if control == WATERMARK:
            upstream.note(partition, message.value)
            if (due_at := t.due_time(upstream, partition)) is not None:
                here.fire_due(due_at, isolate=isolate(partition))
            return
        registers = control == REGISTRATION
        if control is not None and not registers:
            return  # a control record of a later version: nothing this worker knows to do
        parsed = await t.load_event(message, "link")
        if parsed is None:
            return
        started = time.perf_counter()
        now = t.clock.observe("link", partition, parsed.occurred_at)
        due_at = t.due_time(upstream, partition)
        if due_at is not None:  # an event at a deadline's very instant is in time for it
            here.fire_due(due_at, before=True, isolate=isolate(partition))
        key = message.key.decode()
        here.apply(key, parsed, now, due_at, cause=(parsed, message.value), registers=registers)
        t.metrics.child(t.metrics.processing_seconds, "link").observe(time.perf_counter() - started)
