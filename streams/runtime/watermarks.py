"""Watermarks: the event time up to which every upstream partition of a stage partition has got.

Deadlines (parked events, SLAs) fire on event time. A partition's own stream time (the largest
business time seen there) is not enough downstream of a repartition: a process partition is fed
by every ingest partition directly and by every link partition, and while a backlog drains one
path can run days ahead of the other, so a deadline fired on the fast path's time beat the claim
still queued on the slow one (two `make demo` runs gave 104 and 133 breaches for one day). So each
upstream partition announces its progress with a control record (header `s2c.control:
watermark`) on every partition downstream of it, and a stage partition fires deadlines only up to
the smallest progress of its upstreams:

- an ingest partition announces its stream time, or that it is idle: drained up to its log end
  as the broker reports it (not the consumer's cached view) and without a record for
  `IDLE_SECONDS`, so an empty or quiet partition holds nobody back;
- a link partition announces its own watermark (the smallest of its ingest sources), and that it
  is idle once every ingest partition is idle and its own input is drained; that idleness counts
  downstream only while every ingest partition is still idle there (a busy one may be forwarding
  through it).
  The announcement follows, on the same process partition, every forward the link made before it,
  so an event on its way through the link reaches its instance before any deadline it could meet;
- a partition that has not heard from all its sources yet fires nothing; when every source is
  idle, the largest time any of them announced counts (everything there is has arrived).

A source's announcements only move forward (a restarted upstream re-reading its backlog cannot
pull a watermark back). They are kept in the stage's timer table under `<partition>:upstream`, so
they move with the partition on a rebalance and come back from its changelog after a crash.
What stays order-dependent is only a record that arrives late at its own ingest partition (after
a later one there): it meets the deadlines its partition's time already passed, as it would
have in a replay.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from s2c.streams.runtime.overrides.stream import committed_offset
from s2c.tables.codec import loads

log = logging.getLogger(__name__)
WATERMARK = b"watermark"
ANNOUNCE_SECONDS = 0.5
# A partition announces when its time moved this much (or it turned idle or busy). Events wait
# downstream until the watermark reaches them (reorder.py), so a step is a delay every event
# may see; below a second, live traffic would add an announcement per partition pair and tick.
ANNOUNCE_STEP_MS = 1_000
IDLE_SECONDS = 2.0
_SLOT = "{}:upstream"

Marks = dict[str, list]  # source ("ingest:3", "link:0") -> [event time in ms or None, idle]


def noted(marks: Marks, source: str, at_ms: int | None, idle: bool) -> Marks | None:
    """`marks` with the announcement applied (time never moves back), or None if unchanged."""
    old = marks.get(source)
    if old is not None and old[0] is not None and (at_ms is None or at_ms < old[0]):
        at_ms = old[0]
    new = [at_ms, bool(idle)]
    return None if old == new else {**marks, source: new}


def _idle(marks: Marks, sources: tuple[str, ...]) -> dict[str, bool]:
    """Which heard sources count as idle. A link partition's idleness stands only while every
    ingest partition is idle too: once one is busy again, what it forwards through a link
    partition may be on its way there, and the link partition's next announcement follows it."""
    ingest_idle = all(marks[s][1] for s in sources if s.startswith("ingest:") and s in marks)
    return {
        s: bool(marks[s][1]) and (ingest_idle or not s.startswith("link:"))
        for s in sources
        if s in marks
    }


def watermark_ms(marks: Marks, sources: tuple[str, ...]) -> int | None:
    """The smallest time of the sources that are not idle; None while one has not announced."""
    heard = [marks.get(source) for source in sources]
    if any(mark is None or (not mark[1] and mark[0] is None) for mark in heard):
        return None
    idle = _idle(marks, sources)
    active = [marks[s][0] for s in sources if not idle[s]]
    if any(at is None for at in active):
        return None  # a link partition idle before it ever had a time, its ingest busy again
    if active:
        return min(at for at in active if at is not None)
    times = [mark[0] for mark in heard if mark is not None and mark[0] is not None]
    return max(times) if times else None


def worth_announcing(last: tuple[int | None, bool] | None, mark: tuple[int | None, bool]) -> bool:
    """A first announcement, a change of idleness, time moved by `ANNOUNCE_STEP_MS`, or any move
    of an idle partition's time (the last minute of a stream must reach the stages too)."""
    if last is None or last[1] != mark[1] or last[0] is None:
        return last != mark
    if mark[1]:
        return mark[0] != last[0]
    return mark[0] is not None and mark[0] - last[0] >= ANNOUNCE_STEP_MS


def held_by(marks: Marks, sources: tuple[str, ...]) -> list[str]:
    """Who keeps the watermark behind: the sources not heard from yet, else the busy ones at the
    smallest time while another source has got further (none once everything has arrived)."""
    silent = [
        s for s in sources if marks.get(s) is None or (not marks[s][1] and marks[s][0] is None)
    ]
    if silent:
        return silent
    at = watermark_ms(marks, sources)
    if at is None or all(marks[s][0] is None or marks[s][0] <= at for s in sources):
        return []
    idle = _idle(marks, sources)
    return [s for s in sources if not idle[s] and marks[s][0] == at]


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def of_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Upstream:
    """What one stage's partitions have heard from their sources, over that stage's timer table
    (a get/set view: the agents pass their batched view, the announcer reads the table)."""

    def __init__(self, table: Any, sources: tuple[str, ...]) -> None:
        self._table, self.sources = table, sources
        self._last: dict[int, tuple[bytes | None, int | None]] = {}  # partition -> (stored, ms)

    def _stored(self, partition: int) -> bytes | None:
        return self._table.get(_SLOT.format(partition).encode())

    def marks(self, partition: int) -> Marks:
        return loads(self._stored(partition) or b"{}")

    def note(self, partition: int, announcement: bytes) -> None:
        body = loads(announcement)
        changed = noted(
            self.marks(partition), str(body["source"]), body.get("at"), bool(body.get("idle"))
        )
        if changed is not None:
            self._table[_SLOT.format(partition).encode()] = json.dumps(
                changed, sort_keys=True
            ).encode()

    def watermark_ms(self, partition: int) -> int | None:
        """Asked for every event: worked out again only when the stored marks changed."""
        stored = self._stored(partition)
        last = self._last.get(partition)
        if last is not None and last[0] == stored:
            return last[1]
        ms = watermark_ms(loads(stored or b"{}"), self.sources)
        self._last[partition] = (stored, ms)
        return ms

    def watermark(self, partition: int) -> datetime | None:
        ms = self.watermark_ms(partition)
        return None if ms is None else of_ms(ms)


class InputProgress:
    """Per partition of one input topic (events for ingest, link for the link stage): the next
    offset after the last record taken and when (monotonic). Bounded by the partition count."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, float]] = {}

    def took(self, partition: int, offset: int) -> None:
        self._seen[partition] = (offset + 1, time.monotonic())

    def next_offset(self, partition: int) -> int | None:
        """The offset after the last record taken from `partition`; None if none was."""
        seen = self._seen.get(partition)
        return None if seen is None else seen[0]

    def keep_only(self, partitions: set[int]) -> None:
        """Forget the partitions this worker no longer owns: if one comes back, what it took
        from it before says nothing of its log now."""
        for partition in set(self._seen) - partitions:
            del self._seen[partition]

    async def idle(self, consumer: Any, tp: Any) -> bool:
        """Drained and quiet for a while: every record up to the log end, as the broker tells it
        now, was taken, and none came for `IDLE_SECONDS`. The consumer's cached highwater is not
        enough: it only moves while the consumer fetches, and a busy worker stops fetching a
        partition whose records its agent has not taken yet, which looked idle and let deadlines
        fire past events still on the topic. A partition this worker took nothing from counts
        from its committed offset, the next one to read (records fetched but not taken are not
        drained); with nothing committed, only an empty partition is drained."""
        seen = self._seen.get(tp.partition)
        if seen is not None and time.monotonic() - seen[1] < IDLE_SECONDS:
            return False
        try:
            end = (await consumer.highwaters(tp)).get(tp)
            reached = seen[0] if seen is not None else committed_offset(consumer, tp) or 0
        except Exception as exc:  # noqa: BLE001 - unassigned meanwhile, a rebalance: not idle yet
            log.debug("idle check of %s skipped: %r", tp, exc)
            return False
        return end is not None and reached is not None and reached >= end
