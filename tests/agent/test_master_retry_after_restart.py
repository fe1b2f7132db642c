"""A master-data retry that reaches a partition before its first event after a restart.

Dr Okafor's preference card for the knee arthroscopy is missing from master data when case C-1001
is booked, so the booking parks, waiting for the card. The worker restarts (its stream clock is
memory only), and the card is published: the retry control record is the first thing the
partition sees. The parked booking must go through then, as it would have before the restart,
not wait for a deadline that reports the card missing.
"""

from __future__ import annotations

import json
from datetime import timedelta

import agentkit
import pytest
from agentkit import World
from core_world import MASTER_RECORDS, Feed, knee_case_scheduled, master_data

from s2c.streams.topology.context import CONTROL_HEADER
from s2c.tables.master import master_record
from s2c.tables.process import ProcessState

CASE_KEY = b"CASE-C-1001"
CARD = "PC-29881-OKAFOR"


@pytest.mark.parametrize("clock_after", ["gone", "stale"])
async def test_a_retry_first_after_a_restart_releases_the_parked_booking(
    tmp_path, monkeypatch, clock_after
) -> None:
    """`gone`: the worker restarted. `stale`: the partition comes back to a worker that owned it
    a month of event time ago, its clock still there."""
    monkeypatch.setattr(agentkit, "master_data", lambda: master_data(without=(CARD,)))
    w = World(tmp_path)
    booked = knee_case_scheduled(Feed("restart"))

    async with w.agent("s2c-process").test_context() as process:
        await w.put(process, CASE_KEY, w.encode(booked), partition=1)
        await w.announce(process, "process", 1, booked.occurred_at)
        parked = ProcessState.from_dict(json.loads(w.t.tables["processes"][CASE_KEY]))
        assert [p.waits_for for p in parked.parked.values()] == [f"master:PreferenceCard:{CARD}"]
        assert w.sent_to(w.t.topics.commands) == []

        w.t.clock._now.clear()  # the restart: stream time kept in memory is gone
        if clock_after == "stale":
            w.t.clock.observe("process", 1, booked.occurred_at - timedelta(days=30))
        w.t.replica.store.put(master_record("PreferenceCard", MASTER_RECORDS["PreferenceCard"][0]))
        retry = json.dumps({"record": "PreferenceCard", "key": CARD}).encode()
        await w.put(
            process, b"__master__", retry, partition=1, headers=[(CONTROL_HEADER, b"retry-master")]
        )

    sent = sorted(w.decode(s.value)[0] for s in w.sent_to(w.t.topics.commands))
    assert sent == [
        "s2c.commands.AccrueExpectedRevenue",
        "s2c.commands.PlanLabor",
        "s2c.commands.ReserveRoom",
        "s2c.commands.ReserveSupplies",
    ]
    state = ProcessState.from_dict(json.loads(w.t.tables["processes"][CASE_KEY]))
    assert state.parked == {}
    assert w.t.clock.now("process", 1) == booked.occurred_at  # stream time as it was
