"""INGEST (`s2c.events`): decode, validate, route. Bad input goes to the dead-letter topic.

Values are forwarded as the original bytes: the wire format is already what the next stage reads.
"""

from __future__ import annotations

import faust

from s2c.streams.topology.context import Topology
from s2c.tables.routing import route, unroutable


def attach_ingest(t: Topology) -> None:
    @t.app.agent(t.events_t, name="s2c-ingest")
    async def ingest(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        async for event in stream.events():
            message = event.message
            parsed = await t.load_event(message, "ingest")
            if parsed is None:
                continue
            t.metrics.events_in.labels(event_type=parsed.schema).inc()
            where = route(parsed)
            if where.link_key is not None:
                await t.link_t.send(key=where.link_key.encode(), value=message.value)
            elif where.process_id is not None:
                await t.process_t.send(key=where.process_id.encode(), value=message.value)
            else:
                now = t.clock.observe("ingest", message.partition, parsed.occurred_at)
                await t.sink.deliver([unroutable(parsed, now)])
