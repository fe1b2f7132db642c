"""Publishes a `Synthesis` to the pipeline's topics: master data first, then the events.

Master records go to `TOPICS.master_data` keyed `<RecordName>:<id>`, events to `TOPICS.events`
keyed by business key, both Avro in the Confluent wire format (subject = full record name). The
producer is idempotent with acks=all, batches with linger and lz4, and reports only failed
deliveries, so per-event Python work is: build the record, encode it, hand it to librdkafka.
`produced_at` is the wall-clock time the record is handed to the producer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException

from s2c.streams.settings import Settings
from s2c.streams.synth.master import HealthSystem, build_health_system
from s2c.streams.synth.params import SynthParams
from s2c.streams.synth.poison import POISON_HEADER, UNKNOWN_EVENT, UNKNOWN_EVENT_SCHEMA, Poison
from s2c.streams.synth.stream import Synthesis, plan
from s2c.streams.synth.summary import Totals
from s2c.streams.topics import declare

log = logging.getLogger(__name__)
PRODUCER_TUNING = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "delivery.report.only.error": True,
}

# poison's 5 MB records leave the producer; the topic decides whether to take them
LARGE_MESSAGES = {"message.max.bytes": 8 * 1024 * 1024}


class DeliveryFailed(RuntimeError):
    """Some records were not acknowledged by the broker."""


def default_codec(settings: Settings) -> Any:
    from s2c.streams.catalog import load_catalog
    from s2c.streams.codec import AvroCodec, registry_client_for

    return AvroCodec(
        registry_client_for(settings),
        lambda name: load_catalog().resolved_json(name),
    )


def _send(
    producer: Any,
    topic: str,
    codec: Any,
    namespace: str,
    records: Iterable[Any],
    unknown_codec: Any = None,
) -> int:
    encode, produce, poll = codec.encode, producer.produce, producer.poll
    full_names: dict[str, str] = {}
    sent = 0
    for item in records:
        if isinstance(item, Poison):
            _send_poison(producer, topic, codec, unknown_codec, item)
            sent += 1
            continue
        name, key, record = item
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


def poison_value(poison: Poison, codec: Any, unknown_codec: Any) -> bytes:
    """A bad record's bytes on Kafka: as they are, or encoded (the unknown event type with a
    codec whose catalogue has it, `unknown_event_codec`)."""
    if poison.raw is not None:
        return poison.raw
    if poison.schema == UNKNOWN_EVENT:
        return bytes(unknown_codec.encode(f"s2c.events.{UNKNOWN_EVENT}", poison.record))
    return bytes(codec.encode(f"{poison.namespace}.{poison.schema}", poison.record))


def poison_headers(poison: Poison) -> list[tuple[str, bytes]]:
    """The tag a bad record carries: its kind."""
    return [(POISON_HEADER, poison.kind.encode())]


def _send_poison(producer: Any, topic: str, codec: Any, unknown_codec: Any, poison: Poison) -> None:
    """A bad record, tagged with its kind. A record the events topic refuses for its size (its
    `max.message.bytes`) is logged, not fatal: the topic kept it out, as it would any producer's."""
    value = poison_value(poison, codec, unknown_codec)

    def refused(err: Any, msg: Any) -> None:
        log.warning("poison %s not on %s: %s", poison.kind, topic, err)

    while True:
        try:
            producer.produce(
                topic,
                value,
                poison.key,
                headers=poison_headers(poison),
                on_delivery=refused,
            )
            return
        except BufferError:
            producer.poll(0.05)
        except KafkaException as exc:  # refused by the producer itself
            log.warning("poison %s not sent: %s", poison.kind, exc)
            return


def unknown_event_codec(settings: Settings) -> Any:
    """A codec over the registry whose catalogue has the one record s2c does not know."""
    from s2c.streams.codec import AvroCodec, registry_client_for

    return AvroCodec(registry_client_for(settings), lambda name: UNKNOWN_EVENT_SCHEMA)


def _producer(settings: Settings, failures: list[str], large: bool = False) -> Any:
    from confluent_kafka import Producer

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None and len(failures) < 10:
            failures.append(f"{msg.topic()} key {msg.key()!r}: {err}")

    # `large`: poison's 5 MB records leave the producer; the events topic decides whether to
    # take them (its max.message.bytes).
    sizes = LARGE_MESSAGES if large else {}
    return Producer(
        {**settings.confluent_config(), **PRODUCER_TUNING, **sizes, "on_delivery": on_delivery}
    )


def _flush(producer: Any, failures: list[str]) -> None:
    remaining = producer.flush(120)
    if failures or remaining:
        raise DeliveryFailed(f"{remaining} undelivered; first failures: {failures}")


def publish_master(settings: Settings, system: HealthSystem, codec: Any = None) -> int:
    """Creates the master and events topics when missing (same specs as `s2c topics`), sends every
    master record and waits until the broker has them all."""
    from s2c.streams.admin import create_topics

    topics = declare(settings)
    create_topics(settings, [topics.master_data, topics.events])  # leaves existing ones alone
    failures: list[str] = []
    producer = _producer(settings, failures)
    sent = _send(
        producer,
        topics.master_data.name,
        codec or default_codec(settings),
        "s2c.master",
        system.master_records(),
    )
    _flush(producer, failures)
    return sent


def publish_events(
    settings: Settings, synthesis: Synthesis, codec: Any = None, unknown_codec: Any = None
) -> int:
    """Sends the events in arrival order, `produced_at` = now; returns how many. With poison,
    bad records too, each tagged with its kind (header `s2c.synth.poison`)."""
    failures: list[str] = []
    poison = bool(synthesis.params.poison)
    producer = _producer(settings, failures, large=poison)
    if poison and unknown_codec is None:
        unknown_codec = unknown_event_codec(settings)
    clock = lambda: time.time_ns() // 1_000_000
    sent = _send(
        producer,
        declare(settings).events.name,
        codec or default_codec(settings),
        "s2c.events",
        synthesis.events(clock),
        unknown_codec,
    )
    _flush(producer, failures)
    return sent


def _publish_sites(
    settings: Settings, params: SynthParams, site_numbers: list[int]
) -> tuple[Totals, float]:
    """One worker process: plan its sites and publish their events (returns totals, planning s)."""
    started = time.perf_counter()
    synthesis = plan(params, site_numbers=site_numbers)
    planned = time.perf_counter() - started
    publish_events(settings, synthesis)
    totals = Totals(episodes=synthesis.episodes, events=synthesis.event_counts())
    totals.poison.update(synthesis.poisoned)
    return totals, planned


def publish_parallel(settings: Settings, params: SynthParams, workers: int) -> tuple[Totals, float]:
    """Master data from this process, then `workers` processes each planning and publishing a
    share of the sites. A site's events are the same as in a single-process run and every key
    belongs to one site, so per-key order is unchanged; only sites interleave differently.
    Returns the totals and the longest planning time of a worker."""
    import multiprocessing

    system = build_health_system(params)
    totals = Totals(master=Counter({n: len(rows) for n, rows in system.records.items()}))
    publish_master(settings, system)
    shares = [[site.number for site in system.sites[i::workers]] for i in range(workers)]
    # spawn, not fork: librdkafka's threads do not survive a fork
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.starmap(_publish_sites, [(settings, params, s) for s in shares if s])
    for worker_totals, _ in results:
        totals.add(worker_totals)
    return totals, max(seconds for _, seconds in results)
