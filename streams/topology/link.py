"""LINK (`s2c.link`, keyed by the account's pseudonym): the agent over the link stage's topic.

It feeds its partition's records to the link stage (stages.py): watermark announcements from the
ingest partitions, events keyed by their account, and registration copies (header `s2c.control:
register`: the event went straight to its process) that record the link and release what was
parked without forwarding the event again, and a person's action on a work item kept for the
account (header `s2c.control: work-item`, workitems.py). Records an ingest partition of this worker applied in
memory never come here (paths.py).
"""

from __future__ import annotations

import time
from typing import Any

import faust

from s2c.streams.runtime.loop import run_stage
from s2c.streams.runtime.reorder import upstream_ms
from s2c.streams.runtime.watermarks import WATERMARK, InputProgress, of_ms
from s2c.streams.topology.context import REGISTRATION, Topology, control_of
from s2c.streams.topology.stages import Stages
from s2c.streams.topology.workitems import WORK_ITEM_CONTROL


def attach_link(t: Topology, stages: Stages, progress: InputProgress) -> None:
    @t.app.agent(t.link_t, name="s2c-link", concurrency=1)
    async def link(stream: faust.StreamT) -> None:
        await t.wait_until_ready()
        await run_stage(
            stream,
            stages.link_checkpoint,
            link_one,
            link_failed,
            stages.lock,
            lambda: stages.paths.settled(stages.process_name),
        )

    async def link_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "link", exc)

    async def link_one(message: Any) -> None:
        progress.took(message.partition, message.offset)  # the announcer's drained check
        control = control_of(message)
        if control == WATERMARK:
            stages.link_watermark(message.partition, message.value)
            return
        if control == WORK_ITEM_CONTROL:
            stages.work_item_action("link", message.partition, message.key, message.value)
            return
        registers = control == REGISTRATION
        if control is not None and not registers:
            return  # a control record of a later version: nothing this worker knows to do
        parsed = await t.load_event(message, "link")
        if parsed is None:
            return
        started = time.perf_counter()
        key = message.key.decode()
        at_ms = upstream_ms(message.headers)
        stages.link_event(
            message.partition,
            key,
            parsed,
            message.value,
            registers,
            None if at_ms is None else of_ms(at_ms),
            (message.topic, message.partition, message.offset),
        )
        t.metrics.child(t.metrics.processing_seconds, "link").observe(time.perf_counter() - started)
