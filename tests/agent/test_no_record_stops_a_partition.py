"""A record whose handling fails is dead-lettered and its batch goes on, in every stage.

Riverside's knee arthroscopy C-1001 is booked, then a record arrives that the code cannot handle
(here the core, or the router, raises on it: a bug meeting data nobody foresaw), then the patient
arrives for surgery. The failing record must land in the DLQ with its stage, a reason that quotes
nothing of the record, its source coordinates and its bytes; the arrival in the same batch must
still be applied; every offset must be free to commit; and the state must be what the good events
alone make of it, though the core changed it in place before raising. A 5 MB record cannot ride
on a DLQ topic capped at 1 MB: its letter carries the size and sha256 instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from agentkit import PROCESSED_TIMEOUT_SECONDS, World
from core_world import (
    IDS,
    SURGERY_DAY,
    Feed,
    charge,
    encounter_started,
    knee_case_scheduled,
    master_data,
)

from s2c.streams.deadletter import DeadLetter
from s2c.streams.topology import ingest as ingest_module
from s2c.tables import core
from s2c.tables import stage as link_module  # where the link stage calls the core
from s2c.tables.codec import dumps
from s2c.tables.process import ProcessStage
from s2c.tables.replay import Pipeline

CASE_KEY = b"CASE-C-1001"
ACCOUNT = IDS.account_ref("ACCT-7001").encode()
LEAKY = "MRN 00412877 for Jane Doe"  # what an exception's message might quote of a record


async def put_together(w: World, ctx: Any, records: list[tuple[bytes, bytes]], partition: int):
    """Queue `records` at once (so they can share a batch); return their messages once all are
    acknowledged: acknowledged is what lets the partition commit them."""
    events = [await ctx.put(key=k, value=v, partition=partition) for k, v in records]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PROCESSED_TIMEOUT_SECONDS
    while not all(e.message.acked for e in events):
        if ctx.crash_reason is not None:
            raise ctx.crash_reason
        assert loop.time() < deadline, "the batch did not finish"
        await asyncio.sleep(0.005)
    return [e.message for e in events]


def letters_of(w: World) -> list[DeadLetter]:
    return [
        DeadLetter.from_message(s.key, s.value, list(s.headers.items()))
        for s in w.sent_to(w.t.topics.dlq)
    ]


def assert_told_without_the_record(letter: DeadLetter, stage: str, message: Any, value: bytes):
    assert (letter.stage, letter.reason, letter.exception_class) == (
        stage,
        "failed",
        "RuntimeError",
    )
    assert letter.exception_message.startswith("RuntimeError raised at ")
    assert "MRN" not in letter.exception_message and "Doe" not in letter.exception_message
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        message.topic,
        message.partition,
        message.offset,
    )
    assert letter.value == value and not letter.omitted


async def test_a_record_the_core_fails_on_is_dead_lettered_and_the_batch_goes_on(
    tmp_path, monkeypatch
) -> None:
    w = World(tmp_path)
    feed = Feed("poison")
    booked, odd_charge, arrived = (
        knee_case_scheduled(feed),
        charge(feed, SURGERY_DAY - 2),
        encounter_started(feed),
    )
    transition = core.transition

    def failing_transition(state, event, *args, **kwargs):
        if event.event_id == odd_charge.event_id:
            state.stage = ProcessStage.CANCELLED  # the core had begun to change the state
            state.remember(event.event_id)
            raise RuntimeError(f"cannot price {LEAKY}")
        return transition(state, event, *args, **kwargs)

    monkeypatch.setattr(core, "transition", failing_transition)
    values = [w.encode(e) for e in (booked, odd_charge, arrived)]

    async with w.agent("s2c-process").test_context() as process:
        messages = await put_together(w, process, [(CASE_KEY, v) for v in values], partition=1)
        # Held until the upstreams get that far: the failure comes when the watermark releases
        # them, and the dead letter still names where the record came in.
        assert letters_of(w) == []
        await w.announce(process, "process", 1, arrived.occurred_at)

    [letter] = letters_of(w)
    assert_told_without_the_record(letter, "process", messages[1], values[1])
    assert w.counter("s2c_dead_letters_total", reason="failed", stage="process") == 1

    # The good events are applied as if the failing one had never come: as replay applies them.
    pipeline = Pipeline(master_data(), IDS)
    for event in (booked, arrived):
        pipeline.feed(event)
    want = pipeline.processes[CASE_KEY.decode()]
    saved = json.loads(w.t.tables["processes"][CASE_KEY])
    assert saved == json.loads(dumps(want.to_dict()))
    assert odd_charge.event_id not in saved["applied"]
    assert saved["stage"] != ProcessStage.CANCELLED.value
    assert w.counter("s2c_commands_out_total", command_type="ReserveSupplies") == 1


async def test_a_record_the_link_stage_fails_on_is_dead_lettered_and_the_batch_goes_on(
    tmp_path, monkeypatch
) -> None:
    w = World(tmp_path)
    feed = Feed("poison-link")
    odd_charge, arrived, early_charge = (
        charge(feed, SURGERY_DAY - 3),
        encounter_started(feed),
        charge(feed, SURGERY_DAY - 1),
    )
    link_transition = link_module.link_transition

    def failing_link(state, event, *args, **kwargs):
        if event.event_id == odd_charge.event_id:
            raise RuntimeError(f"cannot link {LEAKY}")
        return link_transition(state, event, *args, **kwargs)

    monkeypatch.setattr(link_module, "link_transition", failing_link)
    values = [w.encode(e) for e in (odd_charge, arrived, early_charge)]

    async with w.agent("s2c-link").test_context() as link:
        messages = await put_together(w, link, [(ACCOUNT, v) for v in values], partition=2)
        latest = max(e.occurred_at for e in (odd_charge, arrived, early_charge))
        await w.announce(link, "link", 2, latest)

    [letter] = letters_of(w)
    assert_told_without_the_record(letter, "link", messages[0], values[0])
    forwarded = [
        w.decode(s.value)[1]["envelope"]["event_id"] for s in w.sent_to(w.t.topics.process)
    ]
    assert forwarded == [arrived.event_id, early_charge.event_id]


async def test_a_record_the_router_fails_on_is_dead_lettered_and_the_batch_goes_on(
    tmp_path, monkeypatch
) -> None:
    w = World(tmp_path)
    feed = Feed("poison-ingest")
    booked, odd, arrived = knee_case_scheduled(feed), charge(feed, 2), encounter_started(feed)
    route = ingest_module.route

    def failing_route(event, ids):
        if event.event_id == odd.event_id:
            raise RuntimeError(f"cannot route {LEAKY}")
        return route(event, ids)

    monkeypatch.setattr(ingest_module, "route", failing_route)
    values = [w.encode(e) for e in (booked, odd, arrived)]

    async with w.agent("s2c-ingest").test_context() as ingest:
        messages = await put_together(
            w,
            ingest,
            [(b"C-1001", values[0]), (b"ACCT-7001", values[1]), (b"C-1001", values[2])],
            0,
        )

    [letter] = letters_of(w)
    assert_told_without_the_record(letter, "ingest", messages[1], values[1])
    forwarded = w.sent_to(w.t.topics.process) + w.sent_to(w.t.topics.link)
    assert {s.value for s in forwarded} == {values[0], values[2]}


async def test_a_5_mb_record_leaves_a_reference_in_the_dlq_and_the_partition_goes_on(
    tmp_path,
) -> None:
    w = World(tmp_path)
    huge = b"MSH|^~\\&|EPIC|RIVERSIDE|" + b"OBX|1|TX|||" * (5 * 1024 * 1024 // 11)
    booked = knee_case_scheduled(Feed("huge"))

    async with w.agent("s2c-ingest").test_context() as ingest:
        messages = await put_together(
            w, ingest, [(b"8812", huge), (b"C-1001", w.encode(booked))], partition=3
        )

    [sent] = w.sent_to(w.t.topics.dlq)
    size = (
        len(sent.value)
        + len(sent.key or b"")
        + sum(len(k) + len(v) for k, v in sent.headers.items())
    )
    assert size <= w.settings.dlq_max_bytes  # the DLQ topic accepts it
    letter = DeadLetter.from_message(sent.key, sent.value, list(sent.headers.items()))
    assert letter.omitted
    assert (letter.value_size, letter.value_sha256) == (len(huge), hashlib.sha256(huge).hexdigest())
    assert json.loads(sent.value) == {
        "omitted": True,
        "size": len(huge),
        "sha256": hashlib.sha256(huge).hexdigest(),
    }
    assert (letter.stage, letter.reason, letter.source_offset) == (
        "ingest",
        "undecodable",
        messages[0].offset,
    )
    assert sent.key == b"8812"
    assert [s.key for s in w.sent_to(w.t.topics.process)] == [CASE_KEY]


async def test_a_deadline_that_fails_is_dropped_and_the_partition_goes_on(
    tmp_path, monkeypatch
) -> None:
    """Two charges nobody links wait on partition 2; the week passes for both, but the core
    fails on one of them. The other must still become a work item, the watermark that moved time
    must not be dead-lettered, and the failing one must not fail again at every later record (its
    state as it was, its deadline dropped until its account's next event)."""
    from core_world import DAY

    from s2c.streams.runtime.watermarks import WATERMARK, to_ms
    from s2c.streams.topology.context import CONTROL_HEADER

    w = World(tmp_path)
    feed = Feed("deadline")
    stuck_account, stray_account = IDS.account_ref("ACCT-7998"), IDS.account_ref("ACCT-7999")
    stuck = charge(feed, SURGERY_DAY, charge_id="CHG-8", account="ACCT-7998", amount="95.00")
    stray = charge(feed, SURGERY_DAY, charge_id="CHG-9", account="ACCT-7999", amount="410.00")
    later = [encounter_started(feed, hours=SURGERY_DAY + d * DAY) for d in (8, 9)]
    link_on_deadline = link_module.link_on_deadline
    failures = []

    def failing_deadline(state, now):
        if state.account_ref == stuck_account:
            failures.append(now)
            state.parked.clear()  # changed in place before the failure
            raise RuntimeError(f"cannot report {LEAKY}")
        return link_on_deadline(state, now)

    monkeypatch.setattr(link_module, "link_on_deadline", failing_deadline)
    control = [(CONTROL_HEADER, WATERMARK)]

    def mark(p: int, at=None) -> bytes:
        return json.dumps(
            {"source": f"ingest:{p}", "at": None if at is None else to_ms(at), "idle": at is None}
        ).encode()

    async with w.agent("s2c-link").test_context() as link:
        await w.put(link, stuck_account.encode(), w.encode(stuck), partition=2)
        await w.put(link, stray_account.encode(), w.encode(stray), partition=2)
        await w.announce(link, "link", 2, stray.occurred_at)  # both applied, and parked
        stuck_before = w.t.tables["links"][stuck_account.encode()]
        for p in range(w.t.settings.partitions - 1):
            await w.put(link, b"__watermark__", mark(p), partition=2, headers=control)
        busy = w.t.settings.partitions - 1
        await w.put(
            link, b"__watermark__", mark(busy, later[0].occurred_at), partition=2, headers=control
        )
        await w.put(link, ACCOUNT, w.encode(later[0]), partition=2)
        await w.put(
            link, b"__watermark__", mark(busy, later[1].occurred_at), partition=2, headers=control
        )
        await w.put(link, ACCOUNT, w.encode(later[1]), partition=2)

    assert w.sent_to(w.t.topics.dlq) == []
    [item] = w.sent_to(w.t.topics.exceptions)
    assert w.decode(item.value)[1]["event_id"] == stray.event_id
    assert len(failures) == 1  # dropped, not met again by every later record
    assert w.t.tables["links"][stuck_account.encode()] == stuck_before


async def test_a_registry_that_does_not_answer_stops_the_worker_instead_of_dead_lettering(
    tmp_path, monkeypatch
) -> None:
    """Not the record's fault: the booking is readable, so it must not land in the DLQ."""
    import pytest

    from s2c.streams.codec import RegistryUnavailable

    w = World(tmp_path)
    booked = knee_case_scheduled(Feed("outage"))

    def registry_away(*args, **kwargs):
        raise RegistryUnavailable("registry unreachable registering s2c.commands.PlanLabor")

    monkeypatch.setattr(core, "transition", registry_away)
    with pytest.raises(RegistryUnavailable):
        async with w.agent("s2c-process").test_context() as process:
            await w.put(process, CASE_KEY, w.encode(booked), partition=1)
            await w.announce(process, "process", 1, booked.occurred_at)
    assert w.sent_to(w.t.topics.dlq) == []
