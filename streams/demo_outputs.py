"""The live run's outputs, as `s2c demo` read them back from the topics, written as a folder in
`s2c replay`'s format, so `s2c report` (and anything else that reads replay's files) reads a live
run the same way.

What the topics hold is written: commands.jsonl, exceptions.jsonl, sla_breaches.jsonl (one
`{"schema": ..., "record": ...}` line each, in the order read) and dead_letters.jsonl (the dead
letters' reason, stage, exception class and source coordinates, from their headers; not their
bytes nor the exception text, which may quote the refused input). The instances' and links'
final states (processes.jsonl, links.jsonl) are read from the workers' tables' changelogs: the
workers store a state as the JSON replay writes (`to_dict`), so each line is the stored value,
sorted by key as replay sorts them. The metric observations (metrics.jsonl) exist live only as
Prometheus histograms, not one by one: the folder has none, and `s2c report` derives the stage
durations from the instances' final milestones instead and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from s2c.streams.deadletter import DeadLetter
from s2c.tables.codec import dumps

log = logging.getLogger(__name__)

# replay's file name and record schema per output family the demo reads
_FAMILIES = {
    "commands": ("commands", None),
    "exceptions": ("exceptions", "WorkQueueException"),
    "breaches": ("sla_breaches", "SlaBreached"),
}


def dead_letter_line(headers: dict[str, bytes]) -> dict[str, Any]:
    letter = DeadLetter.from_message(None, b"", list(headers.items()))
    return {
        "stage": letter.stage,
        "reason": letter.reason,
        "exception_class": letter.exception_class,
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
    }


def write_outputs(
    outputs: dict[str, list[dict[str, Any]]],
    folder: Path,
    tables: dict[str, dict[bytes, bytes]] | None = None,
) -> Path:
    """Writes the demo's read-back outputs (`_drain_outputs` in demo.py) into `folder`, and the
    workers' tables in `tables` ("processes", "links": key -> stored JSON, see `live_tables`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, stored in (tables or {}).items():
        with (folder / f"{table}.jsonl").open("wb") as sink:
            for key in sorted(stored):
                sink.write(stored[key] + b"\n")
    for family, (name, schema) in _FAMILIES.items():
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n") as sink:
            for record in outputs[family]:
                kind = schema or record["header"]["command_type"]
                sink.write(dumps({"schema": kind, "record": record}) + "\n")
    with (folder / "dead_letters.jsonl").open("w", encoding="utf-8", newline="\n") as sink:
        for letter in outputs["dlq"]:
            sink.write(dumps(dead_letter_line(letter["headers"])) + "\n")
    return folder


def live_tables(settings: Any) -> dict[str, dict[bytes, bytes]]:
    """The workers' final process and link states; none when a changelog cannot be read (the
    report then says the states are missing rather than the demo failing after its run)."""
    from confluent_kafka import KafkaException

    try:
        return {table: read_table(settings, table) for table in ("processes", "links")}
    except (KafkaException, RuntimeError) as exc:
        log.warning("s2c demo: the workers' tables could not be read back (%s)", exc)
        return {}


def read_table(settings: Any, table: str) -> dict[bytes, bytes]:
    """The latest stored value per key of one of the workers' tables, read from its changelog
    (`<app id>-<table>-changelog`) up to the end it has now; deleted keys (tombstones) left out.
    Read after the workers stopped, so the tables are final."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from s2c.streams.verify.live import ends_of, partitions_of

    topic = f"{settings.app_id}-{table}-changelog"
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"{settings.app_id}-report-reader",
            "enable.auto.commit": False,
        }
    )
    wanted = partitions_of(AdminClient(settings.confluent_config()), [topic])
    if not wanted:  # an empty file would read as "no instances", which is not what happened
        raise RuntimeError(f"there is no topic {topic}")
    ends = {key: high for key, (_low, high) in ends_of(consumer, wanted).items()}
    consumer.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in wanted])
    remaining = {key for key, high in ends.items() if high > 0}
    latest: dict[bytes, bytes] = {}
    try:
        while remaining:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error():
                    raise RuntimeError(f"reading {topic} failed: {msg.error()}")
                key = (msg.topic(), msg.partition())
                if msg.offset() >= ends[key]:
                    continue
                if msg.value() is None:
                    latest.pop(msg.key(), None)
                else:
                    latest[msg.key()] = msg.value()
                if msg.offset() + 1 >= ends[key]:
                    remaining.discard(key)
    finally:
        consumer.close()
    return latest
