"""The registry's decisions and its log fold, without Kafka or HTTP.

Invariants that keep producers and consumers safe: a schema has one global id, asking twice
changes nothing, incompatible schemas are refused, and replaying the log (whole or compacted the
way Kafka compacts it) rebuilds exactly the same registry.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2c.streams.registry import errors, rules
from s2c.streams.registry.state import Record, RegistryState


def appointment(*fields: str, default: bool = True) -> str:
    extra = [
        {"name": f, "type": ["null", "string"], "default": None}
        if default
        else {"name": f, "type": "string"}
        for f in fields
    ]
    return rules.normalize(
        {
            "schema": json.dumps(
                {
                    "type": "record",
                    "name": "AppointmentBooked",
                    "namespace": "s2c.events",
                    "fields": [{"name": "appointment_id", "type": "string"}, *extra],
                }
            )
        }
    )


class Log:
    """A state plus the records appended to it, as the Kafka log would hold them."""

    def __init__(self) -> None:
        self.state = RegistryState()
        self.records: list[Record] = []

    def write(self, rule, *args):  # type: ignore[no-untyped-def]
        records, answer = rule(self.state, *args)
        for key, value in records:
            self.records.append((key, value))
            self.state.apply(key, value)
        return answer


def replay(records: list[Record]) -> RegistryState:
    state = RegistryState()
    for key, value in records:
        state.apply(key, value)
    return state


def compacted(records: list[Record]) -> list[Record]:
    """What Kafka keeps after compaction: the newest record per key, in log order, tombstones gone."""
    newest = {key: offset for offset, (key, _) in enumerate(records)}
    return [r for offset, r in enumerate(records) if newest[r[0]] == offset and r[1] is not None]


def view(state: RegistryState) -> object:
    return (
        state.subject_names(deleted=True),
        state.subjects,
        state.schemas,
        state.configs,
        state.modes,
        state.max_id,
    )


def test_same_schema_keeps_its_id_across_subjects_and_repeats() -> None:
    log = Log()
    first = log.write(rules.register, "Appointment-booked", appointment())
    assert log.write(rules.register, "Appointment-booked", appointment()) == first
    assert log.write(rules.register, "Appointment-rebooked", appointment()) == first
    assert rules.versions(log.state, "Appointment-booked") == [1]
    assert log.write(rules.register, "Appointment-booked", appointment("payer"))["id"] == 2


def test_incompatible_change_is_refused_with_409_and_reasons() -> None:
    log = Log()
    log.write(rules.register, "Appointment-booked", appointment())
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rules.register, "Appointment-booked", appointment("payer", default=False))
    assert (caught.value.status, caught.value.error_code) == (409, 409)
    assert "payer" in caught.value.message
    log.write(rules.set_config, "Appointment-booked", {"compatibility": "none"})
    assert log.write(rules.register, "Appointment-booked", appointment("payer", default=False))


def test_unparsable_and_referencing_schemas_are_42201() -> None:
    for request in [
        {"schema": "{"},
        {"schema": '{"type": "record"}'},
        {},
        {"schema": '"string"', "schemaType": "PROTOBUF"},
        {"schema": '"string"', "references": [{"name": "x", "subject": "y", "version": 1}]},
    ]:
        with pytest.raises(errors.RegistryError) as caught:
            rules.normalize(request)
        assert caught.value.error_code == 42201


def test_soft_then_permanent_delete_follow_confluent_codes() -> None:
    log = Log()
    schema_id = log.write(rules.register, "Claim-submitted", appointment())["id"]
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rules.delete_version, "Claim-submitted", "1", True)
    assert caught.value.error_code == 40407
    assert log.write(rules.delete_version, "Claim-submitted", "latest", False) == 1
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rules.delete_version, "Claim-submitted", "1", False)
    assert caught.value.error_code == 40406
    assert rules.schema_by_id(log.state, schema_id)  # soft-deleted ids stay readable
    assert log.write(rules.delete_version, "Claim-submitted", "1", True) == 1
    for rule, args, code in [
        (rules.versions, ("Claim-submitted",), 40401),
        (rules.schema_by_id, (schema_id,), 40403),
    ]:
        with pytest.raises(errors.RegistryError) as caught:
            rule(log.state, *args)
        assert caught.value.error_code == code


def test_read_only_mode_and_config_fall_back_to_global() -> None:
    log = Log()
    log.write(rules.set_mode, None, {"mode": "READONLY"})
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rules.register, "Remit-posted", appointment())
    assert caught.value.error_code == 42205
    log.write(rules.set_mode, "Remit-posted", {"mode": "READWRITE"})
    assert log.write(rules.register, "Remit-posted", appointment())["id"] == 1
    log.write(rules.set_config, None, {"compatibility": "FULL_TRANSITIVE"})
    assert rules.config(log.state, "Remit-posted", True) == {
        "compatibilityLevel": "FULL_TRANSITIVE"
    }
    with pytest.raises(errors.RegistryError) as caught:
        rules.config(log.state, "Remit-posted", False)
    assert caught.value.error_code == 40408
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rules.set_config, None, {"compatibility": "LENIENT"})
    assert caught.value.error_code == 42203


def test_version_numbers_follow_confluent() -> None:
    assert rules.version_number("latest") is None and rules.version_number("-1") is None
    assert rules.version_number("3") == 3
    for bad in ("0", "-2", "one", str(2**31)):
        with pytest.raises(errors.RegistryError) as caught:
            rules.version_number(bad)
        assert caught.value.error_code == 42202


SUBJECTS = st.sampled_from(["Appointment-booked", "Claim-submitted", "Remit-posted"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("register"), SUBJECTS, st.integers(0, 4)),
        st.tuples(st.just("soft"), SUBJECTS, st.integers(1, 4)),
        st.tuples(st.just("hard"), SUBJECTS, st.integers(1, 4)),
        st.tuples(st.just("config"), SUBJECTS, st.sampled_from(["NONE", "FULL", "BACKWARD"])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
@example(
    [
        ("register", "Claim-submitted", 0),
        ("register", "Claim-submitted", 1),
        ("soft", "Claim-submitted", 2),
        ("hard", "Claim-submitted", 2),
    ]
)  # id 2 must stay used
def test_replaying_the_log_whole_or_compacted_rebuilds_the_same_registry(operations) -> None:
    log = Log()
    for op, subject, n in operations:
        try:
            if op == "register":
                log.write(rules.register, subject, appointment(*[f"f{i}" for i in range(n)]))
            elif op in ("soft", "hard"):
                log.write(rules.delete_version, subject, str(n), op == "hard")
            else:
                log.write(rules.set_config, subject, {"compatibility": n})
        except errors.RegistryError:
            pass  # refused operations write nothing
    assert view(replay(log.records)) == view(log.state)
    assert view(replay(compacted(log.records))) == view(log.state)
    ids = [(v.id, v.schema) for vs in log.state.subjects.values() for v in vs.values()]
    assert len({i for i, _ in ids}) == len({s for _, s in ids})  # one id per schema, globally
