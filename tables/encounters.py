"""Handlers for authorization and encounter events: milestones, no postings.

An approval or denial is recorded at its earliest business time (so the 48 h authorization SLA
reads a fact, not an arrival); a denial also opens an `AUTHORIZATION_DENIED` work item. The
encounter gives a walk-in instance its site, department, service line and payer, and every
instance the cost center its revenue journals fall back on.
"""

from __future__ import annotations

from datetime import datetime

from s2c.tables import events as ev
from s2c.tables.handling import Handler, Output, WaitsFor, earliest, invalid, work_item
from s2c.tables.master import MasterData
from s2c.tables.posting import location
from s2c.tables.process import ProcessState
from s2c.tables.scheduling import payer_class_of
from s2c.tables.vocabulary import ExceptionKind


def authorization(
    state: ProcessState, e: ev.Event, master: MasterData, now: datetime, out: list[Output]
) -> None:
    if isinstance(e, ev.AuthorizationApproved):
        state.authorized_at = earliest(state.authorized_at, e.occurred_at)
    elif isinstance(e, ev.AuthorizationDenied):
        state.auth_denied_at = earliest(state.auth_denied_at, e.occurred_at)
        out.append(
            work_item(
                state,
                e,
                now,
                ExceptionKind.AUTHORIZATION_DENIED,
                f"payer {e.payer_id} denied authorization: {e.reason}",
            )
        )


def encounter_started(
    state: ProcessState,
    e: ev.EncounterStarted,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    if state.encounter_id is not None and state.encounter_id != e.encounter_id:
        out.append(invalid(state, e, now, "instance already has an encounter"))
        return
    department = location(master, e.department_id)
    payer_class = state.payer_class if state.payer_id else payer_class_of(master, e.payer_id)
    state.encounter_id, state.arrived_at = e.encounter_id, e.arrived_at
    state.encounter_cost_center_id = department.cost_center_id
    state.account_number = state.account_number or e.account_number
    if not state.is_scheduled:  # walk-in: the encounter is the only source of these
        state.site_id, state.department_id = e.site_id, e.department_id
        state.service_line_id, state.payer_id, state.payer_class = (
            e.service_line_id,
            e.payer_id,
            payer_class,
        )


def encounter_completed(
    state: ProcessState,
    e: ev.EncounterCompleted,
    master: MasterData,
    now: datetime,
    out: list[Output],
) -> None:
    state.discharged_at = e.discharged_at


HANDLERS: dict[str, Handler] = {
    "AuthorizationRequested": authorization,
    "AuthorizationApproved": authorization,
    "AuthorizationDenied": authorization,
    "EncounterStarted": encounter_started,
    "EncounterCompleted": encounter_completed,
}

WAITS: dict[str, WaitsFor] = {
    "EncounterCompleted": lambda s, e: None if s.arrived_at is not None else "EncounterStarted",
}
