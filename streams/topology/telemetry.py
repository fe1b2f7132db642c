"""Gauges that need a look around rather than an event: consumer lag and open instances.

Every few seconds: the lag of each partition this worker consumes (high watermark minus the next
offset to read) and the open process instances by stage and site, summed from the per-partition
tallies the process agent keeps in `stage_counts` for the partitions this worker owns.
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
    counts = t.tables["stage_counts"]
    process_topic = t.topics.process.name

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
        for tp in app.assignor.assigned_actives():
            if tp.topic != process_topic:
                continue
            tally = json.loads(counts.get(str(tp.partition).encode()) or b"{}")
            for slot, n in tally.items():
                stage, site = slot.split("|", 1)
                if stage not in CLOSED_STAGES:
                    open_by[(stage, site)] += n
        metrics.open_instances.clear()
        for (stage, site), n in open_by.items():
            metrics.open_instances.labels(stage=stage, site=site).set(n)
