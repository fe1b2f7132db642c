"""The instance query shows the instance's deviations from the reference path.

Dr Okafor's knee arthroscopy at Riverside is moved three times before surgery: the operator
asking `GET /process/CASE-C-1001/` sees two rework loops, each with the reschedule it blames and
its business time, computed by the same core step the live process stage runs.
"""

from __future__ import annotations

import json
from datetime import timedelta

from core_world import T0, Feed, knee_case_scheduled, master_data

from s2c.streams.topology.api import describe
from s2c.tables import core
from s2c.tables.codec import json_default


def test_the_instance_query_lists_the_rework_of_a_case_moved_three_times() -> None:
    feed, master = Feed("describe"), master_data()
    booked = knee_case_scheduled(feed)
    state, _ = core.transition(None, booked, master, booked.occurred_at, "CASE-C-1001")
    moves = []
    for hours, days in ((5, 15), (6, 16), (7, 14)):
        moved = feed(
            "CaseRescheduled",
            hours,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=days),
            planned_minutes=90,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-3",
        )
        moves.append(moved)
        state, _ = core.transition(state, moved, master, moved.occurred_at)
    shown = json.loads(json.dumps(describe(state, []), default=json_default))
    assert shown["deviations"] == [  # T0 is 08:00; the second and third moves at +6 h, +7 h
        {
            "kind": "REWORK_RESCHEDULE",
            "event_id": moves[1].event_id,
            "at": "2026-03-02T14:00:00.000Z",
        },
        {
            "kind": "REWORK_RESCHEDULE",
            "event_id": moves[2].event_id,
            "at": "2026-03-02T15:00:00.000Z",
        },
    ]
