"""An anchor that comes after its dependent's deadline: reported once, applied after all.

A process partition is fed by two paths (direct, and through the LINK stage), so stream time can run
days ahead of the path that carries the anchor. The ledger must not depend on that timing.
"""

from __future__ import annotations

import json
from datetime import timedelta

from core_world import (
    DAY,
    IDS,
    SURGERY_DAY,
    T0,
    Feed,
    knee_case_scheduled,
    knee_case_through_claim,
    master_data,
)

from s2c.tables.codec import dumps
from s2c.tables.core import (
    PARK_HARD_LIMIT,
    PROCESS_PARK_TTL,
    next_deadline,
    on_deadline,
    transition,
)
from s2c.tables.events import Event
from s2c.tables.link import LINK_PARK_HARD_LIMIT, LinkState, link_on_deadline, link_transition
from s2c.tables.outputs import Command, Forward, WorkQueueException
from s2c.tables.process import ProcessState
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind, ProcessStage


def commands(outputs: list) -> list[str]:
    return [dumps(o.to_record()) for o in outputs if isinstance(o, Command)]


def work_items(outputs: list) -> list[WorkQueueException]:
    return [o for o in outputs if isinstance(o, WorkQueueException)]


def far_future_booking(feed: Feed, days: float) -> Event:
    """Another surgery on the same partition, booked `days` later: it moves stream time on."""
    return knee_case_scheduled(feed, hours=days * DAY, case_id="C-9000", account="ACCT-9000")


def test_acknowledgement_expired_before_its_claim_is_applied_when_the_claim_comes(
    pipeline: Pipeline, feed: Feed
) -> None:
    *before_claim, bill = knee_case_through_claim(feed)
    for event in before_claim:
        pipeline.feed(event)
    ack = feed(
        "ClaimAcknowledged",
        SURGERY_DAY + 3 * DAY,
        claim_id="CLM-1",
        account_number="ACCT-7001",
        status_category="A1",
    )
    assert pipeline.feed(ack) == []
    (raised,) = work_items(pipeline.feed(far_future_booking(feed, 40)))
    assert raised.kind is ExceptionKind.UNLINKED_EVENT and raised.event_id == ack.event_id
    state = pipeline.processes["CASE-C-1001"]
    assert ack.event_id in state.parked  # reported, not dropped
    out = pipeline.feed(bill)
    (resolved,) = work_items(out)
    assert resolved.resolves_exception_id == raised.exception_id
    assert resolved.exception_id != raised.exception_id
    assert state.stage is ProcessStage.ACKNOWLEDGED and state.parked == {}


def test_modification_that_waited_too_long_reissues_the_accrual_as_in_time(feed: Feed) -> None:
    booking = feed(
        "AppointmentScheduled",
        0,
        appointment_id="A-77",
        patient_ref="pt-77",
        account_number="ACCT-77",
        site_id="RIVERSIDE",
        department_id="RIV-ORTHO-CLINIC",
        provider_id="DR-OKAFOR",
        service_line_id="ORTHO",
        payer_id="AETNA-COMM",
        procedure_codes=["99213"],
        scheduled_start=T0 + timedelta(days=20),
        duration_minutes=20,
    )
    modified = feed(
        "AppointmentModified",
        2,
        appointment_id="A-77",
        payer_id="MEDICARE-A",
        procedure_codes=["29881"],
    )
    elsewhere = far_future_booking(feed, 30)
    in_time, late = Pipeline(master_data(), IDS), Pipeline(master_data(), IDS)
    expected = [o for e in (booking, modified, elsewhere) for o in in_time.feed(e)]
    # the booking travels through the LINK stage and is overtaken by the modification and by a
    # booking a month later: the modification's deadline passes before its booking arrives
    got = [o for e in (modified, elsewhere, booking) for o in late.feed(e)]
    assert sorted(commands(got)) == sorted(commands(expected))
    assert [c.schema for c in got if isinstance(c, Command)][-2:] == [
        "ReverseRevenueAccrual",
        "AccrueExpectedRevenue",
    ]
    raised, resolved = work_items(got)
    assert resolved.resolves_exception_id == raised.exception_id


def test_a_reported_parked_event_is_timed_for_its_hard_limit_not_again(master, feed) -> None:
    moved = feed(
        "CaseRescheduled",
        5,
        case_id="C-404",
        scheduled_start=T0 + timedelta(days=9),
        planned_minutes=60,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )
    state, _ = transition(None, moved, master, T0)
    state, out = on_deadline(state, master, moved.occurred_at + PROCESS_PARK_TTL)
    assert [o.kind for o in work_items(out)] == [ExceptionKind.UNLINKED_EVENT]
    hard_limit = moved.occurred_at + PARK_HARD_LIMIT
    assert next_deadline(state) == hard_limit
    assert on_deadline(state, master, hard_limit - timedelta(seconds=1))[1] == []
    reloaded = ProcessState.from_dict(state.to_dict())
    assert reloaded.parked == state.parked and next_deadline(reloaded) == hard_limit
    state, out = on_deadline(state, master, hard_limit)
    (dropped,) = work_items(out)
    assert "hard limit" in dropped.reason and state.parked == {}
    assert next_deadline(state) is None
    assert transition(state, moved, master, hard_limit)[1] == []  # a redelivery stays dropped


def test_parked_event_past_its_hard_limit_at_once_is_dropped_with_one_item(master, feed) -> None:
    moved = feed(
        "CaseRescheduled",
        5,
        case_id="C-404",
        scheduled_start=T0 + timedelta(days=9),
        planned_minutes=60,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )
    state, _ = transition(None, moved, master, T0)
    state, out = on_deadline(state, master, T0 + timedelta(days=200))
    assert ["hard limit" in w.reason for w in work_items(out)] == [True]
    assert state.parked == {}


def test_link_keeps_a_reported_event_and_forwards_it_when_the_account_is_linked(feed) -> None:
    bill = feed(
        "ClaimSubmitted",
        10,
        claim_id="CLM-5",
        account_number="ACCT-LATE",
        payer_id="AETNA-COMM",
        claim_type="PROFESSIONAL",
        billing_npi="1234567893",
        total_charge="150.00",
        lines=[],
    )
    link, _ = link_transition(None, bill, T0, IDS)
    link, out = link_on_deadline(link, bill.occurred_at + timedelta(days=7))
    (raised,) = out
    hard_limit = bill.occurred_at + LINK_PARK_HARD_LIMIT
    assert link.next_deadline() == hard_limit
    link = LinkState.from_dict(json.loads(dumps(link.to_dict())))
    assert link.parked[bill.event_id].reported
    booking = knee_case_scheduled(feed, hours=20 * DAY, case_id="C-5", account="ACCT-LATE")
    link, out = link_transition(link, booking, T0 + timedelta(days=20), IDS)
    assert out[:2] == [Forward("CASE-C-5", booking), Forward("CASE-C-5", bill)]
    assert out[2].resolves_exception_id == raised.exception_id
    assert out[2].process_id == "CASE-C-5" and link.parked == {}


def test_link_drops_an_event_at_its_hard_limit_with_its_own_item(feed) -> None:
    bill = feed(
        "ClaimSubmitted",
        10,
        claim_id="CLM-6",
        account_number="ACCT-NEVER",
        payer_id="AETNA-COMM",
        claim_type="PROFESSIONAL",
        billing_npi="1234567893",
        total_charge="150.00",
        lines=[],
    )
    link, _ = link_transition(None, bill, T0, IDS)
    link, (raised,) = link_on_deadline(link, bill.occurred_at + timedelta(days=7))
    link, (dropped,) = link_on_deadline(link, bill.occurred_at + LINK_PARK_HARD_LIMIT)
    assert dropped.exception_id != raised.exception_id and "dropped" in dropped.reason
    assert link.parked == {} and link.next_deadline() is None
