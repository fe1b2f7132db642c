"""A preauthorization ClaimResponse (`use` preauthorization) is the FHIR peer of a 278 response:
an approval with its preAuthRef and period, a denial with the error codes, no decision rejected
by name. The approval finds the knee arthroscopy booked from the OR feed by the request's
identifier, as the 278 does by its trace."""

from __future__ import annotations

import copy
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir, hl7v2
from s2c.streams.connectors.events import MappingError
from s2c.tables.events import event_from_record
from s2c.tables.replay import Pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from core_world import IDS, master_data  # noqa: E402

APPROVED = "fhir/ClaimResponse-preauthorization-approved-knee-arthroscopy.json"
DENIED = "fhir/ClaimResponse-preauthorization-denied.json"


def resource(name: str) -> dict:
    return json.loads(message(name))


def test_an_approval_names_the_case_the_number_and_the_period(refs) -> None:
    (approved,) = fhir.map_resource(resource(APPROVED), refs, PRODUCED_AT)
    assert approved["envelope"]["event_type"] == "AuthorizationApproved"
    assert approved["authorization_id"] == approved["case_id"] == "ORC-91207"  # the identifier
    assert approved["appointment_id"] is None and approved["payer_id"] == "AETNA-COMM"
    assert approved["auth_number"] == "AUTH-7734120"
    assert approved["valid_until"] == datetime(2026, 5, 1, 4, 59, 59, tzinfo=UTC)
    assert approved["envelope"]["occurred_at"] == datetime(2026, 3, 3, 19, 20, tzinfo=UTC)


def test_an_error_outcome_denies_with_its_codes_and_disposition(refs) -> None:
    (denied,) = fhir.map_resource(resource(DENIED), refs, PRODUCED_AT)
    assert denied["envelope"]["event_type"] == "AuthorizationDenied"
    assert denied["case_id"] == "ORC-91208"  # no identifier: the Claim's logical id
    assert denied["reason"] == "REQUEST_REJECTED (a002): Not medically necessary"


@pytest.mark.parametrize(
    ("change", "place"),
    [
        ({"outcome": "queued"}, "ClaimResponse.outcome"),
        ({"preAuthRef": None}, "ClaimResponse.preAuthRef"),
        ({"insurer": None}, "ClaimResponse.insurer"),
        ({"use": "predetermination"}, "ClaimResponse.use"),
    ],
)
def test_no_decision_or_a_missing_element_is_rejected_by_name(change, place, refs) -> None:
    doc = copy.deepcopy(resource(APPROVED))
    for key, value in change.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    with pytest.raises(MappingError) as raised:
        fhir.map_resource(doc, refs, PRODUCED_AT)
    assert raised.value.location == place


def test_the_approval_reaches_the_case_booked_on_the_or_feed(refs) -> None:
    pipeline = Pipeline(master_data(), IDS)
    booked = hl7v2.map_text(
        message("hl7v2/SIU-S12-or-case-knee-arthroscopy.hl7"), refs, PRODUCED_AT
    )
    approved = fhir.map_resource(resource(APPROVED), refs, PRODUCED_AT)
    for record in booked + approved:
        pipeline.feed(event_from_record(record["envelope"]["event_type"], record))
    assert list(pipeline.processes) == ["CASE-ORC-91207"]
    assert pipeline.processes["CASE-ORC-91207"].authorized_at == datetime(
        2026, 3, 3, 19, 20, tzinfo=UTC
    )
