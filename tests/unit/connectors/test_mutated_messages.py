"""Any shipped message with one field spoiled maps to valid canonical events or is rejected by name.

The spoilers are what feeds send by mistake: impossible dates and offsets, amounts with three
decimals or forty digits, infinities, separators and escape characters inside values, empty
values, text where numbers go. Whatever happens, the mapper either returns events that the Avro
catalogue accepts as they are, or raises a `MappingError`; any other exception is a bug that
would have stopped `s2c ingest` or left an MLLP sender without an acknowledgment.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import fastavro.validation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import MESSAGES, PRODUCED_AT

from s2c.streams.catalog import load_catalog
from s2c.streams.connectors import fhir, hl7v2, x12
from s2c.streams.connectors.events import MappingError, PatientRefs

REFS = PatientRefs(b"unit-test-key-not-a-secret-0123")
SPOILERS = [
    "",
    "  ",
    "20261305",
    "20260205090000+9999",
    "20260230",
    "2026-02-05",
    "1e400",
    "NaN",
    "Infinity",
    "-1",
    "0",
    "99999999999999999999",
    "12.345",
    "-0.00",
    "1.5",
    "\\",
    "~",
    "^",
    "&",
    "*",
    ":",
    ">",
    "ÄÖ",
    "x" * 300,
]
JSON_SPOILERS = [None, "", 0, -1, 1e308, "1e400", [], {}, "x", 12.345, True, "2026-13-01", -5.5]
HL7 = [
    text
    for path in sorted((MESSAGES / "hl7v2").glob("*.hl7"))
    for text in hl7v2.split_messages(path.read_bytes())
]
X12 = [path.read_text() for path in sorted((MESSAGES / "x12").iterdir())]
FHIR = [path.read_bytes() for path in sorted((MESSAGES / "fhir").iterdir())]
CATALOG = load_catalog()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ends_well(mapper: Any) -> None:
    try:
        events = mapper()
    except MappingError:
        return
    for record in events:
        schema = CATALOG.parsed(f"s2c.events.{record['envelope']['event_type']}")
        fastavro.validation.validate(record, schema, raise_errors=True, strict=True)
        fastavro.schemaless_writer(io.BytesIO(), schema, record)


def spoiled(text: str, separator: str, terminator: str, pick: st.DataObject) -> str:
    segments = text.split(terminator)
    at = pick.draw(st.integers(0, len(segments) - 1))
    fields = segments[at].split(separator)
    if len(fields) > 1:
        field = pick.draw(st.integers(1, len(fields) - 1))
        spoiler = pick.draw(st.sampled_from(SPOILERS))
        fields[field] = pick.draw(st.sampled_from([spoiler, fields[field] + spoiler]))
    segments[at] = separator.join(fields)
    return terminator.join(segments)


@SETTINGS
@given(message=st.sampled_from(HL7), pick=st.data())
def test_a_spoiled_hl7_message_maps_or_is_rejected(message: str, pick: st.DataObject) -> None:
    text = spoiled(message, message[3], "\r", pick)
    ends_well(lambda: hl7v2.map_text(text, REFS, PRODUCED_AT))


@SETTINGS
@given(interchange=st.sampled_from(X12), pick=st.data())
def test_a_spoiled_x12_interchange_maps_or_is_rejected(interchange: str, pick) -> None:
    text = spoiled(interchange, interchange[3], "~", pick)

    def mapped() -> list[dict[str, Any]]:
        return [e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)]

    ends_well(mapped)


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for n, item in enumerate(value) for leaf in _leaves(item, (*path, n))]
    return [path]


@SETTINGS
@given(raw=st.sampled_from(FHIR), pick=st.data())
def test_a_spoiled_fhir_resource_maps_or_is_rejected(raw: bytes, pick) -> None:
    docs = [unit.doc for unit in fhir.split_resources(raw)]  # resources, Bundle entries
    doc = pick.draw(st.sampled_from(docs))
    path = pick.draw(st.sampled_from(_leaves(doc)))
    if path:
        holder = doc
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = pick.draw(st.sampled_from(JSON_SPOILERS))
    data = "\n".join(json.dumps(d) for d in docs).encode()

    def mapped() -> list[dict[str, Any]]:
        events = []
        for unit in fhir.split_resources(data):
            try:
                events += fhir.map_unit(unit, REFS, PRODUCED_AT)
            except MappingError:
                continue  # one unit rejected, the others still map
        return events

    ends_well(mapped)
