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
import logging
import threading
import time
from typing import Any, Protocol

from s2c.streams.settings import Settings

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_SECONDS = 120.0
FULL_QUEUE_WAIT_SECONDS = 0.05
# Agents drain once per batch, and a drain sends at once: a longer linger would only add latency.
LINGER_MS = 1
POLL_SECONDS = 0.1


class OutboxError(RuntimeError):
    """The broker refused a record, or did not acknowledge it in time."""


class Outbox(Protocol):
    def send(self, topic: str, key: bytes | None, value: bytes | None,
             partition: int | None = None, headers: list[tuple[str, bytes]] | None = None,
             ) -> None: ...

    def offsets_of(self, topic: str) -> dict[int, int]: ...

    async def drain(self) -> None: ...


class _Batch:
    """The records queued between two drains. `sent` is counted on the event loop's thread,
    `acked` on the poller's; the last of the two to see both complete finishes the batch."""

    __slots__ = ("sent", "acked", "closed", "future", "loop")

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.closed = False
        self.future: asyncio.Future | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def close(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        self.loop, self.future = loop, loop.create_future()
        self.closed = True
        if self.acked == self.sent:
            self._finish()
        return self.future

    def count_ack(self) -> None:  # the poller's thread
        self.acked += 1
        if self.closed and self.acked == self.sent:
            self.loop.call_soon_threadsafe(self._finish)  # type: ignore[union-attr]

    def _finish(self) -> None:
        if not self.future.done():  # type: ignore[union-attr]
            self.future.set_result(None)  # type: ignore[union-attr]


class KafkaOutbox:
    """The worker's outbox on a confluent-kafka producer: idempotent, acks from all replicas.

    A drain waits for the records queued before it, not for the producer to go empty
    (`Producer.flush`): with three agents queueing all the time, a flush would also wait for
    every record the others queue meanwhile. A poller thread serves the delivery reports."""

    def __init__(self, settings: Settings, tracked: set[str] | frozenset[str] = frozenset()) -> None:
        from confluent_kafka import Producer

        self._producer = Producer({
            **settings.confluent_config(), "enable.idempotence": True, "acks": "all",
            "partitioner": "murmur2_random", "linger.ms": LINGER_MS})
        self._tracked = set(tracked)  # changelog topics whose offsets are kept
        self._offsets: dict[tuple[str, int], int] = {}
        self._refused: list[str] = []
        self._open = _Batch()
        self._unfinished: list[asyncio.Future] = []
        self._poller = threading.Thread(target=self._poll, name="s2c-outbox-poller", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while True:
            self._producer.poll(POLL_SECONDS)

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             partition: int | None = None, headers: list[tuple[str, bytes]] | None = None,
             ) -> None:
        batch = self._open
        args: dict[str, Any] = {"key": key, "value": value,
                                "on_delivery": lambda err, msg: self._delivered(batch, err, msg)}
        if partition is not None:
            args["partition"] = partition
        if headers:
            args["headers"] = headers
        while True:
            try:
                self._producer.produce(topic, **args)
                batch.sent += 1
                return
            except BufferError:  # librdkafka's queue is full: the poller makes room
                time.sleep(FULL_QUEUE_WAIT_SECONDS)

    def _delivered(self, batch: _Batch, err: Any, msg: Any) -> None:
        # The poller's thread; a dict write and a list append are safe under the GIL.
        if err is not None:
            self._refused.append(f"{msg.topic()}[{msg.partition()}]: {err}")
        else:
            topic = msg.topic()
            if topic in self._tracked:
                slot = (topic, msg.partition())
                if msg.offset() > self._offsets.get(slot, -1):
                    self._offsets[slot] = msg.offset()
        batch.count_ack()

    def offsets_of(self, topic: str) -> dict[int, int]:
        """The last acknowledged offset per partition of a tracked topic since the last call."""
        taken = {p: o for (name, p), o in self._offsets.items() if name == topic}
        for partition in taken:
            self._offsets.pop((topic, partition), None)
        return taken

    async def drain(self) -> None:
        """Return once every record queued before the call is acknowledged (by this drain or
        by an earlier one still waiting); raise if the broker refused any record."""
        if self._open.sent:
            batch, self._open = self._open, _Batch()
            self._unfinished.append(batch.close(asyncio.get_running_loop()))
        self._unfinished = [f for f in self._unfinished if not f.done()]
        if self._unfinished:
            waiting = list(self._unfinished)
            done, _ = await asyncio.wait(waiting, timeout=DRAIN_TIMEOUT_SECONDS)
            if len(done) < len(waiting):
                raise OutboxError(f"records not acknowledged in {DRAIN_TIMEOUT_SECONDS:.0f} s")
        if self._refused:
            # For good: the records after a refused one may be acknowledged, but the agent that
            # queued it must not write the state that depends on it, whichever agent drains.
            raise OutboxError(f"{len(self._refused)} records refused by the broker, first: "
                              f"{self._refused[0]}")
