"""X12 messages the project ships: 837P/837I claims, 277CA acknowledgments and 835 remittances
map; 277 claim statuses, broken envelopes and data that disagrees with its separators are rejected
by name.

The story the files tell: Riverside Medical Group and Riverside Hospital bill Great Prairies Health,
Lakeshore Mutual and Central States Medicare; the clearinghouse acknowledges, the payers remit,
reverse one payment and deny one emergency visit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from samples import MESSAGES, PRODUCED_AT, message

from s2c.streams.connectors import x12
from s2c.streams.connectors.events import MappingError
from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import MemoryPublisher


def mapped(text: str):
    return [e for tx in x12.iter_units(text) for e in x12.map_transaction(tx, PRODUCED_AT)]


def shipped(name: str) -> str:
    return message(f"x12/{name}").decode("ascii")


def rejection(text: str) -> MappingError:
    with pytest.raises(MappingError) as err:
        mapped(text)
    return err.value


def of_type(events, event_type):
    return [e for e in events if e["envelope"]["event_type"] == event_type]


def business(events):
    """Events without their envelope: what two spellings of the same interchange must agree on."""
    return [{k: v for k, v in e.items() if k != "envelope"} for e in events]


def test_professional_claims_keys_lines_payers_and_npi():
    claims = mapped(shipped("837p-clinic-claims.837"))
    assert [c["envelope"]["event_type"] for c in claims] == ["ClaimSubmitted"] * 4
    assert all(c["claim_id"] == c["account_number"] for c in claims)  # CLM01
    assert {c["claim_type"] for c in claims} == {"PROFESSIONAL"}
    assert {c["billing_npi"] for c in claims} == {"1999995555"}
    # the dependent's claim (HL 23) takes its subscriber loop's payer; two claims share one loop
    assert [(c["claim_id"], c["payer_id"], c["total_charge"]) for c in claims] == [
        ("26463774", "567890", Decimal("220.00")),
        ("26407789", "567890", Decimal("285.00")),
        ("26511230", "734100", Decimal("333.00")),
        ("26511231", "734100", Decimal("200.00")),
    ]
    office_visit, _, knee, _ = claims
    assert [(line["procedure_code"], line["charge"]) for line in office_visit["lines"]] == [
        ("99214", Decimal("150.00")),
        ("80053", Decimal("42.00")),
        ("85025", Decimal("18.00")),
        ("36415", Decimal("10.00")),
    ]
    # modifier RT is not the code
    assert [
        (line["line_number"], line["procedure_code"], line["units"]) for line in knee["lines"]
    ] == [(1, "20610", 1), (2, "J3301", 4), (3, "73562", 1)]
    bht = datetime(2026, 1, 2, 14, 15, tzinfo=UTC)
    assert office_visit["envelope"]["occurred_at"] == bht


def test_institutional_claims_with_revenue_code_only_lines():
    inpatient, outpatient, emergency = mapped(shipped("837i-hospital-claims.837"))
    assert {c["claim_type"] for c in (inpatient, outpatient, emergency)} == {"INSTITUTIONAL"}
    assert inpatient["billing_npi"] == "1999996666" and inpatient["payer_id"] == "04412"
    assert emergency["payer_id"] == "734100"
    # room and board (0120) and pharmacy (0250) carry no HCPCS: the revenue code is the code
    assert [
        (line["procedure_code"], line["units"], line["charge"]) for line in inpatient["lines"]
    ] == [
        ("0120", 3, Decimal("3600.00")),
        ("0250", 1, Decimal("412.50")),
        ("80048", 2, Decimal("130.00")),
        ("27447", 1, Decimal("18500.00")),
        ("0278", 1, Decimal("1220.00")),
    ]
    assert inpatient["total_charge"] == sum(line["charge"] for line in inpatient["lines"])
    assert [line["procedure_code"] for line in outpatient["lines"]] == [
        "29881",
        "01400",
        "J2704",
        "0710",
    ]
    assert emergency["total_charge"] == Decimal("1428.00")


@pytest.mark.parametrize(
    ("name", "element"),
    [
        ("837p-component-mismatch.837", "SV101"),
        ("837i-component-mismatch.837", "SV202"),
        ("835-component-mismatch.835", "SVC01"),
    ],
)
def test_data_that_disagrees_with_isa16_is_rejected_naming_the_element(name, element):
    err = rejection(shipped(name))
    assert err.location == element and err.stage == "parse"
    assert "ISA16 declares ':'" in err.reason and "'>'" in err.reason


def test_one_bad_transaction_set_is_dead_lettered_alone(refs):
    publisher = MemoryPublisher()
    ingestor = Ingestor(publisher, ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT)
    raw = message("x12/837p-component-mismatch.837")
    outcomes = list(ingestor.x12_file(raw, "837p-component-mismatch.837"))
    assert [(o.control_id, o.events, o.error is None) for o in outcomes] == [
        ("0001", 1, True),
        ("0002", 0, False),
    ]
    assert [record["claim_id"] for _, _, record in publisher.events] == ["26520210"]
    (letter,) = publisher.dead_letters
    assert letter.location == "SV101"
    # the dead letter is the bad set alone, in an envelope of its own that still validates
    assert b"ST*837*0002*" in letter.original and b"ST*837*0001*" not in letter.original
    assert rejection(letter.original.decode()).location == "SV101"


def test_component_separator_is_taken_from_isa16_not_assumed():
    text = shipped("835-component-mismatch.835").replace("*0*T*:~", "*0*T*>~", 1)
    events = mapped(text)
    assert [(a["group_code"], a["carc"]) for a in of_type(events, "AdjustmentPosted")] == [
        ("CO", "45"),
        ("PR", "3"),
    ]
    assert of_type(events, "PaymentPosted")[0]["paid_amount"] == Decimal("120.00")


def default_separators(text: str, element: str, repetition: str, component: str, end: str) -> str:
    """The same interchange spelled with '*', '^', ':' and '~'."""
    isa, rest = text[:106], text[106:]
    table = str.maketrans({element: "*", component: ":", repetition: "^"})
    isa = isa[:-1].translate(table) + "~"
    return isa + rest.replace(end, "\0").translate(table).replace("\0", "~")


@pytest.mark.parametrize(
    ("name", "separators", "kinds"),
    [
        # elements '|', repetitions '^', components '>', each segment ends '~' and a line break
        (
            "835-pipe-separators.835",
            ("|", "^", ">", "~\n"),
            {"PaymentPosted", "AdjustmentPosted", "DenialReceived"},
        ),
        # components '^', repetitions '{', segments end with a line break alone
        ("837i-infusion-newline-segments.837", ("*", "{", "^", "\n"), {"ClaimSubmitted"}),
    ],
)
def test_separators_declared_in_the_isa_are_honoured(name, separators, kinds):
    text = shipped(name)
    element, repetition, component, end = separators
    assert (text[3], text[82], text[104]) == (element, repetition, component)
    assert text[105 : 106 + len(end) - 1] == end
    events = mapped(text)
    assert {e["envelope"]["event_type"] for e in events} == kinds
    assert business(events) == business(mapped(default_separators(text, *separators)))


def test_non_default_separators_keep_codes_and_amounts():
    (chemo, hydration) = mapped(shipped("837i-infusion-newline-segments.837"))
    assert [(line["procedure_code"], line["units"]) for line in chemo["lines"]] == [
        ("96413", 1),
        ("96415", 2),
        ("J9271", 200),
        ("0258", 1),
    ]
    assert hydration["total_charge"] == Decimal("1185.00")
    events = mapped(shipped("835-pipe-separators.835"))
    assert [(p["account_number"], p["paid_amount"]) for p in of_type(events, "PaymentPosted")] == [
        ("7000123510", Decimal("5612.80")),
        ("7000123511", Decimal("305.00")),
    ]
    (denial,) = of_type(events, "DenialReceived")
    assert (denial["procedure_code"], denial["carc"], denial["rarc"]) == ("0258", "97", "M15")


def test_clinic_remittance_payments_adjustments_and_line_denials():
    events = mapped(shipped("835-clinic-payments-plb.835"))
    payments = of_type(events, "PaymentPosted")
    assert [(p["account_number"], p["paid_amount"], p["remittance_id"]) for p in payments] == [
        ("26463774", Decimal("131.60"), "567890:GPH2601050001"),
        ("26407789", Decimal("111.00"), "567890:GPH2601080044"),
    ]
    assert {p["payer_id"] for p in payments} == {"567890"}  # N1*PR N104
    assert payments[0]["payment_trace"] == "GPH0112EFT4471"  # TRN02
    assert payments[0]["payment_date"] == date(2026, 1, 12)  # BPR16
    assert payments[0]["envelope"]["occurred_at"] == datetime(2026, 1, 11, tzinfo=UTC)  # DTM*405
    adjustments = [
        (a["account_number"], a["group_code"], a["carc"], a["amount"])
        for a in of_type(events, "AdjustmentPosted")
    ]
    assert adjustments == [
        ("26463774", "CO", "45", Decimal("32.00")),
        ("26463774", "PR", "3", Decimal("20.00")),
        ("26463774", "CO", "45", Decimal("20.40")),
        ("26463774", "CO", "45", Decimal("6.00")),
        ("26407789", "CO", "45", Decimal("40.00")),
        # deductible and coinsurance in one CAS: two adjustments
        ("26407789", "PR", "1", Decimal("50.00")),
        ("26407789", "PR", "2", Decimal("18.00")),
        ("26407789", "CO", "45", Decimal("6.00")),
    ]
    # a line paid 0 with a contractual (CO) or other (OA) adjustment is a line denial, RARC from LQ
    denials = [
        (
            d["account_number"],
            d["group_code"],
            d["carc"],
            d["rarc"],
            d["denied_amount"],
            d["procedure_code"],
        )
        for d in of_type(events, "DenialReceived")
    ]
    assert denials == [
        ("26463774", "CO", "97", "M15", Decimal("10.00"), "36415"),
        ("26407789", "OA", "18", "M86", Decimal("60.00"), "90700"),
    ]


def test_remittance_ties_out_only_with_its_plb_provider_adjustments():
    text = shipped("835-clinic-payments-plb.835")
    events = mapped(text)  # BPR02 199.95 = 131.60 + 111.00 - (-2.35 interest + 45.00 recovery)
    assert sum(p["paid_amount"] for p in of_type(events, "PaymentPosted")) == Decimal("242.60")
    without_plb = text.replace(
        "PLB*1999995555*20261231*L6:GPH2601050001*-2.35*WO:GPH2512190007*45.00~", ""
    ).replace("SE*56*0001~", "SE*55*0001~")
    err = rejection(without_plb)
    assert err.location == "BPR02" and "does not tie out" in err.reason


def test_medicare_remittance_payer_from_ref_2u_and_remarks_from_mia_and_moa():
    events = mapped(shipped("835-hospital-medicare-mia-moa.835"))
    payments = of_type(events, "PaymentPosted")
    assert {p["payer_id"] for p in payments} == {"04412"}  # N1*PR has no N104: REF*2U
    assert sum(p["paid_amount"] for p in payments) - Decimal("939.50") == Decimal("17781.17")
    inpatient = [
        a for a in of_type(events, "AdjustmentPosted") if a["account_number"] == "7000123401"
    ]
    assert [(a["group_code"], a["carc"], a["rarc"]) for a in inpatient] == [
        ("CO", "45", "MA01"),
        ("PR", "1", "MA01"),
    ]  # claim-level CAS, RARC from MIA05
    denials = of_type(events, "DenialReceived")
    # a line LQ*HE wins over the claim's MOA remark; without one the MOA03 remark applies
    assert [(d["procedure_code"], d["rarc"], d["denied_amount"]) for d in denials] == [
        ("01400", "M15", Decimal("900.00")),
        ("J2704", "MA18", Decimal("85.00")),
    ]


def test_remittance_that_does_not_tie_out_is_rejected():
    text = shipped("835-lakeshore-check-payment.835").replace("BPR*I*362.00", "BPR*I*372.00")
    err = rejection(text)
    assert err.location == "BPR02" and "does not tie out" in err.reason


def test_service_line_without_procedure_code_is_rejected():
    text = shipped("835-lakeshore-check-payment.835").replace("SVC*HC:J3301*", "SVC*HC*")
    err = rejection(text)
    assert err.location == "SVC[1.2]01-2"


def test_reversal_points_at_the_payment_it_undoes():
    (original, _) = of_type(mapped(shipped("835-lakeshore-check-payment.835")), "PaymentPosted")
    events = mapped(shipped("835-lakeshore-reversal-and-denial.835"))
    (reversal,) = of_type(events, "PaymentReversed")
    assert reversal["amount"] == Decimal("241.00")  # CLP04 -241.00, reported as the amount undone
    assert reversal["reverses_remittance_id"] == original["remittance_id"] == "734100:LKM5518820001"
    (corrected,) = of_type(events, "PaymentPosted")
    assert (corrected["account_number"], corrected["paid_amount"]) == (
        "26511230",
        Decimal("261.00"),
    )
    assert corrected["remittance_id"] != original["remittance_id"]
    # the reversal carries the original's CAS negated, under ids of its own
    reversed_cas = [a for a in of_type(events, "AdjustmentPosted") if a["amount"] < 0]
    assert [(a["group_code"], a["carc"], a["amount"]) for a in reversed_cas] == [
        ("CO", "45", Decimal("-40.00")),
        ("PR", "3", Decimal("-20.00")),
        ("CO", "45", Decimal("-12.00")),
        ("CO", "45", Decimal("-20.00")),
    ]
    originals = {
        a["adjustment_id"]
        for a in of_type(mapped(shipped("835-lakeshore-check-payment.835")), "AdjustmentPosted")
    }
    assert not originals & {a["adjustment_id"] for a in reversed_cas}


def test_denied_claim_every_cas_reason_is_a_denial():
    events = mapped(shipped("835-lakeshore-reversal-and-denial.835"))
    denials = [
        (
            d["account_number"],
            d["group_code"],
            d["carc"],
            d["rarc"],
            d["denied_amount"],
            d["procedure_code"],
        )
        for d in of_type(events, "DenialReceived")
    ]
    assert denials == [
        ("7000123403", "CO", "197", "M62", Decimal("1150.00"), None),
        ("7000123403", "CO", "50", "M62", Decimal("278.00"), None),
    ]
    assert not [p for p in of_type(events, "PaymentPosted") if p["account_number"] == "7000123403"]


def test_patient_responsibility_on_a_line_paid_zero_is_an_adjustment_not_a_denial():
    events = mapped(shipped("835-pipe-separators.835"))
    not_covered = [a for a in of_type(events, "AdjustmentPosted") if a["carc"] == "204"]
    assert [(a["group_code"], a["amount"], a["rarc"]) for a in not_covered] == [
        ("PR", Decimal("775.00"), "N130")
    ]


def test_277ca_acknowledges_and_rejects_by_category():
    events = mapped(shipped("claim-acknowledgment.277"))
    (ack,) = of_type(events, "ClaimAcknowledged")
    (rejected,) = of_type(events, "ClaimRejected")
    assert (ack["claim_id"], ack["status_category"]) == ("26463774", "A2")
    assert ack["payer_claim_control_number"] == "PCCN-0001"
    assert ack["envelope"]["occurred_at"] == datetime(2026, 1, 5, tzinfo=UTC)  # STC02
    assert (rejected["claim_id"], rejected["status_category"], rejected["status_code"]) == (
        "26407789",
        "A7",
        "562",
    )


def test_277ca_first_claim_status_counts_and_line_statuses_do_not():
    events = mapped(shipped("277ca-hospital-batch.277"))
    acknowledged = [
        (a["claim_id"], a["status_category"], a["payer_claim_control_number"])
        for a in of_type(events, "ClaimAcknowledged")
    ]
    assert acknowledged == [
        ("7000123401", "A1", None),  # A1 then A2: the first STC of the claim is its status
        ("7000123402", "A2", "CSM26010600452"),  # a rejected service line (A3 after SVC) is not
        ("7000123403", "A2", None),
    ]
    (rejected,) = of_type(events, "ClaimRejected")
    assert (rejected["claim_id"], rejected["status_category"], rejected["status_code"]) == (
        "7000123399",
        "A3",
        "21",
    )
    assert rejected["reason"] == "STC01 A3:21 entity 77"


@pytest.mark.parametrize(
    ("name", "location", "category"),
    [
        ("277-claim-status-pending.277", "STC01-1", "P3"),
        ("277-claim-status-finalized.277", "STC01-1", "F1"),
        ("277-receiver-level-status.277", "TRN02", None),
    ],
)
def test_claim_status_responses_are_not_acknowledgments(name, location, category):
    err = rejection(shipped(name))
    assert err.location == location
    if category:
        assert err.reject  # the wrong kind of message (AR), not an error inside one (AE)
        assert f"category {category}" in err.reason and "005010X212" in err.reason


def test_segment_count_error_is_the_validators_reason():
    text = shipped("835-lakeshore-check-payment.835").replace("SE*28*1188", "SE*27*1188")
    err = rejection(text)
    assert err.stage == "parse" and "SE count of 27" in err.reason


def test_not_x12_at_all():
    assert rejection("MSH|^~\\&|not x12").location == "ISA"


def test_every_shipped_x12_message_maps_or_is_rejected_by_name():
    paths = sorted((MESSAGES / "x12").iterdir())
    assert len(paths) >= 15
    for path in paths:
        for tx in x12.iter_units(path.read_text("ascii")):
            try:
                assert x12.map_transaction(tx, PRODUCED_AT), path.name
            except MappingError as err:
                assert err.location and err.reason, path.name


@pytest.mark.parametrize(
    "name", ["835-clinic-payments-plb.835", "837p-clinic-claims.837", "277ca-hospital-batch.277"]
)
def test_event_ids_repeat_on_reingest(name):
    first = [e["envelope"]["event_id"] for e in mapped(shipped(name))]
    again = [e["envelope"]["event_id"] for e in mapped(shipped(name))]
    assert first == again and len(set(first)) == len(first)


def test_line_breaks_before_the_isa_are_not_part_of_the_interchange():
    # files written by hand or joined with `cat` start with an empty line; the ISA still leads
    text = shipped("835-lakeshore-check-payment.835")
    assert business(mapped("\r\n\n" + text)) == business(mapped(text))
