"""The repo's catalogue: matches schemas/README.md, passes the check, encodes real records."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import avro.schema
import fastavro
import pytest

from s2c.streams.catalog import Catalog, default_root, load_catalog
from s2c.streams.schemas_cli import check

README = default_root() / "README.md"
SECTION_NAMESPACE = {
    "Events": "events",
    "Master data": "master",
    "Commands": "commands",
    "Operations": "ops",
    "ERP acknowledgements": "erp",
}


def readme_records() -> dict[str, list[str]]:
    """Full record name -> field names, read from the tables of schemas/README.md."""
    records: dict[str, list[str]] = {}
    namespace = None
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            namespace = next(
                (ns for title, ns in SECTION_NAMESPACE.items() if line[3:].startswith(title)), None
            )
        row = re.match(r"^\| (\w+) \| (.+) \|$", line)
        if namespace and row and row.group(1) != "Record":
            records[f"s2c.{namespace}.{row.group(1)}"] = _field_names(row.group(2))
    return records


def _field_names(cell: str) -> list[str]:
    depth, top = 0, ""
    for char in cell:  # drop (...), [...], {...}: types and remarks, not names
        depth += char in "([{"
        depth -= char in ")]}"
        top += char if depth == 0 and char not in ")]}" else ""
    return [part.strip().split()[0].rstrip("*?") for part in top.split(",") if part.strip()]


def test_every_readme_record_has_a_schema_with_exactly_its_fields() -> None:
    catalog = load_catalog()
    documented = readme_records()
    assert len(documented) == 48
    assert sorted(documented) == catalog.names()
    for name, fields in documented.items():
        own = [
            f["name"]
            for f in catalog.raw[name]["fields"]
            if f["name"] not in ("envelope", "header")
        ]
        assert own == fields, name


def test_repo_catalogue_passes_the_check() -> None:
    assert check(default_root()) == []


def test_patients_appear_only_as_sensitive_references() -> None:
    catalog = load_catalog()
    assert catalog.sensitive_fields("CaseScheduled") == {"patient_ref", "account_number"}
    every_field = {
        path.rsplit(".", 1)[-1] for name in catalog.names() for path, _ in catalog.fields(name)
    }
    assert not every_field & {"mrn", "patient_name", "name", "birth_date", "address", "ssn"}


def test_no_erp_command_or_exception_carries_a_sensitive_field() -> None:
    catalog = load_catalog()
    guarded = [n for n in catalog.names() if n.startswith("s2c.commands.")]
    guarded += ["s2c.ops.WorkQueueException", "s2c.ops.SlaBreached", "s2c.erp.CommandAck"]
    assert len(guarded) == 14
    for name in guarded:  # fields() walks into the shared header and line records
        assert catalog.sensitive_fields(name) == frozenset(), name
    assert {p for p, _ in catalog.fields("PostJournal")} >= {"header.command_id", "lines[].memo"}


def test_resolved_json_is_self_contained_and_defines_each_named_type_once() -> None:
    catalog = load_catalog()
    text = catalog.resolved_json("s2c.master.PreferenceCard")
    assert text == catalog.resolved_json("PreferenceCard")
    assert avro.schema.parse(text).fullname == "s2c.master.PreferenceCard"
    assert text.count('"name":"SupplyLine"') == 1
    assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) == text


def test_a_surgical_case_round_trips_through_fastavro() -> None:
    catalog = load_catalog()
    at = dt.datetime(2024, 5, 6, 7, 30, tzinfo=dt.timezone.utc)
    case = {
        "envelope": {
            "event_id": "opera-000917",
            "event_type": "CaseScheduled",
            "occurred_at": at,
            "source_system": "opera-or",
            "correlation_id": "trace-17",
            "produced_at": at,
        },
        "case_id": "CASE-2024-0917",
        "patient_ref": "pt_8f3a",
        "account_number": None,
        "site_id": "MERCY-NORTH",
        "or_room_id": "OR-4",
        "surgeon_id": "PRV-ORTHO-12",
        "service_line_id": "ORTHO",
        "payer_id": "BLUE-SHIELD-CA",
        "procedure_codes": ["27447"],
        "preference_card_id": "PC-27447-12",
        "scheduled_start": at,
        "planned_minutes": 150,
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, catalog.parsed("CaseScheduled"), case)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, catalog.parsed("CaseScheduled")) == case


def test_money_keeps_exact_cents() -> None:
    catalog = load_catalog()
    line = {"line_number": 1, "procedure_code": "27447", "units": 1, "charge": Decimal("48210.35")}
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, catalog.parsed("s2c.common.ClaimLine"), line)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, catalog.parsed("ClaimLine"))["charge"] == Decimal(
        "48210.35"
    )


def test_short_names_resolve_and_unknown_names_fail(tree: Path) -> None:
    catalog = Catalog.from_dir(tree)
    assert catalog.short("DenialReceived") == "s2c.events.DenialReceived"
    assert catalog.compatibility("PostJournal") == "BACKWARD_TRANSITIVE"
    with pytest.raises(KeyError):
        catalog.short("SurgeryBooked")
    assert load_catalog() is load_catalog()
