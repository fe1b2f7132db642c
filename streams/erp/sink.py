"""Commands from Kafka into the reference ERP's ledger, one acknowledgement per command back.

A plain confluent-kafka consumer and producer, not a Faust agent: the ERP is another system. For
each batch, in partition order: decode a command, `Ledger.apply` it (its own database
transaction; an id already answered is not posted again), send its `s2c.erp.CommandAck` keyed by
process id; then wait until the broker has acknowledged every ack of the batch, and only then
commit the batch's offsets. A sink killed anywhere in between reads the uncommitted commands again,
finds them answered in the ledger and sends the same acks again: the ledger holds each command
once, and the acks topic holds each command's ack at least once, copies identical.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from s2c.streams.codec import DecodeError, RegistryUnavailable, backoff_delays
from s2c.streams.erp.ledger import REJECTED, Ledger
from s2c.streams.erp.rules import Chart
from s2c.streams.settings import Settings
from s2c.streams.topics import declare

log = logging.getLogger(__name__)
COMMANDS = "s2c.commands."
ACK = "s2c.erp.CommandAck"
BATCH = 500


class AcksNotDelivered(RuntimeError):
    """The broker did not acknowledge every ack of a batch: its offsets stay uncommitted."""


class ErpSink:
    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        chart: Chart,
        codec: Any,
        group_id: str,
        erp_system: str,
        instance_id: str | None = None,
        silent: Callable[[str], bool] = lambda process_id: False,
    ) -> None:
        topics = declare(settings)
        self._commands_topic = topics.commands.name
        self._acks_topic = topics.erp_acks.name
        self._settings = settings
        self._ledger = ledger
        self._chart = chart
        self._codec = codec
        self._group_id = group_id
        self._erp_system = erp_system
        self._instance_id = instance_id
        self._failed: list[str] = []
        self._silent = silent  # a "silent ERP" for tests: these instances get no posting, no ack
        self.counts = {"applied": 0, "rejected": 0, "resent": 0, "unreadable": 0, "withheld": 0}

    def run(self, stopping: Callable[[], bool]) -> None:
        from confluent_kafka import Consumer, Producer

        self._codec.prepare(ACK)
        consumer = Consumer(
            {
                **self._settings.confluent_config(),
                "group.id": self._group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # A killed sink's partitions wait this long for a new owner (45 s by default).
                "session.timeout.ms": 10000,
                **({"group.instance.id": self._instance_id} if self._instance_id else {}),
            }
        )
        producer = Producer(
            {
                **self._settings.confluent_config(),
                "enable.idempotence": True,
                "acks": "all",
                # Java's and Faust's partitioner, as the workers' outbox uses: an ack lands in the
                # partition of its command, so the worker that keeps the instance reads it
                # (librdkafka's default, consistent_random, put them elsewhere).
                "partitioner": "murmur2_random",
            }
        )
        consumer.subscribe([self._commands_topic])
        log.info(
            "erp sink: %s -> ledger -> %s (group %s)",
            self._commands_topic,
            self._acks_topic,
            self._group_id,
        )
        try:
            while not stopping():
                messages = consumer.consume(BATCH, timeout=1.0)
                if messages:
                    self._batch(consumer, producer, messages)
        finally:
            consumer.close()
            producer.flush(10)

    def _batch(self, consumer: Any, producer: Any, messages: list[Any]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        ends: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error():
                if msg.error().fatal():
                    raise KafkaException(msg.error())
                log.warning("erp sink: consumer error: %s", msg.error())
                continue
            self._one(producer, msg)
            ends[(msg.topic(), msg.partition())] = msg.offset() + 1
            producer.poll(0)
        if producer.flush(30) > 0 or self._failed:
            raise AcksNotDelivered(
                f"the broker did not acknowledge every ack ({'; '.join(self._failed[:3])}); "
                "offsets not committed, the commands are read again on restart"
            )
        if not ends:
            return
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()],
                asynchronous=False,
            )
        except KafkaException as exc:  # e.g. the partitions moved: their new owner re-acks
            log.warning("erp sink: offsets not committed (%s); commands will be re-acked", exc)
        log.info(
            "erp sink: %s applied, %s rejected, %s acks sent again, %s unreadable, "
            "%s withheld (silent) so far",
            *self.counts.values(),
        )

    def _one(self, producer: Any, msg: Any) -> None:
        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        try:
            name, command = self._decode(msg.value())
            if not name.startswith(COMMANDS):
                raise DecodeError(f"{name} is not an s2c.commands record")
            process_id = command["header"]["process_id"]
        except (DecodeError, KeyError, TypeError) as exc:
            # No command id to answer: said here, once, without the record's content.
            self.counts["unreadable"] += 1
            log.error("erp sink: %s is not a readable command, skipped: %s", where, exc)
            return
        if self._silent(process_id):
            self.counts["withheld"] += 1
            return
        short = name.removeprefix(COMMANDS)
        ack, fresh = self._ledger.apply(short, command, self._chart, datetime.now(UTC))
        if not fresh:
            self.counts["resent"] += 1
        else:
            self.counts["rejected" if ack.status == REJECTED else "applied"] += 1
            if ack.status == REJECTED:
                log.info("erp sink: command %s rejected: %s", ack.command_id, ack.reason)
        value = self._codec.encode(ACK, ack.to_record(self._erp_system))
        self._produce(producer, process_id.encode(), value)

    def _decode(self, value: bytes) -> tuple[str, dict[str, Any]]:
        for delay in backoff_delays():
            try:
                name, record = self._codec.decode(value)
                return name, record
            except RegistryUnavailable as exc:
                log.warning("erp sink: %s; retrying in %.0f s", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _produce(self, producer: Any, key: bytes, value: bytes) -> None:
        while True:
            try:
                producer.produce(self._acks_topic, value, key, on_delivery=self._delivered)
                return
            except BufferError:
                producer.poll(0.5)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed.append(str(err))


def chart_from_topic(settings: Settings, codec: Any, timeout: float = 30.0) -> Chart:
    """The GL accounts and cost centers on the master data topic now, read to its end (a
    compacted topic: the last record per key wins, a tombstone removes it)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    topic = declare(settings).master_data.name
    consumer = Consumer(
        {**settings.confluent_config(), "group.id": "erp-reader-chart", "enable.auto.commit": False}
    )
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout)[1] for tp in parts}
        consumer.assign(parts)
        latest: dict[bytes, tuple[str, dict[str, Any]] | None] = {}
        waiting = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error() or msg.partition() not in waiting:
                    continue
                value = msg.value()
                latest[msg.key()] = None if value is None else codec.decode(value)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    waiting.discard(msg.partition())
        if waiting:
            raise TimeoutError(f"master data topic {topic} not read to its end in {timeout} s")
    finally:
        consumer.close()
    accounts = {
        r["gl_account"] for n, r in filter(None, latest.values()) if n.endswith("GlAccountMap")
    }
    centers = {
        r["cost_center_id"] for n, r in filter(None, latest.values()) if n.endswith(".CostCenter")
    }
    return Chart(frozenset(accounts), frozenset(centers))
