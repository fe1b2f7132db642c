"""Gauges that need a look around rather than an event: consumer lag and open instances.

Every few seconds: the lag of each partition this worker consumes (high watermark minus the next
offset to read), and the open process instances by stage and site and the parked events per stage,
summed from the per-partition tallies the agents keep (`stage_counts`, `link_counts`) for the
partitions this worker owns, so the gauges stay right when partitions move between workers.
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from s2c.streams.topology.context import Topology

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0
CLOSED_STAGES = frozenset({"CLOSED", "CANCELLED"})


def attach_telemetry(t: Topology) -> None:
    app, metrics = t.app, t.metrics
    counts, link_counts = t.tables["stage_counts"], t.tables["link_counts"]
    process_topic, link_topic = t.topics.process.name, t.topics.link.name

    @app.timer(interval=INTERVAL_SECONDS)
    async def sample() -> None:
        lag: Counter[str] = Counter()
        consumer = app.consumer
        for tp in app.assignor.assigned_actives():
            highwater = consumer.highwater(tp)
            position = await consumer.position(tp)
            if highwater is not None and position is not None:
                lag[tp.topic] += max(highwater - position, 0)
        for topic, behind in lag.items():
            metrics.consumer_lag.labels(topic=topic).set(behind)
        open_by: Counter[tuple[str, str]] = Counter()
        parked: Counter[str] = Counter()
        for tp in app.assignor.assigned_actives():
            table = {process_topic: counts, link_topic: link_counts}.get(tp.topic)
            if table is None:
                continue
            tally = json.loads(table.get(str(tp.partition).encode()) or b"{}")
            for slot, n in tally.items():
                first, second = slot.split("|", 1)
                if first == "PARKED":
                    parked[second] += n
                elif first not in CLOSED_STAGES:
                    open_by[(first, second)] += n
        for stage in ("link", "process"):
            metrics.parked.labels(stage=stage).set(parked[stage])
        metrics.open_instances.clear()
        for (stage, site), n in open_by.items():
            metrics.open_instances.labels(stage=stage, site=site).set(n)
