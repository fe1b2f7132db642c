"""A worker that owns the partitions an event needs applies link and process in memory.

Riverside books a knee arthroscopy, authorizes it, operates, discharges, charges and bills it on
account ACCT-7001. Once the worker's paths in memory are open (it owns every link and process
partition and their topics are drained up to their fences), the ingest agent alone takes the
case from booking to claim: nothing goes through the link or process topics, and the instance,
its account link and its commands are exactly what `s2c replay` makes of the same events.
"""

from __future__ import annotations

import json
from typing import Any

from agentkit import World
from core_world import IDS, Feed, knee_case_through_claim, master_data
from faust.types import TP
from test_no_record_stops_a_partition import put_together

from s2c.tables.codec import dumps
from s2c.tables.outputs import Command
from s2c.tables.replay import Pipeline


class NothingCommitted:
    """The consumer of a worker whose stage topics were always empty."""


def open_every_path(w: World) -> list[tuple[str, int]]:
    paths = w.t.stages.paths
    owned = {
        TP(topic.name, partition)
        for topic in (w.t.topics.link, w.t.topics.process)
        for partition in range(w.settings.partitions)
    }
    paths.fence(paths.generation, {tp: 0 for tp in owned})
    return paths.refresh(NothingCommitted(), owned)


async def test_with_its_paths_open_ingest_takes_a_case_from_booking_to_claim(tmp_path) -> None:
    w = World(tmp_path, local_stages=True)
    assert len(open_every_path(w)) == 2 * w.settings.partitions
    events = knee_case_through_claim(Feed("local"))

    async with w.agent("s2c-ingest").test_context() as ingest:
        await put_together(w, ingest, [(b"C-1001", w.encode(e)) for e in events], partition=0)
    # Applied in memory once every upstream has got that far: the link stage first, whose
    # forwards then wait at their process partition, then the process stage.
    last = events[-1].occurred_at
    for stage in ("link", "process"):
        async with w.agent(f"s2c-{stage}").test_context() as agent:
            for partition in range(w.settings.partitions):
                await w.announce(agent, stage, partition, last)

    assert w.sent_to(w.t.topics.link) == [] and w.sent_to(w.t.topics.process) == []
    replay = Pipeline(master_data(), IDS)
    wanted: list[Any] = [out for event in events for out in replay.feed(event)]
    saved = json.loads(w.t.tables["processes"][b"CASE-C-1001"])
    assert saved == json.loads(dumps(replay.processes["CASE-C-1001"].to_dict()))
    link_key = IDS.account_ref("ACCT-7001")
    assert json.loads(w.t.tables["links"][link_key.encode()])["process_id"] == "CASE-C-1001"
    sent = [w.decode(s.value)[1]["header"]["command_id"] for s in w.sent_to(w.t.topics.commands)]
    assert sent == [c.header.command_id for c in wanted if isinstance(c, Command)]
    assert sent  # a reservation, an accrual, the charge and claim postings at least


async def test_a_path_stays_closed_until_its_stage_has_read_past_its_fence(tmp_path) -> None:
    w = World(tmp_path, local_stages=True)
    paths = w.t.stages.paths
    process = TP(w.t.topics.process.name, 2)
    paths.fence(paths.generation, {process: 5})  # an earlier owner's records 0-4 on the topic
    assert paths.refresh(NothingCommitted(), {process}) == []
    w.t.stages.paths.inputs[process.topic].took(2, 3)
    assert paths.refresh(NothingCommitted(), {process}) == []
    w.t.stages.paths.inputs[process.topic].took(2, 4)
    assert paths.refresh(NothingCommitted(), {process}) == [(process.topic, 2)]
    generation = paths.generation
    paths.close_all()  # a rebalance
    assert not paths.is_open(process.topic, 2)
    paths.fence(generation, {process: 0})  # read before the rebalance: not a fence any more
    assert paths.refresh(NothingCommitted(), {process}) == []
