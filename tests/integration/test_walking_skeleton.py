"""Walking skeleton on the real stack: an appointment scheduled at Riverside Medical Center flows
through the registry and the broker into a worker, which reserves the room and counts both."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from s2c.streams.catalog import load_catalog
from s2c.streams.topics import declare

from stackkit import PipelineEnv, read_topic, wait_for

pytestmark = pytest.mark.integration

SUBJECT_BY_RECORD = {"subject.name.strategy": lambda ctx, record_name: record_name}


def appointment(appointment_id: str, event_id: str) -> dict:
    now = datetime.now(timezone.utc)
    return {
        "envelope": {
            "event_id": event_id, "event_type": "AppointmentScheduled",
            "occurred_at": datetime(2026, 11, 20, 14, 5, tzinfo=timezone.utc),
            "source_system": "epic-cadence-riverside", "correlation_id": f"trace-{event_id}",
            "produced_at": now,
        },
        "appointment_id": appointment_id, "patient_ref": "pt-7f3a9c", "account_number": None,
        "site_id": "RIVERSIDE", "department_id": "RIV-ORTHO-CLINIC", "provider_id": "NPI-1467582391",
        "service_line_id": "ORTHOPEDICS", "payer_id": "AETNA-PPO", "procedure_codes": ["99214"],
        "scheduled_start": datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc), "duration_minutes": 30,
    }


def produce(pipeline: PipelineEnv, records: list[tuple[str, object]]) -> None:
    """Produces like another team's scheduling feed would: confluent-kafka's AvroSerializer."""
    registry = SchemaRegistryClient({"url": pipeline.settings.registry_url})
    serializer = AvroSerializer(registry, load_catalog().resolved_json("s2c.events.AppointmentScheduled"),
                                conf=SUBJECT_BY_RECORD)
    topic = declare(pipeline.settings).events.name
    producer = Producer({**pipeline.settings.confluent_config(), "enable.idempotence": True})
    for key, record in records:
        value = record if isinstance(record, bytes) else serializer(
            record, SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(30) == 0


def reserve_room_commands(pipeline: PipelineEnv, expected: int, settle: float = 1.0) -> list[dict]:
    registry = SchemaRegistryClient({"url": pipeline.settings.registry_url})
    deserializer = AvroDeserializer(registry)
    topic = declare(pipeline.settings).commands.name
    return [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE))
            for m in read_topic(pipeline.settings, topic, expected, settle=settle)]


def scraped(pipeline: PipelineEnv, promql: str) -> float | None:
    url = (f"http://127.0.0.1:{pipeline.settings.prometheus_port}/api/v1/query?"
           + urllib.parse.urlencode({"query": promql}))
    body = json.load(urllib.request.urlopen(url, timeout=5))
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_appointment_reserves_room_through_registry_and_broker(pipeline_env: PipelineEnv) -> None:
    worker = pipeline_env.worker().start()
    event_id = f"evt-{uuid.uuid4()}"
    produce(pipeline_env, [("APT-1001", b"\x00not avro at all"),
                           ("APT-1001", appointment("APT-1001", event_id))])

    [command] = reserve_room_commands(pipeline_env, expected=1)
    assert command["header"]["command_type"] == "ReserveRoom"
    assert command["header"]["process_id"] == "APPT-APT-1001"
    assert command["header"]["caused_by_event_id"] == event_id
    assert command["reference_id"] == "APT-1001"
    assert command["minutes"] == 30
    assert command["start"] == datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
    assert worker.proc.poll() is None, worker.log_tail()

    # The worker's own metrics, scraped by the real Prometheus.
    job = f'instance="127.0.0.1:{worker.env["S2C_WORKER_WEB_PORT"]}"'
    assert wait_for(lambda: scraped(pipeline_env, f's2c_events_in_total{{{job},event_type="AppointmentScheduled"}}'),
                    60, "Prometheus to scrape the worker's event counter") == 1.0
    assert wait_for(lambda: scraped(pipeline_env, f's2c_commands_out_total{{{job},command_type="ReserveRoom"}}'),
                    30, "the command counter") == 1.0
    assert wait_for(lambda: scraped(pipeline_env, f's2c_dead_letters_total{{{job}}}'),
                    30, "the malformed message to be counted") == 1.0


def test_restarted_worker_restores_its_table_from_the_changelog(pipeline_env: PipelineEnv) -> None:
    first = pipeline_env.worker("w1").start()
    event_id = f"evt-{uuid.uuid4()}"
    produce(pipeline_env, [("APT-2001", appointment("APT-2001", event_id))])
    assert len(reserve_room_commands(pipeline_env, expected=1)) == 1
    first.stop()

    # A new worker with an empty data dir: the table can only come back from its changelog.
    second = pipeline_env.worker("w2").start()
    produce(pipeline_env, [("APT-2001", appointment("APT-2001", event_id)),  # redelivered duplicate
                           ("APT-2002", appointment("APT-2002", f"evt-{uuid.uuid4()}"))])
    commands = reserve_room_commands(pipeline_env, expected=2, settle=5.0)
    assert sorted(c["reference_id"] for c in commands) == ["APT-2001", "APT-2002"], second.log_tail()
