"""Revenue leakage seen end to end: underpaid claims through a real worker, the alert in Prometheus.

Four knee arthroscopies at Riverside for Aetna Commercial, each expected at the contract's 4,200
and paid 3,100 (26% short, on 16,800 expected in a day: over both thresholds of
`S2cRevenueLeakage`), go through one `s2c worker` on the local stack. The worker's money counters
must hold what the core observed, the stack's own Prometheus must scrape them and evaluate the
real rule to true (the alert *pending*: the rule holds for `for: 1h` before it fires, which
rules_test.yml checks in promtool's simulated time), and a second Prometheus, started by this test
with the same rules.yml except that hold shortened to 5 s, must report the alert *firing* with
the site, service line and payer class of those claims. Nothing in between is set by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))  # the core tests' small world

from core_world import Feed, paid_knee_case  # noqa: E402
from stackkit import PipelineEnv, free_port, wait_for  # noqa: E402
from test_topology import publish  # noqa: E402

from s2c.streams.settings import REPO_ROOT  # noqa: E402

pytestmark = pytest.mark.integration

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
LEAKING = {"site": "RIVERSIDE", "service_line": "ORTHO", "payer_class": "COMMERCIAL"}
CASES, EXPECTED, PAID = 4, 4200.0, 3100.0


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)["data"]["result"]


def leakage_alerts(base: str, state: str) -> list[dict[str, str]]:
    selector = ",".join(f'{k}="{v}"' for k, v in LEAKING.items())
    expr = f'ALERTS{{alertname="S2cRevenueLeakage",alertstate="{state}",{selector}}}'
    return [row["metric"] for row in query(base, expr)]


def scraped_money(base: str, instance: str) -> dict[str, float]:
    """The worker's two money counters as this Prometheus scraped them from `instance`."""
    got = {}
    for name in ("s2c_expected_reimbursement_usd_total", "s2c_paid_usd_total"):
        rows = query(base, f'{name}{{instance="{instance}",site="RIVERSIDE"}}')
        if rows:
            got[name] = float(rows[0]["value"][1])
    return got


def worker_money(metrics_url: str) -> dict[str, float]:
    """The money samples of the worker's /metrics page, for the leaking site."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=5) as answer:
        text = answer.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in ("s2c_expected_reimbursement_usd_total", "s2c_paid_usd_total")
        and sample.labels == LEAKING
    }


@pytest.fixture
def short_hold_prometheus(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A Prometheus of this test's own, evaluating rules.yml every second with the leakage
    alert's one-hour hold cut to 5 s (nothing else changed); the scrape target comes later."""
    head, alert = RULES.read_text().split("- alert: S2cRevenueLeakage", 1)
    assert "for: 1h" in alert.split("- alert:", 1)[0], "the leakage alert's hold moved"
    rules = tmp_path / "rules.yml"
    rules.write_text(head + "- alert: S2cRevenueLeakage" + alert.replace("for: 1h", "for: 5s", 1))
    targets = tmp_path / "targets"
    targets.mkdir()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(rules))}]\n"
        "scrape_configs:\n"
        "  - job_name: s2c-worker\n"
        f"    file_sd_configs: [{{files: [{json.dumps(str(targets / '*.json'))}], "
        "refresh_interval: 1s}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
        try:
            return urllib.request.urlopen(f"{base}/-/ready", timeout=1).status == 200
        except OSError:
            return False

    try:
        wait_for(ready, 30, "the test's Prometheus to be ready")
        yield targets, base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_underpaid_claims_raise_revenue_leakage_from_worker_fed_data(
    pipeline_env: PipelineEnv, short_hold_prometheus: tuple[Path, str]
) -> None:
    feed = Feed("leak")
    events = [e for n in range(CASES) for e in paid_knee_case(feed, n, f"{PAID:.2f}")]
    worker = pipeline_env.worker().start().wait_ready()
    instance = f"127.0.0.1:{worker.env['S2C_WORKER_WEB_PORT']}"
    targets, own = short_hold_prometheus
    (targets / "worker.json").write_text(
        json.dumps([{"targets": [instance], "labels": {}}])  # file_sd, as the worker's own
    )
    publish(pipeline_env, events)

    want = {
        "s2c_expected_reimbursement_usd_total": CASES * EXPECTED,
        "s2c_paid_usd_total": CASES * PAID,
    }
    wait_for(
        lambda: worker_money(worker.metrics_url) == want,
        90,
        f"the worker's money counters to read {want}:\n{worker.log_tail()}",
    )

    stack = f"http://127.0.0.1:{pipeline_env.settings.prometheus_port}"
    wait_for(lambda: scraped_money(stack, instance) == want, 30, "the stack to scrape them")
    # the real rule, on the stack's Prometheus: true now, firing after its one-hour hold
    wait_for(
        lambda: leakage_alerts(stack, "pending") or leakage_alerts(stack, "firing"),
        30,
        "S2cRevenueLeakage to be pending on the stack's Prometheus",
    )
    started = time.monotonic()
    [firing] = wait_for(
        lambda: leakage_alerts(own, "firing"), 45, "S2cRevenueLeakage to fire with a 5 s hold"
    )
    assert time.monotonic() - started < 45
    assert {k: firing[k] for k in LEAKING} == LEAKING
    assert (firing["severity"], firing["team"]) == ("ticket", "managed-care")
    ratio = query(own, 'job:s2c_reimbursement_variance_usd:ratio1d{site="RIVERSIDE"}')
    assert float(ratio[0]["value"][1]) == pytest.approx((EXPECTED - PAID) / EXPECTED)
    assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
