"""Surgical cases from the OR feed (SIU with AIS/AIG/AIL/AIP), prior authorizations from X12 278
and case completion from the FHIR Procedure: each shipped message to its Case* / Authorization*
events, each bent variant to the one rejection that names where and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from samples import PRODUCED_AT, message

from s2c.streams.connectors import fhir, hl7v2, x12
from s2c.streams.connectors.events import MappingError

KNEE = "hl7v2/SIU-S12-or-case-knee-arthroscopy.hl7"
MOVED = "hl7v2/SIU-S13-or-case-moved-room.hl7"
CANCELLED = "hl7v2/SIU-S15-or-case-cancelled.hl7"
REQUEST = "x12/278-request-knee-arthroscopy.278"
APPROVED = "x12/278-response-approved-knee-arthroscopy.278"
BATCH = "x12/278-response-batch-denied-rejected-lines-pended.278"
COMPLETED = "fhir/Procedure-or-case-completed-knee-arthroscopy.json"


def hl7(name: str, refs, text: str | None = None) -> list[dict]:
    return hl7v2.map_text(text if text is not None else message(name).decode(), refs, PRODUCED_AT)


def hl7_rejection(text: str, refs) -> MappingError:
    with pytest.raises(MappingError) as err:
        hl7v2.map_text(text, refs, PRODUCED_AT)
    return err.value


def x12_outcomes(text: str) -> list[list[dict] | MappingError]:
    """One entry per transaction set: its events, or its rejection."""
    outcomes: list[list[dict] | MappingError] = []
    for tx in x12.iter_units(text):
        try:
            outcomes.append(x12.map_transaction(tx, PRODUCED_AT))
        except MappingError as err:
            outcomes.append(err)
    return outcomes


def fhir_doc() -> dict:
    return json.loads(message(COMPLETED))


def fhir_rejection(doc: dict, refs) -> MappingError:
    with pytest.raises(MappingError) as err:
        fhir.map_resource(doc, refs, PRODUCED_AT)
    return err.value


def fields(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "envelope"}


# --- HL7 v2: the OR scheduling feed ----------------------------------------------------------


def test_or_booking_with_a_preference_card_is_a_surgical_case(refs):
    (case,) = hl7(KNEE, refs)
    assert case["envelope"]["event_type"] == "CaseScheduled"
    assert fields(case) == {
        "case_id": "ORC-91207",  # SCH-2 filler id
        "patient_ref": refs.ref("RV5520381", "RIVERSIDE", "MR"),
        "account_number": "ACCT-7001",
        "site_id": "RIVERSIDE",  # AIL-3.4 of the AIL typed OR
        "or_room_id": "RIV-OR-3",  # AIL-3.2
        "surgeon_id": "DR-OKAFOR",  # AIP typed SURG, not the anesthesiologist
        "service_line_id": "ORTHO",
        "payer_id": "AETNA-COMM",
        "procedure_codes": ["29881"],
        "preference_card_id": "PC-29881-OKAFOR",  # AIG typed PREFCARD, not the tower
        "scheduled_start": datetime(2026, 3, 16, 13, 30, tzinfo=UTC),
        "planned_minutes": 120,
    }
    assert case["envelope"]["occurred_at"] == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert case["envelope"]["event_id"].startswith("hl7:ORSCHED:ORS260302-0014:")
    assert "RV5520381" not in repr(case) and "TESTPATIENT" not in repr(case)


def test_or_booking_without_a_preference_card_stays_an_appointment(refs):
    (booked,) = hl7("hl7v2/SIU-S12-booking.hl7", refs)
    assert booked["envelope"]["event_type"] == "AppointmentScheduled"


def test_case_moved_cancelled(refs):
    (moved,) = hl7(MOVED, refs)
    assert moved["envelope"]["event_type"] == "CaseRescheduled"
    assert fields(moved) == {
        "case_id": "ORC-91207",
        "scheduled_start": datetime(2026, 3, 17, 18, 0, tzinfo=UTC),
        "planned_minutes": 150,
        "site_id": "RIVERSIDE",
        "or_room_id": "RIV-OR-5",
    }
    (cancelled,) = hl7(CANCELLED, refs)
    assert fields(cancelled) == {"case_id": "ORC-91207", "reason": "CANCELLED (PTILL)"}


def test_no_show_and_discontinued_cases_release_the_plan(refs):
    text = message(CANCELLED).decode()
    (no_show,) = hl7("", refs, text.replace("SIU^S15^SIU_S15", "SIU^S26^SIU_S26"))
    assert (no_show["envelope"]["event_type"], no_show["reason"]) == (
        "CaseCancelled",
        "NO_SHOW (PTILL)",
    )
    (stopped,) = hl7("", refs, text.replace("SIU^S15^SIU_S15", "SIU^S16^SIU_S16"))
    assert stopped["reason"] == "DISCONTINUED (PTILL)"


def test_s14_that_only_moves_the_case_reschedules_it(refs):
    (event,) = hl7("", refs, as_s14("SIU-S13-or-case-moved-room.hl7"))
    assert (event["envelope"]["event_type"], event["or_room_id"]) == ("CaseRescheduled", "RIV-OR-5")


ADD_ON = (  # an add-on procedure, as the OR feed sends it on S14 (AIS-2 A)
    "AIS|2|A|29877^Arthroscopy knee, debridement/shaving of articular cartilage^CPT4|"
    "20260317120000-0600|0|min^minutes^ISO+|20|min^minutes^ISO+|Booked^Booked^HL70278\r"
)


def as_s14(name: str) -> str:
    trigger = name.split("-")[1]
    return (
        message(f"hl7v2/{name}").decode().replace(f"SIU^{trigger}^SIU_{trigger}", "SIU^S14^SIU_S14")
    )


@pytest.mark.parametrize(
    ("text", "location", "words"),
    [
        (
            as_s14("SIU-S13-or-case-moved-room.hl7").replace("AIG|1|U|", ADD_ON + "AIG|1|U|"),
            "AIS[2]-2",
            "adds or deletes a procedure",
        ),
        (
            as_s14("SIU-S13-or-case-moved-room.hl7").replace("AIP|1|U|", "AIP|1|A|"),
            "AIP[1]-2",
            "primary surgeon",
        ),
    ],
)
def test_s14_that_changes_the_plan_is_rejected_not_half_applied(refs, text, location, words):
    err = hl7_rejection(text, refs)
    assert err.location == location and words in err.reason


@pytest.mark.parametrize(
    ("old", "new", "location"),
    [
        ("|PC-29881-OKAFOR^Knee arthroscopy, Okafor^RIVPC|", "||", "AIG[1]-3"),
        ("|OR^Operating room^L|", "|PROC^Procedure room^L|", "AIL-4"),
        ("RIV-SURGERY^RIV-OR-3^^RIVERSIDE|OR", "RIV-SURGERY^^^RIVERSIDE|OR", "AIL[1]-3"),
        ("|SURG^Primary surgeon^L|", "|ASST^Assistant surgeon^L|", "AIP-3"),
        ("|29881^Arthroscopy knee, meniscectomy medial or lateral^CPT4|", "||", "AIS[1]-3"),
        ("SCH|ORP-61044^RIVOR|ORC-91207^RIVOR|", "SCH|||", "SCH-2"),
        ("|20260316073000-0600|20260316093000-0600|", "|20261316073000-0600||", "TQ1-7"),
    ],
)
def test_malformed_case_booking_is_rejected_naming_the_place(refs, old, new, location):
    text = message(KNEE).decode()
    assert old in text
    err = hl7_rejection(text.replace(old, new, 1), refs)
    assert err.location == location, err


# --- X12 278 ----------------------------------------------------------------------------------


def test_278_request_is_an_authorization_requested_for_the_case():
    ((requested,),) = x12_outcomes(message(REQUEST).decode())
    assert requested["envelope"]["event_type"] == "AuthorizationRequested"
    assert fields(requested) == {
        "authorization_id": "ORC-91207",  # the requester's TRN*1 trace
        "appointment_id": None,
        "case_id": "ORC-91207",
        "payer_id": "AETNA-COMM",  # NM1*X3 NM109
        "procedure_codes": ["29881"],  # SV101-2
    }


def test_278_response_certified_is_an_approval_with_number_and_expiry():
    ((approved,),) = x12_outcomes(message(APPROVED).decode())
    assert approved["envelope"]["event_type"] == "AuthorizationApproved"
    assert fields(approved) == {
        "authorization_id": "ORC-91207",  # TRN*2 echoes the request's trace, not the UMO's TRN*1
        "appointment_id": None,
        "case_id": "ORC-91207",
        "payer_id": "AETNA-COMM",
        "auth_number": "AET8841207",  # HCR02
        "valid_until": datetime(2026, 6, 16, tzinfo=UTC),  # through DTP*036 2026-06-15
    }
    assert approved["envelope"]["occurred_at"] == datetime(2026, 3, 3, 9, 15, tzinfo=UTC)
    assert "W220471983" not in repr(approved) and "JORDAN" not in repr(approved)


def test_278_batch_each_set_ends_in_its_own_event_or_rejection():
    denied, unknown_member, lines_only, pended = x12_outcomes(message(BATCH).decode())
    assert [(e["envelope"]["event_type"], e["case_id"], e["reason"]) for e in denied] == [
        ("AuthorizationDenied", "ORC-91233", "NOT_CERTIFIED (HCR03 35)")
    ]
    assert [(e["case_id"], e["reason"]) for e in unknown_member] == [
        ("ORC-91240", "REQUEST_REJECTED (AAA03 75)")  # subscriber-level AAA*N
    ]
    (approved,) = lines_only  # no 2000E HCR: certified (A1) and modified (A6) lines approve
    assert (approved["auth_number"], approved["valid_until"]) == (
        "AET8841251",
        datetime(2026, 9, 6, tzinfo=UTC),  # RD8 range ends 2026-09-05
    )
    assert isinstance(pended, MappingError)
    assert pended.location == "2000E[HL4] HCR01" and "A4 (pended)" in pended.reason


def test_one_denied_service_line_denies_the_authorization():
    text = message(BATCH).decode()
    bent = text.replace("HCR*A6*AET8841251", "HCR*A3**N2", 1)
    (_, _, lines, _) = x12_outcomes(bent)
    assert [(e["envelope"]["event_type"], e["reason"]) for e in lines] == [
        ("AuthorizationDenied", "NOT_CERTIFIED (HCR03 N2)")
    ]


@pytest.mark.parametrize(
    ("old", "new", "location", "words"),
    [
        ("TRN*2*ORC-91207*1741852963~", "", "2000E[HL4] TRN02", "requester trace"),
        ("HCR*A1*AET8841207~\nDTP", "HCR*A1~\nDTP", "2000E[HL4] HCR02", "review number"),
        ("HCR*A1*AET8841207~\nDTP", "HCR*Z9*AET8841207~\nDTP", "2000E[HL4] HCR01", "not known"),
        ("NM1*X3*2*AETNA*****PI*AETNA-COMM", "NM1*X3*2*AETNA", "2010A NM109", "payer"),
        ("DTP*036*D8*20260615", "DTP*036*D8*20261315", "2000E[HL4] DTP03", "date"),
        ("BHT*0007*11*", "BHT*0007*18*", "BHT02", "neither a request"),
    ],
)
def test_malformed_278_is_rejected_naming_the_element(old, new, location, words):
    text = message(APPROVED).decode()
    assert old in text
    bent = text.replace(old, new, 1)
    if old.startswith("TRN"):  # keep the SE count right: a count error is the envelope's say
        bent = bent.replace("SE*23*0001", "SE*22*0001")
    (outcome,) = x12_outcomes(bent)
    assert isinstance(outcome, MappingError), outcome
    assert outcome.location == location and words in outcome.reason, outcome


def test_278_with_a_wrong_segment_count_is_rejected_by_the_envelope_check():
    bent = message(APPROVED).decode().replace("SE*23*0001", "SE*24*0001")
    (outcome,) = x12_outcomes(bent)
    assert isinstance(outcome, MappingError) and outcome.stage == "parse"
    assert "SE" in outcome.reason


# --- FHIR Procedure ---------------------------------------------------------------------------


def test_completed_procedure_completes_its_case(refs):
    (done,) = fhir.map_resource(fhir_doc(), refs, PRODUCED_AT)
    assert done["envelope"]["event_type"] == "CaseCompleted"
    assert fields(done) == {
        "case_id": "ORC-91207",  # basedOn ServiceRequest/ORC-91207
        "actual_minutes": 105,  # 07:41 to 09:26
        "supplies_used": [
            {"item_id": "SHAVER-BLADE-4.5", "quantity": 2},
            {"item_id": "SALINE-3L", "quantity": 3},
        ],
    }
    assert done["envelope"]["occurred_at"] == datetime(2026, 3, 16, 15, 26, tzinfo=UTC)
    assert "rv5520381" not in repr(done)


def _without(doc: dict, key: str) -> dict:
    return {k: v for k, v in doc.items() if k != key}


@pytest.mark.parametrize(
    ("bend", "location"),
    [
        (lambda d: {**d, "status": "in-progress"}, "Procedure.status"),
        (lambda d: _without(d, "basedOn"), "Procedure.basedOn"),
        (
            lambda d: {**d, "basedOn": [{"reference": "CarePlan/knee-plan"}]},
            "Procedure.basedOn[0].reference",
        ),
        (
            lambda d: {**_without(d, "performedPeriod"), "performedDateTime": "2026-03-16"},
            "Procedure.performedDateTime",
        ),
        (
            lambda d: {**d, "performedPeriod": {"start": "2026-03-16T07:41:00-06:00"}},
            "Procedure.performedPeriod.end",
        ),
        (
            lambda d: {
                **d,
                "performedPeriod": {
                    "start": "2026-03-16T09:26:00-06:00",
                    "end": "2026-03-16T07:41:00-06:00",
                },
            },
            "Procedure.performedPeriod",
        ),
        (lambda d: {**d, "usedCode": [{"text": "gloves"}]}, "Procedure.usedCode[0].coding.code"),
    ],
)
def test_malformed_procedure_is_rejected_naming_the_path(refs, bend, location):
    err = fhir_rejection(bend(fhir_doc()), refs)
    assert err.location == location, err


def test_no_money_moves_as_a_float_in_these_events(refs):
    """None of the seven carry an amount; the chain test checks the commands' Decimals."""
    events = hl7(KNEE, refs) + [e for o in x12_outcomes(message(APPROVED).decode()) for e in o]
    assert not any(isinstance(v, float | Decimal) for e in events for v in e.values())
