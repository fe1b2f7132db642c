"""835 remittances: a denial is a denial by its group and CARC, a reversal carries its CAS.

Lakeshore Mutual denies Riverside Hospital's claim 7000123403 (CO-197 no authorization, CO-50
not medically necessary), then reverses the denial and pays it: 1,100.00 with a 100.00 copay and
a drug line paid 0 under the contract (CO-45). Issue 17 found the reversal waiting for a payment
that never existed and CO-45 on a zero-paid line booked as a denial.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from samples import PRODUCED_AT, message

from s2c.streams.connectors import x12
from s2c.streams.connectors.carc import AdjustmentClass, classify
from s2c.streams.connectors.events import MappingError

REPAID = "835-lakeshore-denial-reversed-and-repaid.835"


def shipped(name: str) -> str:
    return message(f"x12/{name}").decode("ascii")


def mapped(text: str):
    return [e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)]


def rejection(text: str) -> MappingError:
    with pytest.raises(MappingError) as err:
        mapped(text)
    return err.value


def kinds(events):
    return [e["envelope"]["event_type"] for e in events]


def test_a_reversed_denial_is_negative_denials_and_no_payment_reversal():
    events = mapped(shipped(REPAID))
    assert kinds(events) == [
        "DenialReceived",
        "DenialReceived",
        "PaymentPosted",
        "AdjustmentPosted",
        "AdjustmentPosted",
    ]
    undone = [(d["carc"], d["denied_amount"]) for d in events[:2]]
    assert undone == [("197", Decimal("-1150.00")), ("50", Decimal("-278.00"))]
    original = [d for d in mapped(shipped("835-lakeshore-reversal-and-denial.835"))]
    original_ids = {d.get("denial_id") for d in original}
    assert not original_ids & {d["denial_id"] for d in events[:2]}


def test_contractual_reduction_on_a_line_paid_zero_is_an_adjustment_not_a_denial():
    *_, copay, drug_line = mapped(shipped(REPAID))
    assert (copay["group_code"], copay["carc"], copay["amount"]) == ("PR", "3", Decimal("100.00"))
    assert drug_line["envelope"]["event_type"] == "AdjustmentPosted"
    assert (drug_line["group_code"], drug_line["carc"]) == ("CO", "45")
    assert (drug_line["amount"], drug_line["rarc"]) == (Decimal("228.00"), "N381")


def test_a_zero_paid_line_is_a_denial_only_when_its_reason_says_so():
    """CO-97 (bundled) on a line paid 0 still is; the line's payment decides nothing."""
    events = mapped(shipped("835-clinic-payments-plb.835"))
    denials = [(d["group_code"], d["carc"]) for d in events if "denial_id" in d]
    assert denials == [("CO", "97"), ("OA", "18")]


@pytest.mark.parametrize(
    ("group", "carc", "expected"),
    [
        ("CO", "45", AdjustmentClass.ADJUSTMENT),
        ("PI", "45", AdjustmentClass.ADJUSTMENT),
        ("OA", "45", AdjustmentClass.ADJUSTMENT),
        ("CO", "253", AdjustmentClass.ADJUSTMENT),  # sequestration
        ("PR", "204", AdjustmentClass.ADJUSTMENT),  # not covered, billed to the patient
        ("PR", "1", AdjustmentClass.ADJUSTMENT),
        ("CO", "50", AdjustmentClass.DENIAL),
        ("CO", "197", AdjustmentClass.DENIAL),
        ("OA", "18", AdjustmentClass.DENIAL),
        ("CO", "B7", AdjustmentClass.DENIAL),
    ],
)
def test_classification_by_group_and_carc(group, carc, expected):
    assert classify(group, carc, "CAS02") is expected


def test_an_unknown_carc_is_refused_naming_the_element():
    text = shipped(REPAID).replace("CAS*CO*45*228.00", "CAS*CO*999*228.00")
    err = rejection(text)
    assert err.location == "CAS[2.2]02" and "CARC 999" in err.reason


def test_a_reversal_that_drops_its_cas_is_refused_because_the_claim_does_not_balance():
    text = shipped("835-lakeshore-reversal-and-denial.835").replace("CAS*CO*45*-40.00~", "")
    text = text.replace("SE*30*1242", "SE*29*1242")
    err = rejection(text)
    assert err.location == "CLP[1]03" and "does not balance" in err.reason


def test_a_reversal_with_a_positive_payment_is_refused():
    text = shipped("835-lakeshore-reversal-and-denial.835")
    text = text.replace("CLP*26511230*22*-333.00*-241.00", "CLP*26511230*22*-333.00*241.00")
    text = text.replace("BPR*I*20.00", "BPR*I*502.00")  # still ties out
    err = rejection(text)
    assert err.location == "CLP[1]04" and "reversal" in err.reason


def test_a_cas_amount_with_fractions_of_a_cent_is_refused_not_rounded():
    text = shipped(REPAID).replace("CAS*PR*3*100.00", "CAS*PR*3*100.004")
    err = rejection(text)
    assert err.location == "CAS[2.1]03" and "fractions of a cent" in err.reason
