"""End to end through both stages: a knee arthroscopy at Riverside, paid by Aetna Commercial."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core_world import T0, Feed, knee_case_scheduled

from s2c.tables.outputs import Command, PostJournal, WorkQueueException
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import JournalKind, ProcessStage


def _commands(outputs: list) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command)]


def test_knee_arthroscopy_rescheduled_once_then_paid_with_contractual_adjustment(
    pipeline: Pipeline, feed: Feed
) -> None:
    out: list = []
    out += pipeline.feed(knee_case_scheduled(feed, hours=0))
    booked = _commands(out)
    assert [c.schema for c in booked] == [
        "ReserveSupplies",
        "PlanLabor",
        "ReserveRoom",
        "AccrueExpectedRevenue",
    ]
    assert booked[3].amount == Decimal("4200.00")  # Aetna x 29881, rate in force in 2026

    moved = pipeline.feed(
        feed(
            "CaseRescheduled",
            24,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=21),
            planned_minutes=120,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-5",
        )
    )
    reversals = [c for c in _commands(moved) if c.header.reverses_command_id]
    assert {c.header.reverses_command_id for c in reversals} == {c.command_id for c in booked}
    reissued = [c for c in _commands(moved) if not c.header.reverses_command_id]
    room = next(c for c in reissued if c.schema == "ReserveRoom")
    assert (room.room_id, room.minutes) == ("RIV-OR-5", 120)

    pipeline.feed(
        feed(
            "AuthorizationApproved",
            30,
            authorization_id="AUTH-1",
            appointment_id=None,
            case_id="C-1001",
            payer_id="AETNA-COMM",
            auth_number="A123",
        )
    )
    day = 21 * 24
    pipeline.feed(
        feed(
            "EncounterStarted",
            day,
            encounter_id="ENC-1",
            account_number="ACCT-7001",
            patient_ref="pt-9f3a",
            appointment_id=None,
            case_id="C-1001",
            site_id="RIVERSIDE",
            department_id="RIV-SURGERY",
            service_line_id="ORTHO",
            payer_id="AETNA-COMM",
            encounter_class="SURGERY",
            arrived_at=T0 + timedelta(hours=day),
        )
    )
    done = pipeline.feed(
        feed(
            "CaseCompleted",
            day + 3,
            case_id="C-1001",
            actual_minutes=105,
            supplies_used=[
                {"item_id": "SHAVER-BLADE-4.5", "quantity": 2},
                {"item_id": "SALINE-3L", "quantity": 3},
            ],
        )
    )
    assert [c.schema for c in _commands(done)] == [
        "ReleaseSupplies",
        "IssueSupplies",
        "RecognizeCost",
    ]
    assert _commands(done)[2].amount == Decimal("407.50")  # 2 x 185.00 + 3 x 12.50
    pipeline.feed(
        feed(
            "EncounterCompleted",
            day + 6,
            encounter_id="ENC-1",
            account_number="ACCT-7001",
            discharged_at=T0 + timedelta(hours=day + 6),
        )
    )
    charge = pipeline.feed(
        feed(
            "ChargePosted",
            day + 20,
            charge_id="CHG-1",
            account_number="ACCT-7001",
            procedure_code="29881",
            units=1,
            amount="6800.00",
            service_date="2026-03-23",
            department_id="RIV-SURGERY",
        )
    )
    journal = _commands(charge)[0]
    assert isinstance(journal, PostJournal) and journal.journal_kind is JournalKind.CHARGE
    assert [(ln.gl_account, ln.debit, ln.credit) for ln in journal.lines] == [
        ("1200-RIV", Decimal("6800.00"), Decimal("0.00")),
        ("4000", Decimal("0.00"), Decimal("6800.00")),
    ]
    pipeline.feed(
        feed(
            "ClaimSubmitted",
            day + 30,
            claim_id="CLM-1",
            account_number="ACCT-7001",
            payer_id="AETNA-COMM",
            claim_type="INSTITUTIONAL",
            billing_npi="1234567893",
            total_charge="6800.00",
            lines=[{"line_number": 1, "procedure_code": "29881", "units": 1, "charge": "6800.00"}],
        )
    )
    pipeline.feed(
        feed(
            "PaymentPosted",
            day + 400,
            remittance_id="ERA-1",
            account_number="ACCT-7001",
            claim_id="CLM-1",
            payer_id="AETNA-COMM",
            paid_amount="4200.00",
            payment_trace="TRN-889",
            payment_date="2026-04-10",
        )
    )
    assert pipeline.processes["CASE-C-1001"].stage is ProcessStage.PAID
    adjusted = pipeline.feed(
        feed(
            "AdjustmentPosted",
            day + 400,
            adjustment_id="ADJ-1",
            account_number="ACCT-7001",
            claim_id="CLM-1",
            payer_id="AETNA-COMM",
            group_code="CO",
            carc="45",
            rarc=None,
            amount="2600.00",
        )
    )
    contractual = _commands(adjusted)[0]
    assert contractual.journal_kind is JournalKind.CONTRACTUAL_ADJUSTMENT
    assert contractual.lines[0].gl_account == "4800"

    state = pipeline.processes["CASE-C-1001"]
    assert state.stage is ProcessStage.CLOSED and state.ar_balance == 0
    assert not [
        o for o in pipeline.advance(T0 + timedelta(days=90)) if isinstance(o, WorkQueueException)
    ]
