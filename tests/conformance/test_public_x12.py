"""X12 samples: 837P/837I claims, 277 statuses and 835 remittances map or are rejected by name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from public_samples import FIXTURES, PRODUCED_AT, reversed_and_denied, sample

from s2c.streams.connectors import x12
from s2c.streams.connectors.events import MappingError


def mapped(text: str):
    return [e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)]


def fixture(name: str) -> str:
    return sample(f"x12/{name}").decode()


def rejection(text: str) -> MappingError:
    with pytest.raises(MappingError) as err:
        mapped(text)
    return err.value


def of_type(events, event_type):
    return [e for e in events if e["envelope"]["event_type"] == event_type]


def test_professional_claim_keys_lines_payer_and_npi():
    (claim,) = mapped(fixture("837_005010X222A2/demo.example1.837"))
    assert claim["envelope"]["event_type"] == "ClaimSubmitted"
    assert claim["claim_id"] == claim["account_number"] == "26463774"  # CLM01
    assert claim["claim_type"] == "PROFESSIONAL"
    assert claim["payer_id"] == "999996666" and claim["billing_npi"] == "1912301953"
    assert claim["total_charge"] == Decimal("100.00")
    assert [(l["procedure_code"], l["charge"]) for l in claim["lines"]] == [
        ("99213", Decimal("40.00")),
        ("87070", Decimal("15.00")),
        ("99214", Decimal("35.00")),
        ("86663", Decimal("10.00")),
    ]
    assert claim["envelope"]["occurred_at"] == datetime(2006, 10, 15, 10, 23, tzinfo=UTC)  # BHT


def test_institutional_file_with_two_claims():
    first, second = mapped(fixture("837_005010X223A3/two-claims-single-provider.837i"))
    assert (first["claim_id"], second["claim_id"]) == ("756048Q", "756049Q")
    assert first["claim_type"] == "INSTITUTIONAL" and first["billing_npi"] == "1234567890"
    assert [(l["procedure_code"], l["units"]) for l in first["lines"]] == [
        ("85025", 1),
        ("93005", 3),
    ]
    assert second["total_charge"] == Decimal("50.00")


@pytest.mark.parametrize(
    ("name", "element"),
    [
        ("837_005010X222A2/demo.example6.837", "SV101"),
        ("837_005010X223A3/ppo-repriced-claim.837i", "SV202"),
        ("835_005010X221A1/secondary-payment.835", "SVC01"),
    ],
)
def test_data_that_disagrees_with_isa16_is_rejected_naming_the_element(name, element):
    err = rejection(fixture(name))
    assert err.location == element and err.stage == "parse"
    assert "ISA16 declares ':'" in err.reason and "'>'" in err.reason


def test_component_separator_is_taken_from_isa16_not_assumed():
    text = fixture("835_005010X221A1/secondary-payment.835").replace("*1*T*:~", "*1*T*>~", 1)
    events = mapped(text)
    denied = of_type(events, "AdjustmentPosted")
    assert {e["carc"] for e in denied} >= {"23", "1", "2", "42"}


def test_managed_care_remittance_payments_and_adjustments():
    events = mapped(fixture("835_005010X221A1/managed-care.835"))
    payments = of_type(events, "PaymentPosted")
    assert [(p["account_number"], p["paid_amount"]) for p in payments] == [
        ("5554555444", Decimal("450.00")),
        ("8765432112", Decimal("495.00")),
    ]
    assert payments[0]["payment_trace"] == "7170066655"  # TRN02
    assert payments[0]["payment_date"] == date(2002, 3, 14)  # BPR16 invalid -> DTM*405
    adjustments = [
        (a["account_number"], a["group_code"], a["carc"], a["amount"])
        for a in of_type(events, "AdjustmentPosted")
    ]
    assert adjustments == [
        ("5554555444", "CO", "A2", Decimal("50.00")),
        ("5554555444", "PR", "1", Decimal("300.00")),
        ("8765432112", "CO", "A2", Decimal("55.00")),
        ("8765432112", "PR", "1", Decimal("600.00")),
        ("8765432112", "CO", "45", Decimal("50.00")),
    ]


def test_medicare_remittance_ties_out_with_plb_and_carries_rarc():
    events = mapped(fixture("835_005010X221A1/medicare-part-a.835"))
    assert sum(p["paid_amount"] for p in of_type(events, "PaymentPosted")) == Decimal("149998.73")
    (_, moa_claim) = of_type(events, "AdjustmentPosted")
    assert (moa_claim["carc"], moa_claim["rarc"]) == ("45", "MA02")
    assert of_type(events, "PaymentPosted")[0]["payer_id"] == "999"  # REF*2U


def test_remittance_that_does_not_tie_out_is_rejected():
    text = fixture("835_005010X221A1/managed-care.835").replace("BPR*I*945.00", "BPR*I*955.00")
    err = rejection(text)
    assert err.location == "BPR02" and "does not tie out" in err.reason


def test_service_line_without_procedure_code_is_rejected():
    err = rejection(fixture("835_005010X221A1/tertiary-payment.835"))
    assert err.location == "SVC[1.1]01-2"


def test_reversal_and_denial():
    events = mapped(reversed_and_denied(fixture("835_005010X221A1/managed-care.835")))
    (reversal,) = of_type(events, "PaymentReversed")
    assert reversal["amount"] == Decimal("450.00")
    assert reversal["reverses_remittance_id"] == "1935665544:94060555410000"
    # the reversal takes back its contractual and deductible adjustments too
    taken_back = [
        a for a in of_type(events, "AdjustmentPosted") if a["account_number"] == "5554555444"
    ]
    assert [(a["group_code"], a["carc"], a["amount"]) for a in taken_back] == [
        ("CO", "A2", Decimal("-50.00")),
        ("PR", "1", Decimal("-300.00")),
    ]
    # on the denied claim only CO-50 is a denial: the deductible and CO-45 are not
    denials = of_type(events, "DenialReceived")
    assert [(d["group_code"], d["carc"], d["denied_amount"]) for d in denials] == [
        ("CO", "50", Decimal("550.00"))
    ]
    kept = [a for a in of_type(events, "AdjustmentPosted") if a["account_number"] == "8765432112"]
    assert [(a["group_code"], a["carc"], a["amount"]) for a in kept] == [
        ("PR", "1", Decimal("600.00")),
        ("CO", "45", Decimal("50.00")),
    ]
    assert not of_type(events, "PaymentPosted")


@pytest.mark.parametrize(
    ("name", "location", "category"),
    [
        ("277_005010X212/claim-level-status.277", "STC01-1", "P3"),
        ("277_005010X212/claim-level-status-ncpdp.277", "STC01-1", "F2"),
        ("277_005010X212/provider-level-status.277", "STC01-1", "P3"),
        ("277_005010X212/information-receiver-level-status.277", "TRN02", None),
    ],
)
def test_claim_status_responses_are_not_acknowledgments(name, location, category):
    err = rejection(fixture(name))
    assert err.location == location
    if category:
        assert f"category {category}" in err.reason and "005010X212" in err.reason


def test_segment_count_error_is_the_validators_reason():
    text = fixture("835_005010X221A1/managed-care.835").replace("SE*26*112233", "SE*25*112233")
    err = rejection(text)
    assert err.stage == "parse" and "SE count of 25" in err.reason


def test_not_x12_at_all():
    assert rejection("MSH|^~\\&|not x12").location == "ISA"


def test_every_fixture_maps_or_is_rejected_by_name():
    for path in sorted((FIXTURES / "x12").glob("*/*")):
        if path.name.startswith("LICENSE"):
            continue
        try:
            assert mapped(path.read_text()), path.name
        except MappingError as err:
            assert err.location and err.reason, path.name


def test_event_ids_repeat_on_reingest():
    first = [
        e["envelope"]["event_id"] for e in mapped(fixture("835_005010X221A1/managed-care.835"))
    ]
    again = [
        e["envelope"]["event_id"] for e in mapped(fixture("835_005010X221A1/managed-care.835"))
    ]
    assert first == again and len(set(first)) == len(first)
