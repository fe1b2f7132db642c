"""FHIR R4 resources map to the same canonical events; statuses are checked by us, not the models.

The resources are the JSON files s2c ships under tests/messages/fhir/: a colonoscopy at Riverside
General from booking to payment, a Bundle, an NDJSON bulk export and the payer's remittance forms.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import fastavro
import fastavro.validation
import pytest
from samples import MESSAGES, PRODUCED_AT, message

from s2c.streams.catalog import load_catalog
from s2c.streams.connectors import fhir
from s2c.streams.connectors.events import MappingError


def resource(name: str) -> dict:
    return json.loads(message(f"fhir/{name}"))


APPOINTMENT = resource("Appointment-booked-colonoscopy.json")


def mapped(doc, refs):
    return fhir.map_resource(doc, refs, PRODUCED_AT)


def test_booked_appointment(refs):
    (booked,) = mapped(APPOINTMENT, refs)
    assert booked["envelope"]["event_type"] == "AppointmentScheduled"
    assert booked["appointment_id"] == "appt-7001"
    assert booked["scheduled_start"] == datetime(2026, 2, 3, 13, 30, tzinfo=UTC)
    assert booked["duration_minutes"] == 50
    assert (booked["site_id"], booked["department_id"]) == ("riverside", "endoscopy")
    assert booked["patient_ref"] == refs.ref("mrn-88812", "fhir", "Patient")
    assert "mrn-88812" not in repr(booked)
    assert "Testpatient" not in repr(booked)  # participant display names never travel
    assert (booked["provider_id"], booked["procedure_codes"]) == ("dr-1210", ["45378"])
    assert booked["service_line_id"] == "GASTRO"
    assert booked["envelope"]["source_system"] == "fhir:riverside-scheduling"


def test_status_outside_the_value_set_is_rejected_by_us(refs):
    with pytest.raises(MappingError) as err:
        mapped({**APPOINTMENT, "status": "bookd"}, refs)
    assert err.value.location == "Appointment.status"


def test_cancelled_and_noshow(refs):
    cancelled = {
        **APPOINTMENT,
        "status": "cancelled",
        "cancelationReason": {"coding": [{"code": "pat"}]},
    }
    assert mapped(cancelled, refs)[0]["reason"] == "pat"
    assert (
        mapped({**APPOINTMENT, "status": "noshow"}, refs)[0]["envelope"]["event_type"]
        == "AppointmentNoShow"
    )


def test_encounter_start_and_finish(refs):
    enc = resource("Encounter-colonoscopy-in-progress.json")
    (started,) = mapped(enc, refs)
    assert (started["account_number"], started["appointment_id"]) == ("ACCT-3301", "appt-7001")
    assert started["encounter_class"] == "OUTPATIENT"
    assert (started["site_id"], started["department_id"]) == ("riverside", "endoscopy")
    assert started["arrived_at"] == datetime(2026, 2, 3, 13, 20, tzinfo=UTC)
    assert started["patient_ref"] == refs.ref("mrn-88812", "fhir", "Patient")
    (done,) = mapped({**enc, "status": "finished"}, refs)
    assert done["discharged_at"] == datetime(2026, 2, 3, 15, 0, tzinfo=UTC)


def test_claim_and_structural_error(refs):
    claim = resource("Claim-professional-colonoscopy.json")
    (submitted,) = mapped(claim, refs)
    assert (submitted["claim_id"], submitted["payer_id"]) == ("ACCT-3301", "bcbs-tx")
    assert submitted["lines"][0]["charge"] == Decimal("1250.00")
    assert (submitted["claim_type"], submitted["billing_npi"]) == ("PROFESSIONAL", "1912301953")
    assert submitted["total_charge"] == Decimal("1250.00")
    (voided,) = mapped({**claim, "status": "cancelled"}, refs)
    assert (voided["envelope"]["event_type"], voided["claim_id"]) == ("ClaimVoided", "ACCT-3301")
    with pytest.raises(MappingError) as err:
        mapped({**claim, "item": "not a list"}, refs)
    assert err.value.stage == "parse" and err.value.location.startswith("Claim.item")


def test_claim_response_payment_and_adjustment(refs):
    response = resource("ClaimResponse-paid-with-deductible.json")
    paid, deductible = mapped(response, refs)
    assert (paid["paid_amount"], paid["payment_trace"]) == (Decimal("900.00"), "EFT-77")
    assert paid["payment_date"] == date(2026, 3, 2)
    assert (deductible["group_code"], deductible["carc"]) == ("PR", "1")
    assert deductible["amount"] == Decimal(
        "200.00"
    )  # adjudications without a reason are not adjustments
    assert paid["claim_id"] == deductible["claim_id"] == "ACCT-3301"


def test_bundle_splits_into_units():
    units = fhir.split_resources(message("fhir/Bundle-two-appointments.json"))
    assert [u.doc["id"] for u in units] == ["appt-7001", "appt-7002"]


def test_bundle_entries_map_like_single_resources(refs):
    first, second = (
        mapped(unit.doc, refs)[0]
        for unit in fhir.split_resources(message("fhir/Bundle-two-appointments.json"))
    )
    assert first["department_id"] == "riverside"  # no HealthcareService: the Location
    assert second["department_id"] == "endoscopy"
    assert second["duration_minutes"] == 40  # minutesDuration, no end
    assert first["patient_ref"] != second["patient_ref"]


def test_ndjson_export_maps_each_line(refs):
    units = fhir.split_resources(message("fhir/Encounter-bulk-export.ndjson"))
    (done,), (arrived,) = (mapped(unit.doc, refs) for unit in units)
    assert (done["envelope"]["event_type"], done["encounter_id"]) == (
        "EncounterCompleted",
        "enc-ed-4471",
    )
    assert done["discharged_at"] == datetime(2026, 2, 14, 12, 5, tzinfo=UTC)
    assert arrived["envelope"]["event_type"] == "EncounterStarted"
    assert (arrived["encounter_class"], arrived["service_line_id"]) == ("SURGERY", "SUR")
    assert (arrived["appointment_id"], arrived["account_number"]) == ("appt-7010", "ACCT-3391")


def test_queued_claim_response_acknowledges_the_claim(refs):
    (ack,) = mapped(resource("ClaimResponse-queued.json"), refs)
    assert ack["envelope"]["event_type"] == "ClaimAcknowledged"
    assert (ack["claim_id"], ack["status_category"]) == ("ACCT-3301", "A1")
    assert ack["envelope"]["occurred_at"] == datetime(2026, 2, 5, 14, 12, tzinfo=UTC)


def test_explanation_of_benefit_splits_patient_share_from_contractual(refs):
    paid, copay, contractual = mapped(
        resource("ExplanationOfBenefit-partial-with-copay.json"), refs
    )
    assert (paid["claim_id"], paid["paid_amount"]) == ("ACCT-3388", Decimal("624.50"))
    assert (copay["group_code"], copay["carc"], copay["amount"]) == ("PR", "3", Decimal("40.00"))
    assert (contractual["group_code"], contractual["carc"], contractual["amount"]) == (
        "CO",
        "45",
        Decimal("315.50"),
    )
    assert paid["paid_amount"] + copay["amount"] + contractual["amount"] == Decimal("980.00")


def test_payment_reconciliation_posts_one_payment_per_detail(refs):
    payments = mapped(resource("PaymentReconciliation-eft.json"), refs)
    assert [(p["claim_id"], p["paid_amount"]) for p in payments] == [
        ("ACCT-3301", Decimal("900.00")),
        ("ACCT-3388", Decimal("624.50")),
    ]
    assert {p["payment_trace"] for p in payments} == {"EFT-91"}
    assert {p["payment_date"] for p in payments} == {date(2026, 3, 10)}
    assert len({p["remittance_id"] for p in payments}) == 2


def test_a_denial_reason_is_a_denial_not_a_contractual_adjustment(refs):
    """FHIR has no CAS group; the reason code, read as a CARC, says denial or adjustment."""
    paid, denied, contractual = mapped(
        resource("ClaimResponse-partial-denied-not-medically-necessary.json"), refs
    )
    assert (paid["paid_amount"], paid["claim_id"]) == (Decimal("240.00"), "ACCT-3410")
    assert denied["envelope"]["event_type"] == "DenialReceived"
    assert (denied["group_code"], denied["carc"], denied["denied_amount"]) == (
        "CO",
        "50",
        Decimal("1200.00"),
    )
    assert contractual["envelope"]["event_type"] == "AdjustmentPosted"
    assert (contractual["carc"], contractual["amount"]) == ("45", Decimal("60.00"))


def test_a_reason_that_is_not_a_known_carc_is_refused_by_path(refs):
    response = resource("ClaimResponse-partial-denied-not-medically-necessary.json")
    response["item"][0]["adjudication"][1]["reason"]["coding"][0]["code"] = "ZZ9"
    with pytest.raises(MappingError) as err:
        mapped(response, refs)
    assert err.value.location == "ClaimResponse.item[0].adjudication[1].reason"
    assert "CARC ZZ9 is not classified" in err.value.reason


def test_a_claim_denied_in_full_without_a_payment_posts_its_denials(refs):
    response = resource("ClaimResponse-partial-denied-not-medically-necessary.json")
    del response["payment"]
    response["item"] = response["item"][:1]
    (denied,) = mapped(response, refs)
    assert denied["envelope"]["event_type"] == "DenialReceived"


def test_unmapped_resource_type_is_rejected(refs):
    with pytest.raises(MappingError) as err:
        mapped({"resourceType": "Patient", "id": "mrn-88812"}, refs)
    assert err.value.location == "resourceType" and err.value.reject


def every_event(refs):
    events = []
    for path in sorted((MESSAGES / "fhir").iterdir()):
        for unit in fhir.split_resources(path.read_bytes()):
            events += fhir.map_unit(unit, refs, PRODUCED_AT)
    return events


def test_every_shipped_resource_gives_valid_avro_records(refs):
    catalog = load_catalog()
    events = every_event(refs)
    assert {e["envelope"]["event_type"] for e in events} == {
        "AppointmentScheduled",
        "EncounterStarted",
        "EncounterCompleted",
        "ChargePosted",
        "ChargeReversed",
        "ClaimSubmitted",
        "ClaimAcknowledged",
        "PaymentPosted",
        "AdjustmentPosted",
        "DenialReceived",
        "CaseCompleted",
        "AuthorizationApproved",
        "AuthorizationDenied",
    }
    for record in events:
        schema = catalog.parsed(f"s2c.events.{record['envelope']['event_type']}")
        fastavro.validation.validate(record, schema, raise_errors=True, strict=True)
        fastavro.schemaless_writer(io.BytesIO(), schema, record)
    ids = [e["envelope"]["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    for identifying in ("mrn-88812", "mrn-90417", "mrn-90533", "Testpatient"):
        assert identifying not in repr(events)
