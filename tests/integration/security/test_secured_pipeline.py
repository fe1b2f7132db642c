"""The pipeline through the secured broker gives exactly what it gives in the clear.

The knee arthroscopy episode of test_topology (Riverside, Aetna Commercial: booked, rescheduled,
operated, billed, partly paid, a line denied) goes in as the roles would send it in production:
master data by the admin, the events by ingest, one worker with the worker's credentials, and the
ERP connector (erp-reader) reads the commands. They must be exactly the commands `s2c replay`'s
engine computes for the same events, as on the plain stack; a malformed message still reaches the
dead-letter topic, written by the worker.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from stackkit import IDS
from test_topology import episode, expected_commands

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client_for
from s2c.streams.masterdata import publish_master
from s2c.streams.topics import declare
from s2c.tables.codec import to_native
from s2c.tables.master import master_record
from s2c.tables.routing import route

pytestmark = pytest.mark.integration


def codec(settings) -> AvroCodec:  # type: ignore[no-untyped-def]
    return AvroCodec(registry_client_for(settings), load_catalog().resolved_json)


def read_all(settings, topic: str, group: str, expected: int, settle: float = 3.0) -> list:  # type: ignore[no-untyped-def]
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list = []
    deadline, settled = time.monotonic() + 90, None
    try:
        while time.monotonic() < deadline and (settled is None or time.monotonic() < settled):
            msg = consumer.poll(0.2)
            if msg is not None:
                assert not msg.error(), f"{settings.kafka_username} reading {topic}: {msg.error()}"
                messages.append(msg)
            if settled is None and len(messages) >= expected:
                settled = time.monotonic() + settle
    finally:
        consumer.close()
    return messages


def test_the_secured_pipeline_yields_the_cores_commands(namespace) -> None:
    from core_world import MASTER_RECORDS

    events = episode()
    want = expected_commands(events)
    admin, ingest = namespace.settings("admin"), namespace.settings("ingest")
    topics = declare(admin)
    admin_codec = codec(admin)  # the admin registers the schemas
    rows = {
        name: [to_native(master_record(name, row)) for row in rows]
        for name, rows in MASTER_RECORDS.items()
    }
    publish_master(admin, admin_codec, topics.master_data.name, rows)
    worker = namespace.worker().start()
    producer = Producer({**ingest.confluent_config(), "enable.idempotence": True})
    producer.produce(topics.events.name, key=b"ACCT-7001", value=b"\x00\x00\x00\x00\x07junk")
    for event in events:
        where = route(event, IDS)
        producer.produce(
            topics.events.name,
            key=(where.process_id or where.link_key).encode(),
            value=admin_codec.encode(f"s2c.events.{event.schema}", to_native(event)),
        )
    assert producer.flush(30) == 0

    reader = namespace.settings("erp-reader")
    reader_codec = codec(reader)
    got: dict[str, dict] = {}
    for message in read_all(reader, topics.commands.name, f"erp-reader-{uuid.uuid4()}", len(want)):
        record = reader_codec.decode(message.value())[1]
        got.setdefault(record["header"]["command_id"], record)
    assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
    assert got == want, worker.log_tail()

    [letter] = read_all(admin, topics.dlq.name, f"admin-{uuid.uuid4()}", 1, settle=1.0)
    assert letter.value() == b"\x00\x00\x00\x00\x07junk"
    assert dict(letter.headers())["s2c.errors.reason"] == b"undecodable"
