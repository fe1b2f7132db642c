"""The outbox: one librdkafka producer (confluent-kafka) for every record a worker writes.

Outputs, forwards to the next stage, control records, dead letters and the tables' changelog
records all leave through it. Faust's own send path (Topic.send, then aiokafka's producer on the
event loop) cost about 30% of a busy worker's samples: each send built futures, callbacks and
produce requests in Python on the loop. librdkafka batches and talks to the broker on its own C
threads; a `produce` call only queues the record.

Agents queue records with `send` and wait for them with `drain`, once per batch: `drain` returns
when the broker has acknowledged every record queued so far, and raises if any was refused.
Keys are partitioned with Java's murmur2 (librdkafka's `murmur2_random`), as aiokafka and Faust
partition them: tables and the experience API's router find a key where Faust would.
Changelog records report their offsets (`offsets_of`), which the tables persist, as Faust does,
so a restart reads only what it has not got yet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from s2c.streams.settings import Settings

DRAIN_TIMEOUT_SECONDS = 120.0
FULL_QUEUE_WAIT_SECONDS = 0.05
# Agents drain once per batch, and a drain sends at once: a longer linger would only add latency.
LINGER_MS = 1
DRAIN_POLL_SECONDS = 0.0005  # how often a waiting drain serves delivery reports


class OutboxError(RuntimeError):
    """The broker refused a record, or did not acknowledge it in time."""


class Outbox(Protocol):
    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None: ...

    def offsets_of(self, topic: str) -> dict[int, int]: ...

    async def drain(self) -> None: ...


class _Batch:
    """The records queued between two drains, and how many of them the broker acknowledged."""

    __slots__ = ("sent", "acked")

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0

    def done(self) -> bool:
        return self.acked >= self.sent


class KafkaOutbox:
    """The worker's outbox on a confluent-kafka producer: idempotent, acks from all replicas.

    A drain waits for the records queued before it, not for the producer to go empty
    (`Producer.flush`): with three agents queueing all the time, a flush would also wait for
    every record the others queue meanwhile. Delivery reports are served on the event loop's
    own thread (`poll(0)` while a drain waits): served from another thread, each report's
    Python callback had to win the GIL from a busy loop, up to 5 ms apiece, which held a
    batch of a few dozen records for a quarter of a second."""

    def __init__(
        self, settings: Settings, tracked: set[str] | frozenset[str] = frozenset()
    ) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                **settings.confluent_config(),
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                "linger.ms": LINGER_MS,
            }
        )
        self._tracked = set(tracked)  # changelog topics whose offsets are kept
        self._offsets: dict[tuple[str, int], int] = {}
        self._refused: list[str] = []
        self._open = _Batch()
        self._unfinished: list[_Batch] = []

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        batch = self._open
        args: dict[str, Any] = {
            "key": key,
            "value": value,
            "on_delivery": lambda err, msg: self._delivered(batch, err, msg),
        }
        if partition is not None:
            args["partition"] = partition
        if headers:
            args["headers"] = headers
        while True:
            try:
                self._producer.produce(topic, **args)
                batch.sent += 1
                return
            except BufferError:  # librdkafka's queue is full: serve reports, let it send
                self._producer.poll(FULL_QUEUE_WAIT_SECONDS)

    def _delivered(self, batch: _Batch, err: Any, msg: Any) -> None:
        if err is not None:
            self._refused.append(f"{msg.topic()}[{msg.partition()}]: {err}")
        else:
            topic = msg.topic()
            if topic in self._tracked:
                slot = (topic, msg.partition())
                if msg.offset() > self._offsets.get(slot, -1):
                    self._offsets[slot] = msg.offset()
        batch.acked += 1

    def offsets_of(self, topic: str) -> dict[int, int]:
        """The last acknowledged offset per partition of a tracked topic since the last call."""
        taken = {p: o for (name, p), o in self._offsets.items() if name == topic}
        for partition in taken:
            self._offsets.pop((topic, partition), None)
        return taken

    async def drain(self) -> None:
        """Return once every record queued before the call is acknowledged (with the records
        of earlier drains still waiting); raise if the broker refused any record."""
        if self._open.sent:
            self._unfinished.append(self._open)
            self._open = _Batch()
        waiting = list(self._unfinished)
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while True:
            self._producer.poll(0)
            if all(batch.done() for batch in waiting) or self._refused:
                break
            if time.monotonic() > deadline:
                raise OutboxError(f"records not acknowledged in {DRAIN_TIMEOUT_SECONDS:.0f} s")
            await asyncio.sleep(DRAIN_POLL_SECONDS)
        self._unfinished = [batch for batch in self._unfinished if not batch.done()]
        if self._refused:
            # For good: the records after a refused one may be acknowledged, but the agent that
            # queued it must not write the state that depends on it, whichever agent drains.
            raise OutboxError(
                f"{len(self._refused)} records refused by the broker, first: {self._refused[0]}"
            )
