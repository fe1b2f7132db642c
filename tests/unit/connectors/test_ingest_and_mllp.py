"""Rejected inputs reach the dead-letter publisher with the reason; MLLP answers AA/AE/AR."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import hl7
import pytest
from hl7.mllp import open_hl7_connection
from prometheus_client import CollectorRegistry
from samples import PRODUCED_AT, message

from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.mllp import MllpListener, build_ack
from s2c.streams.connectors.publish import MemoryPublisher, PublishError


@pytest.fixture
def ingestor(refs) -> Ingestor:
    return Ingestor(
        MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
    )


def test_rejected_x12_transaction_is_dead_lettered_with_reason_and_bytes(ingestor):
    raw = message("x12/835-service-line-without-procedure.835")
    (outcome,) = list(ingestor.x12_file(raw, "inbox/lshp-0311.835"))
    assert outcome.error is not None and outcome.events == 0
    (letter,) = ingestor.publisher.dead_letters
    assert letter.location == "SVC[1.1]01-2" and letter.stage == "map"
    assert letter.original.startswith(b"ISA*00*") and b"CLP*A26004417*1*6288.50" in letter.original
    headers = dict(letter.headers())
    assert headers["__connect.errors.topic"] == b"inbox/lshp-0311.835"
    assert headers["__connect.errors.offset"] == b"0"
    assert b"procedure code is missing" in headers["s2c.errors.reason"]
    count = ingestor.metrics.registry.get_sample_value(
        "s2c_connector_dead_letters_total", {"format": "x12", "stage": "map", "reason": "SVC01-2"}
    )
    assert count == 1
    assert not ingestor.publisher.events  # no partial payment from a remittance set that failed


def test_good_and_bad_units_in_one_hl7_file(ingestor):
    bad = (
        message("hl7v2/SIU-S12-booking.hl7").decode().replace("SIU^S12^SIU_S12", "SIU^S99^SIU_S99")
    )
    raw = message("hl7v2/SIU-S15-cancellation.hl7") + b"\n" + bad.encode()
    outcomes = list(ingestor.hl7_file(raw, "inbox/siu.hl7"))
    assert [o.ack_code for o in outcomes] == ["AA", "AR"]
    assert [o.control_id for o in outcomes] == ["ORS260209-0044", "ORS260126-0007"]
    ((name, key, _),) = ingestor.publisher.events
    assert (name, key) == ("s2c.events.AppointmentCancelled", "ORC-88120")
    (letter,) = ingestor.publisher.dead_letters
    assert letter.index == 1 and letter.location == "MSH-9"


def test_dead_letter_reason_carries_no_patient_data(ingestor):
    raw = message("hl7v2/ADT-A04-registration.hl7").decode().replace("PV1|1|O|SDS", "PV1|1|Z|SDS")
    list(ingestor.hl7_file(raw.encode(), "inbox/adt.hl7"))
    (letter,) = ingestor.publisher.dead_letters
    assert letter.location == "PV1-2"
    for identifying in ("RG4471902", "TESTPATIENT", "AVERY", "19680229", "SAMPLE CREEK"):
        assert identifying.encode() not in b"".join(v for _, v in letter.headers())


def test_ack_echoes_control_id_and_names_the_error():
    from s2c.streams.connectors.events import MappingError

    raw = message("hl7v2/SIU-S12-booking.hl7")
    ack = hl7.parse(
        build_ack(raw, "AE", MappingError("SCH-2", "ids are empty", code="101")).decode()
    )
    assert str(ack.segment("MSA")(1)) == "AE" and str(ack.segment("MSA")(2)) == "ORS260126-0007"
    assert str(ack.segment("MSH")(9)) == "ACK^S12^ACK"
    err = ack.segment("ERR")
    assert str(err(2)) == "SCH^1^2" and str(err(3)(1)(1)) == "101"


def test_garbage_gets_an_ar_without_msh():
    ack = build_ack(b"this is not hl7", "AR", None).decode()
    assert "\rMSA|AR|" in ack


class FailingPublisher(MemoryPublisher):
    def flush(self, timeout: float = 30.0) -> None:
        raise PublishError("broker down")


async def exchange(listener: MllpListener, blocks: list[bytes]) -> list[str]:
    port = await listener.start()
    try:
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        acks = []
        for block in blocks:
            writer.writeblock(block)
            await writer.drain()
            acks.append((await reader.readblock()).decode())
        writer.close()
        return acks
    finally:
        await listener.stop()


def ack_code(ack: str) -> str:
    return hl7.parse(ack).segment("MSA")(1)[0]


def test_mllp_acks_each_message_by_outcome(ingestor):
    good = message(
        "hl7v2/SIU-S12-booking.hl7"
    )  # LF separated on the wire: normalised, not one segment
    missing_id = good.replace(b"SCH|ORP-55120^RGHOR|ORC-88120^RGHOR|", b"SCH|||")
    unsupported = good.replace(b"SIU^S12^SIU_S12", b"ORM^O01^ORM_O01")
    listener = MllpListener(ingestor, port=0)
    acks = asyncio.run(exchange(listener, [good, missing_id, unsupported]))
    assert [ack_code(a) for a in acks] == ["AA", "AE", "AR"]
    assert [e[2]["appointment_id"] for e in ingestor.publisher.events] == ["ORC-88120"]
    assert [d.location for d in ingestor.publisher.dead_letters] == ["SCH-2", "MSH-9"]
    assert [d.source for d in ingestor.publisher.dead_letters] == ["mllp", "mllp"]


def test_mllp_naks_with_ar_when_kafka_does_not_confirm(refs):
    failing = Ingestor(
        FailingPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: datetime.now(UTC)
    )
    (ack,) = asyncio.run(
        exchange(MllpListener(failing, port=0), [message("hl7v2/ADT-A03-discharge.hl7")])
    )
    assert ack_code(ack) == "AR" and "resend" in ack


def test_batch_file_publishes_every_message_keyed_by_appointment(ingestor):
    outcomes = list(ingestor.hl7_file(message("hl7v2/SIU-batch-clinic-day.hl7"), "inbox/day.hl7"))
    assert [(o.ack_code, o.events) for o in outcomes] == [("AA", 1)] * 3
    assert [(name, key) for name, key, _ in ingestor.publisher.events] == [
        ("s2c.events.AppointmentScheduled", "CL-30640"),
        ("s2c.events.AppointmentRescheduled", "CL-30640"),
        ("s2c.events.AppointmentCancelled", "CL-30598"),
    ]
    assert not ingestor.publisher.dead_letters


def test_fhir_export_publishes_one_event_per_line(ingestor):
    outcomes = list(
        ingestor.fhir_file(message("fhir/Encounter-bulk-export.ndjson"), "inbox/encounters.ndjson")
    )
    assert [o.events for o in outcomes] == [1, 1]
    assert [(name, key) for name, key, _ in ingestor.publisher.events] == [
        ("s2c.events.EncounterCompleted", "ACCT-3390"),
        ("s2c.events.EncounterStarted", "appt-7010"),
    ]


DECLARED = message("hl7v2/SIU-S12-declared-separators.hl7")  # MSH#$~\&#


def test_mllp_acks_a_message_with_declared_separators_in_them(ingestor):
    (ack,) = asyncio.run(exchange(MllpListener(ingestor, port=0), [DECLARED]))
    assert ack.startswith("MSH#$~\\&#") and "|" not in ack
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSA")(1)) == "AA"
    assert str(parsed.segment("MSA")(2)) == "DRM260211-0052"
    assert [e[2]["appointment_id"] for e in ingestor.publisher.events] == ["CL-30611"]


def test_mllp_error_ack_keeps_the_senders_declared_separators(ingestor):
    missing_id = DECLARED.replace(b"SCH#CLP-30611#CL-30611#", b"SCH###")
    (ack,) = asyncio.run(exchange(MllpListener(ingestor, port=0), [missing_id]))
    assert "|" not in ack
    err = hl7.parse(ack).segment("ERR")
    assert str(err(2)) == "SCH$1$2" and str(err(3)(1)(1)) == "101"


@pytest.mark.parametrize(
    ("read", "name"),
    [
        (Ingestor.x12_file, "x12/835-lakeshore-check-payment.835"),
        (Ingestor.hl7_file, "hl7v2/DFT-P03-surgery-charges.hl7"),
        (Ingestor.fhir_file, "fhir/Bundle-two-appointments.json"),
    ],
)
def test_a_utf8_byte_order_mark_changes_nothing(refs, read, name):
    """Windows editors and some interface engines start UTF-8 files with a BOM."""

    def published(raw: bytes) -> list:
        ingestor = Ingestor(
            MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
        )
        outcomes = list(read(ingestor, raw, f"inbox/{name}"))
        assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
        return ingestor.publisher.events

    plain = published(message(name))
    assert plain and published(b"\xef\xbb\xbf" + message(name)) == plain
