"""Event time and late master data on the real stack.

- A surgery booked at Riverside with no authorization breaches "no authorization 48 h before
  surgery" when stream time passes the deadline, although nothing more ever happens to that case:
  the timer fires on another case's event in the same partition, and Prometheus sees the breach.
- A case booked before its surgeon's preference card reaches master data is parked, and reserves
  its supplies as soon as the card arrives.
- In a backlog, bookings that go straight to the process stage run weeks ahead of the discharge
  and claim still passing through the link stage; the claim, billed on time, must not be reported
  as late: deadlines wait for the watermark of every upstream partition. The breaches on Kafka are
  exactly those the replay engine finds over the same events in business-time order.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from stackkit import IDS, PipelineEnv, read_topic, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))
from core_world import (  # noqa: E402
    DAY,
    MASTER_RECORDS,
    SURGERY_DAY,
    Feed,
    encounter_completed,
    encounter_started,
    knee_case_scheduled,
    knee_case_through_claim,
    master_data,
)
from test_topology import codec_for, publish  # noqa: E402

from s2c.streams.masterdata import publish_master  # noqa: E402
from s2c.streams.topics import declare  # noqa: E402
from s2c.tables.codec import to_native  # noqa: E402
from s2c.tables.master import master_record  # noqa: E402
from s2c.tables.outputs import SlaBreached  # noqa: E402
from s2c.tables.replay import Pipeline  # noqa: E402

pytestmark = pytest.mark.integration


def same_partition_cases(target: str, partitions: int, count: int = 1) -> list[str]:
    """Case ids whose process ids land in the same partition as `target`'s (aiokafka's murmur2)."""
    choose = DefaultPartitioner()
    every = list(range(partitions))
    want = choose(f"CASE-{target}".encode(), every, every)
    found = [
        case
        for case in (f"C-{2000 + n}" for n in range(1000))
        if choose(f"CASE-{case}".encode(), every, every) == want
    ]
    assert len(found) >= count, "not enough case ids found in the same partition"
    return found[:count]


def same_partition_case(target: str, partitions: int) -> str:
    return same_partition_cases(target, partitions)[0]


def decoded(env: PipelineEnv, topic: str, expected: int, settle: float = 2.0) -> list[dict]:
    codec = codec_for(env)
    return [
        codec.decode(m.value())[1]
        for m in read_topic(env.settings, topic, expected, timeout=90, settle=settle)
    ]


def scraped(metrics_url: str, series: str) -> float | None:
    """One series' value as the worker's /metrics shows it."""
    for line in urllib.request.urlopen(metrics_url, timeout=10).read().decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[-1])
    return None


def prometheus(env: PipelineEnv, promql: str) -> float | None:
    url = f"http://127.0.0.1:{env.settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": promql}
    )
    result = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_idle_case_breaches_auth_sla_when_stream_time_passes(pipeline_env: PipelineEnv) -> None:
    feed = Feed("sla")
    # Surgery in 5 days, never authorized: the deadline is 3 days after booking.
    idle = knee_case_scheduled(feed, hours=0, case_id="C-IDLE", start_days=5)
    other = knee_case_scheduled(
        feed,
        hours=4 * 24,
        start_days=30,
        case_id=same_partition_case("C-IDLE", pipeline_env.settings.partitions),
    )
    worker = pipeline_env.worker().start()
    publish(pipeline_env, [idle, other])
    breaches = decoded(pipeline_env, declare(pipeline_env.settings).sla_breaches.name, 1)
    idle_breaches = [b for b in breaches if b["process_id"] == "CASE-C-IDLE"]
    assert [b["sla"] for b in idle_breaches] == ["AUTH_MISSING_48H_BEFORE_SURGERY"]
    breach = idle_breaches[0]
    assert breach["detected_at"] >= breach["deadline"]
    assert breach["site_id"] == "RIVERSIDE" and breach["payer_class"] == "COMMERCIAL"
    instance = f'instance="127.0.0.1:{worker.env["S2C_WORKER_WEB_PORT"]}"'
    assert (
        wait_for(
            lambda: prometheus(
                pipeline_env,
                f's2c_sla_breaches_total{{{instance},sla="AUTH_MISSING_48H_BEFORE_SURGERY"}}',
            ),
            60,
            "Prometheus to scrape the breach counter",
        )
        >= 1
    )
    # The idle case is open from its booking on; the other one is held until every upstream
    # has passed its booking (four days later), so the gauge may read 1 before it reads 2.
    scheduled = f's2c_open_instances{{{instance},stage="SCHEDULED",site="RIVERSIDE"}}'
    wait_for(lambda: prometheus(pipeline_env, scheduled) == 2, 60, "the gauge to count both cases")


def test_case_waits_for_its_preference_card_then_reserves_supplies(
    pipeline_env: PipelineEnv,
) -> None:
    cards = MASTER_RECORDS["PreferenceCard"]
    without_cards = {
        name: rows for name, rows in MASTER_RECORDS.items() if name != "PreferenceCard"
    }
    codec = codec_for(pipeline_env)
    topics = declare(pipeline_env.settings)
    native = lambda rows: {
        n: [to_native(master_record(n, r)) for r in rs]  # noqa: E731
        for n, rs in rows.items()
    }
    publish_master(pipeline_env.settings, codec, topics.master_data.name, native(without_cards))
    pipeline_env.worker().start()
    case = knee_case_scheduled(Feed("late-card"), hours=0, case_id="C-CARD")
    publish(pipeline_env, [case], master=False)
    waiting = read_topic(pipeline_env.settings, topics.commands.name, 1, timeout=8, settle=0)
    assert not [m for m in waiting if b"ReserveSupplies" in m.value()]
    publish_master(
        pipeline_env.settings, codec, topics.master_data.name, native({"PreferenceCard": cards})
    )
    commands = decoded(pipeline_env, topics.commands.name, 4, settle=3)
    supplies = [c for c in commands if c["header"]["command_type"] == "ReserveSupplies"]
    assert len(supplies) == 1
    assert {i["item_id"] for i in supplies[0]["items"]} == {
        "SHAVER-BLADE-4.5",
        "SALINE-3L",
        "DRAPE-KNEE",
    }


def test_a_claim_on_the_slow_path_is_not_late_because_the_fast_path_ran_ahead(
    pipeline_env: PipelineEnv,
) -> None:
    feed = Feed("skew")
    billed = knee_case_through_claim(feed)  # discharged, charged next day, billed two days later
    never_billed = [
        knee_case_scheduled(feed, hours=1, case_id="C-1002", account="ACCT-7002"),
        encounter_started(feed, account="ACCT-7002", case_id="C-1002", encounter_id="ENC-2"),
        encounter_completed(feed, account="ACCT-7002", encounter_id="ENC-2"),
    ]
    # Bookings without an account go straight to the process stage, on C-1001's partition,
    # forty days after its surgery: the fast path.
    ahead = [
        knee_case_scheduled(
            feed, hours=SURGERY_DAY + 40 * DAY, case_id=case, account=None, start_days=90
        )
        for case in same_partition_cases("C-1001", pipeline_env.settings.partitions, 12)
    ]
    publish(pipeline_env, ahead + billed + never_billed)  # a backlog: all there before the worker
    reference = Pipeline(master_data(), IDS)
    expected = {
        (o.process_id, o.sla.value)
        for e in sorted(ahead + billed + never_billed, key=lambda e: e.occurred_at)
        for o in reference.feed(e)
        if isinstance(o, SlaBreached)
    }
    assert ("CASE-C-1002", "CLAIM_NOT_SUBMITTED_7D") in expected
    # Billed in time; only the payer is late (no remittance 30 days after the claim).
    assert {b for b in expected if b[0] == "CASE-C-1001"} == {("CASE-C-1001", "NO_REMITTANCE_30D")}

    worker = pipeline_env.worker().start()
    breaches = decoded(
        pipeline_env, declare(pipeline_env.settings).sla_breaches.name, len(expected), settle=6
    )
    assert {(b["process_id"], b["sla"]) for b in breaches} == expected
    # Every ingest partition is drained and idle: deadlines may fire up to the latest booking.
    latest = max(e.occurred_at for e in ahead).timestamp()
    series = 's2c_watermark_seconds{stage="process"}'
    assert wait_for(
        lambda: (scraped(worker.metrics_url, series) or 0) >= latest,
        30,
        "the process watermark to reach the latest booking",
    )
    assert scraped(worker.metrics_url, series) == latest
    health = json.load(
        urllib.request.urlopen(worker.metrics_url.replace("/metrics", "/health/"), timeout=10)
    )
    process_topic = declare(pipeline_env.settings).process.name
    marks = {
        name: mark
        for name, mark in health["watermarks"].items()
        if name.startswith(process_topic + "[")
    }
    assert len(marks) == pipeline_env.settings.partitions  # one worker owns them all
    # Drained: every partition's deadlines may fire up to the latest booking, nobody holds back.
    latest_text = max(e.occurred_at for e in ahead).isoformat(timespec="milliseconds")
    assert {m["watermark"] for m in marks.values()} == {latest_text.replace("+00:00", "Z")}
    assert all(m["held_by"] == [] for m in marks.values()), marks
