"""`OutputSink.deliver` returns only when the broker has acknowledged every output.

The agents save an instance's state right after `deliver` returns. If it returned before the
acknowledgements, a worker killed in between would come back with the booking marked applied and
the ERP would never receive the reservations for Dr Okafor's knee arthroscopy. The sink must still
hand all outputs to the producer first (one round trip for the batch, not one per command).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentkit import InMemoryRegistry
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


class PendingTopic:
    """A topic whose sends stay unacknowledged until the test resolves their futures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sends: list[tuple[bytes, asyncio.Future]] = []

    async def send(self, *, key: bytes, value: bytes, **_: Any) -> asyncio.Future:
        acked: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sends.append((key, acked))
        return acked


class TopicsOnlyApp:
    """The one thing OutputSink asks of the app: its output topics."""

    def __init__(self) -> None:
        self.topics: dict[str, PendingTopic] = {}

    def topic(self, name: str, **_: Any) -> PendingTopic:
        return self.topics.setdefault(name, PendingTopic(name))


def booking_outputs() -> list[Any]:
    feed = Feed("sink")
    booked = knee_case_scheduled(feed)
    _, outputs = core.transition(None, booked, master_data(), booked.occurred_at, "CASE-C-1001")
    return outputs + [Forward("CASE-C-1001", encounter_started(feed))]


def new_sink() -> tuple[OutputSink, TopicsOnlyApp, PipelineMetrics]:
    app = TopicsOnlyApp()
    metrics = PipelineMetrics(CollectorRegistry())
    codec = AvroCodec(InMemoryRegistry(), lambda name: load_catalog().resolved_json(name))
    process = app.topic(TOPICS.process.name)
    return OutputSink(app, TOPICS, codec, metrics, process), app, metrics  # type: ignore[arg-type]


def all_sends(app: TopicsOnlyApp) -> list[asyncio.Future]:
    return [fut for topic in app.topics.values() for _, fut in topic.sends]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_deliver_waits_for_every_acknowledgement() -> None:
    sink, app, metrics = new_sink()
    outputs = booking_outputs()
    commands = [o for o in outputs if isinstance(o, Command)]
    assert len(commands) == 4

    delivery = asyncio.ensure_future(sink.deliver(outputs))
    await settle()
    assert [k for k, _ in app.topics[TOPICS.commands.name].sends] == [b"CASE-C-1001"] * 4
    assert [k for k, _ in app.topics[TOPICS.process.name].sends] == [b"CASE-C-1001"]
    pending = all_sends(app)
    assert not delivery.done()  # everything handed over, nothing acknowledged yet

    for fut in reversed(pending[1:]):
        fut.set_result(None)
        await settle()
        assert not delivery.done()
    pending[0].set_result(None)
    await asyncio.wait_for(delivery, 1)
    assert metrics.registry.get_sample_value(
        "s2c_commands_out_total", {"command_type": "ReserveRoom"}) == 1


async def test_a_refused_send_fails_the_delivery() -> None:
    sink, app, _ = new_sink()
    delivery = asyncio.ensure_future(sink.deliver(booking_outputs()))
    await settle()
    first, *rest = all_sends(app)
    for fut in rest:
        fut.set_result(None)
    first.set_exception(ConnectionError("broker refused ReserveSupplies"))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(delivery, 1)


async def test_nothing_to_send_returns_at_once() -> None:
    sink, app, _ = new_sink()
    await asyncio.wait_for(sink.deliver([]), 1)
    assert all_sends(app) == []
