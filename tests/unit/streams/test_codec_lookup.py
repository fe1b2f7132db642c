"""A codec that may not register: it looks schemas up by subject and schema, and a schema the
registry does not have is reported naming its subject, instead of a worker waiting forever."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from s2c.streams.codec import AvroCodec, RegistryUnavailable, SchemaUnavailable

CLAIM = json.dumps(
    {
        "type": "record",
        "name": "ClaimSubmitted",
        "namespace": "s2c.events",
        "fields": [{"name": "claim_id", "type": "string"}],
    }
)
SUBJECT = "s2c.events.ClaimSubmitted"


class Registry:
    """Answers registrations with `register_error` (or id 41) and lookups from `known`."""

    def __init__(
        self, register_error: Exception | None = None, known: dict[str, int] | None = None
    ) -> None:
        self.register_error, self.known = register_error, known or {}
        self.calls: list[tuple[str, str]] = []

    def register_schema(self, subject: str, schema: object) -> int:
        self.calls.append(("register", subject))
        if self.register_error is not None:
            raise self.register_error
        return 41

    def lookup_schema(self, subject: str, schema: object) -> object:
        self.calls.append(("lookup", subject))
        if subject not in self.known:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        return type("Registered", (), {"schema_id": self.known[subject]})()


def test_registering_is_the_default() -> None:
    registry = Registry()
    assert AvroCodec(registry, lambda name: CLAIM).prepare(SUBJECT) == 41
    assert registry.calls == [("register", SUBJECT)]


def test_told_not_to_register_it_only_looks_up() -> None:
    registry = Registry(known={SUBJECT: 7})
    codec = AvroCodec(registry, lambda name: CLAIM, register=False)
    assert codec.prepare(SUBJECT) == 7
    assert registry.calls == [("lookup", SUBJECT)]
    assert codec.encode(SUBJECT, {"claim_id": "CLM-88"})[:5] == b"\x00\x00\x00\x00\x07"


@pytest.mark.parametrize(
    "refusal",
    [
        SchemaRegistryError(401, 40101, "Unauthorized"),
        SchemaRegistryError(403, 40301, "User worker has role read"),
        SchemaRegistryError(422, 42205, "Subject s2c.events.ClaimSubmitted is in read-only mode"),
    ],
)
def test_a_refused_registration_turns_to_lookups_for_good(refusal: Exception) -> None:
    registry = Registry(refusal, known={SUBJECT: 7, "s2c.events.ClaimPaid": 8})
    codec = AvroCodec(registry, lambda name: CLAIM.replace("ClaimSubmitted", name.split(".")[-1]))
    assert codec.prepare(SUBJECT) == 7
    assert codec.prepare("s2c.events.ClaimPaid") == 8
    assert registry.calls == [
        ("register", SUBJECT),
        ("lookup", SUBJECT),
        ("lookup", "s2c.events.ClaimPaid"),
    ]


def test_an_incompatible_schema_is_still_an_error_not_a_lookup() -> None:
    registry = Registry(SchemaRegistryError(409, 409, "incompatible"))
    with pytest.raises(SchemaRegistryError):
        AvroCodec(registry, lambda name: CLAIM).prepare(SUBJECT)
    assert registry.calls == [("register", SUBJECT)]


def test_a_missing_schema_names_its_subject() -> None:
    codec = AvroCodec(Registry(), lambda name: CLAIM, register=False)
    with pytest.raises(SchemaUnavailable, match=f"subject {SUBJECT}: .*s2c schemas register"):
        codec.prepare(SUBJECT)


def test_a_refused_lookup_says_to_check_the_credentials() -> None:
    class Refusing(Registry):
        def lookup_schema(self, subject: str, schema: object) -> object:
            raise SchemaRegistryError(401, 40101, "Unauthorized")

    with pytest.raises(SchemaUnavailable, match="S2C_REGISTRY_USER_INFO"):
        AvroCodec(Refusing(), lambda name: CLAIM, register=False).prepare(SUBJECT)


def test_an_outage_during_a_lookup_is_waited_for() -> None:
    class Down(Registry):
        def lookup_schema(self, subject: str, schema: object) -> object:
            raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(RegistryUnavailable):
        AvroCodec(Down(), lambda name: CLAIM, register=False).prepare(SUBJECT)
