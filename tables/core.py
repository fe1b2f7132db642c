"""The PROCESS stage (keyed by process id): apply an event to its instance, or park it.

`transition(state, event, master, now)` applies one event and returns the state and the outputs
(commands, work items, SLA breaches, metric observations, `AwaitMasterData`). An event id already
applied or already parked changes nothing. An event that cannot be placed yet (reschedule before
the booking, charge before the encounter, payment before the claim, reversal before what it
reverses) is parked with a deadline of its business time + `PROCESS_PARK_TTL`; one whose master
data is missing is parked too, and the adapter is told which `(record, key)` to wait for. Parked
events are retried, oldest business time first, whenever something else is applied
(`retry_parked` does the same after master data arrives).

At the deadline (`on_deadline`) a parked event becomes an `UNLINKED_EVENT` / `UNKNOWN_MASTER_DATA`
work item, once, but stays parked: stream time is the largest business time seen on a partition
fed by two paths, so a deadline can pass while the anchor is still on its way, and dropping the
event then would make the ledger depend on that timing. If it is applied later, its commands are
exactly those of an in-time arrival, followed by a notice resolving the work item
(`resolves_exception_id`). Only at business time + `PARK_HARD_LIMIT` is it dropped, with a work
item of its own.

`now` is stream time (the largest business time seen), never the wall clock. These functions may
mutate and return the state they are given: the adapter loads a fresh state per key, and skipping a
copy per event is what keeps the hot path fast.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from s2c.tables import conformance, encounters, references, revenue, scheduling, workitems
from s2c.tables.codec import iso
from s2c.tables.events import Event, money_of
from s2c.tables.handling import Handler, Output, WaitsFor, work_item
from s2c.tables.master import MasterData
from s2c.tables.outputs import AwaitMasterData
from s2c.tables.posting import MissingMasterData
from s2c.tables.process import Parked, ProcessState
from s2c.tables.routing import process_id_of
from s2c.tables.sla import check_slas, derive_stage, next_sla_deadline, stage_durations
from s2c.tables.vocabulary import ExceptionKind

PROCESS_PARK_TTL = timedelta(days=7)
PARK_HARD_LIMIT = timedelta(days=90)  # a reported event is dropped this long after it happened
MAX_PARKED_PER_PROCESS = 500

HANDLERS: dict[str, Handler] = {**scheduling.HANDLERS, **encounters.HANDLERS, **revenue.HANDLERS}
WAITS: dict[str, WaitsFor] = {**scheduling.WAITS, **encounters.WAITS, **revenue.WAITS}


def transition(
    state: ProcessState | None,
    event: Event,
    master: MasterData,
    now: datetime,
    process_id: str | None = None,
) -> tuple[ProcessState, list[Output]]:
    """Apply `event`; `process_id` names a new instance for events routed through the link."""
    if state is None:
        pid = process_id or process_id_of(event, None)
        if pid is None:
            raise ValueError(f"{event.schema} {event.event_id}: no process id to start from")
        state = ProcessState(pid)
    if event.event_id in state.applied or event.event_id in state.parked:
        return state, []  # a redelivery: already applied, or already waiting
    out: list[Output] = []
    if _place(state, event, master, now, out):
        _drain(state, master, now, out)
    _settle(state, now, out, late_only=True)
    return state, out


def retry_parked(
    state: ProcessState, master: MasterData, now: datetime
) -> tuple[ProcessState, list[Output]]:
    """Try the parked events again, e.g. after master data they waited for arrived."""
    out: list[Output] = []
    _drain(state, master, now, out)
    _settle(state, now, out, late_only=True)
    return state, out


def on_deadline(
    state: ProcessState, master: MasterData, now: datetime
) -> tuple[ProcessState, list[Output]]:
    """Report parked events past their deadline (once; they stay parked), drop those past the
    hard limit, and report SLA breaches due at event time `now`."""
    out: list[Output] = []
    _drain(state, master, now, out)
    for parked in sorted(state.parked.values(), key=_age):
        if parked.deadline > now:
            continue
        event = parked.event
        kind = (
            ExceptionKind.UNKNOWN_MASTER_DATA
            if parked.waits_for.startswith("master:")
            else ExceptionKind.UNLINKED_EVENT
        )
        what = _said(parked.waits_for)
        hard_limit = event.occurred_at + PARK_HARD_LIMIT
        if now >= hard_limit:
            del state.parked[event.event_id]
            state.remember(event.event_id)
            out.append(
                work_item(
                    state,
                    event,
                    now,
                    kind,
                    f"{event.schema} dropped: waited for "
                    f"{what} until the hard limit {iso(hard_limit)}",
                    money_of(event),
                    tag="hard-limit",
                )
            )
            continue
        state.parked[event.event_id] = parked._replace(deadline=hard_limit, reported=kind.value)
        out.append(
            work_item(
                state,
                event,
                now,
                kind,
                f"{event.schema} waited for {what} until "
                f"{iso(parked.deadline)}; kept until {iso(hard_limit)} in case it "
                f"comes",
                money_of(event),
            )
        )
    _settle(state, now, out, late_only=False)
    return state, out


def next_deadline(state: ProcessState) -> datetime | None:
    """When the adapter should next call `on_deadline` (event time), if ever. A reported parked
    event counts with its hard limit, so its timer does not fire again and again."""
    sla = next_sla_deadline(state)
    if not state.parked:
        return sla
    parked = min(p.deadline for p in state.parked.values())
    return parked if sla is None or parked < sla else sla


def overdue(
    state: ProcessState, master: MasterData, until: datetime
) -> tuple[ProcessState, list[Output]]:
    """Fire the instance's deadlines that fell strictly before `until` (its own event's time less
    the allowed lateness), at `until`, before that event is applied: the event proves that the
    instance's business time passed them, however far the stage's watermark trails. Replay has
    fired them by then too (its stream time is at least the event's); an event at a deadline's
    very instant is in time for it."""
    due = next_deadline(state)
    if due is None or due >= until:
        return state, []
    return on_deadline(state, master, until)


def waiting_for_master(state: ProcessState) -> set[tuple[str, str]]:
    """The `(record, key)` pairs parked events wait for, for the adapter's retry index."""
    found = set()
    for parked in state.parked.values():
        if parked.waits_for.startswith("master:"):
            _, record, key = parked.waits_for.split(":", 2)
            found.add((record, key))
    return found


def _said(waits_for: str) -> str:
    """What a parked event waits for, as its work item says it: master data by record and key
    (no patient in either), an anchor by its record name only. An anchor's id can identify a
    patient: a claim id is the account number in X12 (CLM01)."""
    stage, _, what = waits_for.partition(":")
    if stage == "master":
        return what.replace(":", " ")
    record, _, ident = what.partition(" ")
    return f"its {record}" if ident and record[:1].isupper() else what


def _age(parked: Parked) -> tuple[datetime, str]:
    return parked.event.occurred_at, parked.event.event_id


def _place(
    state: ProcessState, event: Event, master: MasterData, now: datetime, out: list[Output]
) -> bool:
    """Apply the event, or park it; True when it was applied."""
    waits = WAITS.get(event.schema)
    anchor = waits(state, event) if waits is not None else None
    if anchor is not None:
        _park(state, event, f"anchor:{anchor}", now, out)
        return False
    produced: list[Output] = []
    try:
        # every master reference the event names is known (through the crosswalk) before the
        # handler books anything; the handler sees master ids, the parked event keeps the codes
        HANDLERS[event.schema](
            state, references.resolve_and_check(event, master), master, now, produced
        )
    except MissingMasterData as missing:
        before = state.parked.get(event.event_id)
        waits_for = f"master:{missing.record}:{missing.key}"
        _park(state, event, waits_for, now, out)
        if event.event_id in state.parked and (before is None or before.waits_for != waits_for):
            out.append(
                AwaitMasterData(state.process_id, missing.record, missing.key, event.event_id)
            )
        return False
    was = state.parked.pop(event.event_id, None)
    state.remember(event.event_id)
    out.extend(produced)
    conformance.observe(state, event, produced, out)
    workitems.remember_fixable(state, produced, event)
    workitems.close_fixed(state, event, now, out)
    if was is not None and was.reported is not None:
        kind = ExceptionKind(was.reported)
        raised = work_item(state, event, now, kind, "")
        out.append(
            work_item(
                state,
                event,
                now,
                kind,
                f"{event.schema} applied after all: what it waited for arrived",
                money_of(event),
                tag="resolved",
                resolves=raised,
            )
        )
    return True


def _park(
    state: ProcessState, event: Event, waits_for: str, now: datetime, out: list[Output]
) -> None:
    current = state.parked.get(event.event_id)
    if current is not None:
        state.parked[event.event_id] = current._replace(waits_for=waits_for)
    elif len(state.parked) >= MAX_PARKED_PER_PROCESS:
        state.remember(event.event_id)
        out.append(
            work_item(
                state,
                event,
                now,
                ExceptionKind.UNLINKED_EVENT,
                "too many events waiting on this instance",
                money_of(event),
            )
        )
    else:
        state.parked[event.event_id] = Parked(
            event.occurred_at + PROCESS_PARK_TTL, waits_for, event
        )


def _drain(state: ProcessState, master: MasterData, now: datetime, out: list[Output]) -> None:
    progress = True
    while progress and state.parked:
        progress = False
        for parked in sorted(state.parked.values(), key=_age):
            if parked.event.event_id in state.parked:
                progress |= _place(state, parked.event, master, now, out)


def _settle(state: ProcessState, now: datetime, out: list[Output], late_only: bool) -> None:
    out.extend(check_slas(state, now, late_only))
    out.extend(stage_durations(state))
    state.stage = derive_stage(state)
