"""A worker's read replica of the compacted master-data topic, behind the core's `MasterData`.

Every worker needs all master data (any event may name any payer or preference card), so the
replica reads every partition of `s2c.master` from the beginning, with no consumer group, in a
daemon thread: a global table in the Kafka Streams sense. Records are keyed `<Record>:<id>`; an empty
value is a tombstone and retires that record (`retire`): events that name it afterwards park as
for an unknown record, as the core's reference checks make them. The agent waits for the first
catch-up (`ready`) before processing, so a restarted worker never parks events for master data
that is already on the topic.

Why not Faust's GlobalTable: the process stage must learn *which* master keys arrived (to retry the
instances parked on them), and a plain consumer hands us each record as it lands.

A record the replica cannot use goes to the dead-letter topic (reason `unusable-master-record`,
stage `master`) with its source coordinates and bytes. Every worker reads every master record, so
each worker that reads a bad one dead-letters it (same source coordinates); `s2c dlq replay` sends
each source record back once. While the registry cannot answer, the replica waits and retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from s2c.streams.codec import AvroCodec, DecodeError, RegistryUnavailable, backoff_delays
from s2c.streams.deadletter import DeadLetter, of_exception
from s2c.streams.settings import Settings
from s2c.tables.master import MASTER_TYPES, DictMasterData, arrivals, master_record

log = logging.getLogger(__name__)
UNUSABLE = "unusable-master-record"


class MasterReplica:
    def __init__(
        self,
        settings: Settings,
        topic: str,
        codec: AvroCodec,
        on_arrival: Callable[[str, str], None],
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self.store = DictMasterData()
        self.ready = threading.Event()
        self.records = 0
        self._settings, self._topic, self._codec = settings, topic, codec
        self._on_arrival = on_arrival
        self._on_dead_letter = on_dead_letter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s2c-master-replica", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def apply(self, value: bytes) -> list[tuple[str, str]]:
        """Decode and store one master record; returns the (record, wait key) pairs it satisfies."""
        name, record = self._codec.decode(value)
        short = name.rsplit(".", 1)[-1]
        row = master_record(short, record)
        self.store.put(row)
        self.records += 1
        return arrivals(short, row)

    def retire(self, key: bytes | None) -> bool:
        """Apply a tombstone: delete the record its key `<Record>:<id>` names. A key that names
        no master record type is logged and ignored (nothing to retire, nothing to dead-letter:
        the tombstone carries no bytes to keep)."""
        name, _, ident = (key or b"").decode("utf-8", errors="replace").partition(":")
        if name not in MASTER_TYPES or not ident:
            log.warning("tombstone on %s with a key that names no master record", self._topic)
            return False
        return self.store.delete(name, ident)

    def _run(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {
                **self._settings.confluent_config(),
                "group.id": "s2c-master-replica",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        try:
            meta = consumer.list_topics(self._topic, timeout=30).topics[self._topic]
            parts = [TopicPartition(self._topic, p, 0) for p in meta.partitions]
            ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=30)[1] for tp in parts}
            consumer.assign(parts)
            position = {p: 0 for p in ends}
            while not self._stop.is_set():
                if not self.ready.is_set() and all(position[p] >= ends[p] for p in ends):
                    log.info("master data replica caught up: %d records", self.records)
                    self.ready.set()
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                position[msg.partition()] = msg.offset() + 1
                if not msg.value():
                    self.retire(msg.key())  # nothing waits for a deletion: no retry
                    continue
                arrived = self._apply_or_dead_letter(msg)
                if arrived is None:
                    continue
                if self.ready.is_set():
                    for record, key in arrived:
                        self._on_arrival(record, key)
        finally:
            consumer.close()

    def _apply_or_dead_letter(self, msg: Any) -> list[tuple[str, str]] | None:
        for delay in backoff_delays():
            if self._stop.is_set():
                return None
            try:
                return self.apply(msg.value())
            except RegistryUnavailable as exc:
                log.warning(
                    "master record %s[%d]@%d waits for the schema registry (retry in %.0f s): %s",
                    self._topic,
                    msg.partition(),
                    msg.offset(),
                    delay,
                    exc,
                )
                self._stop.wait(delay)
            except (DecodeError, ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "unusable master record at %s[%d]@%d: %s: dead-lettered",
                    self._topic,
                    msg.partition(),
                    msg.offset(),
                    type(exc).__name__,
                )
                if self._on_dead_letter is not None:
                    self._on_dead_letter(
                        of_exception(
                            UNUSABLE,
                            "master",
                            self._topic,
                            msg.partition(),
                            msg.offset(),
                            exc,
                            msg.key(),
                            msg.value(),
                        )
                    )
                return None
        return None


class DeadLetterSender:
    """Dead letters from a thread outside Faust: a confluent-kafka producer of its own."""

    def __init__(self, settings: Settings, topic: str, count: Callable[[str, str], None]) -> None:
        self._settings, self._topic, self._count = settings, topic, count
        self._producer: Any = None

    def __call__(self, letter: DeadLetter) -> None:
        from confluent_kafka import Producer

        if self._producer is None:
            self._producer = Producer(
                {**self._settings.confluent_config(), "enable.idempotence": True}
            )
        self._producer.produce(
            self._topic, key=letter.key, value=letter.value, headers=letter.headers()
        )
        if self._producer.flush(30):
            log.error(
                "dead letter for %s[%d]@%d not acknowledged by the broker in 30 s",
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
            )
        self._count(letter.reason, letter.stage)


def master_key(record_name: str, record: dict[str, Any]) -> str:
    """The compacted-topic key of a master record: `<Record>:<its first field>`."""
    return f"{record_name}:{next(iter(record.values()))}"


def publish_master(
    settings: Settings, codec: AvroCodec, topic: str, records: dict[str, list[dict[str, Any]]]
) -> int:
    """Produces master records (record name -> Avro-shaped rows) to the compacted topic."""
    from confluent_kafka import Producer

    producer = Producer(
        {**settings.confluent_config(), "enable.idempotence": True, "linger.ms": 20}
    )
    count = 0
    for name, rows in records.items():
        for row in rows:
            producer.produce(
                topic,
                key=master_key(name, row).encode(),
                value=codec.encode(f"s2c.master.{name}", row),
            )
            count += 1
    if producer.flush(30):
        raise RuntimeError(f"master data not acknowledged by {settings.kafka_bootstrap}")
    return count
