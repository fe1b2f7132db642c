"""Writes s2c-operations.json and s2c-finance.json next to this file.

    python deploy/grafana/build.py          # rewrite the dashboards
    python deploy/grafana/build.py --check  # exit 1 if the committed JSON is stale

Queries use only series that streams/metrics.py exports (plus `up`) and the recording rules of
deploy/prometheus/rules.yml; tests/unit/observability checks both against a real Prometheus.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from panels import Json, bars, dashboard, heatmap, query_variable, row, stat, timeseries

HERE = Path(__file__).resolve().parent
INSTANCE = 'instance=~"$instance"'
BUSINESS = 'site=~"$site", service_line=~"$service_line", payer_class=~"$payer_class"'
MEASURES = (  # `measure` label value, title, what it measures
    ("schedule_to_encounter", "Schedule → encounter", "scheduling to the patient's arrival"),
    ("charge_lag", "Charge lag", "encounter completed / discharge to first charge"),
    ("dnfb", "DNFB", "discharge to first claim (discharged, not final billed)"),
    ("days_in_ar", "Days in A/R", "claim to first payment"),
    ("claim_to_denial", "Claim → denial", "claim to first denial"),
)


def counted(metric: str, selector: str, window: str) -> str:
    """Increase over `window` that also counts a labelled counter born inside the window."""
    m = f"{metric}{{{selector}}}"
    return f"(({m} unless {m} offset {window}) or increase({m}[{window}]))"


def rate_by(labels: str, counter: str) -> str:
    """Per-second rate of a worker counter, summed by `labels`, for the selected workers."""
    return f"sum by ({labels}) (rate({counter}{{{INSTANCE}}}[$__rate_interval]))"


def quantile(q: float, buckets: str, by: str = "") -> str:
    return f"histogram_quantile({q}, sum by ({by}le) ({buckets}))"


def operations() -> Json:
    e2e = f"rate(s2c_event_to_command_seconds_bucket{{{INSTANCE}}}[$__rate_interval])"
    proc = f"rate(s2c_processing_seconds_bucket{{{INSTANCE}}}[$__rate_interval])"
    panels = [
        row("Now"),
        stat(
            "Workers up",
            "Workers answering Prometheus scrapes.",
            'sum(up{job="s2c-worker", instance=~"$instance"})',
            "none",
            [(None, "red"), (1, "green")],
        ),
        stat(
            "Events in /s",
            "Canonical events consumed per second.",
            f"sum(rate(s2c_events_in_total{{{INSTANCE}}}[$__rate_interval]))",
            "ops",
        ),
        stat(
            "Commands out /s",
            "ERP posting commands produced per second.",
            f"sum(rate(s2c_commands_out_total{{{INSTANCE}}}[$__rate_interval]))",
            "ops",
        ),
        stat(
            "p99 event → command",
            "Objective: 50 ms (alert S2cEventToCommandLatencyHigh).",
            quantile(0.99, e2e),
            "s",
            [(None, "green"), (0.05, "red")],
        ),
        stat(
            "Dead letters, last 10 min",
            "Alert S2cDeadLetters fires on any. `s2c dlq list`.",
            "sum(job:s2c_dead_letters:increase10m) or vector(0)",
            "none",
            [(None, "green"), (1, "red")],
        ),
        stat(
            "Parked events",
            "Events waiting for their anchor or master data.",
            f"sum(s2c_parked_events{{{INSTANCE}}}) or vector(0)",
            "none",
            [(None, "green"), (50, "orange")],
        ),
        row("Throughput"),
        timeseries(
            "Events in by type",
            "Canonical events consumed per second, by event type.",
            [(rate_by("event_type", "s2c_events_in_total"), "{{event_type}}")],
            "ops",
            stack=True,
        ),
        timeseries(
            "Commands out by type",
            "ERP posting commands produced per second.",
            [(rate_by("command_type", "s2c_commands_out_total"), "{{command_type}}")],
            "ops",
            stack=True,
        ),
        timeseries(
            "Duplicates dropped by type",
            "Exact duplicates (same event id) dropped.",
            [(rate_by("event_type", "s2c_events_duplicate_total"), "{{event_type}}")],
            "ops",
        ),
        timeseries(
            "Work-queue exceptions by kind",
            "Exceptions raised for people to work.",
            [(rate_by("kind", "s2c_exceptions_total"), "{{kind}}")],
            "ops",
        ),
        row("Latency"),
        timeseries(
            "Event → command latency",
            "From the event's produced_at to the command handed to the producer.",
            [(quantile(q, e2e), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)],
            "s",
        ),
        heatmap(
            "Event → command latency distribution",
            "Observations per histogram bucket.",
            f"sum by (le) ({e2e.replace('rate(', 'increase(', 1)})",
            "s",
        ),
        timeseries(
            "Processing time by stage",
            "Time to process one event inside the worker.",
            [
                (quantile(0.5, proc, "stage, "), "p50 {{stage}}"),
                (quantile(0.99, proc, "stage, "), "p99 {{stage}}"),
            ],
            "s",
        ),
        timeseries(
            "Consumer lag by topic",
            "Records behind the log end, summed over workers.",
            [(f"sum by (topic) (s2c_consumer_lag{{{INSTANCE}}})", "{{topic}}")],
            "short",
        ),
        timeseries(
            "Deadline watermark age by stage",
            "Wall clock minus the event time up to which SLA and parking deadlines can "
            "fire (the slowest partition's watermark). Grows while an upstream partition "
            "lags; in a backlog replay it is the age of the data. A stage whose partition "
            "has not heard from all its upstreams shows its full age since 1970.",
            [(f"time() - min by (stage) (s2c_watermark_seconds{{{INSTANCE}}})", "{{stage}}")],
            "s",
        ),
        row("Failures and backlog"),
        timeseries(
            "Dead letters by reason and stage",
            "Messages sent to the dead-letter topic.",
            [(rate_by("reason, stage", "s2c_dead_letters_total"), "{{stage}}: {{reason}}")],
            "ops",
            width=6,
        ),
        timeseries(
            "Stalled partitions by topic",
            "Partitions with records waiting and no commit for 30 s (see the worker log).",
            [(f"sum by (topic) (s2c_stalled_partitions{{{INSTANCE}}})", "{{topic}}")],
            "short",
            width=6,
        ),
        timeseries(
            "Parked events by stage",
            "Events waiting for their anchor or master data.",
            [(f"sum by (stage) (s2c_parked_events{{{INSTANCE}}})", "{{stage}}")],
            "short",
            width=6,
        ),
        timeseries(
            "Open instances by stage",
            "Open schedule-to-cash instances (site filter).",
            [('sum by (stage) (s2c_open_instances{site=~"$site"})', "{{stage}}")],
            "short",
            width=6,
            stack=True,
        ),
    ]
    return dashboard(
        "s2c-operations",
        "s2c / Operations",
        "Throughput, latency, lag, dead letters and backlog of the s2c workers.",
        [
            query_variable("instance", "Worker", 'label_values(up{job="s2c-worker"}, instance)'),
            query_variable("site", "Site", "label_values(s2c_open_instances, site)"),
        ],
        panels,
    )


def finance() -> Json:
    buckets_1h = (
        f'job:s2c_stage_duration_seconds_bucket:increase1h{{{{measure="{{m}}", {BUSINESS}}}}}'
    )
    variance_1d = f"job:s2c_reimbursement_variance_usd:increase1d{{{BUSINESS}}}"
    expected_1d = f"job:s2c_expected_reimbursement_usd:increase1d{{{BUSINESS}}}"
    panels: list[Json] = [row("Cycle times over the selected range (median)")]
    for measure, title, what in MEASURES:
        panels.append(
            stat(
                title,
                f"Median {what} over the dashboard's time range.",
                quantile(
                    0.5,
                    f'increase(s2c_stage_duration_seconds_bucket{{measure="{measure}", {BUSINESS}}}'
                    f"[$__range])",
                ),
                "s",
                width=4,
            )
        )
    panels.append(
        stat(
            "SLA breaches",
            "All SLA breaches over the dashboard's time range.",
            f"sum({counted('s2c_sla_breaches_total', BUSINESS, '$__range')}) or vector(0)",
            "none",
            [(None, "green"), (1, "orange")],
            width=4,
        )
    )
    panels.append(row("Cycle-time trends (observations of the last hour)"))
    for measure, title, what in MEASURES:
        b = buckets_1h.format(m=measure)
        panels.append(
            timeseries(
                f"{title} p50 / p90",
                f"{what.capitalize()}.",
                [(quantile(0.5, b), "p50"), (quantile(0.9, b), "p90")],
                "s",
                width=8,
            )
        )
    panels.append(
        timeseries(
            "Charge lag p50 by service line",
            "Which service lines charge late.",
            [
                (
                    quantile(0.5, buckets_1h.format(m="charge_lag"), "service_line, "),
                    "{{service_line}}",
                )
            ],
            "s",
            width=8,
        )
    )
    panels += [
        timeseries(
            "DNFB p50 by service line",
            "Discharge to first claim, by service line.",
            [(quantile(0.5, buckets_1h.format(m="dnfb"), "service_line, "), "{{service_line}}")],
            "s",
        ),
        timeseries(
            "Days in A/R p50 by payer class",
            "Claim to first payment, by payer class.",
            [
                (
                    quantile(0.5, buckets_1h.format(m="days_in_ar"), "payer_class, "),
                    "{{payer_class}}",
                )
            ],
            "s",
        ),
        timeseries(
            "Claim → denial p50 by payer class",
            "How fast each payer class denies.",
            [
                (
                    quantile(0.5, buckets_1h.format(m="claim_to_denial"), "payer_class, "),
                    "{{payer_class}}",
                )
            ],
            "s",
        ),
        row("SLA breaches"),
        timeseries(
            "Breaches by kind (last hour, rolling)",
            "Breaches found on event time.",
            [(f"sum by (sla) (job:s2c_sla_breaches:increase1h{{{BUSINESS}}})", "{{sla}}")],
            "none",
            width=8,
        ),
        timeseries(
            "Breaches by site (last hour, rolling)",
            "All SLA kinds.",
            [(f"sum by (site) (job:s2c_sla_breaches:increase1h{{{BUSINESS}}})", "{{site}}")],
            "none",
            width=8,
        ),
        bars(
            "Breaches in range by kind and site",
            "Over the dashboard's time range.",
            f"sum by (sla, site) ({counted('s2c_sla_breaches_total', BUSINESS, '$__range')})",
            "{{sla}} @ {{site}}",
            "none",
        ),
        row("Expected vs paid (revenue leakage)"),
        timeseries(
            "Expected vs paid (rolling 24 h)",
            "Adjudicated expected reimbursement and payments posted over the preceding 24 hours.",
            [
                (f"sum({expected_1d})", "expected"),
                (f"sum(job:s2c_paid_usd:increase1d{{{BUSINESS}}})", "paid"),
            ],
            "currencyUSD",
        ),
        timeseries(
            "Variance by payer class (rolling 24 h)",
            "Expected - paid: positive is money the contract says is missing.",
            [(f"sum by (payer_class) ({variance_1d})", "{{payer_class}}")],
            "currencyUSD",
        ),
    ]
    for label, title in (("payer_class", "payer class"), ("service_line", "service line")):
        paid = f"sum by ({label}) ({counted('s2c_paid_usd_total', BUSINESS, '$__range')})"
        exp = (
            f"sum by ({label}) "
            f"({counted('s2c_expected_reimbursement_usd_total', BUSINESS, '$__range')})"
        )
        panels.append(
            bars(
                f"Variance in range by {title}",
                "Expected - paid over the dashboard's time range.",
                f"({exp} or 0 * {paid}) - ({paid} or 0 * {exp})",
                f"{{{{{label}}}}}",
                "currencyUSD",
            )
        )
    panels.append(
        bars(
            "Variance share by payer class (rolling 24 h)",
            "(Expected - paid) / expected; alert S2cRevenueLeakage above 5%.",
            f"sum by (payer_class) ({variance_1d}) / sum by (payer_class) ({expected_1d} > 0)",
            "{{payer_class}}",
            "percentunit",
        )
    )
    values = "label_values(s2c_stage_duration_seconds_count{%s}, %s)"
    return dashboard(
        "s2c-finance",
        "s2c / Revenue cycle",
        "Cycle times, SLA breaches and expected-vs-paid variance by site, service line and "
        "payer class. Durations are business (event) time.",
        [
            query_variable("site", "Site", values % ("", "site")),
            query_variable(
                "service_line", "Service line", values % ('site=~"$site"', "service_line")
            ),
            query_variable(
                "payer_class",
                "Payer class",
                values % ('site=~"$site", service_line=~"$service_line"', "payer_class"),
            ),
        ],
        panels,
    )


DASHBOARDS = {"s2c-operations.json": operations, "s2c-finance.json": finance}


def render(build) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = HERE / name, render(build)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python deploy/grafana/build.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
