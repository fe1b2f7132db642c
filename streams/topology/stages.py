"""A worker's two keyed stages, LINK and PROCESS.

Each stage runs a `StageRunner` (s2c.tables.stage, the timer rule replay runs too) per
partition. The link and process agents feed them their topics' records; ingest and link feed
them in memory for the partitions this worker owns once their path is open (paths.py), so an
event goes from ingest to its instance in one batch when its worker owns the partitions it
needs, and through a topic only to a partition another worker owns.

With the paths in memory on (`S2C_LOCAL_STAGES=1`), both stages are over one checkpoint and all
three agents apply and checkpoint their batches under `lock`, one batch at a time: a write one
agent made in memory into another stage's table is durable (or undone) before that stage's own
agent touches the table. Off (the default), each agent has its own checkpoint and no lock.
Writes go to the table partition of the key (`Checkpoint.place`), whichever record made them,
so a restart recovers them from the right changelog partition.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta
from typing import Any

from s2c.streams.runtime.checkpoint import Checkpoint
from s2c.streams.runtime.loop import isolated
from s2c.streams.runtime.reorder import Reorder, time_header
from s2c.streams.runtime.states import forget_on_rebalance, json_states
from s2c.streams.runtime.timers import PartitionTimers, TimerIndex
from s2c.streams.runtime.watermarks import InputProgress, Upstream, of_ms, to_ms
from s2c.streams.topology.announce import sources_of
from s2c.streams.topology.context import Topology
from s2c.streams.topology.keepers import LinkKeeper, ProcessKeeper, add_to_tally
from s2c.streams.topology.paths import LocalPaths
from s2c.streams.topology.worklist import apply_action
from s2c.tables import core
from s2c.tables.codec import loads, to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.link import LinkState
from s2c.tables.outputs import Forward
from s2c.tables.process import ProcessState
from s2c.tables.routing import keyed_by_instance, link_key_of, process_id_of
from s2c.tables.stage import LinkStage, ProcessStage, StageRunner

LINK_TABLES = ("links", "link_counts", "link_exceptions", "link_timers")
PROCESS_TABLES = ("processes", "awaiting", "process_exceptions", "stage_counts", "process_timers")
STREAM_TIME = "{}:stream-time"  # in process_timers: the partition's stream time, epoch ms
Origin = tuple[str, int, int]  # where a record came in: topic, partition, offset


def _held(
    key: str,
    event: Event,
    at: datetime,
    registers: bool,
    origin: Origin | None,
    raw: bytes | None = None,
) -> dict[str, Any]:
    """What a held event keeps (reorder.py): its key, upstream time, the event, the bytes it came
    in (a link forwards them as they are), and where it came in (for a dead letter should it fail
    when it is applied)."""
    return {
        "key": key,
        "at": to_ms(at),
        "schema": event.schema,
        "event": to_native(event),
        "raw": None if raw is None else base64.b64encode(raw).decode(),
        "registers": registers,
        "origin": list(origin) if origin is not None else None,
    }


class Stages:
    def __init__(self, t: Topology, link_taken: InputProgress, process_taken: InputProgress):
        self.t = t
        if t.settings.local_stages:  # one checkpoint: a batch may write into both stages
            shared = Checkpoint(
                t.tables,
                LINK_TABLES + PROCESS_TABLES,
                t.outbox,
                progress=("link_timers", "process_timers"),
            )
            self.link_checkpoint = self.process_checkpoint = self.ingest_checkpoint = shared
            self.lock: asyncio.Lock | None = asyncio.Lock()
        else:  # each agent its own, as they never touch each other's tables
            self.link_checkpoint = Checkpoint(
                t.tables, LINK_TABLES, t.outbox, progress=("link_timers",)
            )
            self.process_checkpoint = Checkpoint(
                t.tables, PROCESS_TABLES, t.outbox, progress=("process_timers",)
            )
            self.ingest_checkpoint = Checkpoint({}, (), t.outbox)
            self.lock = None
        lcp, cp = self.link_checkpoint, self.process_checkpoint
        n, cache = t.settings.partitions, t.settings.state_cache
        self.link_upstream = Upstream(lcp["link_timers"], sources_of("link", n))
        self.process_upstream = Upstream(cp["process_timers"], sources_of("process", n))
        self._link_index, self._process_index = (
            TimerIndex(lcp["link_timers"]),
            TimerIndex(cp["process_timers"]),
        )
        self._link_held = Reorder(lcp["link_timers"])
        self._process_held = Reorder(cp["process_timers"])
        forget_on_rebalance(
            t.app, self._link_index, self._process_index, self._link_held, self._process_held
        )
        self._link_at = of_ms(0)  # the upstream time of the link's event being applied
        self._link_states = json_states(t.app, lcp["links"], LinkState, cache)
        self._process_states = json_states(t.app, cp["processes"], ProcessState, cache)
        self.master = t.replica.store
        self._link_stage = LinkStage(t.ids)
        self._process_stage = ProcessStage(
            self.master, lambda e: t.metrics.child(t.metrics.duplicates, e.schema).inc()
        )
        self._grace = timedelta(hours=t.settings.deadline_grace_hours)
        self._links: dict[int, StageRunner[LinkState]] = {}  # bounded by the partition count
        self._processes: dict[int, StageRunner[ProcessState]] = {}
        self.link_name, self.process_name = t.topics.link.name, t.topics.process.name
        self.paths = LocalPaths(
            t.settings.local_stages,
            n,
            {self.link_name: link_taken, self.process_name: process_taken},
            t.outbox,
        )

    # LINK

    def link_runner(self, partition: int) -> StageRunner[LinkState]:
        runner = self._links.get(partition)
        if runner is None:
            keeper = LinkKeeper(self.forward, self.link_checkpoint, self._link_states, partition)
            runner = self._links[partition] = StageRunner(
                self._link_stage, keeper, PartitionTimers(self._link_index, partition), self._grace
            )
        return runner

    def link_watermark(self, partition: int, announcement: bytes) -> None:
        """An upstream's progress: the events held up to the new watermark are applied, earliest
        first, then the deadlines up to it fire."""
        self.link_checkpoint.place(LINK_TABLES, partition)
        self.link_upstream.note(partition, announcement)
        watermark = self.link_upstream.watermark(partition)
        if watermark is None:
            return
        for held, event, at in self._released("link", partition, watermark):
            raw = None if held["raw"] is None else base64.b64decode(held["raw"])
            self._held_apply(
                "link",
                partition,
                held,
                event,
                lambda: self._apply_link(
                    partition, held["key"], event, raw, held["registers"], at, at
                ),
            )
        due_at = self.t.deadline_time(watermark)
        self._link_at = due_at  # what a deadline forwards (a walk-in opening) goes on at
        self.link_runner(partition).fire_due(due_at, isolate=self._isolate("link", partition))

    def link_event(
        self,
        partition: int,
        key: str,
        event: Event,
        raw: bytes | None,
        registers: bool = False,
        at: datetime | None = None,
        origin: Origin | None = None,
    ) -> None:
        """Apply `event` to the account `key` in link partition `partition` once the watermark
        has reached `at`, its upstream time (reorder.py; None: its own business time), else hold
        it until then; what the link releases goes on to its process (`forward`)."""
        self.link_checkpoint.place(LINK_TABLES, partition)
        source = self._source(event, key)
        at = self._link_held.not_before(partition, source, at or event.occurred_at)
        watermark = self.link_upstream.watermark(partition)
        if watermark is None or at > watermark:
            held = _held(key, event, at, registers, origin, raw)
            self._link_held.hold(partition, at, source, held)
            return
        self._apply_link(partition, key, event, raw, registers, at, watermark)

    def _apply_link(
        self,
        partition: int,
        key: str,
        event: Event,
        raw: bytes | None,
        registers: bool,
        at: datetime,
        reached: datetime,
    ) -> None:
        """Apply the event at upstream time `at`, every upstream having reached `reached`: the
        deadlines strictly before it fire first, those at or before it after (as replay)."""
        now = self.t.clock.observe("link", partition, event.occurred_at)
        due_at = self.t.deadline_time(reached)
        runner, isolate = self.link_runner(partition), self._isolate("link", partition)
        # Forwards go on at the time the link applied them at: the event's, or for what a
        # deadline forwards (a walk-in registration opening its instance), the deadline time if
        # later, so they never reach the process stage before their deadline passed there too.
        self._link_at = max(at, due_at)
        runner.fire_due(due_at, before=True, isolate=isolate)
        self._link_at = at
        cause = (event, raw) if raw is not None else None
        runner.apply(key, event, now, due_at, cause=cause, registers=registers)
        self._link_at = max(at, due_at)
        runner.fire_due(due_at, isolate=isolate)

    def forward(self, outputs: list[Any], arrived: Any) -> None:
        """Send the link's outputs; a forward to a process partition whose path is open is
        applied there in memory instead. Forwards carry the upstream time of the link's event."""
        sent = []
        at = self._link_at
        for item in outputs:
            if isinstance(item, Forward):
                partition = self.paths.local(self.process_name, item.process_id.encode())
                if partition is not None:
                    self.process_event(partition, item.process_id, item.event, at=at)
                    continue
            sent.append(item)
        self.t.sink.emit(sent, arrived=arrived, forward_headers=[time_header(to_ms(at))])

    def _source(self, event: Event, link_key: str | None) -> str:
        """The event's source key (tables/routing.py): its appointment or case for the events
        keyed by one, else its account's pseudonym (`link_key` when the caller has it)."""
        if keyed_by_instance(event):
            process_id = process_id_of(event, None)
            if process_id is not None:
                return process_id
        if link_key is None:
            link_key = link_key_of(event, self.t.ids)
        return f"account:{link_key}"

    # PROCESS

    def process_runner(self, partition: int) -> StageRunner[ProcessState]:
        runner = self._processes.get(partition)
        if runner is None:
            keeper = ProcessKeeper(self.t, self.process_checkpoint, self._process_states, partition)
            runner = self._processes[partition] = StageRunner(
                self._process_stage,
                keeper,
                PartitionTimers(self._process_index, partition),
                self._grace,
            )
        return runner

    def process_watermark(self, partition: int, announcement: bytes) -> None:
        """As `link_watermark`, for a process partition."""
        self.process_checkpoint.place(PROCESS_TABLES, partition)
        self.process_upstream.note(partition, announcement)
        watermark = self.process_upstream.watermark(partition)
        if watermark is None:
            return
        for held, event, at in self._released("process", partition, watermark):
            self._held_apply(
                "process",
                partition,
                held,
                event,
                lambda: self._apply_process(partition, held["key"], event, at),
            )
        self.process_runner(partition).fire_due(
            self.t.deadline_time(watermark), isolate=self._isolate("process", partition)
        )

    def process_event(
        self,
        partition: int,
        key: str,
        event: Event,
        at: datetime | None = None,
        origin: Origin | None = None,
    ) -> None:
        """Apply `event` to instance `key` once the watermark has reached `at` (as
        `link_event`), else hold it until then."""
        self.process_checkpoint.place(PROCESS_TABLES, partition)
        source = self._source(event, None)
        at = self._process_held.not_before(partition, source, at or event.occurred_at)
        watermark = self.process_upstream.watermark(partition)
        if watermark is None or at > watermark:
            self._process_held.hold(partition, at, source, _held(key, event, at, False, origin))
            return
        self._apply_process(partition, key, event, watermark)

    def _apply_process(self, partition: int, key: str, event: Event, reached: datetime) -> None:
        self.stream_now(partition)  # after a restart, stream time goes on from the table's
        now = self.t.clock.observe("process", partition, event.occurred_at)
        self._keep_stream_time(partition, now)
        due_at = self.t.deadline_time(reached)
        runner, isolate = self.process_runner(partition), self._isolate("process", partition)
        runner.fire_due(due_at, before=True, isolate=isolate)
        runner.apply(key, event, now, due_at, cause=event)
        runner.fire_due(due_at, isolate=isolate)

    def _released(
        self, stage: str, partition: int, watermark: datetime
    ) -> list[tuple[dict[str, Any], Event, datetime]]:
        """The events `stage` held in `partition` up to `watermark`, earliest first, each with
        its event and upstream time."""
        held = self._link_held if stage == "link" else self._process_held
        return [
            (record, event_from_record(record["schema"], record["event"]), of_ms(record["at"]))
            for record in held.release(partition, watermark)
        ]

    def _held_apply(
        self, stage: str, partition: int, held: dict[str, Any], event: Event, apply: Any
    ) -> None:
        """Apply a released event so that its failure stays its own: its writes are undone and
        it goes to the dead-letter topic from where it came in; the record that released it
        (an announcement) and the other released events go on."""
        checkpoint = self.link_checkpoint if stage == "link" else self.process_checkpoint
        isolated(
            checkpoint,
            apply,
            lambda exc: self.t.dead_letter_held(stage, partition, held, event, exc),
        )

    def retry_waiting(self, partition: int, control: bytes) -> None:
        """Master data arrived: retry the instances of `partition` that wait for it."""
        self.process_checkpoint.place(PROCESS_TABLES, partition)
        body = loads(control)
        slot = f"{body['record']}|{body['key']}@{partition}".encode()
        awaiting = self.process_checkpoint["awaiting"]
        waiting = awaiting.decoded(slot, loads) or []
        now = self.stream_now(partition)
        if not waiting or now is None:
            return  # None: no event ever reached the partition, so nothing there waits
        del awaiting[slot]
        runner, master = self.process_runner(partition), self.master
        for name in waiting:
            runner.step(name, lambda s: core.retry_parked(s, master, now))

    def work_item_action(self, stage: str, partition: int, key: bytes, control: bytes) -> None:
        """A person's action on a work item kept for `key` (workitems.py), applied by the agent
        that writes the item's table: durable with the partition's other writes, and applying
        the same action again changes nothing."""
        if stage == "link":
            checkpoint, names = self.link_checkpoint, LINK_TABLES
            kept, counts = "link_exceptions", "link_counts"
        else:
            checkpoint, names = self.process_checkpoint, PROCESS_TABLES
            kept, counts = "process_exceptions", "stage_counts"
        checkpoint.place(names, partition)
        moved = apply_action(checkpoint[kept], key, loads(control))
        add_to_tally(checkpoint[counts], partition, moved)

    def stream_now(self, partition: int) -> datetime | None:
        """The partition's stream time: the later of the worker's clock and the time kept in the
        table (a restarted worker has no clock, and one a partition comes back to may have an
        old one). Without it a master-data retry that came first after a restart was dropped,
        and the events waiting for that record stayed parked until their deadline reported
        them missing."""
        kept = self.process_checkpoint["process_timers"].get(STREAM_TIME.format(partition).encode())
        if kept is not None:
            return self.t.clock.observe("process", partition, of_ms(int(kept)))
        return self.t.clock.now("process", partition)

    def _keep_stream_time(self, partition: int, now: datetime) -> None:
        slot = STREAM_TIME.format(partition).encode()
        self.process_checkpoint["process_timers"][slot] = str(to_ms(now)).encode()

    def _isolate(self, stage: str, partition: int) -> Any:
        checkpoint = self.link_checkpoint if stage == "link" else self.process_checkpoint

        def run(key: str, fire: Any) -> Any:
            return isolated(
                checkpoint,
                fire,
                lambda exc: self.t.deadline_failed(stage, partition, key, exc),
            )

        return run
