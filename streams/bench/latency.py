"""End-to-end latency, event -> command, at a set share of the measured sustained throughput.

A paced producer (its own thread) sends fresh events at `rate` per second for `seconds`, each
stamped `envelope.produced_at` = the moment it is built and handed to librdkafka (linger 5 ms,
acks=all, like a feed tuned for latency). A plain consumer, positioned at the commands topic's
end before the first event goes out, reads every command and matches it to its event by
`header.caused_by_event_id`; latency = time the batch holding the command is returned by
`consume()` minus the event's `produced_at` (ms resolution). An event that causes several
commands counts once, by its first. Not every event causes a command (a booking does, a claim
acknowledgement may not), so the sample is the events that did.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastavro
from s2c.streams.bench.data import Namespace
from s2c.streams.bench.raw import HEADER, writer_schemas


@dataclass(frozen=True)
class Latency:
    target_rate: float
    achieved_rate: float
    events: int
    matched: int  # events whose first command was read
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _paced(ns: Namespace, events: Iterator[tuple[bytes, bytes, str, int]], rate: float,
           seconds: float, sent: dict[str, int], done: threading.Event) -> None:
    from confluent_kafka import Producer

    producer: Any = Producer({**ns.settings.confluent_config(), "acks": "all",
                              "enable.idempotence": True, "linger.ms": 5})
    topic, started = ns.topics.events.name, time.monotonic()
    count = 0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            while count < due:
                item = next(events, None)
                if item is None:
                    return
                key, value, event_id, produced_ms = item
                sent.setdefault(event_id, produced_ms)  # a resend keeps its first stamp
                producer.produce(topic, value, key)
                count += 1
            producer.poll(0)
            time.sleep(max(0.0, (count / rate) - (time.monotonic() - started)))
    finally:
        producer.flush(30)
        done.set()


def _consumer_at_end(ns: Namespace) -> Any:
    from confluent_kafka import Consumer, TopicPartition

    topic = ns.topics.commands.name
    consumer = Consumer({**ns.settings.confluent_config(), "group.id": "s2c-bench-latency",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions]
    consumer.assign([TopicPartition(topic, p, end) for p, end in zip(partitions, ends)])
    return consumer


def measure(ns: Namespace, events: Iterator[tuple[bytes, bytes, str, int]], rate: float,
            seconds: float, grace: float = 20.0, quiet: float = 3.0) -> Latency:
    """Runs the paced producer and reads commands until none came for `quiet` s after it stopped
    (at most `grace` s after)."""
    consumer = _consumer_at_end(ns)
    schema = writer_schemas(ns.settings.registry_url)
    sent: dict[str, int] = {}
    first_seen: dict[str, float] = {}
    done = threading.Event()
    started = time.monotonic()
    producer = threading.Thread(target=_paced, args=(ns, events, rate, seconds, sent, done),
                                daemon=True)
    producer.start()
    stop_at: float | None = None
    last_read = started
    try:
        while stop_at is None or time.monotonic() < stop_at:
            if stop_at is None and done.is_set():
                stop_at = time.monotonic() + grace
            batch = consumer.consume(num_messages=1000, timeout=0.05)
            read_ms = time.time() * 1000
            for message in batch:
                if message.error() or message.value() is None:
                    continue
                value = message.value()
                command = fastavro.schemaless_reader(
                    io.BytesIO(value[5:]), schema(HEADER.unpack_from(value)[1]), None)
                cause = command["header"]["caused_by_event_id"]
                if cause and cause not in first_seen:
                    first_seen[cause] = read_ms
            if batch:
                last_read = time.monotonic()
            elif stop_at is not None and time.monotonic() - last_read > quiet:
                break  # nothing arrived for a while after the last event: nothing in flight
    finally:
        consumer.close()
        producer.join(30)
    produced_for = time.monotonic() - started if not done.is_set() else seconds
    lags = sorted(first_seen[e] - sent[e] for e in first_seen if e in sent)
    return Latency(rate, len(sent) / produced_for if produced_for else 0.0, len(sent), len(lags),
                   percentile(lags, 0.50), percentile(lags, 0.95), percentile(lags, 0.99),
                   lags[-1] if lags else None)
