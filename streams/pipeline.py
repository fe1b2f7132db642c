"""The Faust topology: ingest -> link (by account number) -> process (by process id) -> outputs.

Agents are thin adapters over the pure core in `s2c.tables`: decode, load state, call the core,
save state, send what it returned. Tables hold the core's states as compact JSON and are
co-partitioned with the topic of the agent that writes them (same partition count, same key).

- ingest (`s2c.events`): decode and validate; what fails goes to the dead-letter topic with its
  original bytes; the rest is routed by `s2c.tables.routing.route`.
- link (`s2c.link`, table `links`): account number -> process id; parks until the link exists.
- process (`s2c.process`, tables `processes` and `awaiting`): the process instance; commands,
  SLA breaches and work-queue exceptions out. `awaiting` indexes instances parked on master data
  per partition, so when a master record arrives a control message on each partition retries them.

Stream time (`now`) is the largest business time this worker has seen: deadlines and SLAs run on
event time, never on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any

import faust

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, DecodeError, registry_client
from s2c.streams.deadletter import of_exception
from s2c.streams.masterdata import MasterReplica
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.settings import Settings
from s2c.streams.sink import OutputSink
from s2c.streams.topics import declare
from s2c.tables import core
from s2c.tables.codec import dumps
from s2c.tables.events import Event, event_from_record
from s2c.tables.link import LinkState, link_on_deadline, link_transition
from s2c.tables.process import ProcessState
from s2c.tables.routing import route, unroutable

log = logging.getLogger(__name__)
RETRY_HEADER = "s2c.control"
EVENTS_NS = "s2c.events."


def _schema_json(name: str) -> str:
    return load_catalog().resolved_json(name)


class StreamClock:
    """Stream time per (stage, partition): the largest business time seen there, as Kafka Streams
    keeps it per task. A per-worker maximum would let one partition's late-day events expire
    another partition's parked events before their anchors had a chance to arrive."""

    def __init__(self) -> None:
        self._now: dict[tuple[str, int], datetime] = {}  # bounded: stages x partitions

    def observe(self, stage: str, partition: int, at: datetime) -> datetime:
        key = (stage, partition)
        current = self._now.get(key)
        if current is None or at > current:
            self._now[key] = current = at
        return current

    def now(self, stage: str, partition: int) -> datetime | None:
        return self._now.get((stage, partition))


def build_pipeline(app: faust.App, metrics: PipelineMetrics, settings: Settings) -> MasterReplica:
    topics = declare(settings)
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    events_t = app.topic(topics.events.name, **raw)
    link_t = app.topic(topics.link.name, **raw)
    process_t = app.topic(topics.process.name, **raw)
    dlq_t = app.topic(topics.dlq.name, **raw)
    table_opts = {"partitions": settings.partitions, "key_type": str, "value_type": bytes}
    links = app.Table("links", **table_opts)
    processes = app.Table("processes", **table_opts)
    awaiting = app.Table("awaiting", **table_opts)
    codec = AvroCodec(registry_client(settings.registry_url), _schema_json)
    sink = OutputSink(app, topics, codec, metrics, process_t)
    clock = StreamClock()
    arrivals: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    replica = MasterReplica(settings, topics.master_data.name, codec,
                            lambda record, key: app.loop.call_soon_threadsafe(
                                arrivals.put_nowait, (record, key)))

    async def decode(message: Any, stage: str) -> tuple[str, dict] | None:
        """Decode or dead-letter; the registry is reached off the loop on an unknown id."""
        try:
            if not codec.is_known(message.value):
                await app.loop.run_in_executor(None, codec.resolve_id,
                                               codec.schema_id_of(message.value))
            return codec.decode(message.value)
        except DecodeError as exc:
            await dead_letter(message, "undecodable", stage, exc)
            return None

    async def dead_letter(message: Any, reason: str, stage: str, exc: BaseException) -> None:
        letter = of_exception(reason, stage, message.topic, message.partition, message.offset,
                              exc, message.key, message.value or b"")
        log.warning("dead letter from %s[%d]@%d: %s (%s)", message.topic, message.partition,
                    message.offset, reason, type(exc).__name__)
        await dlq_t.send(key=message.key, value=message.value, headers=letter.headers())
        metrics.dead_letters.labels(reason=reason, stage=stage).inc()

    @app.task
    async def start_replica() -> None:
        # Register every record once, off the loop, so agents never wait on the registry.
        for name in load_catalog().names():
            await app.loop.run_in_executor(None, codec.prepare, name)
        replica.start()
        await app.loop.run_in_executor(None, replica.ready.wait)

    @app.agent(events_t)
    async def ingest(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            decoded = await decode(message, "ingest")
            if decoded is None:
                continue
            name, record = decoded
            try:
                if not name.startswith(EVENTS_NS):
                    raise ValueError(f"{name} is not a canonical event")
                parsed = event_from_record(name[len(EVENTS_NS):], record)
            except (ValueError, KeyError, TypeError) as exc:
                await dead_letter(message, "invalid-event", "ingest", exc)
                continue
            metrics.events_in.labels(event_type=parsed.schema).inc()
            where = route(parsed)
            if where.link_key is not None:
                await link_t.send(key=where.link_key.encode(), value=message.value)
            elif where.process_id is not None:
                await process_t.send(key=where.process_id.encode(), value=message.value)
            else:
                now = clock.observe("ingest", message.partition, parsed.occurred_at)
                await sink.emit([unroutable(parsed, now)])

    async def load_event(message: Any, stage: str) -> Event | None:
        decoded = await decode(message, stage)
        if decoded is None:
            return None
        name, record = decoded
        try:
            return event_from_record(name[len(EVENTS_NS):], record)
        except (ValueError, KeyError, TypeError) as exc:
            await dead_letter(message, "invalid-event", stage, exc)
            return None

    @app.agent(link_t, concurrency=1)
    async def link(stream: faust.StreamT) -> None:
        async for event in stream.events():
            parsed = await load_event(event.message, "link")
            if parsed is None:
                continue
            started = time.perf_counter()
            now = clock.observe("link", event.message.partition, parsed.occurred_at)
            key = event.message.key.decode()
            stored = links.get(key)
            state = LinkState.from_dict(json.loads(stored)) if stored else None
            if state is not None and (deadline := state.next_deadline()) and deadline <= now:
                state, expired = link_on_deadline(state, now)
                await sink.emit(expired)
            state, outputs = link_transition(state, parsed, now)
            links[key] = dumps(state.to_dict()).encode()
            await sink.emit(outputs)
            metrics.processing_seconds.labels(stage="link").observe(time.perf_counter() - started)

    async def apply(process_id: str, partition: int, step: Any) -> None:
        stored = processes.get(process_id)
        state = ProcessState.from_dict(json.loads(stored)) if stored else None
        state, outputs = step(state)
        processes[process_id] = dumps(state.to_dict()).encode()
        for record, key in core.waiting_for_master(state):
            index_key = f"{record}|{key}@{partition}"
            waiting = set(json.loads(awaiting.get(index_key) or b"[]"))
            if process_id not in waiting:
                awaiting[index_key] = json.dumps(sorted(waiting | {process_id})).encode()
        await sink.emit(outputs)

    @app.agent(process_t, concurrency=1)
    async def process(stream: faust.StreamT) -> None:
        # Master data first: a restarted worker must not park events for rows already published.
        await app.loop.run_in_executor(None, replica.ready.wait)
        async for event in stream.events():
            message = event.message
            if dict(message.headers or {}).get(RETRY_HEADER) is not None:
                await retry_waiting(message)
                continue
            parsed = await load_event(message, "process")
            if parsed is None:
                continue
            started = time.perf_counter()
            now = clock.observe("process", message.partition, parsed.occurred_at)
            process_id = message.key.decode()

            def step(state: ProcessState | None, parsed: Event = parsed) -> Any:
                if state is not None and (due := core.next_deadline(state)) and due <= now:
                    state, expired = core.on_deadline(state, replica.store, now)
                    state, outputs = core.transition(state, parsed, replica.store, now, process_id)
                    return state, expired + outputs
                return core.transition(state, parsed, replica.store, now, process_id)

            await apply(process_id, message.partition, step)
            sink.observe_latency(parsed)
            metrics.processing_seconds.labels(stage="process").observe(
                time.perf_counter() - started)

    async def retry_waiting(message: Any) -> None:
        control = json.loads(message.value)
        index_key = f"{control['record']}|{control['key']}@{message.partition}"
        waiting = json.loads(awaiting.get(index_key) or b"[]")
        now = clock.now("process", message.partition)
        if not waiting or now is None:
            return
        awaiting[index_key] = b"[]"
        for process_id in waiting:
            if processes.get(process_id) is not None:
                await apply(process_id, message.partition,
                            lambda state: core.retry_parked(state, replica.store, now))

    @app.task
    async def announce_master_arrivals() -> None:
        while True:
            record, key = await arrivals.get()
            body = json.dumps({"record": record, "key": key}).encode()
            for partition in range(settings.partitions):
                await process_t.send(key=b"__master__", value=body, partition=partition,
                                     headers=[(RETRY_HEADER, b"retry-master")])

    return replica

