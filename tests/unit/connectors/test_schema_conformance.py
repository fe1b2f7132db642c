"""Every event mapped from every message shipped under tests/messages/ (HL7 v2, X12, FHIR) is a
valid strict record of its Avro schema in schemas/, and none carries who the patient is.

The messages are globbed at run time, so a message added later is checked the same way. Each
file goes through the `Ingestor`, as `s2c ingest` reads it: one bad unit is a dead letter and
the others still map.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import fastavro
import fastavro.validation
import pytest
from prometheus_client import CollectorRegistry
from samples import MESSAGES, PRODUCED_AT

from s2c.streams.catalog import load_catalog
from s2c.streams.connectors import hl7v2
from s2c.streams.connectors.events import MappingError, PatientRefs
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import MemoryPublisher

KINDS = {
    "AppointmentScheduled",
    "EncounterStarted",
    "ChargePosted",
    "ChargeReversed",
    "ClaimSubmitted",
    "ClaimAcknowledged",
    "ClaimRejected",
    "PaymentPosted",
    "AdjustmentPosted",
    "DenialReceived",
    "PaymentReversed",
    "CaseScheduled",
    "CaseRescheduled",
    "CaseCancelled",
    "CaseCompleted",
    "AuthorizationRequested",
    "AuthorizationApproved",
    "AuthorizationDenied",
}


def hl7_files() -> list[Path]:
    return sorted((MESSAGES / "hl7v2").glob("*.hl7"))


def x12_files() -> list[Path]:
    return sorted(p for p in (MESSAGES / "x12").glob("*") if p.is_file())


def fhir_files() -> list[Path]:
    return sorted([*(MESSAGES / "fhir").glob("*.json"), *(MESSAGES / "fhir").glob("*.ndjson")])


@cache
def ingested() -> MemoryPublisher:
    """Everything shipped, read once for the module (the mapping is pure, so once is enough)."""
    publisher = MemoryPublisher()
    ingestor = Ingestor(
        publisher,
        ConnectorMetrics(CollectorRegistry()),
        PatientRefs(b"unit-test-key-not-a-secret-0123"),
        lambda: PRODUCED_AT,
    )
    for path in hl7_files():
        list(ingestor.hl7_file(path.read_bytes(), path.name))
    for path in x12_files():
        list(ingestor.x12_file(path.read_bytes(), path.name))
    for path in fhir_files():
        list(ingestor.fhir_file(path.read_bytes(), path.name))
    return publisher


def events() -> list[dict]:
    return [record for _, _, record in ingested().events]


def test_every_format_ships_messages():
    assert hl7_files() and x12_files(), "tests/messages/ lost its HL7 v2 or X12 messages"


def test_events_are_valid_strict_avro_records():
    catalog = load_catalog()
    records = events()
    assert KINDS <= {e["envelope"]["event_type"] for e in records}
    for record in records:
        schema = catalog.parsed(f"s2c.events.{record['envelope']['event_type']}")
        fastavro.validation.validate(record, schema, raise_errors=True, strict=True)
        fastavro.schemaless_writer(io.BytesIO(), schema, record)


def test_every_dead_letter_names_its_place_and_reason():
    for letter in ingested().dead_letters:
        assert letter.location and letter.reason, letter.source


def x12_identities(path: Path) -> set[str]:
    """Subscriber and patient names and member ids (NM1*IL / NM1*QC) and birth dates (DMG02)."""
    text = path.read_text("ascii")
    element, end = text[3], text[105]
    found: set[str] = set()
    for segment in (s.strip("\r\n") for s in text.split(end)):
        fields = segment.split(element)
        if fields[0] == "NM1" and len(fields) > 3 and fields[1] in ("IL", "QC"):
            found.update(fields[i] for i in (3, 4, 9) if i < len(fields))
        elif fields[0] == "DMG" and len(fields) > 2:
            found.add(fields[2])
    return found


def hl7_identities(path: Path) -> set[str]:
    """Patient ids (every PID-3 repetition), family and given names (PID-5) and birth date."""
    found: set[str] = set()
    for text in hl7v2.split_messages(path.read_bytes()):
        try:
            message = hl7v2.parse(text)
        except MappingError:
            continue
        for pid in message.segments("PID"):
            for repeat in range(1, 4):
                found.add(hl7v2.field_of(pid, 3, 1, repeat=repeat))
            found.update(hl7v2.field_of(pid, 5, component) for component in (1, 2))
            found.add(hl7v2.field_of(pid, 7)[:8])
    return found


def identities() -> set[str]:
    values: set[str] = set()
    for path in x12_files():
        values |= x12_identities(path)
    for path in hl7_files():
        values |= hl7_identities(path)
    return {v for v in values if len(v) >= 4}  # initials and empty fields prove nothing


def test_identities_are_found_in_the_messages():
    assert {
        "SPECIMEN",
        "EXEMPLAR",
        "RILEY",
        "GPH900000101",
        "1EG4TE5MK72",
        "19580214",
        "20120611",
    } <= identities()


def test_no_identifying_value_in_any_event_or_dead_letter_reason():
    published = repr(events())
    reasons = repr([(d.reason, d.location) for d in ingested().dead_letters])
    leaked = sorted(v for v in identities() if v in published or v in reasons)
    assert not leaked


@pytest.mark.parametrize(
    "sensitive",
    [
        "SPECIMEN",
        "GPH900000101",
        "19580214",
        "TESTWELL",
        "LKM30300917",
        "19660402",
        "MOCKRIDGE",
        "19490817",
    ],
)
def test_named_x12_identities_stay_out_of_events(sensitive):
    assert sensitive not in repr(events())
