"""The input of a verify run: an events file and a master-data folder, as `s2c replay` takes them,
and their publication to a fresh namespace.

A generated workload is written to files first (the generator `s2c generate` and `s2c demo` use),
so that the live pipeline and the replay read exactly the same events in the same order. Events
are published in file order by one idempotent producer, so each partition holds them in the
file's order; the partition each event landed on is kept, for the lateness figures.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.topics import declare


@dataclass(frozen=True)
class Workload:
    events: Path
    master: Path
    described: str


def generated(out_dir: Path, sites: int, scale: float, seed: int) -> Workload:
    from s2c.streams.synth.params import SynthParams
    from s2c.streams.synth.stream import generate
    from s2c.streams.synth.writer import write_events, write_master

    synthesis = generate(SynthParams(seed=seed, sites=sites, scale=scale))
    write_master(out_dir, synthesis.master())
    write_events(out_dir, synthesis.events())
    return Workload(
        out_dir / "events.jsonl",
        out_dir / "master",
        f"generated: {sites} site(s), scale {scale}, seed {seed} ({len(synthesis):,} events)",
    )


def given(events: Path, master: Path) -> Workload:
    if not events.is_file():
        raise SystemExit(f"s2c verify: events file {events} does not exist")
    if not master.is_dir():
        raise SystemExit(f"s2c verify: master data {master} is not a directory")
    return Workload(events, master, f"given: {events} with master data {master}")


def _master_rows(master: Path) -> dict[str, list[dict[str, Any]]]:
    """Master records as Avro-native rows, by record name (the catalogue's field order)."""
    from s2c.tables.codec import loads, to_native
    from s2c.tables.master import MASTER_TYPES, master_record

    rows: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(master.glob("*.jsonl")):
        if path.stem not in MASTER_TYPES:
            raise SystemExit(f"s2c verify: {path.name} is not a master record name")
        with path.open(encoding="utf-8") as lines:
            rows[path.stem] = [
                to_native(master_record(path.stem, loads(line))) for line in lines if line.strip()
            ]
    return rows


def publish(settings: Settings, workload: Workload, codec: Any) -> array[int]:
    """Master data, then every event in file order; returns each event's partition."""
    from confluent_kafka import Producer

    from s2c.streams.masterdata import publish_master
    from s2c.streams.synth.kafka_out import PRODUCER_TUNING
    from s2c.streams.synth.records import key_of
    from s2c.tables.codec import to_native
    from s2c.tables.events import Event
    from s2c.tables.replay import read_events

    topics = declare(settings)
    publish_master(settings, codec, topics.master_data.name, _master_rows(workload.master))
    partitions: array[int] = array("b")
    failures: list[str] = []

    def landed(index: int) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                partitions[index] = msg.partition()

        return on_delivery

    producer = Producer(
        {**settings.confluent_config(), **PRODUCER_TUNING, "delivery.report.only.error": False}
    )
    for index, (_, text, event) in enumerate(read_events(workload.events)):
        if isinstance(event, Event):
            record = to_native(event)
            value = codec.encode(f"s2c.events.{event.schema}", record)
            key = key_of(event.schema, record)
        else:  # a line that is no event goes as it is: the ingest stage must dead-letter it
            value, key = text.encode(), None
        partitions.append(-1)
        while True:
            try:
                producer.produce(topics.events.name, value, key, on_delivery=landed(index))
                break
            except BufferError:  # local queue full: let librdkafka drain it
                producer.poll(0.05)
        if not index & 0x3FF:
            producer.poll(0)
    remaining = producer.flush(120)
    if failures or remaining:
        raise SystemExit(
            f"s2c verify: {remaining} event(s) not acknowledged; first failures: {failures[:5]}"
        )
    return partitions
