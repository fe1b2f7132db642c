"""FHIR R4 resources map to the same canonical events; statuses are checked by us, not the models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from samples import PRODUCED_AT
from s2c.streams.connectors import fhir
from s2c.streams.connectors.events import MappingError

APPOINTMENT = {
    "resourceType": "Appointment", "id": "appt-7001", "status": "booked",
    "serviceType": [{"coding": [{"code": "45378"}]}],
    "specialty": [{"coding": [{"code": "GASTRO"}]}],
    "start": "2026-02-03T08:30:00-05:00", "end": "2026-02-03T09:20:00-05:00",
    "participant": [{"actor": {"reference": "Patient/mrn-88812"}, "status": "accepted"},
                    {"actor": {"reference": "Practitioner/dr-1210"}, "status": "accepted"},
                    {"actor": {"reference": "Location/riverside"}, "status": "accepted"},
                    {"actor": {"reference": "HealthcareService/endoscopy"}, "status": "accepted"}],
}


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


def test_status_outside_the_value_set_is_rejected_by_us(refs):
    with pytest.raises(MappingError) as err:
        mapped({**APPOINTMENT, "status": "bookd"}, refs)
    assert err.value.location == "Appointment.status"


def test_cancelled_and_noshow(refs):
    cancelled = {**APPOINTMENT, "status": "cancelled",
                 "cancelationReason": {"coding": [{"code": "pat"}]}}
    assert mapped(cancelled, refs)[0]["reason"] == "pat"
    assert mapped({**APPOINTMENT, "status": "noshow"}, refs)[0]["envelope"]["event_type"] == \
        "AppointmentNoShow"


def test_encounter_start_and_finish(refs):
    enc = {"resourceType": "Encounter", "id": "enc-5", "status": "in-progress",
           "class": {"code": "AMB"}, "subject": {"reference": "Patient/mrn-88812"},
           "account": [{"reference": "Account/ACCT-3301"}],
           "appointment": [{"reference": "Appointment/appt-7001"}],
           "serviceProvider": {"reference": "Organization/riverside"},
           "location": [{"location": {"reference": "Location/endoscopy"}}],
           "period": {"start": "2026-02-03T08:20:00-05:00", "end": "2026-02-03T10:00:00-05:00"}}
    (started,) = mapped(enc, refs)
    assert (started["account_number"], started["appointment_id"]) == ("ACCT-3301", "appt-7001")
    assert started["encounter_class"] == "OUTPATIENT"
    (done,) = mapped({**enc, "status": "finished"}, refs)
    assert done["discharged_at"] == datetime(2026, 2, 3, 15, 0, tzinfo=UTC)


def test_claim_and_structural_error(refs):
    claim = {"resourceType": "Claim", "id": "c1", "status": "active", "use": "claim",
             "identifier": [{"value": "ACCT-3301"}],
             "type": {"coding": [{"code": "professional"}]},
             "patient": {"reference": "Patient/mrn-88812"}, "created": "2026-02-04",
             "insurer": {"reference": "Organization/bcbs-tx"},
             "provider": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                         "value": "1912301953"}},
             "priority": {"coding": [{"code": "normal"}]},
             "insurance": [{"sequence": 1, "focal": True,
                            "coverage": {"reference": "Coverage/cov1"}}],
             "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "45378"}]},
                       "quantity": {"value": 1}, "net": {"value": 1250.0, "currency": "USD"}}],
             "total": {"value": 1250.0, "currency": "USD"}}
    (submitted,) = mapped(claim, refs)
    assert (submitted["claim_id"], submitted["payer_id"]) == ("ACCT-3301", "bcbs-tx")
    assert submitted["lines"][0]["charge"] == Decimal("1250.00")
    with pytest.raises(MappingError) as err:
        mapped({**claim, "item": "not a list"}, refs)
    assert err.value.stage == "parse" and err.value.location.startswith("Claim.item")


def test_claim_response_payment_and_adjustment(refs):
    response = {"resourceType": "ClaimResponse", "id": "cr1", "status": "active",
                "type": {"coding": [{"code": "professional"}]}, "use": "claim",
                "patient": {"reference": "Patient/mrn-88812"}, "created": "2026-03-01",
                "insurer": {"reference": "Organization/bcbs-tx"},
                "request": {"reference": "Claim/ACCT-3301"}, "outcome": "complete",
                "item": [{"itemSequence": 1, "adjudication": [
                    {"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 1250}},
                    {"category": {"coding": [{"code": "deductible"}]},
                     "reason": {"coding": [{"code": "1"}]}, "amount": {"value": 200}}]}],
                "payment": {"type": {"coding": [{"code": "complete"}]}, "date": "2026-03-02",
                            "amount": {"value": 900, "currency": "USD"},
                            "identifier": {"value": "EFT-77"}}}
    paid, deductible = mapped(response, refs)
    assert (paid["paid_amount"], paid["payment_trace"]) == (Decimal("900.00"), "EFT-77")
    assert paid["payment_date"] == date(2026, 3, 2)
    assert (deductible["group_code"], deductible["carc"]) == ("PR", "1")


def test_bundle_splits_into_units():
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": APPOINTMENT}, {"resource": {**APPOINTMENT, "id": "a2"}}]}
    units = fhir.split_resources(json.dumps(bundle).encode())
    assert [u[0]["id"] for u in units] == ["appt-7001", "a2"]
