"""FHIR ChargeItem to ChargePosted / ChargeReversed: one test per mapping rule and per rejection.

The resources are the charges s2c ships for Riverside General's colonoscopy of appointment
appt-7301 (tests/messages/fhir/ChargeItem-*-appt-7301.json): the colonoscopy, two pathology
specimens, and a duplicate of the colonoscopy that charge capture then marked entered-in-error.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir
from s2c.streams.connectors.events import MappingError
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import MemoryPublisher


def resource(name: str) -> dict:
    return json.loads(message(f"fhir/{name}"))


COLONOSCOPY = resource("ChargeItem-billable-colonoscopy-appt-7301.json")
PATHOLOGY = resource("ChargeItem-billable-pathology-appt-7301.json")
IN_ERROR = resource("ChargeItem-entered-in-error-colonoscopy-duplicate-appt-7301.json")


def mapped(doc: dict, refs) -> dict:
    (only,) = fhir.map_resource(doc, refs, PRODUCED_AT)
    return only


def changed(doc: dict, **fields) -> dict:
    """A copy of `doc` with `fields` set (None removes one)."""
    out = copy.deepcopy(doc)
    for name, value in fields.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def rejected(doc: dict, refs) -> MappingError:
    with pytest.raises(MappingError) as err:
        fhir.map_resource(doc, refs, PRODUCED_AT)
    return err.value


def test_a_billable_charge_item_posts_a_charge(refs) -> None:
    posted = mapped(COLONOSCOPY, refs)
    assert posted["envelope"]["event_type"] == "ChargePosted"
    assert posted["charge_id"] == "CHG-7301-01"  # the identifier, not the logical id ci-7301-1
    assert posted["account_number"] == "ACCT-3460"  # account[0]
    assert posted["procedure_code"] == "45378"  # the CPT coding, not the chargemaster's 4500123
    assert (posted["units"], posted["amount"]) == (1, Decimal("1250.00"))
    assert posted["department_id"] == "endoscopy"  # performingOrganization
    assert posted["service_date"] == date(2026, 6, 2)
    # enteredDate 16:10 CDT: the posting, as FT1-5
    assert posted["envelope"]["occurred_at"] == datetime(2026, 6, 2, 21, 10, tzinfo=UTC)
    assert posted["envelope"]["source_system"] == "fhir:riverside-charge-capture"
    assert "mrn-90533" not in repr(posted) and "Testpatient" not in repr(posted)


def test_units_and_the_total_price_and_a_period_of_service(refs) -> None:
    posted = mapped(PATHOLOGY, refs)
    # priceOverride is the charge's total (FT1-11), not a unit price: 2 specimens, 320.00
    assert (posted["units"], posted["amount"]) == (2, Decimal("320.00"))
    assert posted["service_date"] == date(2026, 6, 2)  # occurrencePeriod.start
    assert posted["department_id"] == "pathology"


def test_the_date_of_service_is_the_day_as_written_not_shifted_to_utc(refs) -> None:
    late = changed(COLONOSCOPY, occurrenceDateTime="2026-06-02T21:30:00-05:00")  # 02:30 UTC
    assert mapped(late, refs)["service_date"] == date(2026, 6, 2)
    assert mapped(changed(late, occurrenceDateTime="2026-06-05"), refs)["service_date"] == date(
        2026, 6, 5
    )


def test_without_an_identifier_the_logical_id_is_the_charge_id(refs) -> None:
    assert mapped(changed(COLONOSCOPY, identifier=None), refs)["charge_id"] == "ci-7301-1"


def test_without_a_cpt_or_hcpcs_coding_the_first_coding_is_the_code(refs) -> None:
    cdm_only = changed(COLONOSCOPY, code={"coding": COLONOSCOPY["code"]["coding"][:1]})
    assert mapped(cdm_only, refs)["procedure_code"] == "4500123"


def test_without_a_quantity_one_unit(refs) -> None:
    assert mapped(changed(COLONOSCOPY, quantity=None), refs)["units"] == 1


def test_account_and_department_named_by_identifier(refs) -> None:
    doc = changed(
        COLONOSCOPY,
        account=[{"identifier": {"value": "ACCT-3460"}}],
        performingOrganization={"identifier": {"value": "endoscopy"}},
    )
    posted = mapped(doc, refs)
    assert (posted["account_number"], posted["department_id"]) == ("ACCT-3460", "endoscopy")


def test_entered_in_error_reverses_that_charge_in_full(refs) -> None:
    posted = mapped(resource("ChargeItem-billable-colonoscopy-duplicate-appt-7301.json"), refs)
    reversed_ = mapped(IN_ERROR, refs)
    assert reversed_["envelope"]["event_type"] == "ChargeReversed"
    assert reversed_["reverses_charge_id"] == posted["charge_id"] == "CHG-7301-03"
    assert reversed_["charge_id"] == "CHG-7301-03:entered-in-error"
    assert reversed_["amount"] == posted["amount"] == Decimal("1250.00")
    assert reversed_["account_number"] == "ACCT-3460"
    # meta.lastUpdated of the version marked in error, 08:00 CDT the next morning
    assert reversed_["envelope"]["occurred_at"] == datetime(2026, 6, 3, 13, 0, tzinfo=UTC)
    assert reversed_["envelope"]["event_id"] != posted["envelope"]["event_id"]
    without_meta_time = changed(IN_ERROR, meta={"versionId": "2"})
    assert mapped(without_meta_time, refs)["envelope"]["occurred_at"] == datetime(
        2026, 6, 2, 21, 12, tzinfo=UTC
    )  # enteredDate


@pytest.mark.parametrize(
    "status", ["planned", "not-billable", "aborted", "billed", "unknown", "billabel"]
)
def test_every_other_status_is_rejected_by_name(status: str, refs) -> None:
    err = rejected(changed(COLONOSCOPY, status=status), refs)
    assert err.location == "ChargeItem.status"
    assert status in err.reason and "billable, entered-in-error" in err.reason


@pytest.mark.parametrize(
    ("fields", "location", "reason"),
    [
        ({"account": None}, "ChargeItem.account", "missing"),
        ({"account": [{"display": "the account"}]}, "ChargeItem.account[0]", "missing"),
        ({"priceOverride": None}, "ChargeItem.priceOverride", "missing"),
        ({"priceOverride": {"currency": "USD"}}, "ChargeItem.priceOverride.value", "missing"),
        (
            {"priceOverride": {"value": 1250.005, "currency": "USD"}},
            "ChargeItem.priceOverride.value",
            "fractions of a cent",
        ),
        (
            {"priceOverride": {"value": 1250.00, "currency": "EUR"}},
            "ChargeItem.priceOverride.currency",
            "EUR is not USD",
        ),
        (
            {"priceOverride": {"value": -1250.00, "currency": "USD"}},
            "ChargeItem.priceOverride.value",
            "negative",
        ),
        ({"quantity": {"value": 1.5}}, "ChargeItem.quantity", "whole number"),
        ({"occurrenceDateTime": None}, "ChargeItem.occurrence[x]", "no date of service"),
        (
            {"occurrenceDateTime": None, "occurrenceTiming": {"event": ["2026-06-02"]}},
            "ChargeItem.occurrence[x]",
            "no date of service",
        ),
        ({"occurrenceDateTime": "2026-06"}, "ChargeItem.occurrenceDateTime", "not a full date"),
        (
            {"occurrenceDateTime": None, "occurrencePeriod": {"end": "2026-06-02"}},
            "ChargeItem.occurrencePeriod.start",
            "missing",
        ),
        ({"performingOrganization": None}, "ChargeItem.performingOrganization", "missing"),
        ({"enteredDate": None}, "ChargeItem.enteredDate", "missing"),
        ({"code": {"coding": [{"system": "urn:x"}]}}, "ChargeItem.code", "missing"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_billable_charge_item_is_rejected_naming_the_path(fields, location, reason, refs):
    err = rejected(changed(COLONOSCOPY, **fields), refs)
    assert (err.location, err.stage) == (location, "map")
    assert reason in err.reason


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"priceOverride": None}, "ChargeItem.priceOverride"),
        ({"priceOverride": {"value": 99.999}}, "ChargeItem.priceOverride.value"),
        ({"account": None}, "ChargeItem.account"),
        ({"meta": {"versionId": "2"}, "enteredDate": None}, "ChargeItem.meta.lastUpdated"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_entered_in_error_charge_item_is_rejected_naming_the_path(fields, location, refs):
    assert rejected(changed(IN_ERROR, **fields), refs).location == location


def test_a_charge_item_without_a_code_is_rejected_naming_it(refs) -> None:
    err = rejected(changed(COLONOSCOPY, code=None), refs)  # absent: the model says so
    assert (err.location, err.stage) == ("ChargeItem.code", "parse")
    null = {**COLONOSCOPY, "code": None}  # null passes the model (it was an AttributeError)
    assert rejected(null, refs).location == "ChargeItem.code"


def test_a_rejected_charge_item_is_a_dead_letter_and_the_next_one_maps(refs) -> None:
    ingestor = Ingestor(
        MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
    )
    bad = changed(PATHOLOGY, priceOverride=None)
    ndjson = "".join(json.dumps(doc) + "\n" for doc in (bad, COLONOSCOPY))
    outcomes = list(ingestor.fhir_file(ndjson.encode(), "charges.ndjson"))
    assert [o.error.location if o.error else None for o in outcomes] == [
        "ChargeItem.priceOverride",
        None,
    ]
    (letter,) = ingestor.publisher.dead_letters
    assert letter.location == "ChargeItem.priceOverride"
    ((_, key, record),) = ingestor.publisher.events
    assert record["charge_id"] == "CHG-7301-01" and key == "ACCT-3460"
