"""Who announces progress to whom in this topology: the watermark sources of each stage, and the
announcer that sends each owned ingest and link partition's progress downstream.

The watermark rules themselves (what an announcement holds, how a partition's watermark follows
from its sources' marks, when a partition is idle) are the runtime's: s2c.streams.runtime.watermarks.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from s2c.streams.runtime.watermarks import (
    ANNOUNCE_SECONDS,
    WATERMARK,
    InputProgress,
    Upstream,
    to_ms,
    worth_announcing,
)
from s2c.streams.topology.context import CONTROL_HEADER

log = logging.getLogger(__name__)


def sources_of(stage: str, partitions: int) -> tuple[str, ...]:
    """Who feeds a partition of `stage`: every ingest partition, and for the process stage every
    link partition too."""
    ingest = tuple(f"ingest:{p}" for p in range(partitions))
    return ingest if stage == "link" else ingest + tuple(f"link:{p}" for p in range(partitions))


def stage_upstreams(t: Any) -> dict[str, tuple[str, Upstream]]:
    """Read-only views of what the link and process partitions heard, by topic name, for the
    telemetry gauges and /health/ (over the tables, not the agents' batched views)."""
    partitions = t.settings.partitions
    return {
        t.topics.link.name: (
            "link",
            Upstream(t.tables["link_timers"], sources_of("link", partitions)),
        ),
        t.topics.process.name: (
            "process",
            Upstream(t.tables["process_timers"], sources_of("process", partitions)),
        ),
    }


def attach_announcer(t: Any, progress: InputProgress, link_progress: InputProgress) -> None:
    """Every `ANNOUNCE_SECONDS`, each ingest and link partition this worker owns announces its
    progress downstream when it is worth it (`worth_announcing`). An ingest partition's stream
    time moves only after its forwards are queued in the outbox, and one producer keeps each
    partition's records in order, so an announcement never overtakes them."""
    app, partitions = t.app, t.settings.partitions
    events_name, link_name = t.topics.events.name, t.topics.link.name
    process_name = t.topics.process.name
    _, link_upstream = stage_upstreams(t)[link_name]
    sent: dict[tuple[str, int], tuple[int | None, bool]] = {}  # bounded: stages x partitions

    @app.timer(interval=ANNOUNCE_SECONDS)
    async def announce() -> None:
        if not app.tables.recovery.completed.is_set():
            return
        owned = {
            tp for tp in app.assignor.assigned_actives() if tp.topic in (events_name, link_name)
        }
        for key in set(sent) - {
            ("ingest" if tp.topic == events_name else "link", tp.partition) for tp in owned
        }:
            del sent[key]  # a partition we may get back: announce afresh then
        progress.keep_only({tp.partition for tp in owned if tp.topic == events_name})
        link_progress.keep_only({tp.partition for tp in owned if tp.topic == link_name})
        announced = False
        for tp in sorted(owned):
            if tp.topic == events_name:
                stage, targets = "ingest", (link_name, process_name)
                at = t.clock.now("ingest", tp.partition)
                mark = (None if at is None else to_ms(at), await progress.idle(app.consumer, tp))
            else:
                stage, targets = "link", (process_name,)
                at_ms = link_upstream.watermark_ms(tp.partition)
                if at_ms is None:
                    continue
                # Idle: every ingest partition it heard from is idle and its own input is
                # drained (everything they forwarded here has been taken and passed on).
                heard = link_upstream.marks(tp.partition)
                upstream_idle = all(
                    heard.get(source, [None, False])[1] for source in link_upstream.sources
                )
                mark = (at_ms, upstream_idle and await link_progress.idle(app.consumer, tp))
            if not worth_announcing(sent.get((stage, tp.partition)), mark):
                continue
            body = json.dumps(
                {"source": f"{stage}:{tp.partition}", "at": mark[0], "idle": mark[1]}
            ).encode()
            for topic in targets:
                for partition in range(partitions):
                    t.outbox.send(
                        topic,
                        b"__watermark__",
                        body,
                        partition=partition,
                        headers=[(CONTROL_HEADER, WATERMARK)],
                    )
            sent[(stage, tp.partition)] = mark
            announced = True
        if not announced:
            return
        try:
            await t.outbox.drain()
        except Exception as exc:  # noqa: BLE001 - a broker away: announce everything again
            log.warning("watermark announcements not acknowledged, resending: %r", exc)
            sent.clear()
