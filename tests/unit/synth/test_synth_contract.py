"""Every generated record is a valid catalogue record the core can read, with exact money and
no patient data beyond the pseudonymous `patient_ref` (and the account number the catalogue marks)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from fastavro.validation import validate

from s2c.streams.catalog import load_catalog
from s2c.streams.synth.ids import npi_is_valid
from s2c.tables.events import event_from_record
from s2c.tables.master import master_record

PATIENT_REF = re.compile(r"^PT-[0-9a-f]{16}$")


def _walk(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, f"{path}[]")
    else:
        yield path, value


def test_every_master_record_validates_against_its_avro_schema(small):
    catalog = load_catalog()
    for name, key, record in small.master():
        validate(record, catalog.parsed(f"s2c.master.{name}"), raise_errors=True)
        master_record(name, record)  # the core's reader accepts it
        assert key == f"{name}:{next(iter(record.values()))}"


def test_every_event_validates_and_decodes_in_catalogue_field_order(small_events):
    catalog = load_catalog()
    for schema, _key, record in small_events:
        full = f"s2c.events.{schema}"
        validate(record, catalog.parsed(full), raise_errors=True)
        assert list(record) == [f["name"] for f in catalog.raw[full]["fields"]]
        assert record["envelope"]["event_type"] == schema
        event_from_record(schema, record)


def test_money_is_decimal_with_cents_and_nothing_is_a_float(small, small_events):
    records = [r for _, _, r in small.master()] + [r for _, _, r in small_events]
    money = 0
    for record in records:
        for path, value in _walk(record):
            assert not isinstance(value, float), path
            if isinstance(value, Decimal):
                money += 1
                assert value.as_tuple().exponent == -2, (path, value)
                assert value >= 0, (path, value)
    assert money > 1000


def test_only_pseudonymous_patient_refs_and_account_numbers_are_sensitive(small_events):
    catalog = load_catalog()
    for schema, _key, record in small_events:
        sensitive = {p.split(".")[-1] for p in catalog.sensitive_fields(f"s2c.events.{schema}")}
        assert sensitive <= {"patient_ref", "account_number"}
        if "patient_ref" in record:
            assert PATIENT_REF.match(record["patient_ref"])


def test_provider_npis_are_valid_and_unique_and_names_are_not_personal(small):
    providers = small.system.records["Provider"]
    npis = [p["npi"] for p in providers]
    assert all(npi_is_valid(n) for n in npis)
    assert len(set(npis)) == len(npis)
    assert npi_is_valid("1234567893")  # the CMS worked example
    assert not npi_is_valid("1234567890")
    assert all(
        "provider" in p["display_name"] or "billing entity" in p["display_name"] for p in providers
    )


def test_times_are_aware_utc_and_dates_are_dates(small_events):
    for schema, _key, record in small_events[:5000]:
        for path, value in _walk(record):
            if isinstance(value, datetime):
                assert value.utcoffset().total_seconds() == 0, (schema, path)
            if path in ("service_date", "payment_date"):
                assert type(value) is date
