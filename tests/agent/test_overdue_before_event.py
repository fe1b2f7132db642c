"""A process partition whose watermark trails still reports a deadline its instance's own next
event proves passed, before applying that event, as replay does.

Dr Okafor's knee arthroscopy is booked for day 14, so Aetna's authorization is due on day 12. No
authorization comes, and on day 12 plus an hour the OR moves the surgery to day 21, which would
move the deadline to day 19. The partition has no watermark yet (its upstream partitions have
announced nothing), so no timer fires; the breach had happened in business time all the same.
"""

from __future__ import annotations

from datetime import timedelta

from agentkit import World
from core_world import DAY, IDS, T0, Feed, knee_case_scheduled, master_data

from s2c.tables.outputs import SlaBreached
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

    async with w.agent("s2c-process").test_context() as process:
        for event in (booked, moved):
            await w.put(process, CASE_KEY, w.encode(event), partition=1)

    got = [w.decode(s.value)[1] for s in w.sent_to(w.t.topics.sla_breaches)]
    ignore = {"detected_at"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in got] == [
        {k: v for k, v in r.items() if k not in ignore} for r in want
    ]
