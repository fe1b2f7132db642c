"""Which side of a deadline an event falls on, in replay: the rule the live stages follow too.

Aetna's remittance for Dr Okafor's knee arthroscopy is due within 30 days of the claim. A denial
that arrives at the very minute the 30 days run out is in time (no NO_REMITTANCE_30D breach); one
a minute later is not. And an event that comes after a deadline has passed, here a reschedule
booked a day after the authorization window closed, finds the breach already reported, whatever
it does to the deadline afterwards.
"""

from __future__ import annotations

from datetime import timedelta

from core_world import (
    DAY,
    IDS,
    SURGERY_DAY,
    T0,
    Feed,
    denial,
    knee_case_scheduled,
    knee_case_through_claim,
    master_data,
)

from s2c.tables import core
from s2c.tables.outputs import SlaBreached
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import SlaKind

CLAIMED = SURGERY_DAY + 2 * DAY  # knee_case_through_claim's claim, hours after T0


def breaches(events) -> list[str]:
    pipeline = Pipeline(master_data(), IDS)
    out = [o for e in events for o in pipeline.feed(e)]
    return [o.sla.value for o in out if isinstance(o, SlaBreached)]


def test_a_denial_at_the_very_instant_of_the_deadline_is_in_time() -> None:
    feed = Feed("tie")
    history = knee_case_through_claim(feed)
    assert breaches([*history, denial(feed, CLAIMED + 30 * DAY, "6800.00")]) == []


def test_a_denial_a_minute_after_the_deadline_is_a_breach() -> None:
    feed = Feed("tie")
    history = knee_case_through_claim(feed)
    late = denial(feed, CLAIMED + 30 * DAY + 1 / 60, "6800.00")
    assert breaches([*history, late]) == [SlaKind.NO_REMITTANCE_30D.value]


def reschedule(feed: Feed, hours: float, start_days: float):
    return feed(
        "CaseRescheduled",
        hours,
        case_id="C-1001",
        scheduled_start=T0 + timedelta(days=start_days),
        planned_minutes=90,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )


def test_an_event_after_a_passed_deadline_finds_it_reported_before_it_moves_it() -> None:
    feed = Feed("moved")
    booked = knee_case_scheduled(feed)  # surgery on day 14: authorization due on day 12
    moved = reschedule(feed, 12 * DAY + 1, start_days=21)
    assert breaches([booked, moved]) == [SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY.value]
    # Moved one hour before the window closed, the deadline moves with the surgery.
    feed = Feed("moved")
    booked = knee_case_scheduled(feed)
    assert breaches([booked, reschedule(feed, 12 * DAY - 1, start_days=21)]) == []


def test_overdue_fires_only_deadlines_strictly_before_the_events_time() -> None:
    feed = Feed("overdue")
    booked = knee_case_scheduled(feed)
    state, _ = core.transition(None, booked, master_data(), booked.occurred_at, "CASE-C-1001")
    due = core.next_deadline(state)
    assert due == T0 + timedelta(days=12)

    same, fired = core.overdue(state, master_data(), due)
    assert (fired, core.next_deadline(same)) == ([], due)

    after, fired = core.overdue(state, master_data(), due + timedelta(minutes=1))
    assert [o.sla for o in fired if isinstance(o, SlaBreached)] == [
        SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY
    ]
    assert (after.breached, core.next_deadline(after)) == (
        {SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY.value},
        None,
    )
