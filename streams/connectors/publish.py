"""Where mapped events and rejected inputs go: a `Publisher` and its Kafka implementation.

Events are Avro in the Confluent wire format (the project's `AvroCodec`, subjects named by record)
on `TOPICS.events`, keyed by their business key. Rejected inputs go to `TOPICS.dlq` as their
original bytes with Kafka Connect style `__connect.errors.*` headers plus `s2c.errors.reason`.
The producer is idempotent with acks=all, and `flush` raises if anything was not delivered, so a
caller (the MLLP listener) acknowledges a message only once Kafka has it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from s2c.streams.settings import Settings

log = logging.getLogger(__name__)
EVENTS_NAMESPACE = "s2c.events"
KEY_FIELDS = ("appointment_id", "case_id", "account_number", "authorization_id")


class PublishError(RuntimeError):
    """Kafka did not confirm every record; the input must not be acknowledged."""


@dataclass(frozen=True)
class DeadLetterRecord:
    reason: str
    source: str
    original: bytes
    index: int
    stage: str
    exception_class: str
    location: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("__connect.errors.topic", self.source.encode()),
            ("__connect.errors.partition", b"0"),
            ("__connect.errors.offset", str(self.index).encode()),
            ("__connect.errors.stage", self.stage.encode()),
            ("__connect.errors.exception.class.name", self.exception_class.encode()),
            ("__connect.errors.exception.message", self.reason.encode()[:2000]),
            ("s2c.errors.reason", self.reason.encode()[:2000]),
            ("s2c.errors.location", self.location.encode()),
        ]


class Publisher(Protocol):
    def publish(self, schema_name: str, key: str, record: dict[str, Any]) -> None: ...

    def dead_letter(self, letter: DeadLetterRecord) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...


def business_key(record: dict[str, Any]) -> str:
    for name in KEY_FIELDS:
        if record.get(name):
            return str(record[name])
    return str(record["envelope"]["event_id"])


def schema_name(record: dict[str, Any]) -> str:
    return f"{EVENTS_NAMESPACE}.{record['envelope']['event_type']}"


@dataclass
class MemoryPublisher:
    """Keeps everything in lists: for `--dry-run` and for tests."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)

    def publish(self, schema_name: str, key: str, record: dict[str, Any]) -> None:
        self.events.append((schema_name, key, record))

    def dead_letter(self, letter: DeadLetterRecord) -> None:
        self.dead_letters.append(letter)

    def flush(self, timeout: float = 30.0) -> None:
        return None


class KafkaPublisher:
    def __init__(
        self,
        settings: Settings,
        events_topic: str,
        dlq_topic: str,
        codec: Any | None = None,
        producer: Any | None = None,
    ) -> None:
        from confluent_kafka import Producer

        from s2c.streams.catalog import load_catalog
        from s2c.streams.codec import AvroCodec, registry_client_for

        self.events_topic, self.dlq_topic = events_topic, dlq_topic
        self.codec = codec or AvroCodec(
            registry_client_for(settings),
            load_catalog().resolved_json,
        )
        self.producer = producer or Producer(
            {
                **settings.confluent_config(),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
            }
        )
        self._failures: list[str] = []

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err}")

    def publish(self, schema_name: str, key: str, record: dict[str, Any]) -> None:
        value = self.codec.encode(schema_name, record)
        self.producer.produce(
            self.events_topic, key=key.encode(), value=value, on_delivery=self._delivered
        )
        self.producer.poll(0)

    def dead_letter(self, letter: DeadLetterRecord) -> None:
        self.producer.produce(
            self.dlq_topic,
            key=None,
            value=letter.original,
            headers=letter.headers(),
            on_delivery=self._delivered,
        )
        self.producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        left = self.producer.flush(timeout)
        failures, self._failures = self._failures, []
        if left or failures:
            raise PublishError(f"{left} record(s) undelivered; " + "; ".join(failures[:5]))
