"""PROCESS (`s2c.process`, keyed by process id): the schedule-to-cash instance.

Per event: fire the partition's due deadlines (SLA breaches, expired parked events), apply the
event through the core, save the state, file its next deadline, index what it waits for in master
data, keep the per-partition open-instance counts, and send the outputs. Control messages (header
`s2c.control`) on a partition are either `retry-master` (master data arrived: the instances there
waiting for that key are retried) or `watermark` (an upstream partition's progress: deadlines fire
up to the smallest progress of all upstreams, see watermarks.py).

Each partition's stream time is kept in `process_timers` too (`<partition>:stream-time`), so a
restarted worker, or one a partition has just moved to, goes on from it: a retry that reaches the
partition before its first event there is applied at that time instead of being dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust

from s2c.streams.topology.batch import BatchScope, consume_in_batches, fire_isolated
from s2c.streams.topology.context import Topology, control_of
from s2c.streams.topology.states import json_states, keep_raised, sorted_json
from s2c.streams.topology.timers import TimerIndex
from s2c.streams.topology.watermarks import WATERMARK, Upstream, sources_of
from s2c.tables import core
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.outputs import Command
from s2c.tables.process import ProcessState

PARKED = "PARKED|process"
STREAM_TIME = "{}:stream-time"  # in process_timers: the partition's stream time, epoch ms
Step = Callable[[ProcessState | None], tuple[ProcessState, list[Any]]]


def attach_process(t: Topology) -> None:
    scope = BatchScope(
        t.tables,
        ("processes", "awaiting", "process_exceptions", "stage_counts", "process_timers"),
        progress=("process_timers",),
    )
    processes, awaiting = scope["processes"], scope["awaiting"]
    exceptions, counts = scope["process_exceptions"], scope["stage_counts"]
    timer_table = scope["process_timers"]
    timers = TimerIndex(timer_table)
    upstream = Upstream(scope["process_timers"], sources_of("process", t.settings.partitions))
    master = t.replica.store
    states = json_states(t.app, processes, ProcessState, t.settings.state_cache)
    load = states.load

    def tally(partition: int, moves: dict[str, int]) -> None:
        """Per-partition counts (open instances by stage and site, parked events) for the
        telemetry gauges; written in the partition's own stream context like every table."""
        moves = {label: n for label, n in moves.items() if n}
        if not moves:
            return
        slot = str(partition).encode()
        counts_now: dict[str, int] = counts.decoded(slot, loads) or {}
        for label, n in moves.items():
            counts_now[label] = max(counts_now.get(label, 0) + n, 0)
        counts.hold(slot, counts_now, sorted_json)

    async def apply(key: bytes, partition: int, step: Step, cause: Any = None) -> None:
        before = load(key)
        # Read before the step: the core may update the state it is given in place.
        label_before = f"{before.stage.value}|{before.site_id or 'unknown'}" if before else None
        parked_before = len(before.parked) if before else 0
        state, outputs = step(before)
        t.sink.emit(outputs)  # acked before states are written (consume_in_batches)
        if cause is not None and any(isinstance(o, Command) for o in outputs):
            t.sink.observe_latency(cause)
        states.save(key, state)
        timers.schedule(partition, key, core.next_deadline(state))
        label = f"{state.stage.value}|{state.site_id or 'unknown'}"
        moves = {PARKED: len(state.parked) - parked_before}
        if label != label_before:
            moves[label] = 1
            if label_before is not None:
                moves[label_before] = moves.get(label_before, 0) - 1
        tally(partition, moves)
        for record, wait_key in core.waiting_for_master(state):
            slot = f"{record}|{wait_key}@{partition}".encode()
            waiting = awaiting.decoded(slot, loads) or []
            if key.decode() not in waiting:
                awaiting.hold(slot, waiting + [key.decode()], dumps_bytes)
        keep_raised(exceptions, key, outputs)

    async def fire_due(partition: int, now: datetime, before: bool = False) -> None:
        """Fire the partition's deadlines at or before `now`; `before`: strictly before it, as
        ahead of an event (an event at a deadline's very instant is in time for it, as in
        replay)."""
        for key in timers.due(partition, now, before):
            await fire_isolated(
                scope,
                lambda key=key: fire_one(key, partition, now, before),
                lambda exc, key=key: t.deadline_failed("process", partition, key, exc),
            )

    async def fire_one(key: bytes, partition: int, now: datetime, before: bool) -> None:
        state = load(key)
        if state is None:
            return
        due = core.next_deadline(state)
        if due is None or due > now or (before and due == now):
            timers.schedule(partition, key, due)
            return
        await apply(key, partition, lambda s: core.on_deadline(s, master, now))

    def stream_now(partition: int) -> datetime | None:
        """The partition's stream time: the later of the worker's clock and the time kept in the
        table (a restarted worker has no clock, and one a partition comes back to may have an
        old one). Without it a master-data retry that came first after a restart was dropped,
        and the events waiting for that record stayed parked until their deadline reported
        them missing."""
        kept = timer_table.get(STREAM_TIME.format(partition).encode())
        if kept is not None:
            return t.clock.observe("process", partition, _from_ms(int(kept)))
        return t.clock.now("process", partition)

    def keep_stream_time(partition: int, now: datetime) -> None:
        slot = STREAM_TIME.format(partition).encode()
        timer_table[slot] = str(int(now.timestamp() * 1000)).encode()

    async def retry_waiting(message: Any) -> None:
        control = loads(message.value)
        slot = f"{control['record']}|{control['key']}@{message.partition}".encode()
        waiting = awaiting.decoded(slot, loads) or []
        now = stream_now(message.partition)
        if not waiting or now is None:
            return  # None: no event ever reached the partition, so nothing there waits
        del awaiting[slot]
        for name in waiting:
            if load(name.encode()) is not None:
                await apply(
                    name.encode(), message.partition, lambda s: core.retry_parked(s, master, now)
                )

    @t.app.agent(t.process_t, name="s2c-process", concurrency=1)
    async def process(stream: faust.StreamT) -> None:
        # Master data first: a restarted worker must not park events for rows already published.
        await t.wait_until_ready(need_master=True)
        await consume_in_batches(stream, scope, t.outbox, process_one, process_failed)

    async def process_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "process", exc)

    async def process_one(message: Any) -> None:
        control = control_of(message)
        if control == WATERMARK:
            upstream.note(message.partition, message.value)
            if (due_at := t.due_time(upstream, message.partition)) is not None:
                await fire_due(message.partition, due_at)
            return
        if control is not None:
            await retry_waiting(message)
            return
        parsed = await t.load_event(message, "process")
        if parsed is None:
            return
        started = time.perf_counter()
        stream_now(message.partition)  # after a restart, stream time goes on from the table's
        now = t.clock.observe("process", message.partition, parsed.occurred_at)
        keep_stream_time(message.partition, now)
        due_at = t.due_time(upstream, message.partition)
        if due_at is not None:
            await fire_due(message.partition, due_at, before=True)
        pid = message.key.decode()
        # The event's own time less the allowed lateness: its instance's deadlines before it have
        # passed in business time whatever the watermark says (replay has fired them too).
        own = t.deadline_time(parsed.occurred_at)
        reached = own if due_at is None else max(due_at, own)

        def apply_event(s: ProcessState | None, e: Any = parsed) -> tuple[ProcessState, list]:
            caught: list[Any] = []
            if s is not None:
                if e.event_id in s.applied:
                    t.metrics.child(t.metrics.duplicates, e.schema).inc()
                s, caught = core.overdue(s, master, own)
            state, outputs = _then_due(core.transition(s, e, master, now, pid), master, reached)
            return state, caught + outputs

        await apply(message.key, message.partition, apply_event, cause=parsed)
        t.metrics.child(t.metrics.processing_seconds, "process").observe(
            time.perf_counter() - started
        )


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _then_due(
    result: tuple[ProcessState, list[Any]], master: Any, now: datetime | None
) -> tuple[ProcessState, list[Any]]:
    """Fire at once a deadline the event itself put at or before `now` (the partition's deadline
    time or the event's own, whichever is later: a surgery booked less than 48 h ahead, an event
    arriving after a later one moved stream time)."""
    state, outputs = result
    due = core.next_deadline(state)
    if due is not None and now is not None and due <= now:
        state, expired = core.on_deadline(state, master, now)
        outputs = outputs + expired
    return state, outputs
