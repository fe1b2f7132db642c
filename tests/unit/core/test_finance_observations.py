"""Money the finance dashboards and the revenue-leakage alert measure, as the core observes it:
a claim's contract amount once, when the payer first adjudicates it, and every payment posted,
both as exact Decimals labelled by site, service line and payer class only. Fed through the
worker's own sink function into a fresh registry, they are the counters the rules read."""

from __future__ import annotations

from decimal import Decimal

from core_world import (
    DAY,
    IDS,
    SURGERY_DAY,
    Feed,
    adjustment,
    denial,
    knee_case_through_claim,
    master_data,
    paid_knee_case,
    payment,
)
from prometheus_client import CollectorRegistry

from s2c.streams.metrics import PipelineMetrics
from s2c.streams.sink import observe
from s2c.tables.outputs import MetricObservation
from s2c.tables.replay import Pipeline

RIVERSIDE_ORTHO_AETNA = (
    ("site_id", "RIVERSIDE"),
    ("service_line_id", "ORTHO"),
    ("payer_class", "COMMERCIAL"),
)


def money_seen(events: list) -> list[MetricObservation]:
    pipeline = Pipeline(master_data(), IDS)
    return [
        o
        for e in events
        for o in pipeline.feed(e)
        if isinstance(o, MetricObservation) and o.metric.endswith("_usd")
    ]


def test_each_underpaid_case_is_expected_once_and_paid_once_in_exact_money() -> None:
    feed = Feed()
    seen = money_seen([e for n in range(3) for e in paid_knee_case(feed, n, "3100.00")])
    assert [(o.metric, o.value) for o in seen] == [
        ("expected_reimbursement_usd", Decimal("4200.00")),
        ("paid_usd", Decimal("3100.00")),
    ] * 3
    assert all(type(o.value) is Decimal for o in seen)  # never a float in the core
    assert {o.labels for o in seen} == {RIVERSIDE_ORTHO_AETNA}  # nothing about the patient


def test_a_denied_claim_is_expected_and_never_paid() -> None:
    """Denied outright: the whole contract amount is leakage."""
    feed = Feed()
    events = knee_case_through_claim(feed) + [denial(feed, SURGERY_DAY + 25 * DAY, "6800.00")]
    assert [(o.metric, o.value) for o in money_seen(events)] == [
        ("expected_reimbursement_usd", Decimal("4200.00"))
    ]


def test_the_expectation_is_counted_at_the_first_remittance_whatever_comes_next() -> None:
    """An adjustment before the payment adjudicates the claim; the payment, a second payment
    and a redelivered one add only what was paid."""
    feed = Feed()
    later = SURGERY_DAY + 20 * DAY
    first = payment(feed, later + 1, "3000.00")
    events = knee_case_through_claim(feed) + [
        adjustment(feed, later, "2600.00"),
        first,
        payment(feed, later + 2, "200.00", remittance_id="ERA-2"),
        first,
    ]
    assert [(o.metric, o.value) for o in money_seen(events)] == [
        ("expected_reimbursement_usd", Decimal("4200.00")),
        ("paid_usd", Decimal("3000.00")),
        ("paid_usd", Decimal("200.00")),
    ]


def test_the_workers_counters_add_up_what_the_core_observed() -> None:
    """The sink's own function turns the observations into the two counters the leakage
    rule reads: 12,600 expected and 9,300 paid for three cases at Riverside orthopaedics."""
    feed = Feed()
    metrics = PipelineMetrics(CollectorRegistry())
    for item in money_seen([e for n in range(3) for e in paid_knee_case(feed, n, "3100.00")]):
        observe(metrics, item)
    labels = {"site": "RIVERSIDE", "service_line": "ORTHO", "payer_class": "COMMERCIAL"}
    read = metrics.registry.get_sample_value
    assert read("s2c_expected_reimbursement_usd_total", labels) == 12600.0
    assert read("s2c_paid_usd_total", labels) == 9300.0
