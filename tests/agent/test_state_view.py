"""Decoded states kept across batches (streams/runtime/states.py) over a real Faust table.

A busy instance must be parsed once, not per event, and written once per batch; but after a
rebalance the table is the truth again: the partition may have been changed elsewhere and
recovered from its changelog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentkit import World

from s2c.streams.runtime.states import StateView, forget_on_rebalance
from s2c.streams.runtime.store import BatchedTable

CASE = b"CASE-C-1001"


class Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class Event:  # the two things a table write needs of Faust's event: a weak reference, a partition
    def __init__(self, partition: int) -> None:
        self.message = Message(partition)


class Counting:
    def __init__(self) -> None:
        self.decoded = 0
        self.encoded = 0

    def decode(self, stored: bytes) -> dict[str, Any]:
        self.decoded += 1
        return json.loads(stored)

    def encode(self, state: dict[str, Any]) -> bytes:
        self.encoded += 1
        return json.dumps(state, sort_keys=True).encode()


async def test_parsed_once_written_once_per_batch_and_forgotten_on_rebalance(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    table = w.t.tables["processes"]
    view, codec = BatchedTable(table), Counting()
    states = StateView(view, codec.decode, codec.encode, keep=2)
    forget_on_rebalance(w.app, states)
    view.event = Event(partition=1)

    assert states.load(CASE) is None
    states.save(CASE, {"stage": "SCHEDULED", "events": 1})
    state = states.load(CASE)
    state["events"] = 2  # the core updates states in place
    states.save(CASE, state)
    assert codec.encoded == 0  # nothing encoded before the batch writes
    await view_flush(view, w)
    assert codec.encoded == 1 and codec.decoded == 0
    records = [s for s in w.producer.sent if s.key == CASE]
    assert [json.loads(r.value) for r in records] == [{"events": 2, "stage": "SCHEDULED"}]
    assert records[0].partition == 1 and records[0].topic.endswith("processes-changelog")

    assert states.load(CASE) is state and codec.decoded == 0  # next batch: no parse

    # What a worker that had the partition meanwhile left in the table (via the changelog).
    view.event = Event(partition=1)
    view[CASE] = json.dumps({"stage": "CLOSED", "events": 9}).encode()
    await view_flush(view, w)
    assert states.load(CASE) is state  # still the cached object until partitions move
    await w.app.on_partitions_assigned.send(set())
    assert states.load(CASE) == {"stage": "CLOSED", "events": 9} and codec.decoded == 1


async def view_flush(view: BatchedTable, w: World) -> None:
    assert view.flush(w.producer)
    await w.producer.drain()


async def test_no_more_than_keep_states_stay_decoded_the_least_recent_going_first(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    view, codec = BatchedTable(w.t.tables["processes"]), Counting()
    states = StateView(view, codec.decode, codec.encode, keep=2)
    view.event = Event(partition=1)
    cases = [b"CASE-C-1001", b"CASE-C-1002", b"CASE-C-1003"]
    for case in cases:
        view[case] = json.dumps({"stage": "SCHEDULED", "case": case.decode()}).encode()
    await view_flush(view, w)

    for case in cases:  # 1001 falls out when 1003 comes in
        states.load(case)
    assert codec.decoded == 3
    states.load(b"CASE-C-1003")
    states.load(b"CASE-C-1002")
    assert codec.decoded == 3  # both still decoded
    assert states.load(b"CASE-C-1001") == {"stage": "SCHEDULED", "case": "CASE-C-1001"}
    assert codec.decoded == 4  # parsed again
