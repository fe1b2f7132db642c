"""The core's dataclasses against the Avro catalogue in schemas/: same fields, same order, and
records that fastavro writes and reads back unchanged."""

from __future__ import annotations

import dataclasses
import io

import fastavro
import pytest
from core_world import IDS, Feed, knee_case_scheduled

from s2c.streams.catalog import load_catalog
from s2c.tables.events import EVENT_TYPES
from s2c.tables.master import MASTER_TYPES
from s2c.tables.outputs import COMMAND_TYPES, SlaBreached, WorkQueueException
from s2c.tables.replay import Pipeline

CATALOG = load_catalog()
RECORDS = {
    **EVENT_TYPES,
    **MASTER_TYPES,
    **COMMAND_TYPES,
    "SlaBreached": SlaBreached,
    "WorkQueueException": WorkQueueException,
}


def _avsc_fields(name: str) -> list[str]:
    import json

    return [f["name"] for f in json.loads(CATALOG.resolved_json(name))["fields"]]


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_dataclass_fields_match_the_avsc(name: str) -> None:
    ours = [f.name for f in dataclasses.fields(RECORDS[name])]
    assert ours == _avsc_fields(name)


def test_commands_exceptions_and_breaches_round_trip_through_avro(master, feed: Feed) -> None:
    from datetime import timedelta

    from core_world import T0

    pipeline = Pipeline(master, IDS)
    outputs = pipeline.feed(knee_case_scheduled(feed, start_days=1))
    outputs += pipeline.feed(feed("CaseCancelled", 1, case_id="C-1001", reason="patient ill"))
    outputs += pipeline.feed(
        feed(
            "AuthorizationDenied",
            2,
            authorization_id="AUTH-9",
            appointment_id=None,
            case_id="C-2002",
            payer_id="AETNA-COMM",
            reason="not medically necessary",
        )
    )
    outputs += pipeline.advance(T0 + timedelta(days=10))
    kinds = {type(o).__name__ for o in outputs}
    assert {"ReserveSupplies", "ReleaseSupplies", "WorkQueueException"} <= kinds
    for output in outputs:
        if not hasattr(output, "to_record"):
            continue
        record = output.to_record()
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, CATALOG.parsed(type(output).__name__), record)
        buffer.seek(0)
        assert fastavro.schemaless_reader(buffer, CATALOG.parsed(type(output).__name__)) == record


def test_an_event_decoded_by_fastavro_equals_the_same_event_from_json(feed: Feed) -> None:
    from s2c.tables.codec import to_native
    from s2c.tables.events import event_from_record

    event = knee_case_scheduled(feed)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, CATALOG.parsed("CaseScheduled"), to_native(event))
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, CATALOG.parsed("CaseScheduled"))
    assert event_from_record("CaseScheduled", decoded) == event


def test_every_canonical_event_has_a_handler() -> None:
    from s2c.tables.core import HANDLERS

    assert set(HANDLERS) == set(EVENT_TYPES)


def test_money_as_a_float_is_refused(feed: Feed) -> None:
    from s2c.tables.events import event_from_record

    record = {
        "envelope": {
            "event_id": "e-1",
            "event_type": "ChargePosted",
            "occurred_at": "2026-03-02T08:00:00Z",
            "source_system": "dft",
            "correlation_id": "t",
            "produced_at": "2026-03-02T08:00:00Z",
        },
        "charge_id": "CHG-1",
        "account_number": "ACCT-1",
        "procedure_code": "29881",
        "units": 1,
        "amount": 6800.1,
        "service_date": "2026-03-02",
        "department_id": "RIV-SURGERY",
    }
    with pytest.raises(TypeError, match="float"):
        event_from_record("ChargePosted", record)
