"""Connectors on the real stack: MLLP over loopback -> ACK -> Avro event on Kafka via the s2c
registry; malformed messages get their NAK and a dead letter; an X12 file lands the same way.
The messages are the ones the project ships under tests/messages/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import hl7
import pytest
from hl7.mllp import open_hl7_connection
from prometheus_client import CollectorRegistry
from samples import MESSAGES, message
from stackkit import PipelineEnv, read_topic

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.connectors import hl7v2
from s2c.streams.connectors.events import PatientRefs
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp import MllpListener
from s2c.streams.connectors.publish import KafkaPublisher
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration
BOOKING = "hl7v2/SIU-S12-booking.hl7"


def ingestor_on(pipeline: PipelineEnv) -> Ingestor:
    topics = declare(pipeline.settings)
    publisher = KafkaPublisher(pipeline.settings, topics.events.name, topics.dlq.name)
    return Ingestor(
        publisher,
        ConnectorMetrics(CollectorRegistry()),
        PatientRefs(b"integration-test-key-0123456789"),
        lambda: datetime.now(UTC),
    )


async def send_all(port: int, blocks: list[bytes]) -> list[str]:
    reader, writer = await open_hl7_connection("127.0.0.1", port)
    acks = []
    for block in blocks:
        writer.writeblock(block)
        await writer.drain()
        acks.append((await asyncio.wait_for(reader.readblock(), 30)).decode())
    writer.close()
    return acks


async def round_trip(ingestor: Ingestor, blocks: list[bytes]) -> list[str]:
    listener = MllpListener(ingestor, port=0)
    port = await listener.start()
    try:
        return await send_all(port, blocks)
    finally:
        await listener.stop()


def decoder(pipeline: PipelineEnv) -> AvroCodec:
    return AvroCodec(registry_client(pipeline.settings.registry_url), load_catalog().resolved_json)


def with_fields(raw: bytes, segment_id: str, values: dict[int, str]) -> bytes:
    """The message with some fields of its first `segment_id` segment replaced."""
    segments = hl7v2.normalize(raw).split("\r")
    for index, segment in enumerate(segments):
        if segment.startswith(segment_id + "|"):
            fields = segment.split("|")
            for number, value in values.items():
                fields[number if segment_id != "MSH" else number - 1] = value
            segments[index] = "|".join(fields)
            break
    return ("\r".join(segments) + "\r").encode()


def test_mllp_round_trip_acks_and_lands_on_kafka(pipeline_env: PipelineEnv) -> None:
    booking = message(BOOKING)
    sent = hl7v2.parse(hl7v2.normalize(booking))
    control, appointment = sent.control_id, sent.value("SCH", 2)  # SCH-2 is the filler's id
    no_ids = with_fields(booking, "SCH", {1: "", 2: ""})
    unsupported = with_fields(booking, "MSH", {9: "ORM^O01^ORM_O01"})
    acks = asyncio.run(round_trip(ingestor_on(pipeline_env), [booking, no_ids, unsupported]))
    msas = [hl7.parse(a).segment("MSA") for a in acks]
    assert [(str(m(1)), str(m(2))) for m in msas] == [
        ("AA", control),
        ("AE", control),
        ("AR", control),
    ]

    topics = declare(pipeline_env.settings)
    (landed,) = read_topic(pipeline_env.settings, topics.events.name, 1)
    name, record = decoder(pipeline_env).decode(landed.value())
    assert name == "s2c.events.AppointmentScheduled"
    assert landed.key() == appointment.encode() and record["appointment_id"] == appointment
    assert record["envelope"]["event_id"].startswith(f"hl7:{sent.value('MSH', 3)}:{control}:")

    # The two dead letters may sit in different partitions: read them by content, not order.
    letters = {
        m.value(): dict(m.headers()) for m in read_topic(pipeline_env.settings, topics.dlq.name, 2)
    }
    assert letters.keys() == {no_ids, unsupported}
    assert letters[no_ids]["s2c.errors.location"] == b"SCH-2"
    assert letters[unsupported]["s2c.errors.location"] == b"MSH-9"
    assert all(h["__connect.errors.stage"] == b"map" for h in letters.values())
    assert all(h["__connect.errors.topic"] == b"mllp" for h in letters.values())


def test_x12_file_events_and_dead_letter_on_kafka(pipeline_env: PipelineEnv) -> None:
    ingestor = ingestor_on(pipeline_env)
    # two payments with their 8 adjustments and 2 line denials; then a remittance whose SVC01
    # uses '>' where ISA16 declares ':', which is dead-lettered whole
    for name in ("x12/835-clinic-payments-plb.835", "x12/835-component-mismatch.835"):
        list(ingestor.x12_file(message(name), str(MESSAGES / name)))
    ingestor.publisher.flush()
    topics = declare(pipeline_env.settings)
    events = read_topic(pipeline_env.settings, topics.events.name, 12)
    decoded = [decoder(pipeline_env).decode(m.value())[1] for m in events]
    assert len(decoded) == 12
    paid = {r["account_number"]: r["paid_amount"] for r in decoded if "paid_amount" in r}
    assert {k: str(v) for k, v in paid.items()} == {"26463774": "131.60", "26407789": "111.00"}
    assert sorted(r["carc"] for r in decoded if "denied_amount" in r) == ["18", "97"]
    (letter,) = read_topic(pipeline_env.settings, topics.dlq.name, 1)
    assert dict(letter.headers())["s2c.errors.location"] == b"SVC01"
    assert letter.value() == message("x12/835-component-mismatch.835").replace(b"~\n", b"~")
