"""PROCESS (`s2c.process`, keyed by process id): the schedule-to-cash instance.

One `StageRunner` (s2c.tables.stage: the timer rule replay runs too) per partition over the
batched `processes` table and the partition's timer index. Per event: fire the partition's due
deadlines (SLA breaches, expired parked events), apply the event through the core, keep the
state: its next deadline filed, what it waits for in master data indexed, the per-partition
open-instance counts, the outputs sent. Control messages (header `s2c.control`) on a partition
are either `retry-master` (master data arrived: the instances there waiting for that key are
retried) or `watermark` (an upstream partition's progress: deadlines fire up to the smallest
progress of all upstreams, see s2c.streams.runtime.watermarks).

Each partition's stream time is kept in `process_timers` too (`<partition>:stream-time`), so a
restarted worker, or one a partition has just moved to, goes on from it: a retry that reaches the
partition before its first event there is applied at that time instead of being dropped.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.loop import isolated, run_stage
from s2c.streams.runtime.states import StateView, json_states, sorted_json
from s2c.streams.runtime.timers import PartitionTimers, TimerIndex
from s2c.streams.runtime.watermarks import WATERMARK, Upstream
from s2c.streams.topology.announce import sources_of
from s2c.streams.topology.context import Topology, control_of
from s2c.streams.topology.worklist import keep_raised
from s2c.tables import core
from s2c.tables.codec import dumps_bytes, loads
from s2c.tables.outputs import Command
from s2c.tables.process import ProcessState
from s2c.tables.stage import ProcessStage, StageRunner

PARKED = "PARKED|process"
STREAM_TIME = "{}:stream-time"  # in process_timers: the partition's stream time, epoch ms


class ProcessKeeper:
    """A process partition's states: saved in the batch, with the open-instance counts by stage
    and site, the master-data wait index and the kept work items beside them; outputs sent."""

    def __init__(self, t: Topology, checkpoint: Checkpoint, states: StateView, partition: int):
        self.t, self.states, self.partition = t, states, partition
        self.awaiting, self.counts = checkpoint["awaiting"], checkpoint["stage_counts"]
        self.raised = checkpoint["process_exceptions"]
        self._before: dict[str, tuple[str | None, int]] = {}  # key -> (label, parked) loaded

    def load(self, key: str) -> ProcessState | None:
        state = self.states.load(key.encode())
        # Noted now: the core may update the state it is given in place.
        self._before[key] = (_label(state), len(state.parked)) if state else (None, 0)
        return state

    def keep(self, key: str, state: ProcessState, outputs: list[Any], cause: Any) -> None:
        self.t.sink.emit(outputs)  # acked before states are written (the checkpoint)
        if cause is not None and any(isinstance(o, Command) for o in outputs):
            self.t.sink.observe_latency(cause)
        raw = key.encode()
        self.states.save(raw, state)
        label_before, parked_before = self._before.pop(key, (None, 0))
        label = _label(state)
        moves = {PARKED: len(state.parked) - parked_before}
        if label != label_before:
            moves[label] = 1
            if label_before is not None:
                moves[label_before] = moves.get(label_before, 0) - 1
        self.tally(moves)
        for record, wait_key in core.waiting_for_master(state):
            slot = f"{record}|{wait_key}@{self.partition}".encode()
            waiting = self.awaiting.decoded(slot, loads) or []
            if key not in waiting:
                self.awaiting.hold(slot, waiting + [key], dumps_bytes)
        keep_raised(self.raised, raw, outputs)

    def tally(self, moves: dict[str, int]) -> None:
        """Per-partition counts (open instances by stage and site, parked events) for the
        telemetry gauges; written in the partition's own stream context like every table."""
        moves = {label: n for label, n in moves.items() if n}
        if not moves:
            return
        slot = str(self.partition).encode()
        counts_now: dict[str, int] = self.counts.decoded(slot, loads) or {}
        for label, n in moves.items():
            counts_now[label] = max(counts_now.get(label, 0) + n, 0)
        self.counts.hold(slot, counts_now, sorted_json)


def _label(state: ProcessState | None) -> str | None:
    return None if state is None else f"{state.stage.value}|{state.site_id or 'unknown'}"


def attach_process(t: Topology) -> None:
    checkpoint = Checkpoint(
        t.tables,
        ("processes", "awaiting", "process_exceptions", "stage_counts", "process_timers"),
        t.outbox,
        progress=("process_timers",),
    )
    awaiting, timer_table = checkpoint["awaiting"], checkpoint["process_timers"]
    index = TimerIndex(timer_table)
    upstream = Upstream(timer_table, sources_of("process", t.settings.partitions))
    master = t.replica.store
    states = json_states(t.app, checkpoint["processes"], ProcessState, t.settings.state_cache)
    stage = ProcessStage(master, lambda e: t.metrics.child(t.metrics.duplicates, e.schema).inc())
    grace = timedelta(hours=t.settings.deadline_grace_hours)
    runners: dict[int, StageRunner[ProcessState]] = {}  # bounded by the partition count

    def runner(partition: int) -> StageRunner[ProcessState]:
        found = runners.get(partition)
        if found is None:
            keeper = ProcessKeeper(t, checkpoint, states, partition)
            found = runners[partition] = StageRunner(
                stage, keeper, PartitionTimers(index, partition), grace
            )
        return found

    def isolate(partition: int) -> Any:
        def run(key: str, fire: Any) -> Any:
            return isolated(
                checkpoint, fire, lambda exc: t.deadline_failed("process", partition, key, exc)
            )

        return run

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

    def retry_waiting(message: Any) -> None:
        control = loads(message.value)
        slot = f"{control['record']}|{control['key']}@{message.partition}".encode()
        waiting = awaiting.decoded(slot, loads) or []
        now = stream_now(message.partition)
        if not waiting or now is None:
            return  # None: no event ever reached the partition, so nothing there waits
        del awaiting[slot]
        here = runner(message.partition)
        for name in waiting:
            here.step(name, lambda s: core.retry_parked(s, master, now))

    @t.app.agent(t.process_t, name="s2c-process", concurrency=1)
    async def process(stream: faust.StreamT) -> None:
        # Master data first: a restarted worker must not park events for rows already published.
        await t.wait_until_ready(need_master=True)
        await run_stage(stream, checkpoint, process_one, process_failed)

    async def process_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "process", exc)

    async def process_one(message: Any) -> None:
        partition = message.partition
        control = control_of(message)
        here = runner(partition)
        if control == WATERMARK:
            upstream.note(partition, message.value)
            if (due_at := t.due_time(upstream, partition)) is not None:
                here.fire_due(due_at, isolate=isolate(partition))
            return
        if control is not None:
            retry_waiting(message)
            return
        parsed = await t.load_event(message, "process")
        if parsed is None:
            return
        started = time.perf_counter()
        stream_now(partition)  # after a restart, stream time goes on from the table's
        now = t.clock.observe("process", partition, parsed.occurred_at)
        keep_stream_time(partition, now)
        due_at = t.due_time(upstream, partition)
        if due_at is not None:  # an event at a deadline's very instant is in time for it
            here.fire_due(due_at, before=True, isolate=isolate(partition))
        here.apply(message.key.decode(), parsed, now, due_at, cause=parsed)
        t.metrics.child(t.metrics.processing_seconds, "process").observe(
            time.perf_counter() - started
        )


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
