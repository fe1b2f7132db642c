"""ERP posting rules for scheduling: booking, rescheduling, modification, cancellation, completion."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core_world import T0, Feed, knee_case_scheduled

from s2c.tables.outputs import Command, WorkQueueException
from s2c.tables.vocabulary import ExceptionKind, ProcessStage


def commands(outputs: list) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command)]


def office_visit(feed: Feed, hours: float = 0, payer: str | None = "AETNA-COMM"):
    return feed(
        "AppointmentScheduled",
        hours,
        appointment_id="A-501",
        patient_ref="pt-11c2",
        account_number=None,
        site_id="RIVERSIDE",
        department_id="RIV-ORTHO-CLINIC",
        provider_id="DR-OKAFOR",
        service_line_id="ORTHO",
        payer_id=payer,
        procedure_codes=["99213"],
        scheduled_start=T0 + timedelta(days=3),
        duration_minutes=20,
    )


def test_surgery_booking_reserves_the_preference_card_in_the_or_stock_room(pipeline, feed) -> None:
    reserve, labor, room, accrual = commands(pipeline.feed(knee_case_scheduled(feed)))
    assert reserve.inventory_location_id == "INV-RIV-OR"  # OR 3 has none: its department's
    assert [(i.item_id, i.quantity, i.extended_cost) for i in reserve.items] == [
        ("SHAVER-BLADE-4.5", 1, Decimal("185.00")),
        ("SALINE-3L", 4, Decimal("50.00")),
        ("DRAPE-KNEE", 1, Decimal("28.00")),
    ]
    assert next((ln.role, ln.hours) for ln in labor.lines) == ("SURGEON", Decimal("1.50"))
    assert reserve.header.cost_center_id == "CC-RIV-OR"
    assert (room.room_id, room.reference_id, room.minutes) == ("RIV-OR-3", "C-1001", 90)
    assert [(ln.gl_account, ln.debit, ln.credit) for ln in accrual.lines] == [
        ("1290", Decimal("4200.00"), Decimal("0.00")),
        ("4990", Decimal("0.00"), Decimal("4200.00")),
    ]


def test_office_visit_accrues_the_contract_rate_only(pipeline, feed) -> None:
    (accrual,) = commands(pipeline.feed(office_visit(feed)))
    assert (accrual.schema, accrual.amount, accrual.header.cost_center_id) == (
        "AccrueExpectedRevenue",
        Decimal("145.00"),
        "CC-RIV-ORTHO",
    )


def test_self_pay_visit_books_no_accrual(pipeline, feed) -> None:
    assert commands(pipeline.feed(office_visit(feed, payer=None))) == []


def test_payer_change_reverses_and_reissues_the_accrual(pipeline, feed) -> None:
    (first,) = commands(pipeline.feed(office_visit(feed)))
    changed = commands(
        pipeline.feed(
            feed(
                "AppointmentModified",
                1,
                appointment_id="A-501",
                payer_id="MEDICARE-A",
                procedure_codes=["29881"],
            )
        )
    )
    assert [(c.schema, c.amount) for c in changed] == [
        ("ReverseRevenueAccrual", Decimal("145.00")),
        ("AccrueExpectedRevenue", Decimal("2850.00")),
    ]
    assert changed[0].header.reverses_command_id == first.command_id
    state = pipeline.processes["APPT-A-501"]
    assert (state.payer_class.value, state.expected_amount) == ("MEDICARE", Decimal("2850.00"))


def test_modification_before_the_booking_waits_for_it(pipeline, feed) -> None:
    assert (
        pipeline.feed(
            feed(
                "AppointmentModified",
                1,
                appointment_id="A-501",
                payer_id="MEDICARE-A",
                procedure_codes=["29881"],
            )
        )
        == []
    )
    out = commands(pipeline.feed(office_visit(feed, hours=0)))
    assert [c.schema for c in out] == [
        "AccrueExpectedRevenue",
        "ReverseRevenueAccrual",
        "AccrueExpectedRevenue",
    ]
    assert pipeline.processes["APPT-A-501"].parked == {}


def test_reschedule_to_another_site_moves_reservations_and_accrual(pipeline, feed) -> None:
    booked = commands(pipeline.feed(knee_case_scheduled(feed)))
    moved = commands(
        pipeline.feed(
            feed(
                "CaseRescheduled",
                5,
                case_id="C-1001",
                scheduled_start=T0 + timedelta(days=20),
                planned_minutes=90,
                site_id="LAKESIDE",
                or_room_id="LAK-OR-1",
            )
        )
    )
    assert [c.schema for c in moved] == [
        "ReleaseSupplies",
        "CancelLaborPlan",
        "ReleaseRoom",
        "ReverseRevenueAccrual",
        "ReserveSupplies",
        "PlanLabor",
        "ReserveRoom",
        "AccrueExpectedRevenue",
    ]
    assert [c.header.reverses_command_id for c in moved[:4]] == [c.command_id for c in booked]
    assert moved[4].inventory_location_id == "INV-LAK-OR"
    assert moved[4].needed_on.isoformat() == "2026-03-22"
    assert moved[6].header.cost_center_id == "CC-LAK-OR"
    state = pipeline.processes["CASE-C-1001"]
    assert {c.command_id for c in state.open_items.values()} == {c.command_id for c in moved[4:]}


def test_cancelled_surgery_leaves_nothing_reserved_planned_or_accrued(pipeline, feed) -> None:
    booked = commands(pipeline.feed(knee_case_scheduled(feed)))
    undone = commands(
        pipeline.feed(feed("CaseCancelled", 3, case_id="C-1001", reason="patient ill"))
    )
    assert sorted(c.header.reverses_command_id for c in undone) == sorted(
        c.command_id for c in booked
    )
    assert undone[3].lines[0].credit == booked[3].lines[0].debit  # accrual reversed line for line
    state = pipeline.processes["CASE-C-1001"]
    assert state.open_items == {} and state.stage is ProcessStage.CANCELLED


def test_no_show_compensates_the_office_visit(pipeline, feed) -> None:
    (accrual,) = commands(pipeline.feed(office_visit(feed)))
    (reversal,) = commands(pipeline.feed(feed("AppointmentNoShow", 72, appointment_id="A-501")))
    assert (reversal.schema, reversal.header.reverses_command_id) == (
        "ReverseRevenueAccrual",
        accrual.command_id,
    )


def test_reschedule_after_cancellation_is_a_work_item_not_a_booking(pipeline, feed) -> None:
    pipeline.feed(knee_case_scheduled(feed))
    pipeline.feed(feed("CaseCancelled", 3, case_id="C-1001", reason="surgeon unavailable"))
    late = pipeline.feed(
        feed(
            "CaseRescheduled",
            4,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=30),
            planned_minutes=90,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-3",
        )
    )
    assert commands(late) == []
    assert [o.kind for o in late] == [ExceptionKind.INVALID_TRANSITION]


def test_supplies_used_off_the_card_are_issued_at_zero_cost_and_flagged(pipeline, feed) -> None:
    pipeline.feed(knee_case_scheduled(feed))
    out = pipeline.feed(
        feed(
            "CaseCompleted",
            400,
            case_id="C-1001",
            actual_minutes=80,
            supplies_used=[
                {"item_id": "DRAPE-KNEE", "quantity": 1},
                {"item_id": "SUTURE-ANCHOR", "quantity": 2},
            ],
        )
    )
    issue = next(c for c in commands(out) if c.schema == "IssueSupplies")
    assert [(i.item_id, i.extended_cost) for i in issue.items] == [
        ("DRAPE-KNEE", Decimal("28.00")),
        ("SUTURE-ANCHOR", Decimal("0.00")),
    ]
    tie_out = [o for o in out if isinstance(o, WorkQueueException)]
    assert [(w.kind, "SUTURE-ANCHOR" in w.reason) for w in tie_out] == [
        (ExceptionKind.TIE_OUT, True)
    ]
    state = pipeline.processes["CASE-C-1001"]
    assert [c.schema for c in state.open_items.values()] == ["AccrueExpectedRevenue"]
