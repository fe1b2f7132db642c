"""The s2c registry against confluent-kafka's own client and serializers, on the real broker.

What matters to s2c: producers and consumers written for Confluent's registry work unchanged,
ids are global and survive restarts, several instances agree, and incompatible or broken schemas
are refused with the codes Confluent's clients understand.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

pytestmark = pytest.mark.integration


def surgery(*extra_fields: dict[str, object]) -> Schema:
    fields = [
        {"name": "case_id", "type": "string"},
        {"name": "site", "type": "string"},
        *extra_fields,
    ]
    return Schema(
        json.dumps(
            {
                "type": "record",
                "name": "SurgeryScheduled",
                "namespace": "s2c.events",
                "fields": fields,
            }
        ),
        "AVRO",
    )


PAYER_WITH_DEFAULT = {"name": "payer", "type": ["null", "string"], "default": None}
PAYER_REQUIRED = {"name": "payer", "type": "string"}


def client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0})  # no retry hides a server error


def subject() -> str:
    return f"s2c.events.SurgeryScheduled-{uuid.uuid4().hex[:8]}"


def test_serializer_round_trip_and_global_ids(registry) -> None:
    sr, orders, remits = client(registry.url), subject(), subject()
    serialize = AvroSerializer(sr, surgery().schema_str)
    deserialize = AvroDeserializer(client(registry.url))
    event = {"case_id": "OR-2291", "site": "St. Olaf Main OR"}
    payload = serialize(event, SerializationContext(orders, MessageField.VALUE))
    assert deserialize(payload, SerializationContext(orders, MessageField.VALUE)) == event

    first = sr.register_schema(orders, surgery())
    assert client(registry.url).register_schema(orders, surgery()) == first
    assert sr.get_versions(orders) == [1]  # same schema again makes no new version
    assert client(registry.url).register_schema(remits, surgery()) == first
    assert int.from_bytes(payload[1:5], "big") == first
    found = client(registry.url).lookup_schema(remits, surgery())
    assert (found.schema_id, found.version) == (first, 1)
    versions = client(registry.url).get_schema_versions(first)
    assert {(v.subject, v.version) for v in versions} >= {(orders, 1), (remits, 1)}


def test_unknown_things_answer_confluent_404_codes(registry) -> None:
    sr, name = client(registry.url), subject()
    sr.register_schema(name, surgery())
    for call, code in [
        (lambda: sr.get_latest_version(subject()), 40401),
        (lambda: sr.get_version(name, 7), 40402),
        (lambda: sr.get_schema(987654), 40403),
        (lambda: sr.lookup_schema(name, surgery(PAYER_REQUIRED)), 40403),
    ]:
        with pytest.raises(SchemaRegistryError) as caught:
            call()
        assert (caught.value.http_status_code, caught.value.error_code) == (404, code)
    bad = httpx.get(f"{registry.url}/subjects/{name}/versions/0")
    assert (bad.status_code, bad.json()["error_code"]) == (422, 42202)


def test_compatibility_levels_guard_registration(registry) -> None:
    sr, name = client(registry.url), subject()
    sr.register_schema(name, surgery())
    assert sr.get_compatibility() == "BACKWARD"  # Confluent's default; s2c's tooling sets its own
    with pytest.raises(SchemaRegistryError) as caught:
        sr.register_schema(name, surgery(PAYER_REQUIRED))
    assert (caught.value.http_status_code, caught.value.error_code) == (409, 409)
    assert "payer" in caught.value.error_message
    assert sr.test_compatibility(name, surgery(PAYER_REQUIRED)) is False
    assert sr.test_compatibility(name, surgery(PAYER_WITH_DEFAULT)) is True
    verbose = httpx.post(
        f"{registry.url}/compatibility/subjects/{name}/versions/latest",
        params={"verbose": "true"},
        json={"schema": surgery(PAYER_REQUIRED).schema_str},
    )
    assert verbose.json()["is_compatible"] is False and "payer" in verbose.json()["messages"][0]

    assert sr.set_compatibility(name, "NONE") == {"compatibility": "NONE"}
    assert sr.get_compatibility(name) == "NONE"
    assert sr.register_schema(name, surgery(PAYER_REQUIRED)) > 0
    with pytest.raises(SchemaRegistryError) as caught:
        sr.set_compatibility(name, "SOMETIMES")
    assert caught.value.error_code == 42203


def test_unparsable_and_unsupported_schemas_are_422(registry) -> None:
    sr = client(registry.url)
    for broken in [
        Schema('{"type": "record", "name": "Claim"}', "AVRO"),
        Schema("not json at all", "AVRO"),
        Schema('{"type": "object"}', "JSON"),
    ]:
        with pytest.raises(SchemaRegistryError) as caught:
            sr.register_schema(subject(), broken)
        assert (caught.value.http_status_code, caught.value.error_code) == (422, 42201)


def test_delete_subject_soft_then_permanent(registry) -> None:
    sr, name = client(registry.url), subject()
    schema_id = sr.register_schema(name, surgery())
    sr.register_schema(name, surgery(PAYER_WITH_DEFAULT))
    with pytest.raises(SchemaRegistryError) as caught:
        sr.delete_subject(name, permanent=True)
    assert caught.value.error_code == 40405  # Confluent: soft delete first
    assert sr.delete_subject(name) == [1, 2]
    assert name not in sr.get_subjects()
    with pytest.raises(SchemaRegistryError) as caught:
        sr.delete_subject(name)
    assert caught.value.error_code == 40404
    assert sr.get_schema(schema_id) is not None  # ids stay readable after a soft delete
    assert sr.delete_subject(name, permanent=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as caught:
        client(registry.url).get_versions(name)
    assert caught.value.error_code == 40401


def test_read_only_mode_refuses_registration(registry) -> None:
    sr, name = client(registry.url), subject()
    assert sr.update_mode(name, "READONLY") == "READONLY"
    with pytest.raises(SchemaRegistryError) as caught:
        sr.register_schema(name, surgery())
    assert (caught.value.http_status_code, caught.value.error_code) == (422, 42205)
    assert sr.delete_mode(name) == "READONLY"  # Confluent answers with the mode it removed
    with pytest.raises(SchemaRegistryError) as caught:
        sr.get_mode(name)
    assert caught.value.error_code == 40409
    assert sr.get_global_mode() == "READWRITE"
    assert sr.register_schema(name, surgery()) > 0


def test_http_surface_speaks_confluent(registry) -> None:
    root = httpx.get(f"{registry.url}/")
    assert (root.status_code, root.json()) == (200, {})
    assert root.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    name = subject()
    for media in (
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
    ):
        answer = httpx.post(
            f"{registry.url}/subjects/{name}/versions",
            headers={"Content-Type": media},
            content=json.dumps({"schema": surgery().schema_str}),
        )
        assert answer.status_code == 200, answer.text
    config = httpx.get(f"{registry.url}/config")
    assert config.json() == {"compatibilityLevel": "BACKWARD"}
    metrics = httpx.get(f"{registry.url}/metrics").text
    assert (
        's2c_registry_requests_total{method="POST",route="/subjects/{subject}/versions"' in metrics
    )


def test_schemas_survive_a_restart(registry_factory) -> None:
    first = registry_factory()
    name = subject()
    schema_id = client(first.url).register_schema(name, surgery())
    config = client(first.url).set_compatibility(name, "FULL_TRANSITIVE")
    first.kill()
    second = registry_factory(first.topic)
    sr = client(second.url)
    assert json.loads(sr.get_schema(schema_id).schema_str)["name"] == "SurgeryScheduled"
    assert sr.get_compatibility(name) == config["compatibility"]
    assert sr.register_schema(name, surgery()) == schema_id
    assert sr.register_schema(subject(), surgery(PAYER_WITH_DEFAULT)) == schema_id + 1


def test_two_instances_on_one_topic_agree_on_ids(registry_factory) -> None:
    a = registry_factory()
    b = registry_factory(a.topic)
    names = [subject() for _ in range(6)]
    schemas = [surgery({"name": f"field_{i}", "type": "int", "default": 0}) for i in range(6)]

    def register(i: int) -> int:  # alternate instances, all at once
        return client((a, b)[i % 2].url).register_schema(names[i], schemas[i])

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(register, range(6)))
    assert len(set(ids)) == 6  # distinct schemas never share an id, even when written concurrently
    for i, schema_id in enumerate(ids):
        for instance in (a, b):
            assert (
                client(instance.url).get_schema(schema_id).schema_str
                == client(instance.url).get_latest_version(names[i]).schema.schema_str
            )
    assert client(b.url).register_schema(subject(), schemas[0]) == ids[0]  # same schema, same id


def test_import_mode_keeps_another_registrys_id_across_a_restart(registry_factory) -> None:
    first = registry_factory()
    sr, imported = client(first.url), f"mdm-import.{subject()}"
    own = sr.register_schema(subject(), surgery())
    assert sr.update_mode(imported, "IMPORT") == "IMPORT"
    schema_id = own + 1000  # the id the feed's records carry from their old registry
    # confluent-kafka's Schema has no id field: the id goes in the REST body, as with curl.
    answer = httpx.post(
        f"{first.url}/subjects/{imported}/versions",
        json={"schema": surgery(PAYER_WITH_DEFAULT).schema_str, "id": schema_id, "version": 1},
    )
    assert answer.json() == {"id": schema_id}, answer.text
    assert "payer" in sr.get_schema(schema_id).schema_str
    assert sr.delete_mode(imported) == "IMPORT"
    first.kill()

    second = registry_factory(first.topic)
    sr = client(second.url)
    assert sr.get_version(imported, 1).schema_id == schema_id
    serialize = AvroSerializer(
        sr,
        None,
        conf={
            "auto.register.schemas": False,
            "use.latest.version": True,
            "subject.name.strategy": lambda ctx, name: imported,
        },
    )
    event = {"case_id": "OR-3107", "site": "Lakeside Surgery Center", "payer": "AETNA-COMM"}
    payload = serialize(event, SerializationContext(imported, MessageField.VALUE))
    assert int.from_bytes(payload[1:5], "big") == schema_id
    deserialize = AvroDeserializer(client(second.url))
    assert deserialize(payload, SerializationContext(imported, MessageField.VALUE)) == event
    # Ordinary registrations continue above the imported id.
    assert (
        sr.register_schema(
            subject(), surgery({"name": "room", "type": "string", "default": "OR-1"})
        )
        == schema_id + 1
    )
