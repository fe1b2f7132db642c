"""Gauges that need a look around rather than an event: consumer lag, stalls and open instances.

Every few seconds: the lag of each partition this worker consumes (high watermark minus the next
offset to read), the open process instances by stage and site, the parked events per stage and
the unresolved work items by kind, state, site and age (workitems.py),
summed from the per-partition tallies the agents keep (`stage_counts`, `link_counts`) for the
partitions this worker owns, so the gauges stay right when partitions move between workers.

The watermark gauge shows, per stage, the event time up to which deadlines can fire on this
worker's partitions (see watermarks.py); a value far behind the others points at a slow upstream.

Stalls (see `stalls`) are judged on the same round, once the worker is ready: counted in
`s2c_stalled_partitions` and logged once per stall with the consumer's view and the tasks' stacks.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import IllegalStateError

from s2c.streams.runtime.overrides.stream import committed_offset, describe_consumer
from s2c.streams.topology.announce import stage_upstreams
from s2c.streams.topology.context import Topology
from s2c.streams.topology.stalls import task_stacks
from s2c.streams.topology.workitems import SLOT as WORK_SLOT
from s2c.streams.topology.workitems import open_by_age

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0
CLOSED_STAGES = frozenset({"CLOSED", "CANCELLED"})


async def positions(consumer: Any, partitions: set[Any]) -> dict[Any, int]:
    """The consumer's next offset to read in each of `partitions` it still holds. A rebalance
    may revoke a partition between the assignor's answer and this call, or while a position is
    awaited: aiokafka then raises `IllegalStateError`, which once crashed a restarted worker.
    Such a partition is left out of this round; the next one sees the new assignment."""
    held = consumer.assignment()
    found: dict[Any, int] = {}
    for tp in partitions:
        if tp not in held:
            continue
        try:
            position = await consumer.position(tp)
        except IllegalStateError:
            log.debug(
                "telemetry: %s[%d] revoked while its position was asked", tp.topic, tp.partition
            )
            continue
        if position is not None:
            found[tp] = position
    return found


def attach_telemetry(t: Topology) -> None:
    app, metrics = t.app, t.metrics
    counts, link_counts = t.tables["stage_counts"], t.tables["link_counts"]
    erp_counts, acks_topic = t.tables["erp_timers"], t.topics.erp_acks.name  # the ERP items' tally
    process_topic, link_topic = t.topics.process.name, t.topics.link.name
    stalls = t.stalls
    sources = {t.topics.events.name, link_topic, process_topic}
    upstream = stage_upstreams(t)

    @app.timer(interval=INTERVAL_SECONDS)
    async def sample() -> None:
        lag: Counter[str] = Counter()
        consumer = app.consumer
        ready = app.tables.recovery.completed.is_set()
        now = time.monotonic()
        actives = {tp for tp in app.assignor.assigned_actives() if tp.topic in sources}
        stalls.forget_others(actives if ready else set())
        # The log ends asked of the broker: the consumer's cached highwater only moves while it
        # fetches, and a partition it stopped fetching is exactly the one to catch.
        try:
            ends = await consumer.highwaters(*actives) if actives else {}
            at = await positions(consumer, actives) if actives else {}
        except Exception as exc:  # a rebalance under way, a broker away: next round
            log.debug("telemetry: log ends unavailable: %r", exc)
            return
        for tp in actives:
            highwater, position = ends.get(tp), at.get(tp)
            if highwater is None or position is None:
                continue
            lag[tp.topic] += max(highwater - position, 0)
            committed = committed_offset(consumer, tp) or 0
            if ready and stalls.observe(tp, committed, highwater, now):
                log.warning(
                    "partition %s[%d] stalled: committed %d, position %d, log end %d, no "
                    "progress for %.0f s; consumer: %s",
                    tp.topic,
                    tp.partition,
                    committed,
                    position,
                    highwater,
                    stalls.stall_seconds,
                    describe_consumer(consumer, tp),
                )
                log.warning("tasks of the stalled worker:\n%s", task_stacks())
        for topic, behind in lag.items():
            metrics.consumer_lag.labels(topic=topic).set(behind)
        stalled = Counter(tp.topic for tp in stalls.stalled(now))
        for topic in {tp.topic for tp in actives} | set(stalled):
            metrics.stalled_partitions.labels(topic=topic).set(stalled[topic])
        open_by: Counter[tuple[str, str]] = Counter()
        parked: Counter[str] = Counter()
        work: Counter[str] = Counter()
        for tp in app.assignor.assigned_actives():
            table = {process_topic: counts, link_topic: link_counts, acks_topic: erp_counts}.get(
                tp.topic
            )
            if table is None:
                continue
            tally = json.loads(table.get(str(tp.partition).encode()) or b"{}")
            for slot, n in tally.items():
                first, second = slot.split("|", 1)
                if first == WORK_SLOT:
                    work[slot] += n
                elif first == "PARKED":
                    parked[second] += n
                elif first not in CLOSED_STAGES:
                    open_by[(first, second)] += n
        for stage in ("link", "process"):
            metrics.parked.labels(stage=stage).set(parked[stage])
        watermarks: dict[str, list[int | None]] = {}
        for tp in actives:
            if tp.topic in upstream:
                stage, marks = upstream[tp.topic]
                watermarks.setdefault(stage, []).append(marks.watermark_ms(tp.partition))
        for stage, values in watermarks.items():
            # A partition without a watermark yet holds the stage at 0: nothing can fire there.
            metrics.watermark.labels(stage=stage).set(0 if None in values else min(values) / 1000)  # type: ignore[type-var]
        metrics.open_instances.clear()
        for (stage, site), n in open_by.items():
            metrics.open_instances.labels(stage=stage, site=site).set(n)
        metrics.open_work_items.clear()
        for (kind, state, site, age), n in open_by_age(work, datetime.now(UTC)).items():
            metrics.open_work_items.labels(kind=kind, state=state, site=site, age=age).set(n)
