"""Out-of-order and duplicate delivery: park what cannot be placed, drop what was already applied.

A parked event past its deadline is reported but kept (see `test_late_anchors.py`)."""

from __future__ import annotations

from datetime import timedelta

from core_world import (
    DAY,
    IDS,
    MASTER_RECORDS,
    SURGERY_DAY,
    T0,
    Feed,
    charge,
    claim,
    encounter_completed,
    encounter_started,
    knee_case_scheduled,
    knee_case_through_claim,
    master_data,
    payment,
)

from s2c.tables.core import (
    PROCESS_PARK_TTL,
    next_deadline,
    on_deadline,
    retry_parked,
    transition,
    waiting_for_master,
)
from s2c.tables.link import LINK_PARK_TTL, WALK_IN_WAIT, link_on_deadline, link_transition
from s2c.tables.master import lookup_keys, master_record
from s2c.tables.outputs import AwaitMasterData, Command, Forward, WorkQueueException
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind, ProcessStage


def kinds(outputs: list) -> list[str]:
    return [
        type(o).__name__ if not isinstance(o, WorkQueueException) else o.kind.value for o in outputs
    ]


def test_payment_before_claim_is_parked_then_posted_when_the_claim_arrives(pipeline, feed) -> None:
    events = knee_case_through_claim(feed)
    for event in events[:-1]:
        pipeline.feed(event)
    early = pipeline.feed(payment(feed, SURGERY_DAY + 3 * DAY, "4200.00"))
    assert early == []
    state = pipeline.processes["CASE-C-1001"]
    assert next(iter(state.parked.values())).waits_for == "anchor:ClaimSubmitted CLM-1"
    released = pipeline.feed(events[-1])
    assert [c.schema for c in released if isinstance(c, Command)] == ["PostJournal"]
    assert state.parked == {} and state.stage is ProcessStage.PAID


def test_charge_before_encounter_waits_for_the_arrival(master, feed) -> None:
    state, _ = transition(None, knee_case_scheduled(feed), master, T0)
    state, out = transition(state, charge(feed, SURGERY_DAY + 1), master, T0)
    assert out == [] and state.first_charge_at is None
    state, out = transition(state, encounter_started(feed), master, T0)
    assert [c.schema for c in out if isinstance(c, Command)] == ["PostJournal"]


def test_claim_for_an_unknown_account_waits_in_the_link_stage_then_is_forwarded(feed) -> None:
    bill = claim(feed, 100, account="ACCT-WALKIN")
    link, out = link_transition(None, bill, T0, IDS)
    assert out == [] and bill.event_id in link.parked
    arrival = encounter_started(
        feed,
        hours=90,
        account="ACCT-WALKIN",
        case_id=None,
        department="RIV-ED",
        encounter_id="ENC-9",
    )
    link, out = link_transition(link, arrival, T0, IDS)
    assert out == []  # a registration waits WALK_IN_WAIT for a booking of its account
    opens = arrival.occurred_at + WALK_IN_WAIT
    assert link_on_deadline(link, opens - timedelta(seconds=1))[1] == []
    link, out = link_on_deadline(link, opens)  # none came: the walk-in opens, the claim follows
    walk_in = IDS.encounter_process_id("ACCT-WALKIN")
    assert out == [Forward(walk_in, arrival), Forward(walk_in, bill)]
    assert link.parked == {} and link.process_id == walk_in


def test_unlinked_remittance_becomes_a_work_item_at_its_deadline_and_stays_parked(feed) -> None:
    paid = payment(feed, 10, "120.00", account="ACCT-GHOST", claim_id=None)
    link, _ = link_transition(None, paid, T0, IDS)
    deadline = paid.occurred_at + LINK_PARK_TTL
    assert link_on_deadline(link, deadline - timedelta(seconds=1))[1] == []
    link, out = link_on_deadline(link, deadline)
    assert [(o.kind, o.amount) for o in out] == [(ExceptionKind.UNLINKED_EVENT, paid.paid_amount)]
    assert link_on_deadline(link, deadline + timedelta(days=1))[1] == []  # reported once
    assert paid.event_id in link.parked  # its encounter may still come


def test_parked_reschedule_is_reported_as_an_unlinked_event_and_kept(master, feed) -> None:
    moved = feed(
        "CaseRescheduled",
        5,
        case_id="C-404",
        scheduled_start=T0 + timedelta(days=9),
        planned_minutes=60,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )
    state, out = transition(None, moved, master, T0)
    assert out == [] and next_deadline(state) == moved.occurred_at + PROCESS_PARK_TTL
    state, out = on_deadline(state, master, T0 + timedelta(days=8))
    assert kinds(out) == ["UNLINKED_EVENT"] and "scheduling" in out[0].reason
    assert moved.event_id in state.parked
    state, out = transition(state, moved, master, T0 + timedelta(days=9))
    assert out == []  # a redelivery after the report neither re-parks nor re-reports it


def test_exact_duplicates_change_nothing(pipeline, feed) -> None:
    events = knee_case_through_claim(feed) + [payment(feed, SURGERY_DAY + 20 * DAY, "4200.00")]
    for event in events:
        pipeline.feed(event)
    before = pipeline.processes["CASE-C-1001"].to_dict()
    for event in events:
        assert pipeline.feed(event) == []
    assert pipeline.processes["CASE-C-1001"].to_dict() == before


def test_missing_contract_rate_parks_the_booking_and_names_what_it_waits_for(feed) -> None:
    master = master_data(without=("R-MCR-29881",))
    booking = knee_case_scheduled(feed, payer="MEDICARE-A")
    state, out = transition(None, booking, master, T0)
    assert out == [
        AwaitMasterData("CASE-C-1001", "ContractRate", "MEDICARE-A|29881", booking.event_id)
    ]
    assert waiting_for_master(state) == {("ContractRate", "MEDICARE-A|29881")}
    assert state.open_items == {}  # nothing half-booked
    rate = master_record(
        "ContractRate",
        {
            "rate_id": "R-MCR-29881",
            "payer_id": "MEDICARE-A",
            "procedure_code": "29881",
            "expected_amount": "2850.00",
            "effective_from": "2025-01-01",
        },
    )
    assert lookup_keys("ContractRate", rate) == ["MEDICARE-A|29881"]
    master.put(rate)
    state, out = retry_parked(state, master, T0 + timedelta(hours=1))
    assert [c.schema for c in out if isinstance(c, Command)][-1] == "AccrueExpectedRevenue"
    assert state.parked == {}


def test_missing_master_data_becomes_a_work_item_at_the_deadline(feed) -> None:
    master = master_data(without=("PC-29881-OKAFOR",))
    state, out = transition(None, knee_case_scheduled(feed), master, T0)
    assert kinds(out) == ["AwaitMasterData"]
    state, out = on_deadline(state, master, T0 + timedelta(days=7))
    assert kinds(out) == ["UNKNOWN_MASTER_DATA"]
    assert "PreferenceCard PC-29881-OKAFOR" in out[0].reason
    raised = out[0]
    assert waiting_for_master(state) == {("PreferenceCard", "PC-29881-OKAFOR")}  # still waiting
    master.put(master_record("PreferenceCard", MASTER_RECORDS["PreferenceCard"][0]))
    state, out = retry_parked(state, master, T0 + timedelta(days=8))
    assert kinds(out)[:3] == ["ReserveSupplies", "PlanLabor", "ReserveRoom"]
    assert kinds(out)[-1] == "UNKNOWN_MASTER_DATA"
    assert out[-1].resolves_exception_id == raised.exception_id and state.parked == {}


def test_walk_in_emergency_visit_gets_its_own_instance(pipeline: Pipeline, feed: Feed) -> None:
    pipeline.feed(
        encounter_started(
            feed,
            hours=1,
            account="ACCT-ED-1",
            case_id=None,
            department="RIV-ED",
            encounter_id="ENC-ED",
        )
    )
    pipeline.feed(encounter_completed(feed, hours=5, account="ACCT-ED-1", encounter_id="ENC-ED"))
    out = pipeline.feed(charge(feed, 8, account="ACCT-ED-1", amount="980.00", code="99284"))
    (journal,) = [c for c in out if isinstance(c, Command)]
    walk_in = IDS.encounter_process_id("ACCT-ED-1")
    assert journal.header.process_id == walk_in and "ACCT-ED-1" not in walk_in
    assert pipeline.processes[walk_in].stage is ProcessStage.CHARGED


def test_a_second_process_claiming_an_account_is_reported_not_relinked(feed) -> None:
    link, _ = link_transition(None, knee_case_scheduled(feed), T0, IDS)
    other = knee_case_scheduled(feed, case_id="C-2002")
    link, out = link_transition(link, other, T0, IDS)
    assert out[0] == Forward("CASE-C-2002", other)
    assert out[1].kind is ExceptionKind.INVALID_TRANSITION and link.process_id == "CASE-C-1001"
