"""deploy/grafana: dashboards a Grafana 10 loads as they are, whose every query a real Prometheus
parses and answers from series a worker exports or rules.yml records."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import GRAFANA, MEASURES, SLA_KINDS, Prometheus
from prometheus_client import CollectorRegistry
from promql_text import (
    as_promql,
    load,
    panels,
    queries,
    series_names,
    variable_selectors,
    variables,
)
from test_prometheus_rules import exported_names

DASHBOARDS = {
    "s2c-operations.json": {"instance", "site"},
    "s2c-finance.json": {"site", "service_line", "payer_class"},
}
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def dashboard(name: str) -> dict[str, Any]:
    return load(GRAFANA / name)


def promql(name: str) -> list[tuple[str, str]]:
    """(panel title, query as Prometheus will see it) for every query of a dashboard."""
    board = dashboard(name)
    defined = set(variables(board))
    found = [(title, as_promql(expr, defined)) for title, expr in queries(board)]
    found += [
        (f"variable {var}", as_promql(selector, defined))
        for var, selector, _ in variable_selectors(board)
    ]
    return found


def test_committed_json_is_what_build_py_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "build.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_loads_in_grafana_10_through_ds_prometheus(name: str) -> None:
    board = dashboard(name)
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 38
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    declared = variables(board)
    assert declared["DS_PROMETHEUS"]["type"] == "datasource"
    assert DASHBOARDS[name] <= set(declared), "template variables"
    for var in DASHBOARDS[name]:
        assert declared[var]["datasource"] == DATASOURCE and declared[var]["includeAll"]
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE and t["expr"].strip(), panel["title"]


def test_operations_dashboard_shows_every_technical_metric() -> None:
    used = set().union(*(series_names(q) for _, q in promql("s2c-operations.json")))
    assert {
        "up",
        "s2c_events_in_total",
        "s2c_commands_out_total",
        "s2c_events_duplicate_total",
        "s2c_exceptions_total",
        "s2c_event_to_command_seconds_bucket",
        "s2c_processing_seconds_bucket",
        "s2c_consumer_lag",
        "s2c_dead_letters_total",
        "s2c_parked_events",
        "s2c_open_instances",
        "s2c_watermark_seconds",
    } <= used


def test_finance_dashboard_shows_every_measure_and_money() -> None:
    exprs = [q for _, q in promql("s2c-finance.json")]
    for measure in MEASURES:
        assert any(f'measure="{measure}"' in q for q in exprs), measure
    used = set().union(*(series_names(q) for q in exprs))
    assert {
        "s2c_sla_breaches_total",
        "job:s2c_sla_breaches:increase1h",
        "s2c_expected_reimbursement_usd_total",
        "s2c_paid_usd_total",
        "job:s2c_reimbursement_variance_usd:increase1d",
    } <= used
    assert any("by (sla" in q for q in exprs) and any("by (payer_class)" in q for q in exprs)


def test_series_names_reads_what_a_query_selects() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le) (rate(s2c_event_to_command_seconds_bucket"
        '{instance=~".*"}[1m]))) / on (job) group_left job:s2c_consumer_lag:sum offset 5m '
        "or vector(1e3) > bool 0"
    )
    assert series_names(expr) == {"s2c_event_to_command_seconds_bucket", "job:s2c_consumer_lag:sum"}


def test_prometheus_rejects_a_query_that_does_not_parse(prometheus: Prometheus) -> None:
    status, body = prometheus.query("sum(rate(s2c_events_in_total[5m])")
    assert (status, body["errorType"]) == (400, "bad_data")


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_query_parses_in_prometheus(prometheus: Prometheus, name: str) -> None:
    rejected = []
    for title, expr in promql(name):
        status, body = prometheus.query(expr)
        if status != 200 or body["status"] != "success":
            rejected.append(f"{title}: {body.get('errorType')}: {body.get('error')}\n  {expr}")
    assert not rejected, "\n".join(rejected)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_query_names_a_worker_metric_or_a_recording_rule(
    prometheus: Prometheus, worker_registry: CollectorRegistry, name: str
) -> None:
    known = (
        exported_names(worker_registry)
        | {"up"}
        | {r["name"] for r in prometheus.rules() if r["type"] == "recording"}
    )
    unknown = {f"{title}: {expr}": series_names(expr) - known for title, expr in promql(name)}
    assert {q: names for q, names in unknown.items() if names} == {}


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_and_variable_shows_data_from_a_worker(
    prometheus: Prometheus, name: str
) -> None:
    """Scraped worker series and recorded rules fill every query (rates need two scrapes and
    second-level rules one more evaluation, hence the wait)."""
    pending = promql(name)
    deadline = time.monotonic() + 45
    while pending and time.monotonic() < deadline:
        pending = [(t, q) for t, q in pending if not prometheus.query(q)[1]["data"]["result"]]
        if pending:
            time.sleep(1)
    assert not pending, "queries with no data:\n" + "\n".join(f"{t}: {q}" for t, q in pending)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_variables_offer_the_workers_label_values(prometheus: Prometheus, name: str) -> None:
    board = dashboard(name)
    for var, selector, label in variable_selectors(board):
        selector = as_promql(selector, set(variables(board)))
        status, body = prometheus.get("/api/v1/label/" + label + "/values", **{"match[]": selector})
        assert status == 200 and body["data"], f"{var}: {selector} has no {label}"


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards() -> None:
    datasource = (GRAFANA / "provisioning" / "datasources" / "s2c-prometheus.yaml").read_text()
    provider = (GRAFANA / "provisioning" / "dashboards" / "s2c.yaml").read_text()
    assert "apiVersion: 1" in datasource and "type: prometheus" in datasource
    assert "isDefault: true" in datasource  # what the DS_PROMETHEUS variable picks up first
    assert "apiVersion: 1" in provider and "type: file" in provider and "path:" in provider
    assert sorted(p.name for p in GRAFANA.glob("*.json")) == sorted(DASHBOARDS)


def test_sla_kinds_appear_on_the_finance_dashboard_by_label() -> None:
    # Kinds come from the `sla` label, so a new kind shows up without editing the dashboard;
    # the alerts, though, name each kind.
    rules = (GRAFANA.parent / "prometheus" / "rules.yml").read_text()
    assert all(f'sla="{kind}"' in rules for kind in SLA_KINDS)
