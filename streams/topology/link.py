"""LINK (`s2c.link`, keyed by account number): which process instance an account belongs to.

Loads the account's `LinkState`, fires its due deadlines (parked events that never got a link
become work items), applies the event, saves, and forwards what the core released.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import faust

from s2c.streams.topology.context import Topology
from s2c.streams.topology.timers import TimerIndex
from s2c.tables.codec import dumps
from s2c.tables.link import LinkState, link_on_deadline, link_transition


def attach_link(t: Topology) -> None:
    links = t.tables["links"]
    timers = TimerIndex(t.tables["link_timers"])

    def load(key: bytes) -> LinkState | None:
        stored = links.get(key)
        return LinkState.from_dict(json.loads(stored)) if stored else None

    def save(key: bytes, partition: int, state: LinkState, now: datetime) -> None:
        links[key] = dumps(state.to_dict()).encode()
        timers.schedule(partition, key, state.next_deadline(), now)

    async def fire_due(partition: int, now: datetime) -> None:
        for key in timers.due(partition, now):
            state = load(key)
            if state is None or (state.next_deadline() or now) > now:
                if state is not None:
                    timers.schedule(partition, key, state.next_deadline(), now)
                continue
            state, outputs = link_on_deadline(state, now)
            await t.sink.deliver(outputs)
            save(key, partition, state, now)

    @t.app.agent(t.link_t, name="s2c-link", concurrency=1)
    async def link(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        async for event in stream.events():
            message = event.message
            parsed = await t.load_event(message, "link")
            if parsed is None:
                continue
            started = time.perf_counter()
            now = t.clock.observe("link", message.partition, parsed.occurred_at)
            await fire_due(message.partition, now)
            state, outputs = link_transition(load(message.key), parsed, now)
            if (due := state.next_deadline()) is not None and due <= now:
                state, expired = link_on_deadline(state, now)  # set in the past: fire at once
                outputs = outputs + expired
            await t.sink.deliver(outputs)  # forwards land before the link state that released them
            save(message.key, message.partition, state, now)
            t.metrics.processing_seconds.labels(stage="link").observe(time.perf_counter() - started)
