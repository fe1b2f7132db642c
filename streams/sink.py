"""Where the core's outputs go: commands, SLA breaches and work items to their topics (Avro,
keyed by process id), forwards to the process topic, observations to Prometheus.

The sink encodes with the codec's cached writer schemas, so sending never waits on the registry
after the first use of a record type, and queues the records in the worker's outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from s2c.streams.codec import AvroCodec
from s2c.streams.metrics import PipelineMetrics
from s2c.streams.runtime.outbox import Outbox
from s2c.streams.topics import Topics
from s2c.tables.codec import to_native
from s2c.tables.outputs import (
    AwaitMasterData,
    Command,
    Forward,
    MetricObservation,
    SlaBreached,
    WorkQueueException,
)

log = logging.getLogger(__name__)
# Core observation name -> the `measure` label dashboards and alert rules use.
STAGE_MEASURES = {
    "schedule_to_encounter_seconds": "schedule_to_encounter",
    "charge_lag_seconds": "charge_lag",
    "discharge_to_claim_seconds": "dnfb",
    "claim_to_first_payment_seconds": "days_in_ar",
    "claim_to_denial_seconds": "claim_to_denial",
}


# Core money observation name -> the counter it feeds. The core observes exact Decimals; the
# float is made here, at the Prometheus edge, and nowhere else.
MONEY_COUNTERS = {
    "expected_reimbursement_usd": "expected_usd",  # s2c_expected_reimbursement_usd
    "paid_usd": "paid_usd",  # s2c_paid_usd
}


def observe(m: PipelineMetrics, item: MetricObservation) -> None:
    """One core observation into the worker's metrics, labelled by site, service line and payer
    class only (the observation's process id never becomes a label)."""
    labels = dict(item.labels)
    dims = (
        labels.get("site_id") or "unknown",
        labels.get("service_line_id") or "unknown",
        labels.get("payer_class") or "unknown",
    )  # site, service_line, payer_class
    if item.metric in MONEY_COUNTERS:
        if item.value > 0:  # a counter only grows; a zero amount adds nothing
            m.child(getattr(m, MONEY_COUNTERS[item.metric]), *dims).inc(float(item.value))
    elif item.metric == "path_deviations":  # s2c_path_deviations_total
        m.child(m.path_deviations, labels.get("kind") or "unknown", *dims).inc()
    elif item.metric in STAGE_MEASURES:
        m.child(m.stage_duration, STAGE_MEASURES[item.metric], *dims).observe(float(item.value))
    else:
        log.debug("observation %s has no metric", item.metric)


class OutputSink:
    def __init__(
        self, outbox: Outbox, topics: Topics, codec: AvroCodec, metrics: PipelineMetrics
    ) -> None:
        self._outbox = outbox
        self._commands = topics.commands.name
        self._breaches = topics.sla_breaches.name
        self._exceptions = topics.exceptions.name
        self._process = topics.process.name
        self._codec = codec
        self._metrics = metrics

    async def deliver(self, outputs: list[Any]) -> None:
        """Send `outputs` and wait until the broker has acknowledged every one.

        Agents call this *before* saving the state that produced them. A worker killed after the
        state reached its changelog but before the commands left would otherwise come back with
        the event marked applied, drop its redelivery as a duplicate and lose the commands; in
        this order a crash can only repeat commands, whose deterministic ids the ERP drops."""
        self.emit(outputs)
        await self._outbox.drain()

    def emit(
        self,
        outputs: list[Any],
        arrived: tuple[Any, bytes] | None = None,
        forward_headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue `outputs` in the outbox; the caller drains it (once per batch). `arrived` is the
        event being applied and the bytes it came in: forwarded as it is, it is sent as those
        bytes (any registered schema id decodes downstream) instead of being encoded again.
        `forward_headers` go on the forwards (their upstream time, s2c.streams.runtime.reorder)."""
        send, child = self._outbox.send, self._metrics.child
        for item in outputs:
            if isinstance(item, Command):
                value = self._codec.encode(f"s2c.commands.{item.schema}", item.to_record())
                send(self._commands, item.header.process_id.encode(), value)
                child(self._metrics.commands_out, item.schema).inc()
            elif isinstance(item, Forward):
                if arrived is not None and item.event is arrived[0]:
                    value = arrived[1]
                else:
                    value = self._codec.encode(
                        f"s2c.events.{item.event.schema}", to_native(item.event)
                    )
                send(self._process, item.process_id.encode(), value, headers=forward_headers)
            elif isinstance(item, SlaBreached):
                record = item.to_record()
                value = self._codec.encode("s2c.ops.SlaBreached", record)
                send(self._breaches, item.process_id.encode(), value)
                child(
                    self._metrics.sla_breaches,
                    record["sla"],
                    record["site_id"] or "unknown",
                    record["service_line_id"] or "unknown",
                    record["payer_class"] or "unknown",
                ).inc()
            elif isinstance(item, WorkQueueException):
                record = item.to_record()
                value = self._codec.encode("s2c.ops.WorkQueueException", record)
                key = (record["process_id"] or record["exception_id"]).encode()
                send(self._exceptions, key, value)
                child(self._metrics.exceptions, record["kind"]).inc()
            elif isinstance(item, MetricObservation):
                self.observe(item)
            elif isinstance(item, AwaitMasterData):
                pass  # the process agent indexes what the instance waits for
            else:
                log.error("core returned an output the sink does not know: %s", type(item).__name__)

    def observe(self, item: MetricObservation) -> None:
        observe(self._metrics, item)

    def observe_latency(self, event: Any) -> None:
        produced = event.envelope.produced_at
        if produced is not None:
            lag = (datetime.now(timezone.utc) - produced).total_seconds()
            self._metrics.end_to_end_seconds.observe(max(lag, 0.0))
