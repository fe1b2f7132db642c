"""What the codec makes of a registry that cannot help: a definite "no" dead-letters the record,
an outage makes it wait. And `s2c dlq replay` sends each source record back once."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from s2c.streams.codec import AvroCodec, DecodeError, RegistryUnavailable
from s2c.streams.deadletter import DeadLetter
from s2c.streams.dlq_cli import once_per_source


class Registry:
    def __init__(self, error: Exception | None = None, schema_str: str = "") -> None:
        self.error, self.schema_str, self.asked = error, schema_str, []

    def get_schema(self, schema_id: int):
        self.asked.append(schema_id)
        if self.error is not None:
            raise self.error
        return type("S", (), {"schema_str": self.schema_str})()


def codec(registry: Registry) -> AvroCodec:
    return AvroCodec(registry, lambda name: "{}")


@pytest.mark.parametrize("status, code", [(404, 40403), (422, 42201)])
def test_an_answered_no_is_undecodable(status: int, code: int) -> None:
    with pytest.raises(DecodeError, match="unknown to the registry"):
        codec(Registry(SchemaRegistryError(status, code, "Schema not found"))).resolve_id(7)


@pytest.mark.parametrize(
    "error",
    [
        SchemaRegistryError(500, 50001, "Error in the backend data store"),
        SchemaRegistryError(503, 50003, "Error while forwarding the request to the leader"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("read timed out"),
    ],
)
def test_an_outage_is_not_a_verdict_on_the_bytes(error: Exception) -> None:
    with pytest.raises(RegistryUnavailable):
        codec(Registry(error)).resolve_id(7)


def test_a_schema_fastavro_cannot_parse_is_undecodable() -> None:
    broken = json.dumps({"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]})
    with pytest.raises(DecodeError, match="not a usable Avro schema"):
        codec(Registry(schema_str=broken)).resolve_id(7)


def test_a_resolved_id_is_asked_once() -> None:
    schema = json.dumps(
        {
            "type": "record",
            "name": "X",
            "namespace": "s2c.events",
            "fields": [{"name": "a", "type": "string"}],
        }
    )
    registry = Registry(schema_str=schema)
    c = codec(registry)
    assert c.resolve_id(7) == "s2c.events.X" == c.resolve_id(7)
    assert registry.asked == [7]


def letter(topic: str, partition: int, offset: int, value: bytes) -> DeadLetter:
    return DeadLetter(
        reason="unusable-master-record",
        stage="master",
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        exception_class="E",
        exception_message="m",
        key=b"k",
        value=value,
    )


def test_replay_sends_each_source_record_once_and_keeps_file_inputs() -> None:
    letters = [
        (0, 0, letter("s2c.master", 1, 40, b"a")),  # worker 1
        (1, 0, letter("s2c.master", 1, 40, b"a")),  # worker 2, same source record
        (0, 1, letter("s2c.master", 1, 41, b"b")),
        (1, 1, letter("/in/837.x12", -1, -1, b"c")),  # connector inputs: no coordinates
        (1, 2, letter("/in/837.x12", -1, -1, b"d")),
    ]
    kept = once_per_source(letters)
    assert [(p, o) for p, o, _ in kept] == [(0, 0), (0, 1), (1, 1), (1, 2)]


class VersionedRegistry:
    """Our version registers as id 1; other producers' versions are ids 2 and 3."""

    def __init__(self, versions: dict[int, dict]) -> None:
        self.versions = versions

    def register_schema(self, subject: str, schema) -> int:
        return 1

    def get_schema(self, schema_id: int):
        return type("S", (), {"schema_str": json.dumps(self.versions[schema_id])})()


def test_other_versions_of_a_known_record_are_read_into_ours() -> None:
    import io
    import struct

    import fastavro

    def record(*fields: dict) -> dict:
        return {
            "type": "record",
            "name": "Visit",
            "namespace": "s2c.events",
            "fields": list(fields),
        }

    visit_id = {"name": "visit_id", "type": "string"}
    channel = {"name": "channel", "type": ["null", "string"], "default": None}
    ours = record(visit_id, channel)
    ahead = record(visit_id, channel, {"name": "kiosk", "type": "string", "default": ""})
    behind = record(visit_id)
    c = AvroCodec(VersionedRegistry({2: ahead, 3: behind}), lambda name: json.dumps(ours))
    c.prepare("s2c.events.Visit")

    def wire(schema_id: int, schema: dict, value: dict) -> bytes:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, fastavro.parse_schema(schema), value)
        return struct.pack(">bI", 0, schema_id) + body.getvalue()

    assert c.decode(wire(2, ahead, {"visit_id": "V1", "channel": "web", "kiosk": "K9"})) == (
        "s2c.events.Visit",
        {"visit_id": "V1", "channel": "web"},
    )  # field we lack: dropped
    assert c.decode(wire(3, behind, {"visit_id": "V2"})) == (
        "s2c.events.Visit",
        {"visit_id": "V2", "channel": None},
    )  # field they lack: default
