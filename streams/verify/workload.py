"""The input of a verify run: an events file and a master-data folder, as `s2c replay` takes them,
and their publication to a fresh namespace.

A generated workload is written to files first (the generator `s2c generate` and `s2c demo` use),
so that the live pipeline and the replay read exactly the same events in the same order. Events
are published in file order by one idempotent producer, so each partition holds them in the
file's order; the partition each event landed on is kept, for the lateness figures.

With poison (`generated(..., poison=F)`, the bad records of `s2c generate --poison`), the files are
what `s2c generate --out --poison` writes (bad lines listed in `poison.jsonl`), and each bad record
is published in its Kafka representation instead of its line, the one `s2c generate --kafka
--poison` sends, tag header included, at its place in the stream. Every record's partition and
offset are kept, so a dead letter can be matched to the record it names.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s2c.streams.settings import Settings
from s2c.streams.topics import declare

if TYPE_CHECKING:
    from s2c.streams.synth.poison import Poison


@dataclass(frozen=True)
class Workload:
    events: Path
    master: Path
    described: str
    poison: dict[int, Poison] = field(default_factory=dict)  # events.jsonl line -> bad record


@dataclass
class Published:
    """Where each line of the events file landed (by line index), -1 where nothing did."""

    partitions: array[int]
    offsets: array[int]
    refused: list[str]  # kinds of the poison records the events topic did not take

    def records(self, poison: dict[int, Poison]) -> dict[tuple[int, int], str | None]:
        """(partition, offset) -> poison kind (None: a good event) of every record published.
        Line index + 1 is the line number: a generated file has no blank lines."""
        return {
            (partition, offset): (poison[index + 1].kind if index + 1 in poison else None)
            for index, (partition, offset) in enumerate(
                zip(self.partitions, self.offsets, strict=True)
            )
            if offset >= 0
        }


def _keeping(items: Iterable[Any], bad: dict[int, Poison]) -> Iterator[Any]:
    """The items as they are, noting each bad record under its line (the writer writes one line
    per item)."""
    from s2c.streams.synth.poison import Poison

    for number, item in enumerate(items, 1):
        if isinstance(item, Poison):
            bad[number] = item
        yield item


def generated(out_dir: Path, sites: int, scale: float, seed: int, poison: float = 0.0) -> Workload:
    from s2c.streams.synth.params import SynthParams
    from s2c.streams.synth.stream import generate
    from s2c.streams.synth.writer import write_events, write_master

    synthesis = generate(SynthParams(seed=seed, sites=sites, scale=scale, poison=poison))
    write_master(out_dir, synthesis.master())
    bad: dict[int, Poison] = {}
    write_events(out_dir, _keeping(synthesis.events(), bad))
    mixed = f", poison {poison:g}: {len(bad):,} bad records of {len(synthesis.poisoned)} kinds"
    return Workload(
        out_dir / "events.jsonl",
        out_dir / "master",
        f"generated: {sites} site(s), scale {scale}, seed {seed} ({len(synthesis):,} events"
        f"{mixed if poison else ''})",
        bad,
    )


def given(events: Path, master: Path) -> Workload:
    if not events.is_file():
        raise SystemExit(f"s2c verify: events file {events} does not exist")
    if not master.is_dir():
        raise SystemExit(f"s2c verify: master data {master} is not a directory")
    if (line := _first_master_line(events)) is not None:
        raise SystemExit(
            f"s2c verify: {events} line {line} is a master record; verify takes master data "
            "from --master-data only: live, a master record on its topic has no order against "
            "the events, so no verdict could hold (s2c replay takes it in the stream)"
        )
    return Workload(events, master, f"given: {events} with master data {master}")


def _first_master_line(events: Path) -> int | None:
    """The line number of the first master record (or master delete) standing among the
    events, if any."""
    from s2c.tables.replay_input import MasterDelete, MasterLine, read_events

    with events.open("rb") as raw:  # only lines that may be one are parsed
        if not any(b'"record"' in line or b'"delete"' in line for line in raw):
            return None
    master = (MasterLine, MasterDelete)
    return next((n for n, _, item in read_events(events) if isinstance(item, master)), None)


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


# A poisoned run's events topic takes records up to this size, so the 5 MB kind reaches the
# workers (as on a cluster configured for large messages) and must leave as a referenced letter.
LARGE_RECORD_BYTES = 8 * 1024 * 1024


def take_large_records(settings: Settings) -> None:
    """Raises the run's events topic's `max.message.bytes` to `LARGE_RECORD_BYTES`."""
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    entry = ConfigEntry(
        "max.message.bytes",
        str(LARGE_RECORD_BYTES),
        incremental_operation=AlterConfigOpType.SET,
    )
    resource = ConfigResource(
        ResourceType.TOPIC, declare(settings).events.name, incremental_configs=[entry]
    )
    admin = AdminClient(settings.confluent_config())
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def publish(settings: Settings, workload: Workload, codec: Any) -> Published:
    """Master data, then every line in file order (a poison line as its Kafka record); returns
    where each landed."""
    from confluent_kafka import Producer

    from s2c.streams.masterdata import publish_master
    from s2c.streams.synth.kafka_out import (
        LARGE_MESSAGES,
        PRODUCER_TUNING,
        poison_headers,
        poison_value,
        unknown_event_codec,
    )
    from s2c.streams.synth.records import key_of
    from s2c.tables.codec import to_native
    from s2c.tables.events import Event
    from s2c.tables.replay import read_events

    topics = declare(settings)
    publish_master(settings, codec, topics.master_data.name, _master_rows(workload.master))
    landed = Published(array("b"), array("q"), [])
    failures: list[str] = []
    unknown_codec = unknown_event_codec(settings) if workload.poison else None

    def report(index: int, kind: str | None) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is None:
                landed.partitions[index] = msg.partition()
                landed.offsets[index] = msg.offset()
            elif kind is not None:  # the topic kept a bad record out (its size): not published
                landed.refused.append(kind)
            else:
                failures.append(str(err))

        return on_delivery

    producer = Producer(
        {
            **settings.confluent_config(),
            **PRODUCER_TUNING,
            **(LARGE_MESSAGES if workload.poison else {}),
            "delivery.report.only.error": False,
        }
    )
    for index, (number, text, event) in enumerate(read_events(workload.events)):
        bad = workload.poison.get(number)
        headers = None
        if bad is not None:
            value, key = poison_value(bad, codec, unknown_codec), bad.key
            headers = poison_headers(bad)
        elif isinstance(event, Event):
            record = to_native(event)
            value = codec.encode(f"s2c.events.{event.schema}", record)
            key = key_of(event.schema, record)
        else:  # a line that is no event goes as it is: the ingest stage must dead-letter it
            value, key = text.encode(), None
        landed.partitions.append(-1)
        landed.offsets.append(-1)
        on_delivery = report(index, bad.kind if bad is not None else None)
        while True:
            try:
                producer.produce(
                    topics.events.name, value, key, headers=headers, on_delivery=on_delivery
                )
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
    return landed
