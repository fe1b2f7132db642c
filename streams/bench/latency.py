"""End-to-end latency, event -> command, at a set share of the measured sustained throughput.

A paced producer (its own thread) sends fresh events at `rate` per second for `seconds`, each
stamped `envelope.produced_at` = the moment it is built and handed to librdkafka (acks=all,
idempotent, linger 5 ms: librdkafka's default), warmed up (connected, producer id granted) first. A plain consumer (`poll`, which returns on the first message), positioned at the commands
topic's end before the first event goes out, reads every command and matches it to its event by
`header.caused_by_event_id`; latency = time the batch holding the command is returned by
`consume()` minus the event's `produced_at` (ms resolution). An event that causes several
commands counts once, by its first. Not every event causes a command (a booking does, a claim
acknowledgement may not), so the sample is the events that did. The same consumer also reads
the events back from the events topic: that is the floor of the harness (producer linger, broker,
fetch, this process's GIL shared with the producer thread) under the same load.
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

WARM_UP_SECONDS = 1.0


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
    floor_p50_ms: float | None  # the same harness reading the events themselves back
    floor_p99_ms: float | None


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _paced(
    ns: Namespace,
    events: Iterator[tuple[bytes, bytes, str, int]],
    rate: float,
    seconds: float,
    sent: dict[str, int],
    done: threading.Event,
) -> None:
    from confluent_kafka import Producer

    producer: Any = Producer(
        {
            **ns.settings.confluent_config(),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )
    topic = ns.topics.events.name
    # Connected and granted a producer id before the clock starts: the first messages of a cold
    # idempotent producer wait ~0.5 s for it, which would be the harness's latency, not s2c's.
    producer.list_topics(topic, timeout=10)
    time.sleep(WARM_UP_SECONDS)
    started = time.monotonic()
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
        done.set()
        producer.flush(30)


def _consumer_at_end(ns: Namespace, topics: list[str]) -> Any:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **ns.settings.confluent_config(),
            "group.id": "s2c-bench-latency",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    assignment = []
    for topic in topics:
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            assignment.append(TopicPartition(topic, p, end))
    consumer.assign(assignment)
    return consumer


def measure(
    ns: Namespace,
    events: Iterator[tuple[bytes, bytes, str, int]],
    rate: float,
    seconds: float,
    grace: float = 20.0,
    quiet: float = 3.0,
) -> Latency:
    """Runs the paced producer and reads commands until none came for `quiet` s after it stopped
    (at most `grace` s after). The events topic is read too, as the harness's own floor."""
    events_topic = ns.topics.events.name
    consumer = _consumer_at_end(ns, [ns.topics.commands.name, events_topic])
    schema = writer_schemas(ns.settings)
    sent: dict[str, int] = {}
    by_command: dict[str, float] = {}  # event id -> when its first command was read (ms)
    echoed: dict[str, float] = {}  # event id -> when the event itself was read back (ms)
    done = threading.Event()
    producer = threading.Thread(
        target=_paced, args=(ns, events, rate, seconds, sent, done), daemon=True
    )
    started = time.monotonic() + WARM_UP_SECONDS
    producer.start()
    stop_at: float | None = None
    last_read, produced_for = started, 0.0
    try:
        while stop_at is None or time.monotonic() < stop_at:
            if stop_at is None and done.is_set():
                stop_at, produced_for = time.monotonic() + grace, time.monotonic() - started
            message = consumer.poll(0.05)  # poll, not consume(n): it returns on the first one
            read_ms = time.time() * 1000
            if message is None or message.error() or message.value() is None:
                if stop_at is not None and time.monotonic() - last_read > quiet:
                    break  # nothing arrived for a while after the last event: none in flight
                continue
            last_read = time.monotonic()
            value = message.value()
            record = fastavro.schemaless_reader(
                io.BytesIO(value[5:]), schema(HEADER.unpack_from(value)[1]), None
            )
            if message.topic() == events_topic:
                echoed.setdefault(record["envelope"]["event_id"], read_ms)
            elif (cause := record["header"]["caused_by_event_id"]) is not None:
                by_command.setdefault(cause, read_ms)
    finally:
        consumer.close()
        producer.join(30)
    lags = sorted(by_command[e] - sent[e] for e in by_command if e in sent)
    floor = sorted(echoed[e] - sent[e] for e in echoed if e in sent)
    return Latency(
        rate,
        len(sent) / produced_for if produced_for else 0.0,
        len(sent),
        len(lags),
        percentile(lags, 0.50),
        percentile(lags, 0.95),
        percentile(lags, 0.99),
        lags[-1] if lags else None,
        percentile(floor, 0.50),
        percentile(floor, 0.99),
    )
