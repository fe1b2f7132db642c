"""Every event the connectors produce is a valid record of its Avro schema in schemas/ (strict)."""

from __future__ import annotations

import io

import fastavro
import fastavro.validation
import pytest
from public_samples import FIXTURES, PRODUCED_AT, reversed_and_denied

from s2c.streams.catalog import load_catalog
from s2c.streams.connectors import hl7v2, x12
from s2c.streams.connectors.events import MappingError


def all_events(refs):
    events = []
    for path in sorted((FIXTURES / "hl7v2").glob("*.hl7")):
        events += hl7v2.map_text(path.read_bytes(), refs, PRODUCED_AT)
    remits = (FIXTURES / "x12/835_005010X221A1/managed-care.835").read_text()
    reversal = reversed_and_denied(remits)
    texts = [
        p.read_text()
        for p in sorted((FIXTURES / "x12").glob("*/*"))
        if not p.name.startswith("LICENSE")
    ]
    texts.append(reversal)
    for text in texts:
        try:
            events += [
                e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)
            ]
        except MappingError:
            continue
    return events


def test_events_are_valid_avro_records(refs):
    catalog = load_catalog()
    events = all_events(refs)
    kinds = {e["envelope"]["event_type"] for e in events}
    assert {
        "AppointmentScheduled",
        "EncounterStarted",
        "ChargePosted",
        "ClaimSubmitted",
        "PaymentPosted",
        "AdjustmentPosted",
        "DenialReceived",
        "PaymentReversed",
    } <= kinds
    for record in events:
        schema = catalog.parsed(f"s2c.events.{record['envelope']['event_type']}")
        fastavro.validation.validate(record, schema, raise_errors=True, strict=True)
        fastavro.schemaless_writer(io.BytesIO(), schema, record)


@pytest.mark.parametrize("sensitive", ["PATID1234", "EVERYMAN", "19241012", "BUDD", "SETTLE"])
def test_no_identifying_value_in_any_event(refs, sensitive):
    assert sensitive not in repr(all_events(refs))
