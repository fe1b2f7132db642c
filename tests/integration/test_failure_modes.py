"""Failures outside the events themselves, on the real stack: a master record nobody can read,
and a schema registry that goes away while events arrive. Neither may stop the line, and neither
may lose a record or bury a readable one in the dead-letter topic."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from stackkit import STACK, PipelineEnv, read_topic, wait_for
from test_walking_skeleton import (
    SUBJECT_BY_RECORD,
    accruals,
    appointment,
    produce,
    publish_master_data,
)

from s2c.streams.catalog import load_catalog
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration


def evolved_appointment_schema() -> dict:
    schema = json.loads(load_catalog().resolved_json("s2c.events.AppointmentScheduled"))
    schema["fields"].append(
        {
            "name": "booking_channel",
            "type": ["null", "string"],
            "default": None,
            "doc": "Where the booking was made (test version).",
        }
    )
    return schema


def produce_raw(pipeline: PipelineEnv, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer(pipeline.settings.confluent_config())
    producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_an_unusable_master_record_is_dead_lettered_and_the_line_goes_on(
    pipeline_env: PipelineEnv,
) -> None:
    topics = declare(pipeline_env.settings)
    publish_master_data(pipeline_env)
    legacy_row = b"PAYER,BROKEN-CO,Broken Health Plan,COMMERCIAL"  # a CSV line, not Avro
    produce_raw(pipeline_env, topics.master_data.name, b"Payer:BROKEN-CO", legacy_row)
    worker = pipeline_env.worker().start().wait_ready()

    [letter] = read_topic(pipeline_env.settings, topics.dlq.name, 1, timeout=60, settle=3)
    headers = dict(letter.headers())
    assert letter.value() == legacy_row and letter.key() == b"Payer:BROKEN-CO"
    assert headers["s2c.errors.reason"] == b"unusable-master-record"
    assert headers["__connect.errors.stage"] == b"master"
    assert headers["__connect.errors.topic"] == topics.master_data.name.encode()
    listed = subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "dlq", "list"],
        env=pipeline_env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "1 dead letter(s)" in listed.stdout and "stage=master" in listed.stdout, listed.stderr

    # The rest of the master data is in use: a visit still accrues at the contract rate.
    produce(pipeline_env, [("APT-3001", appointment("APT-3001", f"evt-{uuid.uuid4()}"))])
    [command] = accruals(pipeline_env, expected=1)
    assert command["header"]["process_id"] == "APPT-APT-3001"
    metrics = urllib.request.urlopen(worker.metrics_url, timeout=10).read().decode()
    assert 's2c_dead_letters_total{reason="unusable-master-record",stage="master"} 1.0' in metrics


def test_a_registry_outage_holds_events_and_dead_letters_none(pipeline_env: PipelineEnv) -> None:
    topics = declare(pipeline_env.settings)
    publish_master_data(pipeline_env)
    worker = pipeline_env.worker().start().wait_ready()
    # A scheduling feed one schema version ahead of the worker (a compatible added field),
    # serialized while the registry is up as a producer with a warm cache would. The worker has
    # never seen this schema id, so it must ask the registry, which is about to go away.
    registry = SchemaRegistryClient({"url": pipeline_env.settings.registry_url})
    serializer = AvroSerializer(
        registry, json.dumps(evolved_appointment_schema()), conf=SUBJECT_BY_RECORD
    )
    record = {**appointment("APT-4001", f"evt-{uuid.uuid4()}"), "booking_channel": "patient-portal"}
    value = serializer(record, SerializationContext(topics.events.name, MessageField.VALUE))

    subprocess.run([str(STACK), "stop", "registry"], check=True, capture_output=True)
    try:
        produce_raw(pipeline_env, topics.events.name, b"APT-4001", value)
        wait_for(
            lambda: "waits for the schema registry" in worker.log_path.read_text(),
            60,
            "the worker to notice the outage",
        )
        assert read_topic(pipeline_env.settings, topics.dlq.name, 1, timeout=3, settle=0) == []
        assert worker.proc.poll() is None, worker.log_tail()
    finally:
        subprocess.run([str(STACK), "start", "registry"], check=True, capture_output=True)

    # Read once the registry answers again, through schema resolution into the worker's version.
    [command] = accruals(pipeline_env, expected=1, settle=2)
    assert command["header"]["process_id"] == "APPT-APT-4001"
    assert command["amount"] == Decimal("145.00")
    assert read_topic(pipeline_env.settings, topics.dlq.name, 1, timeout=3, settle=0) == []
