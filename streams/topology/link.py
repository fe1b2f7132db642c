"""LINK (`s2c.link`, keyed by the account's pseudonym): which process instance an account belongs to.

Loads the account's `LinkState`, fires its due deadlines (parked events that never got a link
become work items), applies the event, saves, and forwards what the core released. A registration
copy (header `s2c.control: register`: the event went straight to its process) records the link
and releases what was parked, without forwarding the event again. Deadlines fire
up to the partition's watermark (see watermarks.py), which the ingest partitions' announcements
on this topic move.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import faust

from s2c.streams.topology.batch import BatchScope, consume_in_batches, fire_isolated
from s2c.streams.topology.context import REGISTRATION, Topology, control_of
from s2c.streams.topology.states import json_states, keep_raised
from s2c.streams.topology.timers import TimerIndex
from s2c.streams.topology.watermarks import WATERMARK, InputProgress, Upstream, sources_of
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.link import LinkState, link_on_deadline, link_overdue, link_transition

PARKED = "PARKED|link"


def attach_link(t: Topology, progress: InputProgress) -> None:
    scope = BatchScope(
        t.tables,
        ("links", "link_counts", "link_exceptions", "link_timers"),
        progress=("link_timers",),
    )
    links, counts, raised_here = scope["links"], scope["link_counts"], scope["link_exceptions"]

    timers = TimerIndex(scope["link_timers"])
    upstream = Upstream(scope["link_timers"], sources_of("link", t.settings.partitions))

    states = json_states(t.app, links, LinkState, t.settings.state_cache)
    load = states.load

    def save(key: bytes, partition: int, state: LinkState, parked_before: int) -> None:
        states.save(key, state)
        if len(state.parked) != parked_before:  # feeds the parked-events gauge
            slot = str(partition).encode()
            tally = counts.decoded(slot, loads) or {}
            tally[PARKED] = max(tally.get(PARKED, 0) + len(state.parked) - parked_before, 0)
            counts.hold(slot, tally, dumps_bytes)
        timers.schedule(partition, key, state.next_deadline())

    async def fire_due(partition: int, now: datetime, before: bool = False) -> None:
        """Fire the partition's deadlines at or before `now`; `before`: strictly before it, as
        ahead of an event (an event at a deadline's very instant is in time for it)."""
        for key in timers.due(partition, now, before):
            await fire_isolated(
                scope,
                lambda key=key: fire_one(key, partition, now, before),
                lambda exc, key=key: t.deadline_failed("link", partition, key, exc),
            )

    async def fire_one(key: bytes, partition: int, now: datetime, before: bool) -> None:
        state = load(key)
        due = state.next_deadline() if state is not None else None
        if state is None or due is None or due > now or (before and due == now):
            if state is not None:
                timers.schedule(partition, key, due)
            return
        parked_before = len(state.parked)
        state, outputs = link_on_deadline(state, now)
        t.sink.emit(outputs)
        keep_raised(raised_here, key, outputs)
        save(key, partition, state, parked_before)

    @t.app.agent(t.link_t, name="s2c-link", concurrency=1)
    async def link(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        await consume_in_batches(stream, scope, t.outbox, link_one, link_failed)

    async def link_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "link", exc)

    async def link_one(message: Any) -> None:
        progress.took(message.partition, message.offset)  # the announcer's drained check
        control = control_of(message)
        if control == WATERMARK:
            upstream.note(message.partition, message.value)
            if (due_at := t.due_time(upstream, message.partition)) is not None:
                await fire_due(message.partition, due_at)
            return
        registers = control == REGISTRATION
        if control is not None and not registers:
            return  # a control record of a later version: nothing this worker knows to do
        parsed = await t.load_event(message, "link")
        if parsed is None:
            return
        started = time.perf_counter()
        now = t.clock.observe("link", message.partition, parsed.occurred_at)
        due_at = t.due_time(upstream, message.partition)
        if due_at is not None:
            await fire_due(message.partition, due_at, before=True)
        # The event's own time less the allowed lateness: the account's deadlines before it have
        # passed in business time whatever the watermark says (replay has fired them too).
        own = t.deadline_time(parsed.occurred_at)
        reached = own if due_at is None else max(due_at, own)
        before = load(message.key)
        parked_before = len(before.parked) if before else 0
        caught: list[Any] = []
        if before is not None:
            before, caught = link_overdue(before, own)
        state, outputs = link_transition(before, parsed, now, t.ids, registers=registers)
        outputs = caught + outputs
        due = state.next_deadline()
        if due is not None and due <= reached:
            state, expired = link_on_deadline(state, reached)  # already due: fire at once
            outputs = outputs + expired
        t.sink.emit(outputs, arrived=(parsed, message.value))
        keep_raised(raised_here, message.key, outputs)
        save(message.key, message.partition, state, parked_before)
        t.metrics.child(t.metrics.processing_seconds, "link").observe(time.perf_counter() - started)
