"""The Faust topology on the real stack gives exactly what the pure core gives.

A knee arthroscopy at Riverside Medical Center, paid by Aetna Commercial: booked, rescheduled,
authorized, operated, discharged, charged, billed, partially paid with a contractual adjustment and
a denied line. The commands on the ERP topic must be exactly the commands `s2c replay`'s engine
computes for the same events (ids, types, journal lines), also when the events arrive shuffled and
duplicated. A malformed message lands in the dead-letter topic with Connect-style headers.
"""

from __future__ import annotations

import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))  # the core tests' small world

from core_world import (  # noqa: E402
    DAY,
    MASTER_RECORDS,
    SURGERY_DAY,
    T0,
    Feed,
    adjustment,
    denial,
    knee_case_through_claim,
    master_data,
    payment,
)
from stackkit import IDS, PipelineEnv, read_topic  # noqa: E402

from s2c.streams.catalog import load_catalog  # noqa: E402
from s2c.streams.codec import AvroCodec, registry_client  # noqa: E402
from s2c.streams.masterdata import publish_master  # noqa: E402
from s2c.streams.topics import declare  # noqa: E402
from s2c.tables.codec import to_native  # noqa: E402
from s2c.tables.master import master_record  # noqa: E402
from s2c.tables.outputs import Command  # noqa: E402
from s2c.tables.replay import Pipeline  # noqa: E402
from s2c.tables.routing import route  # noqa: E402

pytestmark = pytest.mark.integration


def episode() -> list:
    feed = Feed("knee")
    events = knee_case_through_claim(feed)
    events.insert(
        1,
        feed(
            "CaseRescheduled",
            24,
            case_id="C-1001",
            scheduled_start=T0 + timedelta(days=14, hours=2),
            planned_minutes=120,
            site_id="RIVERSIDE",
            or_room_id="RIV-OR-5",
        ),
    )
    paid_at = SURGERY_DAY + 30 * DAY
    events += [
        payment(feed, paid_at, "3100.00"),
        adjustment(feed, paid_at, "2600.00"),
        denial(feed, paid_at, "1100.00"),
    ]
    return events


def codec_for(env: PipelineEnv) -> AvroCodec:
    return AvroCodec(
        registry_client(env.settings.registry_url), lambda name: load_catalog().resolved_json(name)
    )


def publish(env: PipelineEnv, events: list, garbage: bool = False, master: bool = True) -> None:
    """Master data of the core tests' world (unless `master=False`), then the events."""
    codec = codec_for(env)
    topics = declare(env.settings)
    if master:
        rows = {
            name: [to_native(master_record(name, row)) for row in rows]
            for name, rows in MASTER_RECORDS.items()
        }
        publish_master(env.settings, codec, topics.master_data.name, rows)
    producer = Producer({**env.settings.confluent_config(), "enable.idempotence": True})
    if garbage:
        producer.produce(topics.events.name, key=b"ACCT-7001", value=b"\x00\x00\x00\x00\x07junk")
    for event in events:
        where = route(event, IDS)
        key = where.process_id or where.link_key
        producer.produce(
            topics.events.name,
            key=key.encode(),
            value=codec.encode(f"s2c.events.{event.schema}", to_native(event)),
        )
    assert producer.flush(30) == 0


def expected_commands(events: list) -> dict[str, dict]:
    pipeline = Pipeline(master_data(), IDS)
    out = [o for e in events for o in pipeline.feed(e)]
    return {c.command_id: c.to_record() for c in out if isinstance(c, Command)}


def commands_on_kafka(env: PipelineEnv, expected: int, settle: float = 3) -> dict[str, dict]:
    codec = codec_for(env)
    got: dict[str, dict] = {}
    for message in read_topic(
        env.settings, declare(env.settings).commands.name, expected, timeout=90, settle=settle
    ):
        _, record = codec.decode(message.value())
        got.setdefault(record["header"]["command_id"], record)
    return got


def test_scripted_episode_yields_exactly_the_cores_commands(pipeline_env: PipelineEnv) -> None:
    events = episode()
    want = expected_commands(events)
    assert len(want) >= 12  # reservations, their reissue, supplies, journals: a real episode
    worker = pipeline_env.worker().start()
    publish(pipeline_env, events, garbage=True)
    got = commands_on_kafka(pipeline_env, len(want))
    assert worker.proc.poll() is None, worker.log_tail()
    assert got.keys() == want.keys(), worker.log_tail()
    for command_id, record in want.items():
        assert got[command_id] == record

    [letter] = read_topic(pipeline_env.settings, declare(pipeline_env.settings).dlq.name, 1)
    headers = dict(letter.headers())
    assert letter.value() == b"\x00\x00\x00\x00\x07junk"
    assert headers["__connect.errors.topic"] == declare(pipeline_env.settings).events.name.encode()
    assert headers["__connect.errors.stage"] == b"ingest"
    assert headers["s2c.errors.reason"] == b"undecodable"
    assert int(headers["__connect.errors.offset"]) >= 0


def test_shuffled_and_duplicated_events_give_the_same_ledger(pipeline_env: PipelineEnv) -> None:
    events = episode()
    want = expected_commands(events)
    noisy = events + random.Random(11).sample(events, 4)
    random.Random(5).shuffle(noisy)
    pipeline_env.worker().start()
    publish(pipeline_env, noisy)
    # Which reservations get reissued depends on arrival order; the journals must not.
    journal_count = sum(1 for r in want.values() if r["header"]["command_type"] == "PostJournal")
    got = commands_on_kafka(pipeline_env, journal_count, settle=8)
    journals = lambda cmds: sorted(  # noqa: E731
        (
            r["header"]["command_type"],
            tuple((ln["gl_account"], ln["debit"], ln["credit"]) for ln in r.get("lines", ())),
        )
        for r in cmds.values()
        if r["header"]["command_type"] == "PostJournal"
    )
    assert journals(got) == journals(want)
