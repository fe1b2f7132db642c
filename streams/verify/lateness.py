"""Which events of an input came later than the allowed lateness, and which instances they touch.

The README's rule ("When live equals replay"): live outputs equal replay's when every event comes at
most the allowed lateness (`S2C_DEADLINE_GRACE_HOURS`) behind the stream time of the events before
it. Replay's stream time is the largest business time of every event read so far, in input order;
a live stage's watermark never passes the stream time of the event's own partition before the event
(a stage announces its time only after forwarding what it read), and a partition's time is never
ahead of the input's. So an event that is no later than the grace behind the input's stream time
meets the same deadlines live as in replay, and one later than that may not: replay has already
fired what it settles, live may or may not have, depending on how the partitions interleaved.

With an allowed lateness above zero the rule has a second kind of event: one that arrives behind
stream time but within the lateness. Its instance may have a deadline before the event's time but
within the lateness of it, which replay (whose stream time is ahead) fires before the event and a
live watermark may not; such arrivals are counted in `behind` and their instances excused too.

`Lateness.observe` is fed the input in the order it was published, each event with the partition
it landed on when known; it counts late events by the input's stream time (the rule) and, of those,
how many were late on their own partition too (what the live stage itself could see).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from s2c.tables.events import Event
from s2c.tables.ids import IdKey
from s2c.tables.routing import route


@dataclass
class Lateness:
    grace: timedelta
    ids: IdKey
    events: int = 0
    late_events: int = 0  # arrivals: a resend of an event counts again
    late_on_partition: int = 0
    most_late: timedelta = timedelta(0)
    behind: int = 0  # arrivals on time but behind stream time (counted only with a lateness > 0)
    # the late events' own process ids and account refs (resolved to processes by `touched`)
    _late_keys: set[str] = field(default_factory=set)
    _late_ids: set[str] = field(default_factory=set)
    # account ref of every event that reaches its instance through the link stage: a work item
    # raised there before the account is linked names no process, only the event
    _account_of: dict[str, str] = field(default_factory=dict)
    _stream_time: datetime | None = None
    _partition_time: dict[int, datetime] = field(default_factory=dict)

    def observe(self, event: Event, partition: int | None = None) -> None:
        self.events += 1
        at = event.occurred_at
        behind = self._stream_time - at if self._stream_time is not None else timedelta(0)
        if self._stream_time is None or at > self._stream_time:
            self._stream_time = at
        own = self._partition_time.get(partition) if partition is not None else None
        if partition is not None and (own is None or at > own):
            self._partition_time[partition] = at
        where = route(event, self.ids)
        if where.via_link and where.link_key is not None:
            self._account_of[event.event_id] = where.link_key
        if behind <= timedelta(0) or (behind <= self.grace and not self.grace):
            return
        if behind <= self.grace:
            # On time, but behind stream time with an allowed lateness above zero: replay may
            # already have fired a deadline of its instance that lies between the event's time
            # less the lateness and replay's stream time less it; the live watermark may not.
            self.behind += 1
            self._late_ids.add(event.event_id)
            self._late_keys.update(k for k in (where.process_id, where.link_key) if k is not None)
            return
        self._late_ids.add(event.event_id)
        self.late_events += 1
        self.most_late = max(self.most_late, behind)
        if own is not None and own - at > self.grace:
            self.late_on_partition += 1
        self._late_keys.update(k for k in (where.process_id, where.link_key) if k is not None)

    def is_late(self, event_id: str) -> bool:
        return event_id in self._late_ids

    def touched(self, links: Mapping[str, str | None]) -> frozenset[str]:
        """Process ids and account refs the late events touch: their own process, their account,
        and the process that account is linked to (`links`: account ref -> process id, replay's
        final link states), which is where an account-keyed event (a claim, a payment) lands."""
        keys = set(self._late_keys)
        keys.update(p for k in self._late_keys if (p := links.get(k)) is not None)
        return frozenset(keys)

    def rule(self, links: Mapping[str, str | None]) -> Callable[[Mapping[str, Any]], bool]:
        """Whether an output record concerns only an instance a late event touched: its process
        (a command's header names it), else the account of the event it names, else that event."""
        touched = self.touched(links)

        def allowed(record: Mapping[str, Any]) -> bool:
            header = record.get("header")
            process_id = header["process_id"] if header else record.get("process_id")
            if process_id is not None:
                return process_id in touched
            event_id = record.get("event_id")
            if event_id is None:
                return False
            return event_id in self._late_ids or self._account_of.get(event_id) in touched

        return allowed
