"""Handlers for appointment and surgical-case events of a process instance.

Scheduling books the plan (case: supplies, labor, room; both: expected revenue); a reschedule or a
change of payer/procedures reverses every open item and reissues it for the new facts; a cancel or
no-show reverses every open item (compensation). Completion relieves the supply reservation into an
actual issue and recognizes its cost; labor and room plans are consumed by the case.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from s2c.tables import events as ev
from s2c.tables.handling import (
    Handler,
    Output,
    WaitsFor,
    book,
    invalid,
    open_items_in_order,
    work_item,
)
from s2c.tables.master import MasterData
from s2c.tables.outputs import IssueSupplies, PlanLabor, RecognizeCost, ReserveRoom, SupplyLine
from s2c.tables.posting import Posting, gl_account, location, need, two_lines
from s2c.tables.process import ProcessState
from s2c.tables.vocabulary import ExceptionKind, FinancialClass, GlPurpose


def payer_class_of(master: MasterData, payer_id: str | None) -> FinancialClass | None:
    if payer_id is None:
        return None
    return need(master.payer(payer_id), "Payer", payer_id).financial_class


def _still_open(state: ProcessState, event: ev.Event, now: datetime, out: list[Output]) -> bool:
    if state.cancelled_at is not None or state.completed_at is not None:
        done = "cancelled" if state.cancelled_at is not None else "completed"
        out.append(invalid(state, event, now, f"{event.schema} after the episode was {done}"))
        return False
    return True


def appointment_scheduled(
    state: ProcessState,
    e: ev.AppointmentScheduled,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    if state.is_scheduled:
        out.append(invalid(state, e, now, "appointment already scheduled by another event"))
        return
    department = location(master, e.department_id)
    payer_class = payer_class_of(master, e.payer_id)
    posting = Posting(state.process_id, e)
    posting.accrual(
        master,
        e.site_id,
        department.cost_center_id,
        e.payer_id,
        e.procedure_codes,
        e.scheduled_start,
    )
    state.reference_id, state.scheduled_at = e.appointment_id, e.occurred_at
    state.account_number = e.account_number or state.account_number
    state.site_id, state.department_id, state.room_id = e.site_id, e.department_id, None
    state.provider_id, state.service_line_id = e.provider_id, e.service_line_id
    state.payer_id, state.payer_class = e.payer_id, payer_class
    state.procedure_codes = e.procedure_codes
    state.scheduled_start, state.minutes = e.scheduled_start, e.duration_minutes
    state.cost_center_id = department.cost_center_id
    book(state, posting, out)


def case_scheduled(
    state: ProcessState, e: ev.CaseScheduled, master: MasterData, now: datetime, out: list[Output]
) -> None:
    if state.is_scheduled:
        out.append(invalid(state, e, now, "case already scheduled by another event"))
        return
    payer_class = payer_class_of(master, e.payer_id)
    posting = Posting(state.process_id, e)
    room, stock = posting.case_plan(
        master, e.case_id, e.or_room_id, e.preference_card_id, e.scheduled_start, e.planned_minutes
    )
    posting.accrual(
        master, e.site_id, room.cost_center_id, e.payer_id, e.procedure_codes, e.scheduled_start
    )
    state.reference_id, state.scheduled_at = e.case_id, e.occurred_at
    state.account_number = e.account_number or state.account_number
    state.site_id, state.room_id, state.department_id = e.site_id, e.or_room_id, room.parent_id
    state.provider_id, state.service_line_id = e.surgeon_id, e.service_line_id
    state.payer_id, state.payer_class = e.payer_id, payer_class
    state.procedure_codes = e.procedure_codes
    state.preference_card_id = e.preference_card_id
    state.scheduled_start, state.minutes = e.scheduled_start, e.planned_minutes
    state.cost_center_id, state.inventory_location_id = room.cost_center_id, stock
    book(state, posting, out)


def appointment_rescheduled(
    state: ProcessState,
    e: ev.AppointmentRescheduled,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    if not _still_open(state, e, now, out):
        return
    department = location(master, e.department_id)
    posting = Posting(state.process_id, e)
    for item in open_items_in_order(state):
        posting.reverse(item)
    posting.accrual(
        master,
        e.site_id,
        department.cost_center_id,
        state.payer_id,
        state.procedure_codes,
        e.scheduled_start,
    )
    state.site_id, state.department_id = e.site_id, e.department_id
    state.provider_id = e.provider_id
    state.scheduled_start, state.minutes = e.scheduled_start, e.duration_minutes
    state.cost_center_id = department.cost_center_id
    book(state, posting, out)


def appointment_modified(
    state: ProcessState,
    e: ev.AppointmentModified,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    if not _still_open(state, e, now, out):
        return
    payer_id = e.payer_id or state.payer_id
    codes = e.procedure_codes if e.procedure_codes is not None else state.procedure_codes
    posting = Posting(state.process_id, e)
    payer_class = payer_class_of(master, payer_id)
    if (payer_id, codes) != (state.payer_id, state.procedure_codes) and state.scheduled_start:
        for item in open_items_in_order(state):
            posting.reverse(item)
        posting.accrual(
            master,
            state.site_id or "",
            state.cost_center_id or "",
            payer_id,
            codes,
            state.scheduled_start,
        )
    state.payer_id, state.payer_class, state.procedure_codes = payer_id, payer_class, codes
    state.provider_id = e.provider_id or state.provider_id
    state.account_number = e.account_number or state.account_number
    book(state, posting, out)


def cancelled(
    state: ProcessState, e: ev.Event, master: MasterData, now: datetime, out: list[Output]
) -> None:
    """AppointmentCancelled, AppointmentNoShow, CaseCancelled: compensate every open item."""
    if not _still_open(state, e, now, out):
        return
    posting = Posting(state.process_id, e)
    for item in open_items_in_order(state):
        posting.reverse(item)
    state.cancelled_at = e.occurred_at
    book(state, posting, out)


def case_rescheduled(
    state: ProcessState, e: ev.CaseRescheduled, master: MasterData, now: datetime, out: list[Output]
) -> None:
    if not _still_open(state, e, now, out):
        return
    posting = Posting(state.process_id, e)
    for item in open_items_in_order(state):
        posting.reverse(item)
    room, stock = posting.case_plan(
        master,
        state.reference_id or "",
        e.or_room_id,
        state.preference_card_id or "",
        e.scheduled_start,
        e.planned_minutes,
    )
    posting.accrual(
        master,
        e.site_id,
        room.cost_center_id,
        state.payer_id,
        state.procedure_codes,
        e.scheduled_start,
    )
    state.site_id, state.room_id, state.department_id = e.site_id, e.or_room_id, room.parent_id
    state.scheduled_start, state.minutes = e.scheduled_start, e.planned_minutes
    state.cost_center_id, state.inventory_location_id = room.cost_center_id, stock
    book(state, posting, out)


def case_completed(
    state: ProcessState, e: ev.CaseCompleted, master: MasterData, now: datetime, out: list[Output]
) -> None:
    if not _still_open(state, e, now, out):
        return
    card_id, site = state.preference_card_id or "", state.site_id
    card = need(master.preference_card(card_id), "PreferenceCard", card_id)
    expense = gl_account(master, GlPurpose.SUPPLY_EXPENSE, site)
    inventory = gl_account(master, GlPurpose.SUPPLY_INVENTORY, site)
    unit_costs = {line.item_id: line.unit_cost for line in card.items}
    posting = Posting(state.process_id, e)
    cc, day = state.cost_center_id or "", e.occurred_at.date()
    for item in open_items_in_order(state):
        if item.schema == "ReserveSupplies":
            posting.reverse(item)  # the actual issue below replaces the reservation
    issued = tuple(
        SupplyLine(
            u.item_id,
            u.quantity,
            unit_costs.get(u.item_id, Decimal("0.00")),
            unit_costs.get(u.item_id, Decimal("0.00")) * u.quantity,
        )
        for u in e.supplies_used
    )
    off_card = sorted(u.item_id for u in e.supplies_used if u.item_id not in unit_costs)
    stock = state.inventory_location_id or ""
    if issued:
        posting.add(IssueSupplies, cc, day, state.reference_id or "", stock, issued)
    total = sum((line.extended_cost for line in issued), Decimal("0.00"))
    if total:
        posting.add(
            RecognizeCost,
            cc,
            day,
            state.reference_id or "",
            total,
            two_lines(expense, inventory, total, f"supplies used, case {state.reference_id}"),
        )
    for item in list(state.open_items.values()):
        if isinstance(item, PlanLabor | ReserveRoom):
            del state.open_items[item.command_id]  # consumed by the surgery that took place
    state.completed_at = e.occurred_at
    book(state, posting, out)
    if off_card:
        out.append(
            work_item(
                state,
                e,
                now,
                ExceptionKind.TIE_OUT,
                f"not on preference card {card_id}, issued at zero cost: " + ", ".join(off_card),
            )
        )


HANDLERS: dict[str, Handler] = {
    "AppointmentScheduled": appointment_scheduled,
    "AppointmentRescheduled": appointment_rescheduled,
    "AppointmentModified": appointment_modified,
    "AppointmentCancelled": cancelled,
    "AppointmentNoShow": cancelled,
    "CaseScheduled": case_scheduled,
    "CaseRescheduled": case_rescheduled,
    "CaseCancelled": cancelled,
    "CaseCompleted": case_completed,
}


def _needs_schedule(state: ProcessState, event: ev.Event) -> str | None:
    return None if state.is_scheduled else "scheduling"


WAITS: dict[str, WaitsFor] = {
    **{
        name: _needs_schedule
        for name in (
            "AppointmentRescheduled",
            "AppointmentModified",
            "AppointmentCancelled",
            "AppointmentNoShow",
            "CaseRescheduled",
            "CaseCancelled",
            "CaseCompleted",
        )
    },
}
