"""Which account a FHIR claim, claim response or explanation of benefit joins.

The link stage keys a revenue event by its account: an 837's CLM01 and an 835's CLP01 name the
patient account. A FHIR Claim has no account element, so the connector used to take the claim
identifier as the account, and a claim joined a FHIR-registered visit only when the two numbers
were the same. Now the account is read where the resource says it (`fhir.claim_account`):

1. an identifier typed v2-0203 `AN` (account number);
2. the account of an Encounter its items name (`item.encounter`, carried as a contained resource);
3. for a ClaimResponse (`request`), an ExplanationOfBenefit (`claim`) or a PaymentReconciliation
   (`detail.request`), the Claim it carries as a contained resource, else the Claim of the same
   ingest run with that logical id (`Claim/<id>`): its claim id and its account.

Only then the reference's id as both, as before. The claim id is the first identifier not typed
`AN`.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import MemoryPublisher

ACCOUNT = "ACCT-3301"  # Encounter-colonoscopy-in-progress.json: account Account/ACCT-3301
CLAIM_ID = "CLM-20260204-0042"


def resource(name: str) -> dict:
    return json.loads(message(f"fhir/{name}"))


def mapped(doc: dict, refs) -> list[dict]:
    return fhir.map_resource(doc, refs, PRODUCED_AT)


def keys(events: list[dict]) -> set[tuple[str, str]]:
    return {(e["claim_id"], e["account_number"]) for e in events}


def test_a_claim_with_an_account_number_identifier_joins_that_account(refs) -> None:
    (submitted,) = mapped(resource("Claim-professional-colonoscopy-account-number.json"), refs)
    assert (submitted["claim_id"], submitted["account_number"]) == (CLAIM_ID, ACCOUNT)
    (voided,) = mapped(
        {**resource("Claim-professional-colonoscopy-account-number.json"), "status": "cancelled"},
        refs,
    )
    assert (voided["envelope"]["event_type"], voided["account_number"]) == ("ClaimVoided", ACCOUNT)


def test_the_claim_and_its_encounter_share_the_account_key(refs) -> None:
    """The same account number on the Encounter and the Claim is what puts them on one link key."""
    (started,) = mapped(resource("Encounter-colonoscopy-in-progress.json"), refs)
    (submitted,) = mapped(resource("Claim-professional-colonoscopy-account-number.json"), refs)
    assert started["account_number"] == submitted["account_number"] == ACCOUNT
    assert submitted["claim_id"] != ACCOUNT  # the claim keeps its own id


def test_a_claim_response_carrying_its_claim_takes_the_claims_id_and_account(refs) -> None:
    paid, deductible = mapped(resource("ClaimResponse-paid-contained-claim.json"), refs)
    assert keys([paid, deductible]) == {(CLAIM_ID, ACCOUNT)}
    assert paid["paid_amount"] == Decimal("900.00")


def test_a_claim_naming_a_contained_encounter_takes_the_encounters_account(refs) -> None:
    claim = resource("Claim-professional-colonoscopy-account-number.json")
    claim["identifier"] = claim["identifier"][:1]  # no AN identifier any more
    claim["contained"] = [
        {
            "resourceType": "Encounter",
            "id": "visit",
            "status": "finished",
            "class": {"code": "AMB"},
            "account": [{"reference": "Account/ACCT-7777"}],
        }
    ]
    claim["item"][0]["encounter"] = [{"reference": "#visit"}]
    (submitted,) = mapped(claim, refs)
    assert (submitted["claim_id"], submitted["account_number"]) == (CLAIM_ID, "ACCT-7777")


def test_an_explanation_of_benefit_with_an_account_number_identifier(refs) -> None:
    eob = resource("ExplanationOfBenefit-partial-with-copay.json")
    before = keys(mapped(eob, refs))
    (claim_id,) = {c for c, _ in before}
    assert before == {(claim_id, claim_id)}  # without an account: the claim id, as before
    eob = copy.deepcopy(eob)
    eob["identifier"] = [
        {
            "type": {"coding": [{"system": fhir.ACCOUNT_NUMBER_TYPE[0], "code": "AN"}]},
            "value": "ACCT-5150",
        }
    ]
    assert keys(mapped(eob, refs)) == {(claim_id, "ACCT-5150")}


def test_an_identifier_of_another_type_is_not_an_account(refs) -> None:
    claim = resource("Claim-professional-colonoscopy-account-number.json")
    claim["identifier"][1]["type"]["coding"][0]["code"] = "MR"  # a medical record number
    (submitted,) = mapped(claim, refs)
    assert submitted["account_number"] == CLAIM_ID  # falls back to the claim id
    response = resource("ClaimResponse-paid-contained-claim.json")
    response["request"] = {"reference": "Claim/elsewhere"}  # not the contained one
    assert keys(mapped(response, refs)) == {("elsewhere", "elsewhere")}


def answer_naming(claim_logical_id: str) -> dict:
    """The paid ClaimResponse, naming its Claim by logical id only (nothing carried inside)."""
    response = resource("ClaimResponse-paid-contained-claim.json")
    del response["contained"]
    response["request"] = {"reference": f"Claim/{claim_logical_id}"}
    return response


@pytest.fixture
def ingestor(refs) -> Ingestor:
    return Ingestor(
        MemoryPublisher(), ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
    )


def published(ingestor: Ingestor, schema: str) -> list[tuple[str, dict]]:
    return [
        (key, record)
        for name, key, record in ingestor.publisher.events
        if record["envelope"]["event_type"] == schema
    ]


def test_an_answer_naming_its_claim_by_logical_id_joins_the_claims_account(ingestor) -> None:
    """A bulk export: the answer comes first in the file, its Claim (logical id c2) after it."""
    claim = resource("Claim-professional-colonoscopy-account-number.json")
    ndjson = "\n".join(json.dumps(doc) for doc in (answer_naming("c2"), claim)) + "\n"
    outcomes = list(ingestor.fhir_file(ndjson.encode(), "export/claims.ndjson"))
    assert [o.error for o in outcomes] == [None, None]
    ((_, submitted),) = published(ingestor, "ClaimSubmitted")
    paid = [r for _, r in published(ingestor, "PaymentPosted")]
    # the link stage keys revenue events by account: the answer joins the claim's instance
    assert keys([submitted, *paid]) == {(CLAIM_ID, ACCOUNT)}


def test_an_answer_in_a_later_file_of_the_run_finds_the_claim(ingestor) -> None:
    claim = resource("Claim-professional-colonoscopy-account-number.json")
    list(ingestor.fhir_file(json.dumps(claim).encode(), "claims.json"))
    list(ingestor.fhir_file(json.dumps(answer_naming("c2")).encode(), "answers.json"))
    eob = resource("ExplanationOfBenefit-partial-with-copay.json")
    eob["claim"] = {"reference": "Claim/c2"}
    list(ingestor.fhir_file(json.dumps(eob).encode(), "eob.json"))
    paid = [r for _, r in published(ingestor, "PaymentPosted")]
    assert len(paid) == 2 and keys(paid) == {(CLAIM_ID, ACCOUNT)}


def test_an_answer_whose_claim_the_run_never_saw_keeps_the_reference_as_before(ingestor) -> None:
    """Not joined, not lost: it lands on an account named after the reference, where the link
    stage reports it as UNLINKED_EVENT when nothing links that account within its wait."""
    list(ingestor.fhir_file(json.dumps(answer_naming("c9")).encode(), "answers.json"))
    paid = [r for _, r in published(ingestor, "PaymentPosted")]
    assert keys(paid) == {("c9", "c9")}
