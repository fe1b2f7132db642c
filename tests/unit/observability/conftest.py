"""Fixtures for the observability tests: promtool, and a real Prometheus scraping a worker.

The worker is `PipelineMetrics` on a fresh registry, filled with one day at St Mary's and served
over HTTP the way a worker's `/metrics` page serves it. The money counters are not set by hand:
underpaid knee arthroscopies at Riverside go through the pure core, and the worker's own sink
function turns what the core observed into them, so a core that stops observing money (or a
sink that stops knowing its names) leaves the finance rules and panels without data here too. Prometheus (the Debian package, as in
deploy/local/stack) scrapes it every second and loads deploy/prometheus/rules.yml, so rules and
dashboard queries are checked by the real parser against real series. Missing binaries fail the
run with the install command: these tests never skip.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from prometheus_client import CollectorRegistry, make_wsgi_app

from s2c.streams.metrics import DAY, PipelineMetrics
from s2c.streams.sink import observe
from s2c.tables.outputs import MetricObservation
from s2c.tables.replay import Pipeline

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "core"))  # the core tests' small world
from core_world import IDS, Feed, master_data, paid_knee_case  # noqa: E402

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "rules_test.yml"
GRAFANA = ROOT / "deploy" / "grafana"
INSTALL = "apt-get install --no-install-recommends prometheus"
SLA_KINDS = (
    "AUTH_MISSING_48H_BEFORE_SURGERY",
    "CHARGE_LAG_3D",
    "CLAIM_NOT_SUBMITTED_7D",
    "NO_REMITTANCE_30D",
)
MEASURES = {
    "schedule_to_encounter": 12,
    "charge_lag": 2,
    "dnfb": 5,
    "days_in_ar": 34,
    "claim_to_denial": 21,
}  # days


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"`{binary}` is not on PATH, and the observability tests need the real one. "
            f"Install it with: {INSTALL}",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return require("promtool")


def a_day_at_st_mary(m: PipelineMetrics) -> None:
    """Every metric of the worker with at least one series, in the domain's words."""
    visit = {"site": "ST-MARY", "service_line": "ORTHOPEDICS", "payer_class": "COMMERCIAL"}
    m.events_in.labels(event_type="AppointmentScheduled").inc(120)
    m.events_in.labels(event_type="ChargePosted").inc(40)
    m.duplicates.labels(event_type="AppointmentScheduled").inc(2)
    m.commands_out.labels(command_type="ReserveRoom").inc(118)
    m.commands_out.labels(command_type="PostJournal").inc(40)
    m.dead_letters.labels(reason="undecodable", stage="ingest").inc()
    m.parked.labels(stage="link").set(3)
    m.exceptions.labels(kind="UNKNOWN_MASTER_DATA").inc()
    m.processing_seconds.labels(stage="process").observe(0.004)
    m.end_to_end_seconds.observe(0.012)
    m.consumer_lag.labels(topic="s2c.events").set(7)
    m.stalled_partitions.labels(topic="s2c.events").set(0)
    m.watermark.labels(stage="process").set(1_772_442_000)  # 2026-03-02 09:00 UTC, event time
    for measure, days in MEASURES.items():
        m.stage_duration.labels(measure=measure, **visit).observe(days * DAY)
    m.open_instances.labels(stage="CHARGED", site="ST-MARY").set(42)
    for sla in SLA_KINDS:
        m.sla_breaches.labels(sla=sla, **visit).inc()
    # Money as the worker gets it: from the core's observations, through the sink.
    pipeline, feed = Pipeline(master_data(), IDS), Feed("finance")
    for n in range(4):
        for event in paid_knee_case(feed, n, "3100.00"):
            for item in pipeline.feed(event):
                if isinstance(item, MetricObservation):
                    observe(m, item)


@pytest.fixture(scope="session")
def worker_registry() -> CollectorRegistry:
    metrics = PipelineMetrics(CollectorRegistry())
    a_day_at_st_mary(metrics)
    return metrics.registry


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def worker_endpoint(worker_registry: CollectorRegistry) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, make_wsgi_app(worker_registry), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="fake-worker", daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """The HTTP API of one Prometheus process."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str | list[str]) -> tuple[int, dict[str, Any]]:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def query(self, expr: str) -> tuple[int, dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)

    def rules(self) -> list[dict[str, Any]]:
        status, body = self.get("/api/v1/rules")
        assert status == 200, body
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, worker_endpoint: str
) -> Iterator[Prometheus]:
    binary = require("prometheus")
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(RULES))}]\n"
        "scrape_configs:\n"
        "  - job_name: s2c-worker\n"
        f"    static_configs: [{{targets: [{json.dumps(worker_endpoint)}]}}]\n"
    )
    port = _free_port()
    log = home / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if urllib.request.urlopen(f"{api.url}/-/ready", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready in 30 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield api
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
