"""R: the raw rate of the fastest plain consumer of the same Avro messages.

confluent-kafka `Consumer` assigned every partition from the beginning (no group, no rebalance),
`consume(num_messages=...)` batches, and for each value a fastavro schemaless decode with the
writer schema fetched from the registry by the id in the Confluent header. No processing.
The clock runs from the first batch to the last message, so connecting is not counted; the best
of a few passes is reported, because R is the ceiling the pipeline is compared against.
"""

from __future__ import annotations

import io
import json
import struct
import time
from dataclasses import dataclass
from typing import Any

import fastavro

from s2c.streams.settings import Settings

HEADER = struct.Struct(">bI")


@dataclass(frozen=True)
class RawRate:
    events_per_s: float
    messages: int
    seconds: float
    passes: int
    batch: int


def writer_schemas(settings: Any) -> Any:
    """A function schema id -> parsed writer schema, asking the registry once per id."""
    from s2c.streams.codec import registry_client_for

    client = registry_client_for(settings)
    cache: dict[int, Any] = {}

    def schema(schema_id: int) -> Any:
        parsed = cache.get(schema_id)
        if parsed is None:
            text = client.get_schema(schema_id).schema_str
            parsed = cache[schema_id] = fastavro.parse_schema(json.loads(text))
        return parsed

    return schema


def one_pass(
    settings: Settings, topic: str, expected: int, batch: int, timeout: float = 60.0
) -> tuple[int, float]:
    """Consumes and decodes `expected` messages of `topic`; returns (messages, seconds)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": "s2c-bench-raw",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
            "queued.max.messages.kbytes": 262_144,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    schema, reader, unpack = (
        writer_schemas(settings),
        fastavro.schemaless_reader,
        HEADER.unpack_from,
    )
    seen, started, deadline = 0, None, time.monotonic() + timeout
    try:
        while seen < expected and time.monotonic() < deadline:
            messages = consumer.consume(num_messages=batch, timeout=1.0)
            if started is None and messages:
                started = time.perf_counter()
            for message in messages:
                if message.error():
                    continue
                value = message.value()
                reader(io.BytesIO(value[5:]), schema(unpack(value)[1]), None)
                seen += 1
        return seen, time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()


def measure(
    settings: Settings, topic: str, expected: int, passes: int = 3, batch: int = 10_000
) -> RawRate:
    """The best of `passes` full reads of `topic` (the first also warms the registry cache)."""
    best: tuple[int, float] | None = None
    for _ in range(passes):
        seen, seconds = one_pass(settings, topic, expected, batch)
        if seconds > 0 and (best is None or seen / seconds > best[0] / best[1]):
            best = (seen, seconds)
    seen, seconds = best or (0, 0.0)
    return RawRate(seen / seconds if seconds else 0.0, seen, seconds, passes, batch)
