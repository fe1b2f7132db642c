"""check_compatibility: the Confluent levels, as CI and the registry both apply them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s2c.streams.compat import LEVELS, SchemaParseError, check_compatibility

PAYER = {"name": "payer_id", "type": "string"}
PAYER_OPTIONAL = {"name": "payer_id", "type": ["null", "string"], "default": None}
PAYER_REQUIRED_INT = {"name": "payer_id", "type": "int"}


def case_scheduled(*extra: dict[str, Any]) -> str:
    fields = [{"name": "case_id", "type": "string"}, {"name": "or_room_id", "type": "string"}]
    return json.dumps(
        {
            "type": "record",
            "name": "CaseScheduled",
            "namespace": "s2c.events",
            "fields": fields + list(extra),
        }
    )


def test_levels_are_the_confluent_ones() -> None:
    assert set(LEVELS) == {
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    }


def test_adding_a_field_with_a_default_is_backward_compatible() -> None:
    assert (
        check_compatibility(
            case_scheduled(PAYER_OPTIONAL), [case_scheduled()], "BACKWARD_TRANSITIVE"
        )
        == []
    )


def test_adding_a_required_field_breaks_backward_and_names_field_and_version() -> None:
    messages = check_compatibility(case_scheduled(PAYER), [case_scheduled()], "BACKWARD")
    assert len(messages) == 1
    assert "s2c.events.CaseScheduled.payer_id" in messages[0]
    assert "previous version 1" in messages[0]


def test_transitive_checks_every_previous_version_plain_only_the_newest() -> None:
    v1, v2 = case_scheduled(PAYER_REQUIRED_INT), case_scheduled()
    candidate = case_scheduled(PAYER_OPTIONAL)  # reads v2, but not v1's int payer_id
    assert check_compatibility(candidate, [v1, v2], "BACKWARD") == []
    messages = check_compatibility(candidate, [v1, v2], "BACKWARD_TRANSITIVE")
    assert len(messages) == 1 and "previous version 1" in messages[0]
    assert "payer_id" in messages[0]


def test_forward_asks_whether_old_readers_read_new_data() -> None:
    without_room = json.dumps(
        {
            "type": "record",
            "name": "CaseScheduled",
            "namespace": "s2c.events",
            "fields": [{"name": "case_id", "type": "string"}],
        }
    )
    # removing a field old readers require breaks FORWARD, not BACKWARD
    assert check_compatibility(without_room, [case_scheduled()], "BACKWARD") == []
    messages = check_compatibility(without_room, [case_scheduled()], "FORWARD")
    assert messages and "or_room_id" in messages[0]
    full = check_compatibility(without_room, [case_scheduled()], "FULL")
    assert len(full) == 1 and "or_room_id" in full[0] and "(FULL)" in full[0]


def test_enum_symbol_removed_is_named_inside_an_optional_record() -> None:
    def remit(symbols: list[str]) -> str:
        group = {"type": "enum", "name": "CasGroup", "namespace": "s2c.common", "symbols": symbols}
        detail = {
            "type": "record",
            "name": "Adjustment",
            "fields": [{"name": "group_code", "type": group}],
        }
        return json.dumps(
            {
                "type": "record",
                "name": "AdjustmentPosted",
                "fields": [{"name": "adjustment", "type": ["null", detail], "default": None}],
            }
        )

    messages = check_compatibility(remit(["CO", "PR"]), [remit(["CO", "PR", "OA"])], "BACKWARD")
    assert len(messages) == 1
    assert "AdjustmentPosted.adjustment.group_code" in messages[0] and "OA" in messages[0]


def test_none_and_empty_history_accept_anything() -> None:
    assert check_compatibility(case_scheduled(PAYER), [case_scheduled()], "NONE") == []
    assert check_compatibility(case_scheduled(PAYER), [], "FULL_TRANSITIVE") == []


def test_unparsable_schema_raises_schema_parse_error() -> None:
    with pytest.raises(SchemaParseError):
        check_compatibility('{"type": "record", "name": "CaseScheduled"', [], "BACKWARD")
    with pytest.raises(SchemaParseError):
        check_compatibility(case_scheduled(), ['{"type": "reccord", "name": "X"}'], "BACKWARD")
    assert issubclass(SchemaParseError, ValueError)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown compatibility level"):
        check_compatibility(case_scheduled(), [], "SIDEWAYS")
