"""What every agent of the topology shares: topics, tables, codec, sink, stream clock, DLQ.

Tables are keyed by raw bytes (the message key as it is on the topic), so Faust's router finds the
worker that owns a key with the same partitioner that placed it, and the experience API can route
a query to that worker.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import (
    AvroCodec,
    DecodeError,
    RegistryUnavailable,
    backoff_delays,
    registry_client_for,
)
from s2c.streams.deadletter import failure_message, of_exception
from s2c.streams.idkey import id_key_of
from s2c.streams.masterdata import DeadLetterSender, MasterReplica
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.runtime.clock import StreamClock
from s2c.streams.runtime.outbox import KafkaOutbox, Outbox
from s2c.streams.runtime.overrides.app import RAW
from s2c.streams.settings import Settings
from s2c.streams.sink import OutputSink
from s2c.streams.topics import Topics, declare
from s2c.streams.topology.stalls import StallWatch
from s2c.tables.codec import to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.ids import IdKey

log = logging.getLogger(__name__)
EVENTS_NS = "s2c.events."
CONTROL_HEADER = "s2c.control"  # on the link and process topics: a control record, not an event
REGISTRATION = b"register"  # on the link topic: an event that went straight to its process
FAILED = "failed"  # the dead-letter reason of a record whose handling raised


def control_of(message: Any) -> bytes | None:
    """The value of a control record's `s2c.control` header (`retry-master`, `watermark`);
    None for an event."""
    headers = message.headers or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return next((value for name, value in pairs if name == CONTROL_HEADER), None)


@dataclass
class Topology:
    app: faust.App
    settings: Settings
    metrics: PipelineMetrics
    topics: Topics
    codec: AvroCodec
    sink: OutputSink
    outbox: Outbox
    replica: MasterReplica
    events_t: Any
    link_t: Any
    process_t: Any
    tables: dict[str, Any]
    ids: IdKey  # the key of the account pseudonyms in link keys and walk-in process ids
    clock: StreamClock = field(default_factory=StreamClock)
    arrivals: asyncio.Queue = field(default_factory=asyncio.Queue)
    stalls: StallWatch = field(default_factory=StallWatch)
    stages: Any = None  # the link and process stages (stages.py), set by build_pipeline
    erp: Any = None  # the ERP status keeper (erp.py), set by build_pipeline

    def deadline_time(self, now: datetime) -> datetime:
        """The event time up to which deadlines fire: stream time less the allowed lateness."""
        return now - timedelta(hours=self.settings.deadline_grace_hours)

    def due_time(self, upstream: Any, partition: int) -> datetime | None:
        """Deadlines fire up to here on `partition`: its watermark (an `Upstream` view, see
        watermarks.py) less the allowed lateness; None while it has no watermark."""
        watermark = upstream.watermark(partition)
        return None if watermark is None else self.deadline_time(watermark)

    async def wait_until_ready(self, need_master: bool = False) -> None:
        """Hold an agent until the worker's first table recovery is over (and, for the process
        stage, master data is loaded). Faust hands agents records fetched while tables are still
        recovering and then seeks back; work done in that window raced the recovery: a timer
        written then was lost and an SLA breach never fired (seen about once in three runs)."""
        await self.app.tables.recovery.completed.wait()
        if need_master:
            await self.master_loaded()

    async def master_loaded(self) -> None:
        """Until the master data replica has caught up. Waited for a second at a time: a thread
        blocked on the event for good would keep a worker that is stopping (a crash before the
        replica was ready, a SIGTERM while loading) from exiting, as exit joins the threads."""
        while not await self.app.loop.run_in_executor(None, self.replica.ready.wait, 1.0):
            pass

    async def decode(self, message: Any, stage: str) -> tuple[str, dict] | None:
        """Decode or dead-letter; the registry is reached off the loop on an unknown id. While the
        registry cannot answer, the record waits (retried with backoff up to a minute apart): an
        outage must not send readable events to the dead-letter topic."""
        for delay in backoff_delays():
            try:
                if not self.codec.is_known(message.value):
                    await self.app.loop.run_in_executor(
                        None, self.codec.resolve_id, self.codec.schema_id_of(message.value)
                    )
                return self.codec.decode(message.value)
            except DecodeError as exc:
                await self.dead_letter(message, "undecodable", stage, exc)
                return None
            except RegistryUnavailable as exc:
                log.warning(
                    "%s[%d]@%d waits for the schema registry (retry in %.0f s): %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: backoff_delays never ends")

    async def load_event(self, message: Any, stage: str) -> Event | None:
        decoded = await self.decode(message, stage)
        if decoded is None:
            return None
        name, record = decoded
        try:
            if not name.startswith(EVENTS_NS):
                raise ValueError(f"{name} is not a canonical event")
            return event_from_record(name[len(EVENTS_NS) :], record)
        except (ValueError, KeyError, TypeError) as exc:
            await self.dead_letter(message, "invalid-event", stage, exc)
            return None

    async def dead_letter(
        self,
        message: Any,
        reason: str,
        stage: str,
        exc: BaseException,
        told_as: str | None = None,
    ) -> None:
        """Send `message` to the DLQ and wait for the broker; `told_as` replaces the exception's
        message (which may quote the record) in the letter."""
        letter = of_exception(
            reason,
            stage,
            message.topic,
            message.partition,
            message.offset,
            exc,
            message.key,
            message.value or b"",
            told_as,
        ).fitted(self.settings.dlq_max_bytes)
        log.warning(
            "dead letter from %s[%d]@%d: %s (%s)",
            message.topic,
            message.partition,
            message.offset,
            reason,
            type(exc).__name__,
        )
        # Delivered before the record's offset can be committed: a dead letter is the record.
        self.outbox.send(self.topics.dlq.name, letter.key, letter.value, headers=letter.headers())
        await self.outbox.drain()
        self.metrics.dead_letters.labels(reason=reason, stage=stage).inc()

    def deadline_failed(self, stage: str, partition: int, key: str, exc: Exception) -> None:
        """A deadline whose firing raised (runtime.loop.isolated). Keys carry no patient data
        (process ids and account pseudonyms); the exception's message may, so it is left out."""
        log.error(
            "deadline of %s in %s[%d] failed and is dropped until its next event: %s\n%s",
            key,
            stage,
            partition,
            failure_message(exc),
            "".join(traceback.format_tb(exc.__traceback__)),
        )

    def dead_letter_held(
        self, stage: str, partition: int, held: dict[str, Any], event: Event, exc: Exception
    ) -> None:
        """A held event (s2c.streams.runtime.reorder) whose handling raised when the watermark
        released it: dead-lettered as `failed` with the coordinates it came in at (the stage
        topic's partition when it came in memory from ingest of another record), its value the
        event encoded again (the original bytes are not kept while it waits). Queued in the
        outbox, which the batch drains before its offsets are committed."""
        told_as = failure_message(exc)
        topic, source_partition, offset = held.get("origin") or (stage, partition, -1)
        log.error(
            "held %s event of %s[%d] failed in the %s stage: %s\n%s",
            event.schema,
            topic,
            source_partition,
            stage,
            told_as,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        letter = of_exception(
            FAILED,
            stage,
            topic,
            source_partition,
            offset,
            exc,
            held["key"].encode(),
            self.codec.encode(f"s2c.events.{event.schema}", to_native(event)),
            told_as,
        ).fitted(self.settings.dlq_max_bytes)
        self.outbox.send(self.topics.dlq.name, letter.key, letter.value, headers=letter.headers())
        self.metrics.dead_letters.labels(reason=FAILED, stage=stage).inc()

    async def dead_letter_failure(self, message: Any, stage: str, exc: Exception) -> None:
        """A record whose handling raised: dead-lettered as `failed`, told by the exception's
        class and where it was raised, so the batch and the partition go on."""
        told_as = failure_message(exc)
        # The stack without the exception's message, which may quote the record.
        log.error(
            "%s[%d]@%d failed in the %s stage: %s\n%s",
            message.topic,
            message.partition,
            message.offset,
            stage,
            told_as,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        await self.dead_letter(message, FAILED, stage, exc, told_as)


def build_context(
    app: faust.App,
    metrics: PipelineMetrics,
    settings: Settings,
    replica: MasterReplica | None = None,
    codec: AvroCodec | None = None,
    outbox: Outbox | None = None,
) -> Topology:
    """`replica`, `codec` and `outbox` are injectable so the agent tier runs without a broker."""
    topics = declare(settings)
    process_t = app.topic(topics.process.name, schema=RAW)
    opts = {
        "partitions": settings.partitions,
        "key_type": bytes,
        "value_type": bytes,
        "schema": RAW,
    }
    tables = {
        name: app.Table(name, **opts)
        for name in (
            "links",
            "link_timers",
            "processes",
            "process_timers",
            "awaiting",
            "process_exceptions",
            "stage_counts",
            "link_counts",
            "link_exceptions",
            "erp_commands",  # the ERP status of each instance's commands (erp.py)
            "erp_exceptions",
            "erp_timers",
            "erp_facts",  # each instance's reconciliation facts (reconciliation.py)
        )
    }
    # Offsets kept: the changelogs' (persisted as Faust does) and the stage topics' (the fences
    # of the paths in memory, paths.py).
    outbox = outbox or KafkaOutbox(
        settings,
        {table.changelog_topic.get_topic_name() for table in tables.values()}
        | {topics.link.name, topics.process.name},
    )
    codec = codec or AvroCodec(
        registry_client_for(settings),
        lambda name: load_catalog().resolved_json(name),
        register=settings.register_schemas,
    )
    arrivals: asyncio.Queue = asyncio.Queue()
    replica = replica or MasterReplica(
        settings,
        topics.master_data.name,
        codec,
        lambda record, key: app.loop.call_soon_threadsafe(arrivals.put_nowait, (record, key)),
        DeadLetterSender(
            settings,
            topics.dlq.name,
            lambda reason, stage: metrics.dead_letters.labels(reason=reason, stage=stage).inc(),
        ),
    )
    return Topology(
        app=app,
        settings=settings,
        metrics=metrics,
        topics=topics,
        codec=codec,
        sink=OutputSink(outbox, topics, codec, metrics),
        outbox=outbox,
        replica=replica,
        events_t=app.topic(topics.events.name, schema=RAW),
        link_t=app.topic(topics.link.name, schema=RAW),
        process_t=process_t,
        tables=tables,
        ids=id_key_of(settings),
        arrivals=arrivals,
    )
