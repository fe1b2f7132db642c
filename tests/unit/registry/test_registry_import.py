"""IMPORT mode: schemas migrated from another registry keep the ids their records carry.

What an operator relies on when a feed moves registries: a subject in IMPORT takes a schema under
exactly the id and version it had, the id is never given to another schema, nothing is registered
with an explicit id outside IMPORT, and the ids (and the next ordinary id above them) survive a
rebuild of the state from the log, whole or compacted.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_registry_rules import Log, appointment, compacted, replay, view

from s2c.streams.registry import errors, rules

IMPORTED = "mdm-import.s2c.master.Payer"


def importing(subject: str = IMPORTED) -> Log:
    log = Log()
    log.write(rules.set_mode, subject, {"mode": "IMPORT"})
    return log


def refused(log: Log, rule, *args) -> errors.RegistryError:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.RegistryError) as caught:
        log.write(rule, *args)
    return caught.value


def test_import_keeps_the_id_and_version_it_is_given_and_reads_back_by_id() -> None:
    log = importing()
    assert log.write(rules.register, IMPORTED, appointment(), 1042, 3) == {"id": 1042}
    assert rules.schema_by_id(log.state, 1042) == {"schema": appointment()}
    assert rules.versions(log.state, IMPORTED) == [3]
    assert [(v.subject, v.version) for v in rules.schema_users(log.state, 1042)] == [(IMPORTED, 3)]
    # Without a version the next one is taken; importing the same thing again changes nothing.
    assert log.write(rules.register, IMPORTED, appointment("plan_type"), 1043) == {"id": 1043}
    assert rules.versions(log.state, IMPORTED) == [3, 4]
    before = list(log.records)
    assert log.write(rules.register, IMPORTED, appointment(), 1042, 3) == {"id": 1042}
    assert log.records == before


def test_an_imported_id_above_the_others_moves_ordinary_ids_past_it() -> None:
    log = importing()
    assert log.write(rules.register, "s2c.master.Location", appointment())["id"] == 1
    log.write(rules.register, IMPORTED, appointment("plan_type"), 5000)
    assert log.write(rules.register, "s2c.master.ContractRate", appointment("rate"))["id"] == 5001
    # Below the highest id, an unused one may be imported too, and moves nothing.
    log.write(rules.register, IMPORTED, appointment("plan_type", "tier"), 7)
    assert log.write(rules.register, "s2c.master.GlAccountMap", appointment("gl"))["id"] == 5002


def test_the_same_schema_may_come_in_under_another_id_but_an_id_names_one_schema() -> None:
    log = importing()
    own = log.write(rules.register, "s2c.master.Payer", appointment())["id"]
    assert log.write(rules.register, IMPORTED, appointment(), 1042)["id"] == 1042
    assert rules.schema_by_id(log.state, own) == rules.schema_by_id(log.state, 1042)
    assert log.write(rules.register, "s2c.master.Payer", appointment())["id"] == own
    assert log.write(rules.register, "another.Payer", appointment())["id"] == own  # the lowest
    caught = refused(log, rules.register, IMPORTED, appointment("plan_type"), 1042)
    assert (caught.status, caught.error_code) == (422, 42205)
    assert caught.message == "Overwrite new schema with id 1042 is not permitted."
    caught = refused(log, rules.register, IMPORTED, appointment("plan_type"), own)
    assert caught.error_code == 42205


def test_an_import_does_not_overwrite_a_version_that_holds_another_schema() -> None:
    log = importing()
    log.write(rules.register, IMPORTED, appointment(), 1042, 1)
    for schema, schema_id in [(appointment("plan_type"), 1043), (appointment(), 1044)]:
        caught = refused(log, rules.register, IMPORTED, schema, schema_id, 1)
        assert (
            caught.error_code == 42205
            and "version 1 already holds schema id 1042" in caught.message
        )
    assert rules.resolve(log.state, IMPORTED, "1").id == 1042


def test_a_soft_deleted_import_comes_back_when_imported_again() -> None:
    log = importing()
    log.write(rules.register, IMPORTED, appointment(), 1042, 1)
    log.write(rules.delete_version, IMPORTED, "1", False)
    assert log.write(rules.register, IMPORTED, appointment(), 1042, 1) == {"id": 1042}
    assert rules.resolve(log.state, IMPORTED, "latest").id == 1042


def test_explicit_ids_need_import_mode_and_import_mode_needs_them() -> None:
    log = Log()
    caught = refused(log, rules.register, "s2c.master.Payer", appointment(), 1042)
    assert (caught.status, caught.error_code) == (422, 42205)
    assert caught.message == "Subject s2c.master.Payer is not in import mode"
    log = importing()
    caught = refused(log, rules.register, IMPORTED, appointment())
    assert caught.message == f"Subject {IMPORTED} is not in read-write mode"
    # A schema the subject already has still answers its id (auto-registering clients).
    log.write(rules.register, IMPORTED, appointment(), 1042)
    assert log.write(rules.register, IMPORTED, appointment()) == {"id": 1042}
    log.write(rules.set_mode, IMPORTED, {"mode": "READONLY"})
    assert refused(log, rules.register, IMPORTED, appointment("x"), 1043).error_code == 42205


def test_import_skips_the_compatibility_check() -> None:
    log = importing()
    log.write(rules.set_config, IMPORTED, {"compatibility": "FULL_TRANSITIVE"})
    log.write(rules.register, IMPORTED, appointment(), 1042)
    required = appointment("payer_id", default=False)  # incompatible: a field without default
    assert log.write(rules.register, IMPORTED, required, 1043) == {"id": 1043}
    log.write(rules.delete_mode, IMPORTED)
    caught = refused(log, rules.register, IMPORTED, appointment("plan_id", default=False))
    assert caught.status == 409


def test_entering_import_mode_needs_no_live_versions_unless_forced() -> None:
    log = Log()
    log.write(rules.register, "s2c.master.Payer", appointment())
    for subject in ("s2c.master.Payer", None):
        caught = refused(log, rules.set_mode, subject, {"mode": "IMPORT"})
        assert caught.message == "Cannot import since found existing subjects"
    assert log.write(rules.set_mode, "s2c.master.Payer", {"mode": "import"}, True) == {
        "mode": "IMPORT"
    }
    assert log.write(rules.set_mode, IMPORTED, {"mode": "IMPORT"}) == {"mode": "IMPORT"}
    assert rules.mode(log.state, "s2c.master.Location", True) == {"mode": "READWRITE"}


def test_a_version_out_of_range_or_not_the_next_one_is_refused() -> None:
    assert rules.requested_slot({"schema": "{}"}) == (None, None)
    assert rules.requested_slot({"id": -1, "version": 0}) == (None, None)  # Confluent's unset
    assert rules.requested_slot({"id": 0, "version": 2}) == (0, 2)
    for request, code in [
        ({"version": 2**31}, 42202),
        ({"id": "1042"}, 400),
        ({"version": True}, 400),
        ({"id": 2**31}, 400),
    ]:
        with pytest.raises(errors.RegistryError) as caught:
            rules.requested_slot(request)
        assert caught.value.error_code == code
    log = Log()
    log.write(rules.register, "s2c.master.Payer", appointment(), None, 1)
    caught = refused(log, rules.register, "s2c.master.Payer", appointment("plan_type"), None, 3)
    assert caught.error_code == 42201 and "one more than previous" in caught.message


def test_imported_ids_survive_a_rebuild_from_the_compacted_log() -> None:
    log = importing()
    assert log.write(rules.register, "s2c.master.Payer", appointment())["id"] == 1
    log.write(rules.register, IMPORTED, appointment(), 1042)  # the same schema under its old id
    # A soft delete rewrites id 1's record after the import's, so compaction reorders the two.
    log.write(rules.delete_subject, "s2c.master.Payer", False)
    for rebuilt in (replay(log.records), replay(compacted(log.records))):
        assert view(rebuilt) == view(log.state) and rebuilt.ids == log.state.ids
        assert rebuilt.id_for(appointment()) == 1
    log.write(rules.delete_subject, "s2c.master.Payer", True)  # id 1 is gone for good
    for rebuilt in (replay(log.records), replay(compacted(log.records))):
        assert view(rebuilt) == view(log.state) and rebuilt.ids == log.state.ids
        assert rebuilt.schemas.keys() == {1042} and rebuilt.id_for(appointment()) == 1042
        assert rebuilt.id_for(appointment("plan_type")) == 1043


SCHEMAS = st.integers(0, 3)
IMPORTS = st.lists(
    st.one_of(
        st.tuples(st.just("import"), SCHEMAS, st.integers(1, 6), st.none() | st.integers(1, 3)),
        st.tuples(st.just("register"), SCHEMAS, st.just(0), st.none()),
        st.tuples(st.just("soft"), st.just(0), st.just(0), st.integers(1, 3)),
        st.tuples(st.just("hard"), st.just(0), st.just(0), st.integers(1, 3)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(IMPORTS)
def test_with_imports_an_id_names_one_schema_and_a_rebuild_changes_nothing(operations) -> None:
    log = importing()
    for op, n, schema_id, version in operations:
        schema = appointment(*[f"f{i}" for i in range(n)])
        try:
            if op == "import":
                log.write(rules.register, IMPORTED, schema, schema_id, version)
            elif op == "register":
                log.write(rules.register, f"s2c.master.Record{n}", schema)
            else:
                log.write(rules.delete_version, IMPORTED, str(version), op == "hard")
        except errors.RegistryError:
            pass  # refused operations write nothing
    for rebuilt in (replay(log.records), replay(compacted(log.records))):
        assert view(rebuilt) == view(log.state) and rebuilt.ids == log.state.ids
    ids = [(v.id, v.schema) for vs in log.state.subjects.values() for v in vs.values()]
    assert len({i for i, _ in ids}) == len(set(ids))  # no id names two schemas
    assert all(i <= log.state.max_id for i, _ in ids)
