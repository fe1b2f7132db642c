"""The Faust topology: ingest -> link (by account number) -> process (by process id) -> outputs.

Agents are thin adapters over the pure core in `s2c.tables`: decode, load state, call the core,
save state, send what it returned. Tables hold the core's states as compact JSON, keyed by the raw
message key, and are co-partitioned with the topic of the agent that writes them.

- ingest (`s2c.events`): decode and validate; failures go to the dead-letter topic.
- link (`s2c.link`): account number -> process id; parks until the link exists.
- process (`s2c.process`): the process instance; commands, SLA breaches, exceptions out.
- erp (`s2c.erp.commands` + `s2c.erp.acks`): what the ERP did with each command (erp.py).
The link and process stages (stages.py) are reached through their topics, or in memory for the
partitions this worker owns (paths.py): with one worker, everything after ingest is in memory.
Stream time is kept per stage and partition; deadlines fire on event time (see timers.py) up to
each partition's watermark, the smallest progress its upstream partitions announced (watermarks.py).
"""

from __future__ import annotations

import asyncio
import json
import logging

import faust

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, RegistryUnavailable, SchemaUnavailable, backoff_delays
from s2c.streams.masterdata import MasterReplica
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.runtime.outbox import Outbox
from s2c.streams.runtime.watermarks import InputProgress
from s2c.streams.settings import Settings
from s2c.streams.topology.announce import attach_announcer
from s2c.streams.topology.api import attach_api
from s2c.streams.topology.context import CONTROL_HEADER, Topology, build_context
from s2c.streams.topology.erp import attach_erp
from s2c.streams.topology.ingest import attach_ingest
from s2c.streams.topology.link import attach_link
from s2c.streams.topology.paths import attach_paths
from s2c.streams.topology.process import attach_process
from s2c.streams.topology.stages import Stages
from s2c.streams.topology.telemetry import attach_telemetry

log = logging.getLogger(__name__)


def build_pipeline(
    app: faust.App,
    metrics: PipelineMetrics,
    settings: Settings,
    replica: MasterReplica | None = None,
    codec: AvroCodec | None = None,
    outbox: Outbox | None = None,
) -> Topology:
    t = build_context(app, metrics, settings, replica, codec, outbox)

    @app.task
    async def start_replica() -> None:
        # Register (or look up) every record once, off the loop, so agents never wait on the
        # registry. A schema the registry answers it does not have will not come by waiting:
        # name every such subject and stop, rather than sit at "loading master data".
        missing = []
        for name in load_catalog().names():
            for delay in backoff_delays():
                try:
                    await app.loop.run_in_executor(None, t.codec.prepare, name)
                    break
                except RegistryUnavailable as exc:  # start now, serve once the registry answers
                    log.warning("waiting for the schema registry (retry in %.0f s): %s", delay, exc)
                    await asyncio.sleep(delay)
                except SchemaUnavailable as exc:
                    log.error("schema missing: %s", exc)
                    missing.append(name)
                    break
        if missing:
            await app.crash(
                SchemaUnavailable(
                    f"{len(missing)} schema(s) this worker needs are not in the registry at "
                    f"{settings.registry_url}: {', '.join(missing)}"
                )
            )
            return
        t.replica.start()
        await t.master_loaded()

    @app.task
    async def announce_master_arrivals() -> None:
        while True:
            record, key = await t.arrivals.get()
            body = json.dumps({"record": record, "key": key}).encode()
            for partition in range(settings.partitions):
                t.outbox.send(
                    t.topics.process.name,
                    b"__master__",
                    body,
                    partition=partition,
                    headers=[(CONTROL_HEADER, b"retry-master")],
                )
            await t.outbox.drain()

    progress, link_progress, process_progress = InputProgress(), InputProgress(), InputProgress()
    stages = t.stages = Stages(t, link_progress, process_progress)
    attach_ingest(t, stages, progress)
    attach_link(t, stages, link_progress)
    attach_process(t, stages, process_progress)
    t.erp = attach_erp(t)
    attach_announcer(t, progress, link_progress)
    attach_paths(t, stages)
    attach_api(t)
    attach_telemetry(t)
    return t
