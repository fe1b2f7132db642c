"""One ordered path per source key: events that share a Kafka key on the events topic reach the
process stage by the same path, so none can overtake an earlier one of its key (routing.py)."""

from __future__ import annotations

from collections import defaultdict

from core_world import IDS, Feed, claim, encounter_started, knee_case_scheduled

from s2c.streams.synth import SynthParams, generate
from s2c.tables.events import event_from_record
from s2c.tables.link import link_transition
from s2c.tables.outputs import Forward, WorkQueueException
from s2c.tables.routing import route
from s2c.tables.vocabulary import ExceptionKind


def test_a_scheduled_case_with_an_account_goes_straight_and_registers() -> None:
    where = route(knee_case_scheduled(Feed()), IDS)
    assert where.process_id == "CASE-C-1001"
    assert not where.via_link and where.registers


def test_a_scheduled_case_without_an_account_registers_nothing() -> None:
    where = route(knee_case_scheduled(Feed(), account=None), IDS)
    assert not where.via_link and not where.registers and where.link_key is None


def test_account_keyed_events_go_through_the_link_stage() -> None:
    feed = Feed()
    started, bill = encounter_started(feed), claim(feed, 100)
    assert route(started, IDS).via_link and not route(started, IDS).registers
    assert route(bill, IDS).via_link and route(bill, IDS).process_id is None


def test_every_source_key_of_a_generated_day_takes_one_path() -> None:
    paths: dict[str, set[bool]] = defaultdict(set)
    for schema, key, record in generate(SynthParams(sites=2, scale=0.1, seed=5)).events():
        paths[key].add(route(event_from_record(schema, record), IDS).via_link)
    assert len(paths) > 100
    mixed = [key for key, seen in paths.items() if len(seen) > 1]
    assert mixed == [], f"{len(mixed)} source keys split over both paths"


def test_a_registration_copy_releases_the_parked_without_forwarding_itself() -> None:
    feed = Feed()
    bill = claim(feed, 100)
    link, parked = link_transition(None, bill, bill.occurred_at, IDS)
    assert parked == [] and bill.event_id in link.parked
    scheduled = knee_case_scheduled(feed)
    link, out = link_transition(link, scheduled, scheduled.occurred_at, IDS, registers=True)
    assert link.process_id == "CASE-C-1001" and not link.parked
    assert [(o.process_id, o.event.event_id) for o in out if isinstance(o, Forward)] == [
        ("CASE-C-1001", bill.event_id)
    ]
    # Without `registers` the event itself is forwarded first, as for an encounter started.
    _, forwarded = link_transition(None, scheduled, scheduled.occurred_at, IDS)
    assert [o.event.event_id for o in forwarded if isinstance(o, Forward)] == [scheduled.event_id]


def test_a_registration_claiming_a_linked_account_is_reported_not_forwarded() -> None:
    feed = Feed()
    first = knee_case_scheduled(feed)
    link, _ = link_transition(None, first, first.occurred_at, IDS, registers=True)
    other = knee_case_scheduled(feed, case_id="C-2002")
    link, out = link_transition(link, other, other.occurred_at, IDS, registers=True)
    assert link.process_id == "CASE-C-1001"
    assert [type(o) for o in out] == [WorkQueueException]
    assert out[0].kind is ExceptionKind.INVALID_TRANSITION  # type: ignore[union-attr]
