"""`OutputSink.deliver` returns only when the broker has acknowledged every output.

The agents save an instance's state right after the outputs are acknowledged. If that came before
the acknowledgements, a worker killed in between would come back with the booking marked applied
and the ERP would never receive the reservations for Dr Okafor's knee arthroscopy. The sink must
still queue all outputs in the outbox first (one drain for the batch, not one per command).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentkit import InMemoryRegistry, RecordingOutbox
from core_world import Feed, encounter_started, knee_case_scheduled, master_data
from prometheus_client import CollectorRegistry

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.settings import Settings
from s2c.streams.sink import OutputSink
from s2c.streams.topics import declare
from s2c.tables import core
from s2c.tables.outputs import Command, Forward

TOPICS = declare(Settings())


class GatedOutbox(RecordingOutbox):
    """An outbox whose drain waits until the test says how the broker answered."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent_at_drain: int | None = None

    async def drain(self) -> None:
        self.sent_at_drain = len(self.sent)
        await self.gate


def booking_outputs() -> list[Any]:
    feed = Feed("sink")
    booked = knee_case_scheduled(feed)
    _, outputs = core.transition(None, booked, master_data(), booked.occurred_at, "CASE-C-1001")
    return outputs + [Forward("CASE-C-1001", encounter_started(feed))]


def new_sink() -> tuple[OutputSink, GatedOutbox, PipelineMetrics]:
    outbox = GatedOutbox()
    metrics = PipelineMetrics(CollectorRegistry())
    codec = AvroCodec(InMemoryRegistry(), lambda name: load_catalog().resolved_json(name))
    return OutputSink(outbox, TOPICS, codec, metrics), outbox, metrics


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_deliver_waits_for_every_acknowledgement() -> None:
    sink, outbox, metrics = new_sink()
    outputs = booking_outputs()
    commands = [o for o in outputs if isinstance(o, Command)]
    assert len(commands) == 4

    delivery = asyncio.ensure_future(sink.deliver(outputs))
    await settle()
    by_topic = [(s.topic, s.key) for s in outbox.sent]
    assert by_topic.count((TOPICS.commands.name, b"CASE-C-1001")) == 4
    assert by_topic.count((TOPICS.process.name, b"CASE-C-1001")) == 1
    assert outbox.sent_at_drain == len(outbox.sent)  # everything queued before the one drain
    assert not delivery.done()  # nothing acknowledged yet

    outbox.gate.set_result(None)
    await asyncio.wait_for(delivery, 1)
    assert (
        metrics.registry.get_sample_value("s2c_commands_out_total", {"command_type": "ReserveRoom"})
        == 1
    )


async def test_a_refused_send_fails_the_delivery() -> None:
    sink, outbox, _ = new_sink()
    delivery = asyncio.ensure_future(sink.deliver(booking_outputs()))
    await settle()
    outbox.gate.set_exception(ConnectionError("broker refused ReserveSupplies"))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(delivery, 1)


async def test_emit_only_queues() -> None:
    sink, outbox, _ = new_sink()
    sink.emit(booking_outputs())
    assert len(outbox.sent) == 5 and outbox.sent_at_drain is None
    sink.emit([])
    assert len(outbox.sent) == 5
