"""PROCESS (`s2c.process`, keyed by process id): the agent over the process stage's topic.

It feeds its partition's records to the process stage (stages.py): events placed on their
instance by ingest or the link stage of another worker (or of this one, while the path in memory
is not open yet, see paths.py), and control records (header `s2c.control`): `retry-master`
(master data arrived: the instances there waiting for that key are retried), `work-item` (a
person's action on a work item kept for the key, workitems.py) and `watermark` (an
upstream partition's progress: deadlines fire up to the smallest progress of all upstreams, see
s2c.streams.runtime.watermarks).
"""

from __future__ import annotations

import time
from typing import Any

import faust

from s2c.streams.runtime.loop import run_stage
from s2c.streams.runtime.reorder import upstream_ms
from s2c.streams.runtime.watermarks import WATERMARK, InputProgress, of_ms
from s2c.streams.topology.context import Topology, control_of
from s2c.streams.topology.stages import Stages
from s2c.streams.topology.workitems import WORK_ITEM_CONTROL


def attach_process(t: Topology, stages: Stages, progress: InputProgress) -> None:
    @t.app.agent(t.process_t, name="s2c-process", concurrency=1)
    async def process(stream: faust.StreamT) -> None:
        # Master data first: a restarted worker must not park events for rows already published.
        await t.wait_until_ready(need_master=True)
        await run_stage(stream, stages.process_checkpoint, process_one, process_failed, stages.lock)

    async def process_failed(message: Any, exc: Exception) -> None:
        await t.dead_letter_failure(message, "process", exc)

    async def process_one(message: Any) -> None:
        progress.took(message.partition, message.offset)  # the fence of the path in memory
        control = control_of(message)
        if control == WATERMARK:
            stages.process_watermark(message.partition, message.value)
            return
        if control == WORK_ITEM_CONTROL:
            stages.work_item_action("process", message.partition, message.key, message.value)
            return
        if control is not None:
            stages.retry_waiting(message.partition, message.value)
            return
        parsed = await t.load_event(message, "process")
        if parsed is None:
            return
        started = time.perf_counter()
        at_ms = upstream_ms(message.headers)
        stages.process_event(
            message.partition,
            message.key.decode(),
            parsed,
            None if at_ms is None else of_ms(at_ms),
            (message.topic, message.partition, message.offset),
        )
        t.metrics.child(t.metrics.processing_seconds, "process").observe(
            time.perf_counter() - started
        )
