"""Reconciliation of one instance: what s2c sent against what the ERP answered, kind by kind.

Each kind has a case that raises it and a near miss that must not: a window not yet passed, a
release still waiting for its answer, a self-pay visit that is never claimed, a shortfall inside
the contract threshold. The instance is a knee arthroscopy at Hospital 01, paid by Aetna.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from s2c.tables.codec import dumps, loads
from s2c.tables.process import ProcessState
from s2c.tables.reconcile import (
    APPLIED,
    PENDING,
    REJECTED,
    Facts,
    MismatchKind,
    Windows,
    mismatches,
    summarize,
    unacknowledged_only_if_late,
)
from s2c.tables.vocabulary import FinancialClass

PID = "CASE-S01-KNEE-0042"
DISCHARGED = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
K = MismatchKind


def command(
    cid: str,
    ctype: str,
    journal: str | None = None,
    amount: str | None = None,
    reverses: str | None = None,
    at: datetime = DISCHARGED,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "header": {
            "command_id": cid,
            "command_type": ctype,
            "process_id": PID,
            "caused_by_event_id": f"EV-{cid}",
            "effective_date": at.date().isoformat(),
            "cost_center_id": "CC-S01-OR",
            "issued_at": at.isoformat(),
            "correlation_id": "TR-knee",
            "reverses_command_id": reverses,
        }
    }
    if journal is not None:
        record["journal_kind"] = journal
    if amount is not None:
        record["amount"] = amount
    return record


def facts(
    *commands: tuple[dict[str, Any], str, str | None],
    claimed: bool = False,
    discharged: datetime | None = DISCHARGED,
    cancelled: bool = False,
    payer_class: FinancialClass = FinancialClass.COMMERCIAL,
) -> Facts:
    state = ProcessState(PID, site_id="S01", payer_id="AETNA-COMM", payer_class=payer_class)
    state.discharged_at = discharged
    state.first_claim_at = DISCHARGED + timedelta(days=2) if claimed else None
    state.cancelled_at = DISCHARGED - timedelta(days=5) if cancelled else None
    f = Facts(PID)
    f.note_process(state)
    for record, status, reason in commands:
        cid = f.add_command(record)
        f.set_status(cid, status, reason)
    return f


def kinds(f: Facts, as_of: datetime = DISCHARGED + timedelta(days=30)) -> list[MismatchKind]:
    return [m.kind for m in mismatches(f, as_of)]


CHARGE = (command("ch1", "PostJournal", "CHARGE", "4200.00"), APPLIED, None)
ACCRUAL = (command("ac1", "AccrueExpectedRevenue", amount="3100.00"), APPLIED, None)


def test_a_refused_room_booking_is_scheduled_but_not_reserved() -> None:
    room = (command("rr1", "ReserveRoom"), REJECTED, "UNKNOWN_COST_CENTER: cost center CC-X")
    found = mismatches(facts(room, CHARGE, claimed=True), DISCHARGED)
    assert [(m.kind, m.command_ids) for m in found] == [(K.SCHEDULED_NOT_RESERVED, ("rr1",))]
    assert "UNKNOWN_COST_CENTER" in found[0].reason and found[0].site_id == "S01"


def test_a_refused_booking_that_s2c_released_anyway_leaves_nothing_to_reconcile() -> None:
    room = (command("rr1", "ReserveRoom"), REJECTED, "UNKNOWN_COST_CENTER: cost center CC-X")
    release = (
        command("rx1", "ReleaseRoom", reverses="rr1"),
        REJECTED,
        "UNKNOWN_REVERSED_DOCUMENT: reverses command rr1, which this ERP did not apply",
    )
    assert kinds(facts(room, release, cancelled=True, discharged=None)) == []


def test_a_cancelled_accrual_whose_reversal_the_erp_refused_is_still_held() -> None:
    reversal = (
        command("rv1", "ReverseRevenueAccrual", amount="3100.00", reverses="ac1"),
        REJECTED,
        "CLOSED_PERIOD: period 2025-01 is not open for posting",
    )
    found = mismatches(facts(ACCRUAL, reversal, cancelled=True, discharged=None), DISCHARGED)
    assert [m.kind for m in found] == [K.CANCELLED_STILL_HELD]
    assert found[0].command_ids == ("ac1", "rv1") and found[0].amount == Decimal("3100.00")


def test_a_reversal_without_an_answer_yet_is_only_unacknowledged() -> None:
    reversal = (command("rv1", "ReverseRevenueAccrual", amount="3100.00", reverses="ac1"),)
    f = facts(ACCRUAL, (*reversal, PENDING, None), cancelled=True, discharged=None)
    assert kinds(f) == [K.ERP_UNACKNOWLEDGED]
    f.set_status("rv1", APPLIED)
    assert kinds(f) == []


def test_completed_without_a_charge_once_the_charge_window_has_passed() -> None:
    f = facts()
    window = Windows().charge_window
    assert kinds(f, DISCHARGED + window - timedelta(minutes=1)) == []  # near miss
    assert kinds(f, DISCHARGED + window) == [K.COMPLETED_WITHOUT_CHARGE]
    assert kinds(facts(CHARGE, claimed=True), DISCHARGED + window) == []


def test_charged_without_a_claim_past_the_dnfb_window() -> None:
    window = Windows().dnfb_window
    found = mismatches(facts(CHARGE), DISCHARGED + window)
    assert [(m.kind, m.amount) for m in found] == [(K.CHARGED_WITHOUT_CLAIM, Decimal("4200.00"))]
    assert kinds(facts(CHARGE), DISCHARGED + window - timedelta(hours=1)) == []
    assert kinds(facts(CHARGE, payer_class=FinancialClass.SELF_PAY)) == []  # billed to the patient
    # judged on s2c's side: a refused charge is still reported as refused
    refused = (command("ch1", "PostJournal", "CHARGE", "4200.00"), REJECTED, "CLOSED_PERIOD")
    assert kinds(facts(refused)) == [K.CHARGED_WITHOUT_CLAIM, K.ERP_REJECTED]


def test_a_charge_reversed_in_full_owes_no_claim() -> None:
    back = (command("cr1", "PostJournal", "CHARGE_REVERSAL", "4200.00", "ch1"), APPLIED, None)
    assert kinds(facts(CHARGE, back)) == []


def test_claimed_without_ar_when_the_erp_refused_every_charge() -> None:
    refused = (command("ch1", "PostJournal", "CHARGE", "4200.00"), REJECTED, "UNKNOWN_COST_CENTER")
    found = mismatches(facts(refused, claimed=True), DISCHARGED + timedelta(days=30))
    assert [(m.kind, m.command_ids, m.amount) for m in found] == [
        (K.CLAIMED_WITHOUT_AR, ("ch1",), Decimal("4200.00"))
    ]
    pending = (command("ch1", "PostJournal", "CHARGE", "4200.00"), PENDING, None)
    assert kinds(facts(pending, claimed=True)) == [K.ERP_UNACKNOWLEDGED]


def test_paid_without_cash_when_the_payment_journal_is_refused() -> None:
    paid = (
        command("pm1", "PostJournal", "PAYMENT", "3100.00"),
        REJECTED,
        "CLOSED_PERIOD: period 2025-01 is not open for posting",
    )
    found = mismatches(facts(ACCRUAL, CHARGE, paid, claimed=True), DISCHARGED + timedelta(days=30))
    assert [m.kind for m in found] == [K.PAID_WITHOUT_CASH]
    assert found[0].amount == Decimal("3100.00") and "CLOSED_PERIOD" in found[0].reason


def test_a_zero_payment_refused_as_zero_is_no_mismatch() -> None:
    nothing = (
        command("pm0", "PostJournal", "PAYMENT", "0.00"),
        REJECTED,
        "ZERO_AMOUNT_JOURNAL: a journal of 0.00 posts nothing",
    )
    assert kinds(facts(CHARGE, nothing, claimed=True)) == []


def _paid(amount: str, share: str | None = None, denied: bool = False) -> Facts:
    rows = [ACCRUAL, CHARGE, (command("pm1", "PostJournal", "PAYMENT", amount), APPLIED, None)]
    if share:
        rows.append((command("pr1", "PostJournal", "PATIENT_RESPONSIBILITY", share), APPLIED, None))
    if denied:
        rows.append((command("dn1", "PostJournal", "DENIAL", "100.00"), APPLIED, None))
    return facts(*rows, claimed=True)


def test_paid_below_expected_beyond_the_contract_threshold() -> None:
    found = mismatches(_paid("2000.00", share="500.00"), DISCHARGED + timedelta(days=30))
    assert [(m.kind, m.amount) for m in found] == [(K.PAID_BELOW_EXPECTED, Decimal("600.00"))]
    # 5% of 3,100.00 is 155.00: 150.00 short is inside the threshold
    assert kinds(_paid("2450.00", share="500.00")) == []
    assert kinds(_paid("2000.00", denied=True)) == []  # a denial is worked as a denial


def test_a_refusal_no_business_kind_explains_is_erp_rejected() -> None:
    cost = (command("rc1", "RecognizeCost", amount="812.40"), REJECTED, "UNKNOWN_GL_ACCOUNT: 5999")
    found = mismatches(facts(CHARGE, cost, claimed=True), DISCHARGED + timedelta(days=30))
    assert [(m.kind, m.command_ids, m.amount) for m in found] == [
        (K.ERP_REJECTED, ("rc1",), Decimal("812.40"))
    ]
    applied = (command("rc1", "RecognizeCost", amount="812.40"), APPLIED, None)
    assert kinds(facts(CHARGE, applied, claimed=True)) == []


def test_a_command_without_an_answer_is_unacknowledged_until_one_comes() -> None:
    f = facts(CHARGE, claimed=True)
    f.add_command(command("pm1", "PostJournal", "PAYMENT", "2800.00"))
    found = mismatches(f, DISCHARGED + timedelta(days=30))
    assert [(m.kind, m.command_ids, m.amount) for m in found] == [
        (K.ERP_UNACKNOWLEDGED, ("pm1",), None)
    ]
    f.set_status("pm1", APPLIED, None)
    assert mismatches(f, DISCHARGED + timedelta(days=30)) == []


def test_live_an_unanswered_command_counts_only_once_past_the_ack_wait() -> None:
    f = facts(CHARGE, claimed=True)
    f.add_command(command("pm1", "PostJournal", "PAYMENT", "2800.00"))
    f.add_command(command("pm2", "PostJournal", "PAYMENT", "100.00"))
    found = mismatches(f, DISCHARGED + timedelta(days=30))
    assert [m.command_ids for m in found] == [("pm1", "pm2")]
    assert unacknowledged_only_if_late(found, set()) == []
    [late] = unacknowledged_only_if_late(found, {"pm2"})
    assert (late.kind, late.command_ids) == (K.ERP_UNACKNOWLEDGED, ("pm2",))


def test_facts_round_trip_compact_and_deterministic() -> None:
    refused = (command("ch1", "PostJournal", "CHARGE", "4200.00"), REJECTED, "UNKNOWN_COST_CENTER")
    f = facts(ACCRUAL, refused, claimed=True)
    f.add_command(command("pm1", "PostJournal", "PAYMENT", "2800.00"))
    again = Facts.from_dict(loads(dumps(f.to_dict())))
    assert again == f and dumps(again.to_dict()) == dumps(f.to_dict())
    as_of = DISCHARGED + timedelta(days=30)
    assert mismatches(again, as_of) == mismatches(f, as_of)
    f.add_command(command("pm1", "PostJournal", "PAYMENT", "2800.00"))  # redelivered
    assert dumps(f.to_dict()) == dumps(again.to_dict())


def test_avro_native_and_json_records_give_the_same_facts() -> None:
    native = command("ch1", "PostJournal", "CHARGE", "4200.00")
    native["amount"] = Decimal("4200.00")
    native["header"]["effective_date"] = DISCHARGED.date()
    native["header"]["issued_at"] = DISCHARGED
    a, b = Facts(PID), Facts(PID)
    a.add_command(native)
    b.add_command(command("ch1", "PostJournal", "CHARGE", "4200.00"))
    assert a == b


def test_the_report_counts_every_kind_and_site() -> None:
    found = mismatches(facts(CHARGE), DISCHARGED + timedelta(days=30))
    report = summarize(found, DISCHARGED + timedelta(days=30))
    assert report["counts"]["CHARGED_WITHOUT_CLAIM"] == 1
    assert set(report["counts"]) == {k.value for k in MismatchKind}
    assert sum(report["counts"].values()) == 1
    assert report["by_site"] == {"S01": {"CHARGED_WITHOUT_CLAIM": 1}}
    assert report["mismatches"][0]["amount"] == "4200.00"
