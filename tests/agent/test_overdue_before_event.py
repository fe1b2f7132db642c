"""A process partition reports a deadline that passed before its instance's next event, before
applying that event, as replay does, however late the watermark comes.

Dr Okafor's knee arthroscopy is booked for day 14, so Aetna's authorization is due on day 12. No
authorization comes, and on day 12 plus an hour the OR moves the surgery to day 21, which would
move the deadline to day 19. The partition has no watermark yet (its upstream partitions have
announced nothing), so both events wait; when the upstreams announce day 12 plus an hour, the
booking is applied, the deadline fires, and only then the reschedule.
"""

from __future__ import annotations

import json
from datetime import timedelta

from agentkit import World
from core_world import DAY, IDS, T0, Feed, knee_case_scheduled, knee_case_through_claim, master_data

from s2c.streams.runtime.reorder import TIME_HEADER, Reorder
from s2c.streams.runtime.watermarks import to_ms
from s2c.tables.codec import dumps
from s2c.tables.events import Event
from s2c.tables.outputs import Command, SlaBreached
from s2c.tables.replay import Pipeline

CASE_KEY = b"CASE-C-1001"


async def test_a_reschedule_after_the_authorization_window_finds_the_breach_reported(
    tmp_path,
) -> None:
    w = World(tmp_path)
    feed = Feed("overdue")
    booked = knee_case_scheduled(feed)
    moved = feed(
        "CaseRescheduled",
        12 * DAY + 1,
        case_id="C-1001",
        scheduled_start=T0 + timedelta(days=21),
        planned_minutes=90,
        site_id="RIVERSIDE",
        or_room_id="RIV-OR-3",
    )
    pipeline = Pipeline(master_data(), IDS)
    want = [
        o.to_record()
        for e in (booked, moved)
        for o in pipeline.feed(e)
        if isinstance(o, SlaBreached)
    ]
    assert [r["sla"] for r in want] == ["AUTH_MISSING_48H_BEFORE_SURGERY"]

    waiting = Reorder(w.t.tables["process_timers"])  # what /health/ reports as events_waiting
    async with w.agent("s2c-process").test_context() as process:
        for event in (booked, moved):
            await w.put(process, CASE_KEY, w.encode(event), partition=1)
        assert w.sent_to(w.t.topics.commands) == []  # both wait for the watermark
        assert waiting.count(1) == 2
        await w.announce(process, "process", 1, moved.occurred_at)
        assert waiting.count(1) == 0

    got = [w.decode(s.value)[1] for s in w.sent_to(w.t.topics.sla_breaches)]
    ignore = {"detected_at"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in got] == [
        {k: v for k, v in r.items() if k not in ignore} for r in want
    ]


async def test_an_encounter_that_overtakes_the_authorization_waits_for_it(tmp_path) -> None:
    """The skew of RELIABILITY.md K2: the case's ingest partition stalls under a backlog while the
    account's runs two weeks of business time ahead, so the surgical encounter (through the link
    stage) reaches the instance before the authorization approved on day 1 (straight from the
    case's partition). Applied as they came, the encounter proved the authorization window past
    and fired `AUTH_MISSING_48H_BEFORE_SURGERY`, which replay (the authorization first) never
    reports. Held until the watermark passes them, they are applied in upstream time order."""
    w = World(tmp_path)
    feed = Feed("skew")
    booked, authorized, arrived = knee_case_through_claim(feed)[:3]
    pipeline = Pipeline(master_data(), IDS)
    want = [o for e in (booked, authorized, arrived) for o in pipeline.feed(e)]
    assert not [o for o in want if isinstance(o, SlaBreached)]

    def upstream(at) -> list[tuple[str, bytes]]:
        return [(TIME_HEADER, str(to_ms(at)).encode())]

    async with w.agent("s2c-process").test_context() as process:
        for event in (booked, arrived, authorized):  # the encounter overtook the authorization
            await w.put(
                process, CASE_KEY, w.encode(event), partition=1, headers=upstream(event.occurred_at)
            )
        await w.announce(process, "process", 1, arrived.occurred_at)

    assert w.sent_to(w.t.topics.sla_breaches) == []
    saved = json.loads(w.t.tables["processes"][CASE_KEY])
    assert saved == json.loads(dumps(pipeline.processes[CASE_KEY.decode()].to_dict()))
    sent = [w.decode(s.value)[1]["header"]["command_id"] for s in w.sent_to(w.t.topics.commands)]
    assert sent == [c.header.command_id for c in want if isinstance(c, Command)]


async def test_an_event_never_overtakes_an_earlier_event_of_its_source_key(tmp_path) -> None:
    """The OR moves a booked case to day 21 at hour 10, then sends a second move, to day 28,
    stamped hour 5 (a feed that dates a correction by the change it corrects). Replay applies
    them as they came, so the case ends on day 28. The watermark is at hour 6 when the moves
    arrive: the first waits for hour 10, and the second, although its own time has passed,
    waits behind it instead of being applied first and leaving the case on day 21."""
    w = World(tmp_path)
    feed = Feed("key-order")
    booked = knee_case_scheduled(feed)

    def moved(hours: float, days: int) -> Event:
        return feed(
            "CaseRescheduled",
            hours,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=days),
            planned_minutes=90,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-3",
        )

    first, second = moved(10, 21), moved(5, 28)
    pipeline = Pipeline(master_data(), IDS)
    want = [o for e in (booked, first, second) for o in pipeline.feed(e)]
    final = pipeline.processes[CASE_KEY.decode()]
    assert final.to_dict()["scheduled_start"] == T0 + timedelta(days=28)

    async with w.agent("s2c-process").test_context() as process:
        await w.announce(process, "process", 1, T0)
        await w.put(process, CASE_KEY, w.encode(booked), partition=1)
        await w.announce(process, "process", 1, T0 + timedelta(hours=6))
        for event in (first, second):
            await w.put(process, CASE_KEY, w.encode(event), partition=1)
        await w.announce(process, "process", 1, first.occurred_at)

    saved = json.loads(w.t.tables["processes"][CASE_KEY])
    assert saved == json.loads(dumps(final.to_dict()))
    sent = [w.decode(s.value)[1]["header"]["command_id"] for s in w.sent_to(w.t.topics.commands)]
    assert sent == [c.header.command_id for c in want if isinstance(c, Command)]
