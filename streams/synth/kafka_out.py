"""Publishes a `Synthesis` to the pipeline's topics: master data first, then the events.

Master records go to `TOPICS.master_data` keyed `<RecordName>:<id>`, events to `TOPICS.events`
keyed by business key, both Avro in the Confluent wire format (subject = full record name). The
producer is idempotent with acks=all, batches with linger and lz4, and reports only failed
deliveries, so per-event Python work is: build the record, encode it, hand it to librdkafka.
`produced_at` is the wall-clock time the record is handed to the producer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.synth.stream import Synthesis

PRODUCER_TUNING = {
    "enable.idempotence": True, "acks": "all", "linger.ms": 50, "batch.size": 1_000_000,
    "compression.type": "lz4", "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 1_048_576, "delivery.report.only.error": True,
}


class DeliveryFailed(RuntimeError):
    """Some records were not acknowledged by the broker."""


def default_codec(settings: Settings) -> Any:
    from s2c.streams.catalog import load_catalog
    from s2c.streams.codec import AvroCodec, registry_client

    return AvroCodec(registry_client(settings.registry_url),
                     lambda name: load_catalog().resolved_json(name))


def _send(producer: Any, topic: str, codec: Any, namespace: str,
          records: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
    encode, produce, poll = codec.encode, producer.produce, producer.poll
    full_names: dict[str, str] = {}
    sent = 0
    for name, key, record in records:
        full = full_names.get(name)
        if full is None:
            full = full_names[name] = f"{namespace}.{name}"
            codec.prepare(full)  # register once, before the hot loop needs it
        value = encode(full, record)
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                poll(0.05)
        sent += 1
        if not sent & 0x3FFF:
            poll(0)
    return sent


def publish(settings: Settings, synthesis: Synthesis, codec: Any = None) -> str:
    """Sends master data, flushes, then sends the events; returns where they went. Creates the
    two topics when missing (same specs as `s2c topics`)."""
    from confluent_kafka import Producer
    from s2c.streams.admin import create_topics
    from s2c.streams.topics import declare

    topics = declare(settings)
    create_topics(settings, [topics.master_data, topics.events])  # leaves existing ones alone
    codec = codec or default_codec(settings)
    failures: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None and len(failures) < 10:
            failures.append(f"{msg.topic()} key {msg.key()!r}: {err}")

    producer = Producer({**settings.confluent_config(), **PRODUCER_TUNING,
                         "on_delivery": on_delivery})
    masters = _send(producer, topics.master_data.name, codec, "s2c.master", synthesis.master())
    producer.flush()
    clock = lambda: time.time_ns() // 1_000_000
    events = _send(producer, topics.events.name, codec, "s2c.events", synthesis.events(clock))
    remaining = producer.flush(120)
    if failures or remaining:
        raise DeliveryFailed(f"{remaining} undelivered; first failures: {failures}")
    return (f"{masters:,} master records to {topics.master_data.name}, "
            f"{events:,} events to {topics.events.name} ({settings.kafka_bootstrap})")
