"""The codec's generated fast paths give what the field-by-field path gives: a record that leaves
out a defaulted field, a state written before a field existed, a bad record raising the error it
always raised, and `dumps` writing the bytes `json.dumps` would."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2c.tables.codec import dumps, dumps_bytes, json_default, loads, to_native
from s2c.tables.events import event_from_record
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import ProcessStage

ENVELOPE = {
    "event_id": "evt-epic-88121",
    "event_type": "AppointmentModified",
    "occurred_at": "2026-04-20T14:03:00.000Z",
    "source_system": "epic-cadence",
    "correlation_id": "corr-7001",
    "produced_at": "2026-04-20T14:03:01.000Z",
}


def test_a_change_that_names_only_the_payer_decodes_like_one_that_spells_out_every_field() -> None:
    short = event_from_record(
        "AppointmentModified",
        {"envelope": ENVELOPE, "appointment_id": "APT-5521", "payer_id": "AETNA-COMM"},
    )
    full = event_from_record(
        "AppointmentModified",
        {
            "envelope": ENVELOPE,
            "appointment_id": "APT-5521",
            "provider_id": None,
            "payer_id": "AETNA-COMM",
            "procedure_codes": None,
            "account_number": None,
        },
    )
    assert short == full
    assert event_from_record("AppointmentModified", to_native(full)) == full


def test_a_charge_without_its_amount_or_with_float_money_is_refused_as_before() -> None:
    charge = {
        "envelope": {**ENVELOPE, "event_type": "ChargePosted"},
        "charge_id": "CHG-1",
        "account_number": "ACCT-7001",
        "procedure_code": "29881",
        "units": 1,
        "service_date": "2026-04-20",
        "department_id": "ORTHO-DEPT",
    }
    with pytest.raises(ValueError, match="missing field 'amount'"):
        event_from_record("ChargePosted", charge)
    with pytest.raises(TypeError, match="must not be a float"):
        event_from_record("ChargePosted", {**charge, "amount": 4200.0})
    decoded = event_from_record("ChargePosted", {**charge, "amount": "4200.00"})
    assert decoded.amount == Decimal("4200.00") and decoded.service_date == date(2026, 4, 20)


def test_a_state_saved_before_a_field_existed_loads_with_that_field_at_its_default() -> None:
    saved = ProcessState("CASE-C-1001", stage=ProcessStage.PAID, paid=Decimal("4200.00"))
    row = json.loads(dumps(saved.to_dict()))
    del row["observed"], row["first_remit_at"]
    loaded = ProcessState.from_dict(row)
    assert loaded == saved
    assert ProcessState.from_dict(json.loads(dumps(saved.to_dict()))) == saved


def test_dumps_writes_exactly_what_json_dumps_writes() -> None:
    record = {
        "paid_amount": Decimal("4200.10"),
        "payment_date": date(2026, 4, 20),
        "occurred_at": datetime(2026, 4, 20, 14, 3, 0, 123456, tzinfo=UTC),
        "memo": "remittance ERA-1 \u00e9",
        "seconds": 86400.5,
        "codes": ["29881"],
        "stage": ProcessStage.PAID,
        "open": None,
        "reported": True,
    }
    assert dumps(record) == json.dumps(
        record, default=json_default, separators=(",", ":"), ensure_ascii=False
    )
    assert json.loads(dumps(record))["occurred_at"] == "2026-04-20T14:03:00.123Z"


# Floats are metric values (seconds, USD variances); in 1e-4 <= |x| < 1e16 (and 0) both write
# Python's repr. Beyond that orjson writes 1e-08 as 1e-8: the same number, checked below.
_DURATIONS = (
    st.floats(min_value=1e-4, max_value=1e15)
    | st.floats(min_value=-1e15, max_value=-1e-4)
    | st.just(0.0)
)
_SCALARS = (
    st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.datetimes(timezones=st.just(UTC))
    | st.dates()
    | st.booleans()
    | st.none()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | _DURATIONS
    | st.sampled_from(ProcessStage)
)
_RECORDS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_RECORDS)
def test_dumps_and_loads_agree_with_the_json_module_on_any_record(record: object) -> None:
    """orjson does the work; the json module's text stays the contract (memos and names with
    quotes, control characters and non-ASCII letters, durations as floats, money as strings)."""
    expected = json.dumps(record, default=json_default, separators=(",", ":"), ensure_ascii=False)
    assert dumps(record) == expected
    assert dumps_bytes(record) == expected.encode()
    assert loads(dumps_bytes(record)) == json.loads(expected)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_reads_back_as_the_same_number(value: float) -> None:
    assert loads(dumps_bytes({"seconds": value})) == {"seconds": value}
