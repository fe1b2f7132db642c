"""Allowed lateness in replay, the workers' `S2C_DEADLINE_GRACE_HOURS`: deadlines fire at stream
time less the grace, so an event that arrives at most that late still meets its instance before
the deadlines it settles, as it does live (where a partition's watermark trails stream time)."""

from __future__ import annotations

from datetime import timedelta

from core_world import DAY, IDS, knee_case_scheduled

from s2c.tables.outputs import SlaBreached
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import SlaKind


def late_authorization_day(feed) -> list:
    """Case C-1001 booked for day 14 (authorization due by day 12); another case moves stream time
    to day 13; then C-1001's approval, given on day 11, arrives two days late."""
    return [
        knee_case_scheduled(feed),
        knee_case_scheduled(
            feed, hours=13 * DAY, case_id="C-2002", account="ACCT-7002", start_days=40
        ),
        feed(
            "AuthorizationApproved",
            11 * DAY,
            authorization_id="AUTH-1",
            appointment_id=None,
            case_id="C-1001",
            payer_id="AETNA-COMM",
            auth_number="A1",
        ),
    ]


def breached(master, events: list, grace: timedelta) -> list[tuple[str, SlaKind]]:
    pipeline = Pipeline(master, IDS, grace)
    return [
        (o.process_id, o.sla)
        for event in events
        for o in pipeline.feed(event)
        if isinstance(o, SlaBreached)
    ]


def test_without_grace_the_late_approval_finds_the_breach_already_fired(master, feed) -> None:
    events = late_authorization_day(feed)
    assert breached(master, events, timedelta(0)) == [
        ("CASE-C-1001", SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY)
    ]


def test_a_grace_longer_than_the_lateness_lets_the_approval_settle_the_deadline(
    master, feed
) -> None:
    assert breached(master, late_authorization_day(feed), timedelta(hours=72)) == []


def test_a_grace_shorter_than_the_lateness_does_not(master, feed) -> None:
    assert breached(master, late_authorization_day(feed), timedelta(hours=12)) == [
        ("CASE-C-1001", SlaKind.AUTH_MISSING_48H_BEFORE_SURGERY)
    ]
