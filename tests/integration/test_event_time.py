"""Event time and late master data on the real stack.

- A surgery booked at Riverside with no authorization breaches "no authorization 48 h before
  surgery" when stream time passes the deadline, although nothing more ever happens to that case:
  the timer fires on another case's event in the same partition, and Prometheus sees the breach.
- A case booked before its surgeon's preference card reaches master data is parked, and reserves
  its supplies as soon as the card arrives.
"""

from __future__ import annotations

import sys
import urllib.parse
import urllib.request
import json
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from stackkit import PipelineEnv, read_topic, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))
from core_world import MASTER_RECORDS, Feed, knee_case_scheduled  # noqa: E402
from test_topology import codec_for, publish  # noqa: E402

from s2c.streams.masterdata import publish_master  # noqa: E402
from s2c.streams.topics import declare  # noqa: E402
from s2c.tables.codec import to_native  # noqa: E402
from s2c.tables.master import master_record  # noqa: E402

pytestmark = pytest.mark.integration


def same_partition_case(target: str, partitions: int) -> str:
    """A case id whose process id lands in the same partition as `target`'s (aiokafka's murmur2)."""
    choose = DefaultPartitioner()
    want = choose(f"CASE-{target}".encode(), list(range(partitions)), list(range(partitions)))
    for n in range(1000):
        candidate = f"C-{2000 + n}"
        if choose(f"CASE-{candidate}".encode(), list(range(partitions)),
                  list(range(partitions))) == want:
            return candidate
    raise AssertionError("no case id found in the same partition")


def decoded(env: PipelineEnv, topic: str, expected: int, settle: float = 2.0) -> list[dict]:
    codec = codec_for(env)
    return [codec.decode(m.value())[1]
            for m in read_topic(env.settings, topic, expected, timeout=90, settle=settle)]


def prometheus(env: PipelineEnv, promql: str) -> float | None:
    url = (f"http://127.0.0.1:{env.settings.prometheus_port}/api/v1/query?"
           + urllib.parse.urlencode({"query": promql}))
    result = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_idle_case_breaches_auth_sla_when_stream_time_passes(pipeline_env: PipelineEnv) -> None:
    feed = Feed("sla")
    # Surgery in 5 days, never authorized: the deadline is 3 days after booking.
    idle = knee_case_scheduled(feed, hours=0, case_id="C-IDLE", start_days=5)
    other = knee_case_scheduled(feed, hours=4 * 24, start_days=30,
                                case_id=same_partition_case("C-IDLE", pipeline_env.settings.partitions))
    worker = pipeline_env.worker().start()
    publish(pipeline_env, [idle, other])
    breaches = decoded(pipeline_env, declare(pipeline_env.settings).sla_breaches.name, 1)
    idle_breaches = [b for b in breaches if b["process_id"] == "CASE-C-IDLE"]
    assert [b["sla"] for b in idle_breaches] == ["AUTH_MISSING_48H_BEFORE_SURGERY"]
    breach = idle_breaches[0]
    assert breach["detected_at"] >= breach["deadline"]
    assert breach["site_id"] == "RIVERSIDE" and breach["payer_class"] == "COMMERCIAL"
    instance = f'instance="127.0.0.1:{worker.env["S2C_WORKER_WEB_PORT"]}"'
    assert wait_for(lambda: prometheus(pipeline_env, f's2c_sla_breaches_total{{{instance},'
                                       f'sla="AUTH_MISSING_48H_BEFORE_SURGERY"}}'),
                    60, "Prometheus to scrape the breach counter") >= 1
    assert wait_for(lambda: prometheus(pipeline_env, f's2c_open_instances{{{instance},'
                                       f'stage="SCHEDULED",site="RIVERSIDE"}}'),
                    60, "the open-instances gauge") == 2


def test_case_waits_for_its_preference_card_then_reserves_supplies(pipeline_env: PipelineEnv) -> None:
    cards = MASTER_RECORDS["PreferenceCard"]
    without_cards = {name: rows for name, rows in MASTER_RECORDS.items() if name != "PreferenceCard"}
    codec = codec_for(pipeline_env)
    topics = declare(pipeline_env.settings)
    native = lambda rows: {n: [to_native(master_record(n, r)) for r in rs]  # noqa: E731
                           for n, rs in rows.items()}
    publish_master(pipeline_env.settings, codec, topics.master_data.name, native(without_cards))
    pipeline_env.worker().start()
    case = knee_case_scheduled(Feed("late-card"), hours=0, case_id="C-CARD")
    publish(pipeline_env, [case], master=False)
    waiting = read_topic(pipeline_env.settings, topics.commands.name, 1, timeout=8, settle=0)
    assert not [m for m in waiting if b"ReserveSupplies" in m.value()]
    publish_master(pipeline_env.settings, codec, topics.master_data.name,
                   native({"PreferenceCard": cards}))
    commands = decoded(pipeline_env, topics.commands.name, 4, settle=3)
    supplies = [c for c in commands if c["header"]["command_type"] == "ReserveSupplies"]
    assert len(supplies) == 1
    assert {i["item_id"] for i in supplies[0]["items"]} == {"SHAVER-BLADE-4.5", "SALINE-3L",
                                                             "DRAPE-KNEE"}
