"""The worker's outbox (streams/runtime/outbox.py) against the real broker.

Agents write a batch's states only after `drain` returns, so `drain` must mean "the broker has
every record queued before me", must fail when the broker refused one (and keep failing: the
agent that queued it must not write a state that depends on it), must report the changelog
offsets the tables persist, and must place keys where Faust's partitioner would.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka.admin import AdminClient, NewTopic
from stackkit import read_topic

from s2c.streams.runtime.outbox import KafkaOutbox, OutboxError
from s2c.streams.settings import Settings

pytestmark = pytest.mark.integration


def _topic(settings: Settings, partitions: int = 4, config: dict[str, str] | None = None) -> str:
    name = f"outbox-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.confluent_config())
    for future in admin.create_topics(
        [NewTopic(name, partitions, 1, config=config or {})]
    ).values():
        future.result(30)
    return name


def test_drain_means_acknowledged_and_offsets_are_reported(stack: Settings) -> None:
    asyncio.run(_acknowledged_and_offsets(stack))


async def _acknowledged_and_offsets(stack: Settings) -> None:
    topic = _topic(stack)
    outbox = KafkaOutbox(stack, {topic})
    keys = [f"APPT-{n}".encode() for n in range(200)]
    for key in keys:
        outbox.send(topic, key, b"state of " + key)
    outbox.send(topic, b"pinned", b"to partition 2", partition=2)
    await outbox.drain()

    messages = read_topic(stack, topic, expected=len(keys) + 1, timeout=30, settle=0.5)
    assert len(messages) == len(keys) + 1  # all there the moment drain returned
    partitioner = DefaultPartitioner()
    for msg in messages:
        if msg.key() == b"pinned":
            assert msg.partition() == 2
        else:  # Faust (aiokafka) would have put the key in the same partition
            assert msg.partition() == partitioner(msg.key(), [0, 1, 2, 3], [0, 1, 2, 3])
    last = {}
    for msg in messages:
        last[msg.partition()] = max(last.get(msg.partition(), -1), msg.offset())
    assert outbox.offsets_of(topic) == last
    assert outbox.offsets_of(topic) == {}  # handed out once

    await asyncio.wait_for(outbox.drain(), 1)  # nothing queued since: returns at once


def test_a_refused_record_fails_every_later_drain(stack: Settings) -> None:
    asyncio.run(_refused(stack))


async def _refused(stack: Settings) -> None:
    small = _topic(stack, partitions=1, config={"max.message.bytes": "2000"})
    fine = _topic(stack, partitions=1)
    outbox = KafkaOutbox(stack)
    outbox.send(fine, b"CASE-1", b"a command")
    outbox.send(small, b"CASE-1", b"x" * 50_000)  # the broker refuses it: too large
    with pytest.raises(OutboxError, match="refused"):
        await outbox.drain()
    outbox.send(fine, b"CASE-2", b"another command")
    with pytest.raises(OutboxError, match="refused"):
        await outbox.drain()
