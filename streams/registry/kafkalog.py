"""The registry's Kafka log: one compacted single-partition topic, read by a thread, written in
transactions, so the event loop never blocks and every instance folds the same history.

Reading: a thread consumes the topic from the beginning (read_committed) for the process's life
and hands each record to the event loop with `call_soon_threadsafe`; `sync()` waits until the
instance has read everything committed so far.

Writing: all instances share one `transactional.id`, so opening a producer fences any other
instance's producer (Kafka's zombie fencing). A write = sync, decide over the now complete
state, append the records in a transaction (acks=all), wait to read them back. If another
instance wrote in between it fenced us, the commit fails, and we decide again over the newer
state: this is how ids stay unique and global with no leader election.

Auditing: a write that changes something may bring an audit record (`s2c.streams.audit`); it goes
to the audit topic in the same transaction, so a change is never committed without its record.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from s2c.streams.registry.state import Record

log = logging.getLogger(__name__)
_STARTING_BROKER = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)
T = TypeVar("T")
ATTEMPTS = 5


class LogTimeout(Exception):
    """The log did not answer in time (broker down or slow)."""


class KafkaLog:
    def __init__(
        self,
        config: dict[str, str],
        topic: str,
        replication_factor: int,
        on_record: Callable[[bytes | None, bytes | None], None],
        timeout: float = 30.0,
        audit_topic: str | None = None,
    ) -> None:
        self._config: dict[str, Any] = {**config, "logger": logging.getLogger("s2c.librdkafka")}
        self._topic, self._rf = topic, replication_factor
        self._on_record, self._timeout = on_record, timeout
        self._audit_topic = audit_topic
        self._tp = TopicPartition(topic, 0)
        self._next = 0  # offset of the next record this instance has not read yet
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._stopping = threading.Event()
        self._write_lock = asyncio.Lock()
        self._producer: Producer | None = None
        self._producer_thread = ThreadPoolExecutor(1, thread_name_prefix="registry-producer")
        self._meta_thread = ThreadPoolExecutor(1, thread_name_prefix="registry-meta")
        self._reader: threading.Thread | None = None
        self._meta: Consumer | None = None  # asks the broker where the log ends
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._run(self._meta_thread, self._ensure_topic)
        consumer = Consumer(
            {
                **self._config,
                "group.id": f"s2c-registry-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
        self._reader = threading.Thread(
            target=self._read, args=(consumer,), daemon=True, name="registry-reader"
        )
        self._reader.start()
        await self.sync()
        log.info("registry log %s read up to offset %d", self._topic, self._next)

    async def stop(self) -> None:
        self._stopping.set()
        if self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._reader.join, 10)
        self._producer_thread.shutdown(wait=True)
        if self._meta is not None:
            await self._run(self._meta_thread, self._meta.close)
        self._meta_thread.shutdown(wait=True)

    def _ensure_topic(self) -> None:
        admin = AdminClient(self._config)
        spec = NewTopic(
            self._topic,
            num_partitions=1,
            replication_factor=self._rf,
            config={"cleanup.policy": "compact"},
        )
        try:
            admin.create_topics([spec])[self._topic].result(self._timeout)
            log.info("created registry topic %s (compacted, 1 partition)", self._topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        # Right after creation the broker's metadata may not list the partition yet (seen once in
        # CI: "has 0"); look again until it does. Two or more is a real misconfiguration.
        deadline = time.monotonic() + self._timeout
        while True:
            meta = admin.list_topics(self._topic, timeout=self._timeout).topics[self._topic]
            if meta.partitions or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if len(meta.partitions) != 1:
            raise RuntimeError(
                f"registry topic {self._topic} must have exactly 1 partition "
                f"(has {len(meta.partitions)}): ids depend on one total order"
            )
        if self._audit_topic is not None:
            self._ensure_audit_topic(admin)

    def _ensure_audit_topic(self, admin: AdminClient) -> None:
        """A registry whose writes cannot be audited refuses to start, rather than refuse
        every write later."""
        from s2c.streams.topics import AUDIT_TOPIC_CONFIG

        assert self._audit_topic is not None
        if self._audit_topic in admin.list_topics(timeout=self._timeout).topics:
            return
        spec = NewTopic(self._audit_topic, 1, self._rf, config=AUDIT_TOPIC_CONFIG)
        try:
            admin.create_topics([spec])[self._audit_topic].result(self._timeout)
            log.info("created audit topic %s", self._audit_topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    # ------------------------------------------------------------------ reading
    def _read(self, consumer: Consumer) -> None:
        assert self._loop is not None
        try:
            while not self._stopping.is_set():
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                error = msg.error()
                if error is None:
                    self._loop.call_soon_threadsafe(
                        self._deliver, msg.offset(), msg.key(), msg.value()
                    )
                elif error.code() == KafkaError._PARTITION_EOF:
                    self._loop.call_soon_threadsafe(self._advance, msg.offset())
                else:
                    log.warning("registry log read error: %s", error)
        finally:
            consumer.close()

    def _deliver(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._on_record(key, value)
        self._advance(offset + 1)

    def _advance(self, next_offset: int) -> None:
        self._next = max(self._next, next_offset)
        waiting = []
        for target, future in self._waiters:
            if target <= self._next:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    async def _read_up_to(self, next_offset: int) -> None:
        if next_offset <= self._next:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((next_offset, future))
        try:
            await asyncio.wait_for(future, self._timeout)
        except asyncio.TimeoutError as exc:
            self._waiters = [w for w in self._waiters if w[1] is not future]
            raise LogTimeout(f"did not read the registry log up to offset {next_offset}") from exc

    async def sync(self) -> None:
        """Wait until this instance has read every record committed before the call."""
        end = await self._run(self._meta_thread, self._end_offset)
        await self._read_up_to(end)

    def _end_offset(self) -> int:
        if self._meta is None:
            self._meta = Consumer(
                {
                    **self._config,
                    "group.id": f"s2c-registry-{uuid.uuid4()}",
                    "isolation.level": "read_committed",
                }
            )
        # A broker that has just restarted answers NOT_LEADER / LEADER_NOT_AVAILABLE until it
        # has loaded its partitions; those are worth waiting for, anything else is not.
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                _, high = self._meta.get_watermark_offsets(
                    self._tp, timeout=self._timeout, cached=False
                )
                return int(high)
            except KafkaException as exc:
                code = exc.args[0].code() if exc.args else None
                if code not in _STARTING_BROKER or time.monotonic() > deadline:
                    raise
                log.info("registry log not readable yet (%s); retrying", exc.args[0])
                time.sleep(0.5)

    # ------------------------------------------------------------------ writing
    async def write(
        self,
        decide: Callable[[], tuple[list[Record], T]],
        audit: Callable[[T], bytes] | None = None,
    ) -> T:
        """Decide over a complete state and append the decision's records atomically, with
        `audit(answer)` on the audit topic when the decision changes something."""
        last_error: KafkaError | None = None
        async with self._write_lock:
            for attempt in range(1, ATTEMPTS + 1):
                await self._run(self._producer_thread, self._open_producer)
                await self.sync()
                records, answer = decide()
                if not records:
                    return answer
                trail = [audit(answer)] if audit is not None else []
                try:
                    last = await self._run(self._producer_thread, self._append, records, trail)
                except KafkaException as exc:
                    last_error = exc.args[0]
                    log.warning(
                        "registry write attempt %d failed, deciding again: %s", attempt, exc.args[0]
                    )
                    await self._run(self._producer_thread, self._recover, exc.args[0])
                    await asyncio.sleep(random.uniform(0, 0.1 * attempt))  # no fencing ping-pong
                    continue
                await self._read_up_to(last + 1)
                return answer
        raise LogTimeout(
            f"could not append to {self._topic} after {ATTEMPTS} attempts; nothing was changed "
            f"(last error: {last_error})"
        )

    def _open_producer(self) -> None:
        if self._producer is not None:
            return
        producer = Producer(
            {
                **self._config,
                "transactional.id": f"s2c-registry-{self._topic}",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 0,
            }
        )
        producer.init_transactions(self._timeout)
        self._producer = producer

    def _append(self, records: list[Record], trail: list[bytes]) -> int:
        assert self._producer is not None
        offsets: list[int] = []
        failures: list[KafkaError] = []

        def delivered(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                failures.append(err)
                if msg.topic() == self._audit_topic:
                    log.error(
                        "the audit record could not be written to %s (%s): the change is not made",
                        self._audit_topic,
                        err,
                    )
            elif msg.topic() == self._topic:
                offsets.append(msg.offset())

        try:
            self._producer.begin_transaction()
            for key, value in records:
                self._producer.produce(
                    self._topic, key=key, value=value, partition=0, on_delivery=delivered
                )
            for value in trail:
                if self._audit_topic is None:
                    raise RuntimeError("an audit record, but no audit topic configured")
                self._producer.produce(
                    self._audit_topic, value=value, partition=0, on_delivery=delivered
                )
            self._producer.flush(self._timeout)
            if failures:
                raise KafkaException(failures[0])
            self._producer.commit_transaction(self._timeout)
        except SystemError as exc:  # a fatal error (fenced) surfacing inside a delivery callback
            if isinstance(exc.__cause__, KafkaException):
                raise exc.__cause__ from None
            # The binding's flush can also fail with no Kafka error attached ("returned NULL
            # without setting an exception"), seen when the other instance fenced this one
            # mid-flush. The transaction's fate is unknown: treat it as fatal, so the producer is
            # dropped and the write decided again (its records were never committed).
            raise KafkaException(
                KafkaError(KafkaError._FATAL, f"producer failed in flush: {exc}", fatal=True)
            ) from None
        return max(offsets)

    def _recover(self, error: KafkaError) -> None:
        """Fenced or fatal: drop the producer (the next attempt opens one, fencing the other
        instance in turn). Otherwise abort, so the records are never read. An error from a
        delivery report (a record the broker refused, e.g. on the audit topic) does not say
        `txn_requires_abort` although the transaction is open: abort it too, then drop the
        producer, which librdkafka leaves unable to deliver the next transaction."""
        if self._producer is None:
            return
        if not error.fatal():
            try:
                self._producer.abort_transaction(self._timeout)
                if error.txn_requires_abort():
                    return
            except KafkaException as exc:
                log.warning("abort failed, reopening the producer: %s", exc.args[0])
        self._producer = None

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
