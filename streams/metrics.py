"""Every Prometheus metric of a pipeline worker, declared once.

`PipelineMetrics(registry)` takes the registry it registers into, so each test builds a fresh one.
Labels are bounded business dimensions (event/command type, reason, site, service line, payer
class), never a patient, account or process id.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DAY = 86400.0
STAGE_BUCKETS_SECONDS = tuple(d * DAY for d in (0.25, 0.5, 1, 2, 3, 5, 7, 14, 21, 30, 45, 60, 90))


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        self.events_in = Counter(
            "s2c_events_in",
            "Canonical events consumed, by event type",
            ["event_type"],
            registry=registry,
        )
        self.duplicates = Counter(
            "s2c_events_duplicate",
            "Events dropped as exact duplicates (same event id)",
            ["event_type"],
            registry=registry,
        )
        self.commands_out = Counter(
            "s2c_commands_out",
            "ERP posting commands produced, by command type",
            ["command_type"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "s2c_dead_letters",
            "Messages sent to the dead-letter topic, by reason and stage",
            ["reason", "stage"],
            registry=registry,
        )
        self.parked = Gauge(
            "s2c_parked_events",
            "Events parked until their anchor or master data arrives",
            ["stage"],
            registry=registry,
        )
        self.exceptions = Counter(
            "s2c_exceptions", "Work-queue exceptions raised, by kind", ["kind"], registry=registry
        )
        self.processing_seconds = Histogram(
            "s2c_processing_seconds",
            "Time to process one event inside the worker",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "s2c_event_to_command_seconds",
            "Latency from the event's produced_at to the command being handed to the producer",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "s2c_consumer_lag",
            "Records behind the log end, per topic",
            ["topic"],
            registry=registry,
        )
        self.stage_duration = Histogram(
            "s2c_stage_duration_seconds",
            "Business stage durations (schedule->encounter, charge lag, DNFB, days in A/R, ...)",
            ["measure", "site", "service_line", "payer_class"],
            buckets=STAGE_BUCKETS_SECONDS,
            registry=registry,
        )
        self.stalled_partitions = Gauge(
            "s2c_stalled_partitions",
            "Assigned partitions with records past the committed offset and no commit for 30 s",
            ["topic"],
            registry=registry,
        )
        self.watermark = Gauge(
            "s2c_watermark_seconds",
            "Event time (Unix seconds) up to which deadlines can fire: the smallest watermark of "
            "the stage's partitions on this worker",
            ["stage"],
            registry=registry,
        )
        self.open_instances = Gauge(
            "s2c_open_instances",
            "Open process instances by stage",
            ["stage", "site"],
            registry=registry,
        )
        self.open_work_items = Gauge(
            "s2c_open_work_items",
            "Work items not resolved yet, by kind, state (open, acknowledged), site and age since "
            "raised (<1h, <1d, <7d, >=7d)",
            ["kind", "state", "site", "age"],
            registry=registry,
        )
        self.sla_breaches = Counter(
            "s2c_sla_breaches",
            "SLA breaches detected on event time",
            ["sla", "site", "service_line", "payer_class"],
            registry=registry,
        )
        # Variance = expected - paid, computed in PromQL from two monotonic counters fed by the
        # core's observations (streams/sink.py: expected_reimbursement_usd once per instance at
        # its first remittance, paid_usd per payment). Money is exact Decimal everywhere in
        # s2c; these floats exist only for dashboards.
        self.expected_usd = Counter(
            "s2c_expected_reimbursement_usd",
            "Contract amount of each instance, counted when the payer first adjudicates it (USD)",
            ["site", "service_line", "payer_class"],
            registry=registry,
        )
        self.paid_usd = Counter(
            "s2c_paid_usd",
            "Payer payments posted (USD)",
            ["site", "service_line", "payer_class"],
            registry=registry,
        )

        self.erp_acks = Counter(
            "s2c_erp_acks",
            "ERP acknowledgements that decided a command's status, by status (APPLIED, REJECTED); "
            "a repeated ack is not counted again",
            ["status"],
            registry=registry,
        )
        self.erp_pending = Gauge(
            "s2c_erp_pending_commands",
            "Commands sent to the ERP and not acknowledged yet, on this worker's partitions",
            registry=registry,
        )
        self.mismatches = Gauge(
            "s2c_reconciliation_mismatches",
            "Instances of this worker's partitions with a reconciliation mismatch, by kind and "
            "site (tables/reconcile.py; refreshed by a rolling sweep)",
            ["kind", "site"],
            registry=registry,
        )
        self.path_deviations = Counter(
            "s2c_path_deviations",
            "Departures from the reference schedule-to-cash path (tables/conformance.py), by kind",
            ["kind", "site", "service_line", "payer_class"],
            registry=registry,
        )

    def child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, looked up once per label set. `labels()` turns every value
        into a string and takes a lock on each call, and the agents label several metrics per
        event; the label sets are the bounded ones the registry holds anyway."""
        try:
            return self._children[metric, values]
        except KeyError:
            found = self._children[metric, values] = metric.labels(*values)
            return found
