"""The audit record's format and `s2c audit list`'s filters (no Kafka)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from s2c.streams.audit import AuditRecord, cli_actor, matches, now, parse_since
from s2c.streams.settings import Settings

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def compatibility_change(at: datetime) -> AuditRecord:
    return AuditRecord(
        "billing-ops",
        "registry.compatibility",
        "s2c.events.ClaimSubmitted",
        now(at),
        "registry",
        {"compatibility": "NONE"},
    )


def test_a_record_round_trips_and_says_its_version() -> None:
    record = compatibility_change(NOON)
    raw = json.loads(record.to_bytes())
    assert raw["version"] == 1 and raw["at"] == "2026-12-04T12:00:00+00:00"
    assert AuditRecord.from_bytes(record.to_bytes()) == record


def test_a_later_version_with_more_fields_still_reads() -> None:
    raw = json.loads(compatibility_change(NOON).to_bytes())
    raw.update(version=2, request_id="r-17")
    read = AuditRecord.from_bytes(json.dumps(raw).encode())
    assert (read.actor, read.version) == ("billing-ops", 2)


def test_a_line_says_when_who_what_and_on_what() -> None:
    assert compatibility_change(NOON).line() == (
        "2026-12-04T12:00:00+00:00  billing-ops  registry.compatibility  "
        's2c.events.ClaimSubmitted  {"compatibility": "NONE"}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2026, 12, 4, 11, 30, tzinfo=UTC)),
        ("12h", datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        ("2026-12-04", datetime(2026, 12, 4, tzinfo=UTC)),
        ("2026-12-04T09:00+01:00", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOON) == expected


def test_since_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        parse_since("yesterday", NOON)


def test_filters_by_time_and_action_family() -> None:
    record = compatibility_change(NOON)
    assert matches(record, None, None)
    assert matches(record, parse_since("1h", NOON), "registry")
    assert matches(record, None, "registry.compatibility")
    assert not matches(record, None, "registry.compat")
    assert not matches(record, None, "dlq")
    assert not matches(record, datetime(2026, 12, 4, 12, 1, tzinfo=UTC), None)


def test_a_command_is_done_by_s2c_actor_or_the_os_user() -> None:
    assert cli_actor(Settings(actor="night-shift-lead")) == "night-shift-lead"
    assert "@" in cli_actor(Settings())
