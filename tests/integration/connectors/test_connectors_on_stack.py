"""Connectors on the real stack: MLLP over loopback -> ACK -> Avro event on Kafka via the s2c
registry; malformed messages get their NAK and a dead letter; an X12 file lands the same way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import hl7
import pytest
from hl7.mllp import open_hl7_connection
from prometheus_client import CollectorRegistry
from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.connectors.events import PatientRefs
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp import MllpListener
from s2c.streams.connectors.publish import KafkaPublisher
from s2c.streams.topics import declare
from stackkit import PipelineEnv, read_topic

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures"


def ingestor_on(pipeline: PipelineEnv) -> Ingestor:
    topics = declare(pipeline.settings)
    publisher = KafkaPublisher(pipeline.settings, topics.events.name, topics.dlq.name)
    return Ingestor(publisher, ConnectorMetrics(CollectorRegistry()),
                    PatientRefs(b"integration-test-key-0123456789"), lambda: datetime.now(UTC))


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


def test_mllp_round_trip_acks_and_lands_on_kafka(pipeline_env: PipelineEnv) -> None:
    booking = (FIXTURES / "hl7v2/SIU-S12-01.hl7").read_bytes()
    no_ids = booking.replace(b"SCH|12345|36996|", b"SCH|||")
    unsupported = booking.replace(b"SIU^S12^SIU_S12", b"ORM^O01^ORM_O01")
    acks = asyncio.run(round_trip(ingestor_on(pipeline_env), [booking, no_ids, unsupported]))
    msas = [hl7.parse(a).segment("MSA") for a in acks]
    assert [(str(m(1)), str(m(2))) for m in msas] == [
        ("AA", "MSG00012"), ("AE", "MSG00012"), ("AR", "MSG00012")]

    topics = declare(pipeline_env.settings)
    (landed,) = read_topic(pipeline_env.settings, topics.events.name, 1)
    name, record = decoder(pipeline_env).decode(landed.value())
    assert name == "s2c.events.AppointmentScheduled"
    assert landed.key() == b"36996" and record["appointment_id"] == "36996"
    assert record["envelope"]["event_id"].startswith("hl7:SCHApp:MSG00012:")

    # The two dead letters may sit in different partitions: read them by content, not order.
    letters = {m.value(): dict(m.headers())
               for m in read_topic(pipeline_env.settings, topics.dlq.name, 2)}
    assert letters.keys() == {no_ids, unsupported}
    assert letters[no_ids]["s2c.errors.location"] == b"SCH-2"
    assert letters[unsupported]["s2c.errors.location"] == b"MSH-9"
    assert all(h["__connect.errors.stage"] == b"map" for h in letters.values())
    assert all(h["__connect.errors.topic"] == b"mllp" for h in letters.values())


def test_x12_file_events_and_dead_letter_on_kafka(pipeline_env: PipelineEnv) -> None:
    ingestor = ingestor_on(pipeline_env)
    for name in ("835_005010X221A1/managed-care.835", "835_005010X221A1/tertiary-payment.835"):
        path = FIXTURES / "x12" / name
        list(ingestor.x12_file(path.read_bytes(), str(path)))
    ingestor.publisher.flush()
    topics = declare(pipeline_env.settings)
    events = read_topic(pipeline_env.settings, topics.events.name, 7)
    decoded = [decoder(pipeline_env).decode(m.value())[1] for m in events]
    paid = {r["account_number"]: r["paid_amount"] for r in decoded if "paid_amount" in r}
    assert {k: str(v) for k, v in paid.items()} == {"5554555444": "450.00", "8765432112": "495.00"}
    (letter,) = read_topic(pipeline_env.settings, topics.dlq.name, 1)
    assert dict(letter.headers())["s2c.errors.location"] == b"SVC[1.1]01-2"
