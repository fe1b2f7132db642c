"""`s2c report` over a replayed synthetic day: every figure drawn on the page equals the figure
counted here, independently, from the folder's files; sections without their input say so; the
page fetches nothing and shows no account number."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from s2c.streams.cli import main
from s2c.streams.demo_outputs import write_outputs
from s2c.streams.report_figures import read_figures


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hospitals, about 120 episodes, some poison lines (dead letters), replayed."""
    day = tmp_path_factory.mktemp("day")
    generate = ["generate", "--out", str(day), "--episodes", "120", "--seed", "11"]
    assert main([*generate, "--poison", "0.03"]) == 0
    out = day / "out"
    argv = ["replay", str(day / "events.jsonl"), "--master-data", str(day / "master")]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


class Marks(HTMLParser):
    """Every element carrying `data-chart`, `data-row` (a drawn figure), as its data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[dict[str, str]] = []
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        found = {k.removeprefix("data-"): v or "" for k, v in attrs if k.startswith("data-")}
        if "row" in found:
            self.marks.append(found)


def page_of(folder: Path, tmp_path: Path, *extra: str) -> tuple[str, Marks]:
    target = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(target), *extra]) == 0
    text = target.read_text(encoding="utf-8")
    parser = Marks()
    parser.feed(text)
    return text, parser


def drawn(marks: Marks, chart: str) -> Counter[tuple[str, str]]:
    return Counter(
        {
            (m["row"], m["segment"]): int(m["value"])
            for m in marks.marks
            if m.get("chart") == chart and "segment" in m
        }
    )


def lines(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row.get("record", row) for row in rows]


def test_counts_drawn_are_the_files_counts(replayed: Path, tmp_path: Path) -> None:
    _, marks = page_of(replayed, tmp_path)
    processes = lines(replayed / "processes.jsonl")
    commands = lines(replayed / "commands.jsonl")
    expected = {
        "commands": Counter(
            (c["header"]["command_type"], c.get("journal_kind") or "other than a journal")
            for c in commands
        ),
        "volumes": Counter((p["site_id"], p["service_line_id"]) for p in processes),
        "sla": Counter((b["sla"], b["site_id"]) for b in lines(replayed / "sla_breaches.jsonl")),
        "exceptions": Counter(
            (e["kind"], e["site_id"]) for e in lines(replayed / "exceptions.jsonl")
        ),
        "dead-letters": Counter(
            (d["reason"], d["stage"]) for d in lines(replayed / "dead_letters.jsonl")
        ),
    }
    for chart, counts in expected.items():
        assert counts, f"the generated day should give {chart} to draw"
        assert drawn(marks, chart) == counts, chart


def test_expected_and_paid_per_payer_are_exact(replayed: Path, tmp_path: Path) -> None:
    _, marks = page_of(replayed, tmp_path)
    expected: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    for p in lines(replayed / "processes.jsonl"):
        if p["expected_amount"] is not None and p["first_remit_at"] is not None:
            expected[p["payer_id"]] = expected.get(p["payer_id"], Decimal(0)) + Decimal(
                p["expected_amount"]
            )
            paid[p["payer_id"]] = paid.get(p["payer_id"], Decimal(0)) + Decimal(p["paid"])
    assert expected
    money = [m for m in marks.marks if m.get("chart") == "money"]
    assert {m["row"]: Decimal(m["value"]) for m in money if m["segment"] == "expected"} == expected
    assert {m["row"]: Decimal(m["value"]) for m in money if m["segment"] == "paid"} == paid
    variances = {m["row"]: Decimal(m["variance"]) for m in marks.marks if "variance" in m}
    assert variances == {payer: expected[payer] - paid[payer] for payer in expected}


def test_stage_durations_are_the_observations_median_and_90th_percentile(
    replayed: Path, tmp_path: Path
) -> None:
    _, marks = page_of(replayed, tmp_path)
    values: dict[str, list[float]] = {}
    for m in lines(replayed / "metrics.jsonl"):
        if m["metric"].endswith("_seconds"):
            values.setdefault(m["metric"], []).append(float(m["value"]))
    shown = {m["row"]: m for m in marks.marks if m.get("chart") == "durations"}
    assert set(shown) == set(values) and "charge_lag_seconds" in shown
    for metric, observed in values.items():
        ordered = sorted(observed)
        assert int(shown[metric]["count"]) == len(ordered)
        assert float(shown[metric]["value"]) == ordered[math.ceil(len(ordered) / 2) - 1]
        assert float(shown[metric]["p90"]) == ordered[math.ceil(len(ordered) * 0.9) - 1]


def test_without_observations_durations_come_from_the_final_milestones_and_say_so(
    replayed: Path, tmp_path: Path
) -> None:
    live_like = tmp_path / "live-like"  # what `s2c demo` reads back: no metrics.jsonl
    shutil.copytree(replayed, live_like)
    (live_like / "metrics.jsonl").unlink()
    text, marks = page_of(live_like, tmp_path)
    assert "derived from the instances&#x27; final milestones in processes.jsonl" in text
    observed = Counter(
        m["metric"] for m in lines(replayed / "metrics.jsonl") if m["metric"].endswith("_seconds")
    )
    spans = {  # measure: start and end milestone, written out here rather than imported
        "schedule_to_encounter_seconds": ("scheduled_at", "arrived_at"),
        "charge_lag_seconds": ("discharged_at", "first_charge_at"),
        "discharge_to_claim_seconds": ("discharged_at", "first_claim_at"),
        "claim_to_first_payment_seconds": ("first_claim_at", "first_payment_at"),
        "claim_to_denial_seconds": ("first_claim_at", "first_denial_at"),
    }
    values: dict[str, list[float]] = {}
    for p in lines(replayed / "processes.jsonl"):
        for measure, (start, end) in spans.items():
            if p.get(start) and p.get(end):
                gap = datetime.fromisoformat(p[end]) - datetime.fromisoformat(p[start])
                values.setdefault(measure, []).append(gap.total_seconds())
    shown = {m["row"]: m for m in marks.marks if m.get("chart") == "durations"}
    # the same measures of the same instances as the core observed, one value each
    assert {k: int(m["count"]) for k, m in shown.items()} == dict(observed)
    assert {k: len(v) for k, v in values.items()} == dict(observed)
    for measure, found in values.items():
        ordered = sorted(found)
        assert float(shown[measure]["value"]) == ordered[math.ceil(len(ordered) / 2) - 1]
        assert float(shown[measure]["p90"]) == ordered[math.ceil(len(ordered) * 0.9) - 1]


def test_the_page_fetches_nothing_and_shows_no_account(replayed: Path, tmp_path: Path) -> None:
    text, marks = page_of(replayed, tmp_path)
    assert marks.tags["svg"] >= 6 and not marks.tags["script"] and not marks.tags["link"]
    assert "http://" not in text and "https://" not in text and "src=" not in text
    accounts = {p["account_number"] for p in lines(replayed / "processes.jsonl")}
    assert accounts and not [a for a in accounts if a and a in text]


def test_missing_inputs_are_said_not_drawn(replayed: Path, tmp_path: Path) -> None:
    only = tmp_path / "only-breaches"
    only.mkdir()
    shutil.copy(replayed / "sla_breaches.jsonl", only)
    text, marks = page_of(only, tmp_path, "--title", "a day at Riverside & Hill")
    assert "<h1>s2c report: a day at Riverside &amp; Hill</h1>" in text
    assert {m["chart"] for m in marks.marks if "chart" in m} == {"sla"}
    assert "processes.jsonl (the instances&#x27; final states) is not in this folder" in text
    assert "metrics.jsonl (the core&#x27;s metric observations) is not in this folder" in text
    assert "No reconciliation.json was given" in text and "No conformance.json was given" in text


def test_reconciliation_and_conformance_reports_are_drawn(replayed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-tools"
    shutil.copytree(replayed, folder)
    (folder / "conformance.json").write_text(
        json.dumps(
            {
                "deviations": {"CLAIM_BEFORE_CHARGE": 3, "SKIPPED_AUTHORIZATION": 2},
                "by_site": {"S01": {"CLAIM_BEFORE_CHARGE": 3}, "S02": {"SKIPPED_AUTHORIZATION": 2}},
                "pm4py": {
                    "appointment": {
                        "clean": {"traces": 40, "log_fitness": 1.0, "perc_fit_traces": 100.0},
                        "deviating": {"traces": 3, "log_fitness": 0.9, "perc_fit_traces": 33.3},
                    },
                    "case": {"clean": {"traces": 0}, "deviating": {"traces": 0}},
                    "round_trip": {"events": 10, "objects": 5, "ok": True},
                },
            }
        )
    )
    reconciliation = tmp_path / "mismatches.json"
    reconciliation.write_text(
        json.dumps(
            {
                "as_of": "2025-03-31T00:00:00Z",
                "counts": {"SCHEDULED_NOT_RESERVED": 4, "PAID_WITHOUT_CASH": 1},
                "by_site": {"S03": {"SCHEDULED_NOT_RESERVED": 4, "PAID_WITHOUT_CASH": 1}},
                "mismatches": [],
            }
        )
    )
    text, marks = page_of(folder, tmp_path, "--reconciliation", str(reconciliation))
    assert drawn(marks, "reconciliation-by-kind") == {
        ("SCHEDULED_NOT_RESERVED", "count"): 4,
        ("PAID_WITHOUT_CASH", "count"): 1,
    }
    assert drawn(marks, "reconciliation-by-site") == {
        ("S03", "SCHEDULED_NOT_RESERVED"): 4,
        ("S03", "PAID_WITHOUT_CASH"): 1,
    }
    assert drawn(marks, "deviations-by-site") == {
        ("S01", "CLAIM_BEFORE_CHARGE"): 3,
        ("S02", "SKIPPED_AUTHORIZATION"): 2,
    }
    assert "as of 2025-03-31T00:00:00Z" in text
    # pm4py's replay of the exported log: the share of fitting traces per episode type and group
    assert drawn(marks, "deviations-pm4py") == {
        ("appointment · clean", "% fit"): 100,
        ("appointment · deviating", "% fit"): 33,
    }
    assert "<td>appointment · deviating</td><td>3</td><td>0.9000</td><td>33.3%</td>" in text


def test_deviations_from_the_instances_when_no_conformance_report(tmp_path: Path) -> None:
    folder = tmp_path / "instances"
    folder.mkdir()
    states = [
        {"site_id": "S01", "service_line_id": "SL-ORTH", "stage": "PAID", "deviations": ["REWORK"]},
        {"site_id": "S02", "service_line_id": "SL-GI", "stage": "CLOSED", "deviations": []},
        {
            "site_id": "S02",
            "service_line_id": "SL-GI",
            "stage": "CLOSED",
            "deviations": [{"kind": "REWORK"}, {"kind": "PAYMENT_BEFORE_CLAIM"}],
        },
    ]
    (folder / "processes.jsonl").write_text("".join(json.dumps(s) + "\n" for s in states))
    figures = read_figures(folder)
    assert figures.deviations.counts == {"REWORK": 2, "PAYMENT_BEFORE_CLAIM": 1}
    assert figures.deviations.by_site == {
        "S01": {"REWORK": 1},
        "S02": {"REWORK": 1, "PAYMENT_BEFORE_CLAIM": 1},
    }


def test_the_demo_folder_of_live_outputs_reads_as_replays(replayed: Path, tmp_path: Path) -> None:
    """The demo writes what it read from the topics (decoded records, dead letters' headers)
    and the workers' tables (key -> stored JSON, in changelog order); the report counts them as
    it counts replay's files."""
    stored = {
        json.loads(line)["process_id"].encode(): line.encode()
        for line in reversed((replayed / "processes.jsonl").read_text().splitlines())
    }
    outputs = {
        "commands": lines(replayed / "commands.jsonl"),
        "exceptions": lines(replayed / "exceptions.jsonl"),
        "breaches": lines(replayed / "sla_breaches.jsonl"),
        "dlq": [
            {
                "headers": {
                    "s2c.errors.reason": d["reason"].encode(),
                    "__connect.errors.stage": d["stage"].encode(),
                    "__connect.errors.exception.message": b"quotes the refused input",
                }
            }
            for d in lines(replayed / "dead_letters.jsonl")
        ],
    }
    folder = write_outputs(outputs, tmp_path / "live", {"processes": stored})
    live, replay = read_figures(folder), read_figures(replayed)
    assert live.breaches == replay.breaches and live.exceptions == replay.exceptions
    assert live.commands == replay.commands and live.volumes == replay.volumes
    assert live.money == replay.money
    processes = (folder / "processes.jsonl").read_bytes()
    assert processes == (replayed / "processes.jsonl").read_bytes()
    assert live.dead_letters == replay.dead_letters
    assert "quotes the refused input" not in (folder / "dead_letters.jsonl").read_text()
    commands = lines(folder / "commands.jsonl")
    assert commands == outputs["commands"]


def test_an_unreadable_input_is_named_not_a_traceback(
    replayed: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(replayed / "sla_breaches.jsonl", folder)
    (folder / "conformance.json").write_text("{deviations: 3}")
    assert main(["report", str(folder)]) == 2
    assert f"cannot read {folder / 'conformance.json'}" in capsys.readouterr().err
    assert not folder.with_name("broken.html").exists()
