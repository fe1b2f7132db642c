"""Watermarks: a process partition fires deadlines only as far as all its upstreams have got.

Riverside's process partition is fed by four ingest partitions and four link partitions. While a
backlog drains, ingest partition 1 (bookings) may be weeks ahead of the link path that carries
the discharge and the claim; the partition's watermark must wait for the slowest of them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from faust.types import TP as TopicPartition

from s2c.streams.runtime.watermarks import (
    IDLE_SECONDS,
    InputProgress,
    Upstream,
    held_by,
    noted,
    of_ms,
    to_ms,
    watermark_ms,
    worth_announcing,
)
from s2c.streams.topology.announce import sources_of

MONDAY = to_ms(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
HOUR = 3_600_000
LINK = sources_of("link", 2)
PROCESS = sources_of("process", 2)


def heard(*announcements: tuple[str, int | None, bool]) -> dict:
    marks: dict = {}
    for source, at, idle in announcements:
        marks = noted(marks, source, at, idle) or marks
    return marks


def test_sources_are_every_ingest_partition_and_for_the_process_stage_every_link_partition():
    assert LINK == ("ingest:0", "ingest:1")
    assert PROCESS == ("ingest:0", "ingest:1", "link:0", "link:1")


def test_nothing_is_due_until_every_source_has_announced():
    marks = heard(("ingest:0", MONDAY, False), ("link:0", MONDAY, False), ("link:1", MONDAY, False))
    assert watermark_ms(marks, PROCESS) is None  # ingest:1 has said nothing yet


def test_the_slowest_source_holds_the_watermark():
    marks = heard(
        ("ingest:0", MONDAY + 500 * HOUR, False),
        ("ingest:1", MONDAY + 3 * HOUR, False),
        ("link:0", MONDAY + 2 * HOUR, False),
        ("link:1", MONDAY + 7 * HOUR, False),
    )
    assert watermark_ms(marks, PROCESS) == MONDAY + 2 * HOUR


def test_an_idle_source_holds_nobody_back_and_all_idle_means_the_latest_time_heard():
    marks = heard(("ingest:0", None, True), ("ingest:1", MONDAY + 9 * HOUR, False))
    assert watermark_ms(marks, LINK) == MONDAY + 9 * HOUR
    marks = heard(("ingest:0", MONDAY + 4 * HOUR, True), ("ingest:1", MONDAY + 9 * HOUR, True))
    assert watermark_ms(marks, LINK) == MONDAY + 9 * HOUR
    assert watermark_ms(heard(("ingest:0", None, True), ("ingest:1", None, True)), LINK) is None


def test_a_source_that_woke_up_holds_the_watermark_again():
    marks = heard(
        ("ingest:0", MONDAY, True),
        ("ingest:1", MONDAY + 9 * HOUR, False),
        ("ingest:0", MONDAY + HOUR, False),
    )
    assert watermark_ms(marks, LINK) == MONDAY + HOUR


def test_announcements_never_move_a_source_back_and_repeats_change_nothing():
    marks = heard(("ingest:0", MONDAY + 5 * HOUR, False))
    # A restarted upstream re-reads its backlog from the last commit and announces an older time.
    assert noted(marks, "ingest:0", MONDAY + HOUR, False) is None
    assert noted(marks, "ingest:0", None, False) is None
    assert noted(marks, "ingest:0", MONDAY + 5 * HOUR, True) == {
        "ingest:0": [MONDAY + 5 * HOUR, True]
    }


def test_the_marks_live_in_the_stage_timer_table_per_partition():
    table: dict[bytes, bytes] = {}
    upstream = Upstream(table, LINK)
    upstream.note(3, b'{"source": "ingest:0", "at": %d, "idle": false}' % MONDAY)
    upstream.note(3, b'{"source": "ingest:1", "at": null, "idle": true}')
    assert upstream.watermark(3) == of_ms(MONDAY) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert upstream.watermark(0) is None  # another partition heard nothing
    assert list(table) == [b"3:upstream"]


def test_a_partition_announces_news_not_every_millisecond_of_live_traffic():
    # Events wait for the watermark (reorder.py): a second of business time is worth telling.
    assert worth_announcing(None, (None, True))  # first word: idle
    assert worth_announcing((None, True), (MONDAY, False))  # busy again
    assert not worth_announcing((MONDAY, False), (MONDAY + 999, False))
    assert worth_announcing((MONDAY, False), (MONDAY + 1_000, False))
    assert worth_announcing((MONDAY, False), (MONDAY + 1_000, True))  # idle: say so at once
    assert not worth_announcing((MONDAY, True), (MONDAY, True))


def test_health_names_who_holds_a_watermark_back():
    marks = heard(("ingest:0", MONDAY + 9 * HOUR, False), ("link:0", MONDAY + 2 * HOUR, False))
    assert held_by(marks, PROCESS) == ["ingest:1", "link:1"]  # not heard from yet
    marks = heard(
        ("ingest:0", MONDAY + 9 * HOUR, False),
        ("ingest:1", None, True),
        ("link:0", MONDAY + 2 * HOUR, False),
        ("link:1", MONDAY + 2 * HOUR, False),
    )
    assert held_by(marks, PROCESS) == ["link:0", "link:1"]
    drained = heard(
        ("ingest:0", MONDAY, True),
        ("ingest:1", None, True),
        ("link:0", MONDAY, False),
        ("link:1", MONDAY, False),
    )
    assert held_by(drained, PROCESS) == []  # everything has arrived: the links are not behind


class FakeConsumer:
    """The log end the broker reports, the stale one the consumer cached, and its commits."""

    def __init__(self, broker_end: int, cached_end: int, committed: dict | None = None) -> None:
        self.broker_end, self.cached_end = broker_end, cached_end
        self._committed_offset = committed or {}

    def highwater(self, tp: object) -> int:
        return self.cached_end

    async def highwaters(self, *tps: object) -> dict:
        return {tp: self.broker_end for tp in tps}


TP = TopicPartition("s2c.events", 0)


def idle_after_quiet(progress: InputProgress, consumer: FakeConsumer) -> bool:
    for partition, (offset, _) in list(progress._seen.items()):
        progress._seen[partition] = (offset, time.monotonic() - IDLE_SECONDS - 1)
    return asyncio.run(progress.idle(consumer, TP))


def test_an_ingest_partition_drained_by_the_brokers_log_end_is_idle() -> None:
    progress = InputProgress()
    progress.took(0, 99)
    assert idle_after_quiet(progress, FakeConsumer(broker_end=100, cached_end=100))


def test_a_partition_the_consumer_stopped_fetching_is_not_idle() -> None:
    # The cached highwater says 100 and everything up to it was taken, but the broker's log has
    # 400 more records: they are not arrived events' absence, they are a backlog.
    progress = InputProgress()
    progress.took(0, 99)
    assert not idle_after_quiet(progress, FakeConsumer(broker_end=500, cached_end=100))


def test_a_partition_taken_nothing_from_counts_from_its_commit() -> None:
    progress = InputProgress()
    assert asyncio.run(progress.idle(FakeConsumer(0, 0), TP))  # empty log, nothing committed
    assert not asyncio.run(progress.idle(FakeConsumer(50, 50), TP))  # fetched, nothing taken
    assert asyncio.run(progress.idle(FakeConsumer(50, 50, {TP: 50}), TP))


def test_a_partition_given_away_and_back_is_counted_afresh() -> None:
    progress = InputProgress()
    progress.took(0, 9)
    progress.keep_only({1})  # partition 0 went to another worker, which took 90 more
    assert asyncio.run(progress.idle(FakeConsumer(100, 100, {TP: 100}), TP))


def test_when_ingest_and_link_partitions_are_all_idle_the_last_minute_is_due():
    end = MONDAY + 9 * HOUR + 30_000  # within a minute of the last announcement of a busy link
    marks = heard(
        ("ingest:0", end, True),
        ("ingest:1", MONDAY + 4 * HOUR, True),
        ("link:0", end, True),
        ("link:1", end, True),
    )
    assert watermark_ms(marks, PROCESS) == end
    assert held_by(marks, PROCESS) == []


def test_an_idle_link_partition_counts_as_busy_once_an_ingest_partition_is_busy_again():
    # ingest:1 took a claim and forwarded it through link:0, which has not taken it yet: its
    # idle word from before must not let ingest:1's new time fire the claim's deadlines.
    marks = heard(
        ("ingest:0", MONDAY + 9 * HOUR, True),
        ("ingest:1", MONDAY + 30 * HOUR, False),
        ("link:0", MONDAY + 9 * HOUR, True),
        ("link:1", MONDAY + 9 * HOUR, True),
    )
    assert watermark_ms(marks, PROCESS) == MONDAY + 9 * HOUR
    assert held_by(marks, PROCESS) == ["link:0", "link:1"]


def test_an_idle_partition_announces_every_move_of_its_time():
    assert worth_announcing((MONDAY, True), (MONDAY + 1_000, True))
    assert not worth_announcing((MONDAY, False), (MONDAY + 999, False))
