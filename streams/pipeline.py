"""Agents and tables of the s2c pipeline (walking skeleton: appointments -> room reservations).

The agent only decodes, loads state, decides, saves state and sends. Anything that cannot be
decoded is logged and counted, never allowed to stop the agent.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timezone
from typing import Any

import faust

from s2c.streams.codec import AvroCodec, DecodeError, registry_client
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.settings import Settings
from s2c.streams.topics import declare

log = logging.getLogger(__name__)

APPOINTMENT_SCHEDULED = "s2c.events.AppointmentScheduled"
RESERVE_ROOM = "s2c.commands.ReserveRoom"


def _schema_json(name: str) -> str:
    from s2c.streams.catalog import load_catalog

    return load_catalog().resolved_json(name)


def reserve_room_for(appointment: dict[str, Any]) -> dict[str, Any]:
    """Skeleton decision: a scheduled appointment reserves its department's room slot."""
    envelope = appointment["envelope"]
    process_id = f"APPT-{appointment['appointment_id']}"
    digest = hashlib.sha256(f"{process_id}|ReserveRoom|{envelope['event_id']}".encode()).hexdigest()
    start: datetime = appointment["scheduled_start"]
    return {
        "header": {
            "command_id": digest[:32],
            "command_type": "ReserveRoom",
            "process_id": process_id,
            "caused_by_event_id": envelope["event_id"],
            "effective_date": start.date(),
            "cost_center_id": appointment["department_id"],
            "issued_at": envelope["occurred_at"],
            "correlation_id": envelope["correlation_id"],
            "reverses_command_id": None,
        },
        "room_id": appointment["department_id"],
        "reference_id": appointment["appointment_id"],
        "start": start,
        "minutes": appointment["duration_minutes"],
    }


def build_pipeline(app: faust.App, metrics: PipelineMetrics, settings: Settings) -> None:
    topics = declare(settings)
    events = app.topic(topics.events.name, key_serializer="raw", value_serializer="raw")
    commands = app.topic(topics.commands.name, key_serializer="raw", value_serializer="raw")
    appointments = app.Table("appointments", default=None, partitions=settings.partitions)
    codec = AvroCodec(registry_client(settings.registry_url), _schema_json)

    @app.task
    async def warm_codec() -> None:
        # Registry round trips happen here, off the hot path, once per worker start.
        await app.loop.run_in_executor(None, codec.prepare, RESERVE_ROOM)

    @app.agent(events)
    async def schedule_resources(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            raw = event.value
            try:
                if not codec.is_known(raw):
                    await app.loop.run_in_executor(None, codec.resolve_id, codec.schema_id_of(raw))
                name, record = codec.decode(raw)
            except DecodeError as exc:
                msg = event.message
                log.warning("undecodable message %s[%s]@%s: %s", msg.topic, msg.partition,
                            msg.offset, exc)
                metrics.dead_letters.labels(reason="undecodable", stage="ingest").inc()
                continue
            short = name.rsplit(".", 1)[-1]
            metrics.events_in.labels(event_type=short).inc()
            if name != APPOINTMENT_SCHEDULED:
                continue
            appointment_id = record["appointment_id"]
            seen = appointments.get(appointment_id)
            if seen is not None and seen["event_id"] == record["envelope"]["event_id"]:
                metrics.duplicates.labels(event_type=short).inc()
                continue
            command = reserve_room_for(record)
            appointments[appointment_id] = {
                "event_id": record["envelope"]["event_id"],
                "room_command_id": command["header"]["command_id"],
            }
            await commands.send(key=command["header"]["process_id"].encode(),
                                value=codec.encode(RESERVE_ROOM, command))
            metrics.commands_out.labels(command_type="ReserveRoom").inc()
            produced = record["envelope"].get("produced_at")
            if produced is not None:
                lag = datetime.now(timezone.utc) - produced
                metrics.end_to_end_seconds.observe(max(lag.total_seconds(), 0.0))
            metrics.processing_seconds.labels(stage="process").observe(
                time.perf_counter() - started)
