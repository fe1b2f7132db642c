"""INGEST (`s2c.events`): decode, validate, route. Bad input goes to the dead-letter topic.

Values are forwarded as the original bytes: the wire format is already what the next stage reads.
An event keyed by its appointment or case goes straight to the process stage and, when it carries
an account, as a registration copy (header `s2c.control: register`) to the link stage; an event
keyed by its account goes through the link stage (one path per source key, tables/routing.py).
Events are taken in batches like the stateful stages take theirs: every forward of a batch is
queued in the outbox, the batch waits once for the broker to acknowledge them all, and only
then are its offsets free to be committed. A worker killed between a commit and the delivery of a
forward would otherwise lose that event without a trace.

An event that cannot be true (tables/plausible.py: a business time far from the partition's
stream time or the wall clock, an empty or malformed business key, an amount of the wrong sign
or size) is dead-lettered with the rule it broke, and never moves stream time.

Each partition's stream time moves only after the event's forward is queued in the outbox, and
`InputProgress` notes every record taken: the watermark announcer (watermarks.py) reads both.

A forward to a link or process partition whose path in memory is open (this worker owns it,
paths.py) is not sent: the event is applied there in this batch (stages.py), its registration
copy too, and stream time moves after that, as after a forward.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust

from s2c.streams.runtime.loop import run_stage
from s2c.streams.runtime.watermarks import InputProgress
from s2c.streams.topology.context import CONTROL_HEADER, REGISTRATION, Topology
from s2c.streams.topology.stages import Stages
from s2c.tables.plausible import refusal
from s2c.tables.routing import route, unroutable

REGISTER = [(CONTROL_HEADER, REGISTRATION)]


def attach_ingest(t: Topology, stages: Stages, progress: InputProgress) -> None:
    link_topic, process_topic = t.topics.link.name, t.topics.process.name
    paths = stages.paths

    @t.app.agent(t.events_t, name="s2c-ingest")
    async def ingest(stream: faust.StreamT) -> None:
        # With paths in memory, master data first, as the process stage: ingest may apply
        # events there.
        await t.wait_until_ready(need_master=t.settings.local_stages)
        await run_stage(
            stream,
            stages.ingest_checkpoint,
            ingest_one,
            ingest_failed,
            stages.lock,
            lambda: paths.settled(link_topic, process_topic),
        )

    async def ingest_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "ingest", exc)

    def to_link(
        link_key: str, event: Any, raw: bytes, registers: bool, at: datetime, origin: Any
    ) -> None:
        key = link_key.encode()
        partition = paths.local(link_topic, key)
        if partition is not None:
            stages.link_event(partition, link_key, event, raw, registers, at, origin)
        else:
            t.outbox.send(link_topic, key, raw, headers=REGISTER if registers else None)

    async def ingest_one(message: Any) -> None:
        progress.took(message.partition, message.offset)
        parsed = await t.load_event(message, "ingest")
        if parsed is None:
            return
        stream_time = t.clock.now("ingest", message.partition)
        refused = refusal(parsed, stream_time, datetime.now(UTC), t.settings.plausibility)
        if refused is not None:  # dead-lettered before it can move stream time
            await t.dead_letter(message, refused.reason, "ingest", refused, refused.detail)
            return
        t.metrics.child(t.metrics.events_in, parsed.schema).inc()
        where = route(parsed, t.ids)  # one path per source key (see tables/routing.py)
        raw, link_key = message.value, where.link_key
        # The stages apply it once their watermark reaches its own time (and after the earlier
        # events of its source key): s2c.streams.runtime.reorder.
        at = parsed.occurred_at
        origin = (message.topic, message.partition, message.offset)
        if where.via_link and link_key is not None:
            to_link(link_key, parsed, raw, False, at, origin)
        elif where.process_id is not None:
            key = where.process_id.encode()
            partition = paths.local(process_topic, key)
            if partition is not None:
                stages.process_event(partition, where.process_id, parsed, at, origin)
            else:
                t.outbox.send(process_topic, key, raw)
            if link_key is not None:  # the link stage records the account's link
                to_link(link_key, parsed, raw, True, at, origin)
        now = t.clock.observe("ingest", message.partition, parsed.occurred_at)
        if where.link_key is None and where.process_id is None:
            t.sink.emit([unroutable(parsed, now)])
