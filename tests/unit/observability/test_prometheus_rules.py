"""deploy/prometheus/rules.yml: promtool accepts it, its unit tests prove it, labels bounded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import RULES, RULES_TEST, Prometheus
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from promql_text import series_names

# Labels a rule may group by or add: bounded business and technical dimensions, never an id.
BOUNDED = {
    "job",
    "site",
    "service_line",
    "payer_class",
    "sla",
    "measure",
    "event_type",
    "command_type",
    "reason",
    "stage",
    "topic",
    "kind",
    "le",
}
ALERT_LABELS = {"severity": {"page", "ticket"}, "team": None}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=120)


def exported_names(registry: CollectorRegistry) -> set[str]:
    """Series names exactly as a worker's /metrics page spells them (`_total`, `_bucket`, ...)."""
    text = generate_latest(registry).decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


def _alert_cases() -> dict[str, set[str]]:
    """alert name -> {"fires", "silent"}: which outcomes rules_test.yml checks for it."""
    cases: dict[str, set[str]] = {}
    text = RULES_TEST.read_text()
    for m in re.finditer(r"- alertname: (\w+)\n\s+eval_time: \S+\n\s+exp_alerts:(.*)", text):
        cases.setdefault(m[1], set()).add("silent" if m[2].strip() == "[]" else "fires")
    return cases


def test_every_alert_is_tested_firing_and_silent(prometheus: Prometheus) -> None:
    alerts = {r["name"] for r in prometheus.rules() if r["type"] == "alerting"}
    cases = _alert_cases()
    missing = {a: {"fires", "silent"} - cases.get(a, set()) for a in alerts}
    assert not {a: m for a, m in missing.items() if m}, "alerts without a firing/silent test"


def test_every_recording_rule_has_an_expected_value(prometheus: Prometheus) -> None:
    recorded = {r["name"] for r in prometheus.rules() if r["type"] == "recording"}
    asserted = set(re.findall(r"- expr: ([\w:]+)", RULES_TEST.read_text()))
    assert recorded - asserted == set()


def test_rules_read_only_series_a_worker_exports_or_rules_record(
    prometheus: Prometheus, worker_registry: CollectorRegistry
) -> None:
    rules = prometheus.rules()
    known = (
        exported_names(worker_registry)
        | {"up"}
        | {r["name"] for r in rules if r["type"] == "recording"}
    )
    unknown = {r["name"]: series_names(r["query"]) - known for r in rules}
    assert {name: names for name, names in unknown.items() if names} == {}


def test_rules_keep_only_bounded_labels(prometheus: Prometheus) -> None:
    for rule in prometheus.rules():
        # Prometheus hands back its own rendering of each expression: one spelling to read.
        # `by`/`on` name the labels kept; `without`/`ignoring` only drop some (e.g. instance).
        for clause in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", rule["query"]):
            labels = {label.strip() for label in clause.split(",") if label.strip()}
            assert labels <= BOUNDED, f"{rule['name']} groups by {labels - BOUNDED}"
        assert not re.search(r"patient|account|process_id|mrn|encounter_id", rule["query"])
        if rule["type"] == "alerting":
            assert set(rule["labels"]) == set(ALERT_LABELS), rule["name"]
            assert rule["labels"]["severity"] in ALERT_LABELS["severity"], rule["name"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


BREAKAGES = [
    # Without the new-series branch the first dead letter of a kind never alerts.
    (
        "S2cDeadLetters",
        (
            "              (s2c_dead_letters_total unless s2c_dead_letters_total offset 10m)\n"
            "            or\n"
        ),
        "",
    ),
    # A latency objective quietly relaxed to 100 ms.
    (
        "S2cEventToCommandLatencyHigh",
        "job:s2c_event_to_command_seconds:p99_5m > 0.05",
        "job:s2c_event_to_command_seconds:p99_5m > 0.1",
    ),
    # Leakage measured against paid instead of expected.
    (
        "job:s2c_reimbursement_variance_usd:ratio1d",
        "/ (job:s2c_expected_reimbursement_usd:increase1d > 0)",
        "/ (job:s2c_paid_usd:increase1d > 0)",
    ),
    # A still watermark alerting without events flowing: every quiet night would open a ticket.
    (
        "S2cDeadlinesHeldBack",
        "(rate(s2c_events_in_total[30m])) > 0",
        "(rate(s2c_events_in_total[30m])) >= 0",
    ),
]


@pytest.mark.parametrize(("caught_by", "old", "new"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_unit_tests_catch_a_broken_rule(
    promtool: str, tmp_path: Path, caught_by: str, old: str, new: str
) -> None:
    rules = RULES.read_text()
    assert old in rules, "the breakage no longer applies: update this test"
    (tmp_path / "rules.yml").write_text(rules.replace(old, new))
    shutil.copy(RULES_TEST, tmp_path / "rules_test.yml")
    result = run(promtool, "test", "rules", str(tmp_path / "rules_test.yml"))
    assert result.returncode != 0
    assert caught_by in result.stdout + result.stderr
