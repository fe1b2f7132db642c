"""Every kind of poison `s2c generate --poison` publishes is dead-lettered by the ingest agent with
the reason its kind calls for, and every good event goes on.

The records are encoded exactly as `--kafka` sends them (streams/synth/kafka_out.py, into a
producer that records instead of sending) and handed to the ingest agent in order. A resent event
id is not the ingest stage's to refuse: it goes on, and the process stage drops it by its id.
"""

from __future__ import annotations

from typing import Any

from agentkit import World

from s2c.streams.codec import AvroCodec
from s2c.streams.deadletter import DeadLetter
from s2c.streams.synth import SynthParams, generate
from s2c.streams.synth.kafka_out import _send
from s2c.streams.synth.poison import (
    EXPECTED,
    KINDS,
    POISON_HEADER,
    UNKNOWN_EVENT_SCHEMA,
    Poisoner,
)


class RecordingProducer:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes, dict[str, bytes]]] = []

    def produce(
        self, topic: str, value: bytes, key: str, headers: Any = None, on_delivery: Any = None
    ) -> None:
        self.records.append((key.encode(), value, dict(headers or [])))

    def poll(self, timeout: float) -> int:
        return 0


async def test_each_kind_of_generated_poison_is_dead_lettered_with_its_reason(tmp_path) -> None:
    w = World(tmp_path)
    good = list(generate(SynthParams(seed=11, sites=1, scale=0.05)).events())[:40]
    mixed = list(Poisoner(0.9, seed=11).mix(good))
    producer = RecordingProducer()
    unknown = AvroCodec(w.registry, lambda name: UNKNOWN_EVENT_SCHEMA)
    _send(producer, w.t.topics.events.name, w.codec, "s2c.events", mixed, unknown)
    assert len(producer.records) == len(mixed)
    kinds = [headers.get(POISON_HEADER, b"").decode() for _, _, headers in producer.records]
    assert set(KINDS) <= set(kinds)

    async with w.agent("s2c-ingest").test_context() as ingest:
        offsets = []
        for key, value, _ in producer.records:
            offsets.append((await w.put(ingest, key, value, partition=0)).offset)

    letters = {
        letter.source_offset: letter
        for letter in (
            DeadLetter.from_message(s.key, s.value, list(s.headers.items()))
            for s in w.sent_to(w.t.topics.dlq)
        )
    }
    want = {
        offset: EXPECTED[kind]
        for offset, kind in zip(offsets, kinds, strict=True)
        if kind and EXPECTED[kind] != "duplicate"
    }
    assert {offset: letter.reason for offset, letter in letters.items()} == want
    oversize = [letters[o] for o, k in zip(offsets, kinds, strict=True) if k == "oversize-5mb"]
    assert oversize and all(letter.omitted for letter in oversize)
    forwarded = {s.value for s in w.sent_to(w.t.topics.process) + w.sent_to(w.t.topics.link)}
    good_values = {
        value for (_, value, headers), kind in zip(producer.records, kinds, strict=True) if not kind
    }
    assert good_values <= forwarded
