"""A generated day with deviations injected, through `s2c replay` and `s2c export-ocel --check`.

The generator writes the truth (every deviation the day holds, injected or made by its own
behaviour, with the event the pipeline should blame); the replay's processes.jsonl must report
exactly that, no more, no less, and a clean day none. The OCEL 2.0 log loads in pm4py with the
event and object counts, per type, that were written; no account number appears in it; and
token-based replay of each flattened episode type on a net discovered from the clean instances
fits every clean trace and no trace of an instance the core found deviating.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from s2c.tables.conformance import KINDS

KEY = "conformance-day-id-key-not-a-secret"
DAY = ["--episodes", "160", "--seed", "11", "--sites", "2"]
# the generator's own deviations off (denied authorizations, rejected claims): a clean day
CLEAN = ["--auth-denied-rate", "0", "--claim-rejection-rate", "0"]


def _s2c(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "S2C_ID_KEY": KEY}
    command = [sys.executable, "-m", "s2c.streams.cli", *map(str, args)]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def _day(root: Path, *flags: str) -> Path:
    _s2c("generate", "--out", root / "day", *DAY, *flags)
    day = root / "day"
    _s2c("replay", day / "events.jsonl", "--master-data", day / "master", "--out", root / "out")
    return root


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _reported(root: Path) -> Counter[tuple[str, str, str]]:
    """(trace, kind, blamed event) of every deviation in processes.jsonl; the trace is in the
    generator's event ids (EV-<trace>.<n>), which is how a walk-in is matched too."""
    found: Counter[tuple[str, str, str]] = Counter()
    for state in _jsonl(root / "out" / "processes.jsonl"):
        for d in state["deviations"]:
            found["TR-" + d["event_id"][3:].rsplit(".", 1)[0], d["kind"], d["event_id"]] += 1
    return found


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _day(tmp_path_factory.mktemp("injected"), "--deviation-rate", "0.3")
    _s2c("export-ocel", root / "day" / "events.jsonl", "--replay", root / "out", "--check")
    return root


def test_replay_reports_exactly_the_deviations_the_generator_planted(injected: Path) -> None:
    truth = _jsonl(injected / "day" / "deviations.jsonl")
    expected = Counter((t["trace"], t["kind"], t["event_id"]) for t in truth)
    assert _reported(injected) == expected
    kinds = Counter(t["kind"] for t in truth if t["injected"])
    assert set(kinds) == set(KINDS)  # every kind the core knows was injected
    by_process = {t["process_id"] for t in truth if t["injected"]}
    states = {s["process_id"]: s for s in _jsonl(injected / "out" / "processes.jsonl")}
    assert by_process <= set(states)  # each injected instance is named by its process id


def test_a_clean_day_reports_no_deviation(tmp_path: Path) -> None:
    root = _day(tmp_path, *CLEAN)
    assert _reported(root) == Counter()
    metrics = (root / "out" / "metrics.jsonl").read_text()
    assert '"path_deviations"' not in metrics
    # the export writes into the replay's folder; a replay into it again replaces the run whole
    day, out = root / "day", root / "out"
    _s2c("export-ocel", day / "events.jsonl", "--replay", out)
    assert json.loads((out / "conformance.json").read_text())["deviations"] == {}
    _s2c("replay", day / "events.jsonl", "--master-data", day / "master", "--out", out)
    assert not (out / "ocel.json").exists() and not (out / "conformance.json").exists()


def test_conformance_json_counts_the_cores_deviations_by_kind_and_site(injected: Path) -> None:
    report = json.loads((injected / "out" / "conformance.json").read_text())
    truth = Counter(t["kind"] for t in _jsonl(injected / "day" / "deviations.jsonl"))
    assert report["deviations"] == dict(truth)
    per_site: Counter[str] = Counter()
    for kinds in report["by_site"].values():
        per_site.update(kinds)
    assert per_site == truth and set(report["by_site"]) <= {"S01", "S02"}


def test_the_ocel_log_round_trips_through_pm4py(injected: Path) -> None:
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")
    import pm4py

    written = json.loads((injected / "out" / "ocel.json").read_text())
    ocel = pm4py.read_ocel2_json(str(injected / "out" / "ocel.json"))
    assert len(ocel.events) == len(written["events"]) > 1000
    assert len(ocel.objects) == len(written["objects"])
    read_types = ocel.objects["ocel:type"].value_counts().to_dict()
    assert read_types == Counter(o["type"] for o in written["objects"])
    assert set(read_types) == {
        "appointment",
        "case",
        "encounter",
        "account",
        "claim",
        "remittance",
        "command",
    }
    activities = ocel.events["ocel:activity"].value_counts().to_dict()
    assert activities == Counter(e["type"] for e in written["events"])
    commands = len(_jsonl(injected / "out" / "commands.jsonl"))
    assert sum(n for a, n in activities.items() if a.startswith("issue ")) == commands
    report = json.loads((injected / "out" / "conformance.json").read_text())
    assert report["pm4py"]["round_trip"] == {
        "ok": True,
        "events": len(written["events"]),
        "objects": len(written["objects"]),
    }


def test_no_account_number_is_in_the_ocel_log(injected: Path) -> None:
    text = (injected / "out" / "ocel.json").read_text()
    accounts = {
        e["event"]["account_number"]
        for e in _jsonl(injected / "day" / "events.jsonl")
        if e["event"].get("account_number")
    }
    assert len(accounts) > 50
    assert re.search("|".join(map(re.escape, sorted(accounts))), text) is None


def test_pm4py_token_replay_agrees_with_the_cores_deviations(injected: Path) -> None:
    pm4py_figures = json.loads((injected / "out" / "conformance.json").read_text())["pm4py"]
    visits = pm4py_figures["appointment"]
    assert visits["clean"]["perc_fit_traces"] == 100.0  # no clean visit flagged
    assert visits["deviating"]["traces"] > 10
    assert visits["deviating"]["perc_fit_traces"] < 50.0
    assert visits["deviating"]["average_trace_fitness"] < visits["clean"]["average_trace_fitness"]
    for kind in ("CLAIM_BEFORE_CHARGE", "PAYMENT_BEFORE_CLAIM", "REWORK_CLAIM"):
        assert visits["by_kind"][kind]["perc_fit_traces"] == 0.0, kind
    assert pm4py_figures["case"]["clean"]["perc_fit_traces"] == 100.0
