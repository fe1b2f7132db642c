"""The process agent is a thin adapter: for each event the commands it sends are the pure core's.

Dr Okafor's knee arthroscopy (CPT 29881) is booked in Riverside's OR 3 for an Aetna Commercial
patient. The booking must reserve the preference card's supplies, plan the team's hours, hold the
room and accrue Aetna's 2026 contract rate, with the command ids the core computes (the ERP drops
repeats by id), and the instance must be saved, once every upstream partition has got as far as
the booking. Kafka redelivers after a crash: the second copy of
the booking must change nothing, neither on the ERP topic nor in the table.
"""

from __future__ import annotations

import json

from agentkit import World
from core_world import Feed, knee_case_scheduled, master_data

from s2c.tables import core
from s2c.tables.codec import dumps
from s2c.tables.outputs import Command
from s2c.tables.process import ProcessState

CASE_KEY = b"CASE-C-1001"


def core_result(event) -> tuple[ProcessState, list[Command]]:
    state, outputs = core.transition(
        None, event, master_data(), event.occurred_at, CASE_KEY.decode()
    )
    return state, [o for o in outputs if isinstance(o, Command)]


async def test_a_booked_knee_case_yields_the_cores_commands_and_is_saved(tmp_path) -> None:
    w = World(tmp_path)
    booked = knee_case_scheduled(Feed("proc"))
    core_state, want = core_result(booked)
    assert sorted(c.schema for c in want) == [
        "AccrueExpectedRevenue",
        "PlanLabor",
        "ReserveRoom",
        "ReserveSupplies",
    ]

    async with w.agent("s2c-process").test_context() as process:
        await w.put(process, CASE_KEY, w.encode(booked), partition=1)
        # Held until every upstream partition has got as far as the booking: one still behind
        # may hold an earlier event of the same instance.
        assert w.sent_to(w.t.topics.commands) == []
        await w.announce(process, "process", 1, booked.occurred_at)

    sent = w.sent_to(w.t.topics.commands)
    assert {s.key for s in sent} == {CASE_KEY}
    got = [w.decode(s.value) for s in sent]
    assert [name for name, _ in got] == [f"s2c.commands.{c.schema}" for c in want]
    assert [record for _, record in got] == [c.to_record() for c in want]
    for command_type in ("ReserveSupplies", "PlanLabor", "ReserveRoom", "AccrueExpectedRevenue"):
        assert w.counter("s2c_commands_out_total", command_type=command_type) == 1

    saved = json.loads(w.t.tables["processes"][CASE_KEY])
    assert saved == json.loads(dumps(core_state.to_dict()))
    state = ProcessState.from_dict(saved)
    assert booked.event_id in state.applied
    assert (state.site_id, state.payer_id) == ("RIVERSIDE", "AETNA-COMM")
    assert state.open_items  # the reservations the ERP has yet to settle


async def test_a_redelivered_booking_changes_nothing(tmp_path) -> None:
    w = World(tmp_path)
    booked = knee_case_scheduled(Feed("proc"))
    value = w.encode(booked)

    async with w.agent("s2c-process").test_context() as process:
        await w.announce(process, "process", 1, booked.occurred_at)
        await w.put(process, CASE_KEY, value, partition=1)
        commands = len(w.sent_to(w.t.topics.commands))
        saved = w.t.tables["processes"][CASE_KEY]
        tables = {name: dict(table.items()) for name, table in w.t.tables.items()}
        await w.put(process, CASE_KEY, value, partition=1)

    assert commands == 4
    assert len(w.sent_to(w.t.topics.commands)) == commands
    assert w.t.tables["processes"][CASE_KEY] == saved
    assert {name: dict(table.items()) for name, table in w.t.tables.items()} == tables
