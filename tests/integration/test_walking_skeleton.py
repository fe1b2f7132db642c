"""Walking skeleton on the real stack: an orthopaedic clinic visit scheduled at Riverside Medical
Center flows through the registry and the broker into a worker, which accrues the expected revenue
from Aetna's contract rate and counts both in Prometheus."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from stackkit import PipelineEnv, read_topic, wait_for

from s2c.streams.catalog import load_catalog
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration

SUBJECT_BY_RECORD = {"subject.name.strategy": lambda ctx, record_name: record_name}


def appointment(appointment_id: str, event_id: str) -> dict:
    now = datetime.now(timezone.utc)
    return {
        "envelope": {
            "event_id": event_id,
            "event_type": "AppointmentScheduled",
            "occurred_at": datetime(2026, 11, 20, 14, 5, tzinfo=timezone.utc),
            "source_system": "epic-cadence-riverside",
            "correlation_id": f"trace-{event_id}",
            "produced_at": now,
        },
        "appointment_id": appointment_id,
        "patient_ref": "pt-7f3a9c",
        "account_number": None,
        "site_id": "RIVERSIDE",
        "department_id": "RIV-ORTHO-CLINIC",
        "provider_id": "DR-OKAFOR",
        "service_line_id": "ORTHO",
        "payer_id": "AETNA-COMM",
        "procedure_codes": ["99213"],
        "scheduled_start": datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc),
        "duration_minutes": 30,
    }


def publish_master_data(pipeline: PipelineEnv) -> None:
    from test_topology import MASTER_RECORDS, codec_for, master_record, publish_master, to_native

    master = {
        name: [to_native(master_record(name, row)) for row in rows]
        for name, rows in MASTER_RECORDS.items()
    }
    publish_master(
        pipeline.settings, codec_for(pipeline), declare(pipeline.settings).master_data.name, master
    )


def produce(pipeline: PipelineEnv, records: list[tuple[str, object]]) -> None:
    """Produces like another team's scheduling feed would: confluent-kafka's AvroSerializer."""
    registry = SchemaRegistryClient({"url": pipeline.settings.registry_url})
    serializer = AvroSerializer(
        registry,
        load_catalog().resolved_json("s2c.events.AppointmentScheduled"),
        conf=SUBJECT_BY_RECORD,
    )
    topic = declare(pipeline.settings).events.name
    producer = Producer({**pipeline.settings.confluent_config(), "enable.idempotence": True})
    for key, record in records:
        value = (
            record
            if isinstance(record, bytes)
            else serializer(record, SerializationContext(topic, MessageField.VALUE))
        )
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(30) == 0


def accruals(pipeline: PipelineEnv, expected: int, settle: float = 1.0) -> list[dict]:
    """Commands on the ERP topic, read with confluent-kafka's AvroDeserializer as an ERP connector
    would. A scheduled clinic visit accrues its expected revenue (one command per visit)."""
    registry = SchemaRegistryClient({"url": pipeline.settings.registry_url})
    deserializer = AvroDeserializer(registry)
    topic = declare(pipeline.settings).commands.name
    commands = [
        deserializer(m.value(), SerializationContext(topic, MessageField.VALUE))
        for m in read_topic(pipeline.settings, topic, expected, settle=settle)
    ]
    return [c for c in commands if c["header"]["command_type"] == "AccrueExpectedRevenue"]


def scraped(pipeline: PipelineEnv, promql: str) -> float | None:
    url = (
        f"http://127.0.0.1:{pipeline.settings.prometheus_port}/api/v1/query?"
        + urllib.parse.urlencode({"query": promql})
    )
    body = json.load(urllib.request.urlopen(url, timeout=5))
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_appointment_accrues_revenue_through_registry_and_broker(pipeline_env: PipelineEnv) -> None:
    publish_master_data(pipeline_env)
    worker = pipeline_env.worker().start()
    event_id = f"evt-{uuid.uuid4()}"
    produce(
        pipeline_env,
        [("APT-1001", b"\x00not avro at all"), ("APT-1001", appointment("APT-1001", event_id))],
    )

    [command] = accruals(pipeline_env, expected=1)
    assert command["header"]["process_id"] == "APPT-APT-1001"
    assert command["header"]["caused_by_event_id"] == event_id
    assert command["header"]["cost_center_id"] == "CC-RIV-ORTHO"  # from Location master data
    assert command["amount"] == Decimal("145.00")  # Aetna Commercial x CPT 99213
    assert command["payer_id"] == "AETNA-COMM"
    assert worker.proc.poll() is None, worker.log_tail()

    # The worker's own metrics, scraped by the real Prometheus.
    job = f'instance="127.0.0.1:{worker.env["S2C_WORKER_WEB_PORT"]}"'
    assert (
        wait_for(
            lambda: scraped(
                pipeline_env, f's2c_events_in_total{{{job},event_type="AppointmentScheduled"}}'
            ),
            60,
            "Prometheus to scrape the worker's event counter",
        )
        == 1.0
    )
    assert (
        wait_for(
            lambda: scraped(
                pipeline_env,
                f's2c_commands_out_total{{{job},command_type="AccrueExpectedRevenue"}}',
            ),
            30,
            "the command counter",
        )
        == 1.0
    )
    assert (
        wait_for(
            lambda: scraped(pipeline_env, f"s2c_dead_letters_total{{{job}}}"),
            30,
            "the malformed message to be counted",
        )
        == 1.0
    )


def test_restarted_worker_restores_its_table_from_the_changelog(pipeline_env: PipelineEnv) -> None:
    publish_master_data(pipeline_env)
    first = pipeline_env.worker("w1").start()
    event_id = f"evt-{uuid.uuid4()}"
    produce(pipeline_env, [("APT-2001", appointment("APT-2001", event_id))])
    assert len(accruals(pipeline_env, expected=1)) == 1
    first.stop()

    # A new worker with an empty data dir: the table can only come back from its changelog.
    second = pipeline_env.worker("w2").start()
    produce(
        pipeline_env,
        [
            ("APT-2001", appointment("APT-2001", event_id)),  # redelivered duplicate
            ("APT-2002", appointment("APT-2002", f"evt-{uuid.uuid4()}")),
        ],
    )
    commands = accruals(pipeline_env, expected=2, settle=5.0)
    assert sorted(c["header"]["process_id"] for c in commands) == [
        "APPT-APT-2001",
        "APPT-APT-2002",
    ], second.log_tail()
