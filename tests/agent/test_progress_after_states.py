"""A batch's changelog records: the states first, acknowledged, and only then the progress.

A worker killed while its changelog records are in flight may have delivered some and not others,
and whoever recovers the partition reads the batch's input again. If the process timers (which
hold the watermark the partition heard, the timer index and the kept stream time) could arrive
without the process states, the event read again would meet a watermark ahead of it and fire a
deadline before it that the first reading fired after it: an `AUTH_MISSING_48H_BEFORE_SURGERY`
for a case whose reschedule had come in time (seen once in a verify run under kill -9s). So the
agents wait for the states' changelog records before they queue the progress's.
"""

from __future__ import annotations

from agentkit import World
from core_world import IDS, Feed, charge, knee_case_scheduled

DRAIN = "<drain>"


def changelog_of(w: World, table: str) -> str:
    return w.t.tables[table].changelog_topic.get_topic_name()


def record_order(w: World) -> list[str]:
    """The outbox's sends (by topic) and drains, in order."""
    marks: list[str] = []
    sends, drains = w.producer.send, w.producer.drain

    def send(topic, key, value, partition=None, headers=None) -> None:
        marks.append(topic)
        sends(topic, key, value, partition, headers)

    async def drain() -> None:
        marks.append(DRAIN)
        await drains()

    w.producer.send, w.producer.drain = send, drain
    return marks


def assert_progress_after_states(marks: list[str], states: str, progress: str) -> None:
    assert states in marks and progress in marks  # the event wrote both
    # From the batch that wrote the states on: the event waited (reorder.py), and the batches
    # before, its own and the announcements', wrote only progress.
    first_state = marks.index(states)
    marks = marks[max((i for i in range(first_state) if marks[i] == DRAIN), default=0) :]
    last_state = max(i for i, m in enumerate(marks) if m == states)
    first_progress = marks.index(progress)
    assert DRAIN in marks[last_state:first_progress]
    assert DRAIN in marks[first_progress:]  # and the progress is acknowledged too


async def test_the_process_timers_changelog_follows_the_acknowledged_states(tmp_path) -> None:
    w = World(tmp_path)
    marks = record_order(w)
    booked = knee_case_scheduled(Feed("progress"))

    async with w.agent("s2c-process").test_context() as process:
        await w.put(process, b"CASE-C-1001", w.encode(booked), partition=1)
        await w.announce(process, "process", 1, booked.occurred_at)  # applied from here

    states, timers = changelog_of(w, "processes"), changelog_of(w, "process_timers")
    assert_progress_after_states(marks, states, timers)


async def test_the_link_timers_changelog_follows_the_acknowledged_links(tmp_path) -> None:
    w = World(tmp_path)
    marks = record_order(w)
    # A charge for an account no appointment or case has named yet: parked, with a deadline.
    early = charge(Feed("progress"), 1)

    async with w.agent("s2c-link").test_context() as link:
        await w.put(link, IDS.account_ref("ACCT-7001").encode(), w.encode(early), partition=2)
        await w.announce(link, "link", 2, early.occurred_at)  # applied from here

    assert_progress_after_states(marks, changelog_of(w, "links"), changelog_of(w, "link_timers"))
