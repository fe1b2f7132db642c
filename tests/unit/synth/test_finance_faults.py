"""End to end, offline: a generated day with finance faults, `s2c replay`, the reference ERP
posting the replay's commands from the file into an SQLite ledger, and `s2c reconcile` must
report exactly the injected faults, per instance and kind; a clean day reports none. With
deviations injected too, both truths stay exact: the replay's deviations are deviations.jsonl's.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from s2c.streams.cli import main
from s2c.streams.erp.rules import is_silent
from s2c.streams.synth import SynthParams, generate
from s2c.tables.conformance import KINDS
from s2c.tables.reconcile import MismatchKind

DAY = ["--episodes", "300", "--seed", "7", "--sites", "2"]


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2C_ID_KEY", "synthetic-reconcile-test-key-0123456789")


def _run(
    tmp: Path, faults: bool, day: list[str] = DAY, extra: tuple[str, ...] = ()
) -> tuple[dict, dict | None, Path]:
    gen, out, db = tmp / "gen", tmp / "out", tmp / "erp.sqlite"
    flags = ["--finance-faults", "1", *extra] if faults else [*extra]
    assert main(["generate", "--out", str(gen), *day, *flags]) == 0
    assert main(["replay", str(gen / "events.jsonl"), "--master-data", str(gen / "master"),
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    truth = json.loads((gen / "finance_faults.json").read_text()) if faults else None
    sink = ["erp-sink", "--from-file", str(out / "commands.jsonl"), "--db", str(db)]
    sink += ["--open-periods", "2024-01..2026-12"]
    if truth is not None:
        sink += ["--master-data", str(gen / truth["erp_master"])]
        sink += ["--close-periods", ",".join(truth["closed_periods"])]
        sink += ["--silent-fraction", str(truth["silent_fraction"])]
        sink += ["--silent-seed", truth["silent_seed"]]
    else:
        sink += ["--master-data", str(gen / "master")]
    assert main(sink) == 0
    assert main(["reconcile", str(out), "--db", str(db), "--out", str(tmp / "report")]) == 0
    report = json.loads((tmp / "report" / "reconciliation.json").read_text())
    return report, truth, out


def test_reconcile_reports_exactly_the_injected_faults(tmp_path: Path) -> None:
    report, truth, out = _run(tmp_path, faults=True)
    _assert_exactly_the_faults(tmp_path, report, truth, out)


def _assert_exactly_the_faults(tmp_path: Path, report: dict, truth: dict | None, out: Path) -> None:
    assert truth is not None
    injected = {(f["process_id"], f["kind"]) for f in truth["faults"]}
    # every kind the generator makes is injected (the silent ERP's comes from the sink)
    assert {k for _, k in injected} == {k.value for k in MismatchKind} - {"ERP_UNACKNOWLEDGED"}
    lines = (out / "commands.jsonl").read_text().splitlines()
    instances = {json.loads(line)["record"]["header"]["process_id"] for line in lines}
    silent = {
        (pid, "ERP_UNACKNOWLEDGED")
        for pid in instances
        if is_silent(pid, truth["silent_fraction"], truth["silent_seed"])
    }
    assert silent, "the silent ERP withheld no instance: the test would not test it"
    found = {(m["process_id"], m["kind"]) for m in report["mismatches"]}
    assert found == injected | silent
    assert sum(report["counts"].values()) == len(injected | silent)
    by_pid = {(m["process_id"], m["kind"]): m for m in report["mismatches"]}
    for pid, kind in injected:
        site = next(f["site_id"] for f in truth["faults"] if f["process_id"] == pid)
        assert by_pid[(pid, kind)]["site_id"] == site
    csv_rows = (tmp_path / "report" / "reconciliation.csv").read_text().splitlines()
    assert csv_rows[0] == "kind,process_id,site_id,command_ids,amount,reason"
    assert len(csv_rows) == 1 + len(found)


# A day on which, before the pickers were disjoint, a visit got a finance fault and a deviation
# (CLAIM_BEFORE_CHARGE) and lost the deviation: the faults dropped its claim.
BOTH = ["--episodes", "300", "--seed", "1", "--sites", "2"]


def test_faults_and_deviations_together_keep_both_truths_exact(tmp_path: Path) -> None:
    report, truth, out = _run(tmp_path, True, BOTH, ("--deviation-rate", "0.3"))
    _assert_exactly_the_faults(tmp_path, report, truth, out)
    assert truth is not None
    deviations = [json.loads(line) for line in (tmp_path / "gen" / "deviations.jsonl").open()]
    assert {t["kind"] for t in deviations if t["injected"]} == set(KINDS)
    faulted = {f["process_id"] for f in truth["faults"]}
    assert not faulted & {t["process_id"] for t in deviations}  # disjoint pickers
    found: Counter[tuple[str, str, str]] = Counter()
    for line in (out / "processes.jsonl").open():
        for d in json.loads(line)["deviations"]:
            found["TR-" + d["event_id"][3:].rsplit(".", 1)[0], d["kind"], d["event_id"]] += 1
    assert found == Counter((t["trace"], t["kind"], t["event_id"]) for t in deviations)


def test_the_finance_faults_avoid_the_deviated_episodes() -> None:
    """With deviations the finance picker skips their episodes and still breaks a visit of
    every kind (without them its choice is unchanged: `cmp` of generated days, see the commit)."""
    day = SynthParams(seed=1, sites=2, clinic_visits=120, walk_ins=10, ed_visits=20, cases=20)
    alone = generate(replace(day, finance_faults=1)).finance.faults
    both = generate(replace(day, finance_faults=1, deviation_rate=0.3))
    deviated = {t["process_id"] for t in both.deviations}
    assert {pid for pid, _, _ in alone} & deviated  # the old picker would have hit them
    assert not {pid for pid, _, _ in both.finance.faults} & deviated
    assert {k for _, _, k in both.finance.faults} == {k for _, _, k in alone}


def test_a_clean_day_reconciles_to_zero(tmp_path: Path) -> None:
    report, _, out = _run(tmp_path, faults=False)
    assert (out / "commands.jsonl").stat().st_size > 0
    assert report["mismatches"] == [] and set(report["counts"].values()) == {0}


def test_faults_touch_only_the_faulted_visits(tmp_path: Path) -> None:
    clean, faulted = tmp_path / "clean", tmp_path / "faulted"
    assert main(["generate", "--out", str(clean), *DAY]) == 0
    assert main(["generate", "--out", str(faulted), *DAY, "--finance-faults", "1"]) == 0
    truth = json.loads((faulted / "finance_faults.json").read_text())
    pids = {f["process_id"] for f in truth["faults"]}
    traces = set()
    for line in (clean / "events.jsonl").read_text().splitlines():
        event = json.loads(line)["event"]
        if f"APPT-{event.get('appointment_id')}" in pids:
            traces.add(event["envelope"]["correlation_id"])
    before = set((clean / "events.jsonl").read_text().splitlines())
    after = set((faulted / "events.jsonl").read_text().splitlines())
    changed = before ^ after
    assert changed
    assert {json.loads(line)["event"]["envelope"]["correlation_id"] for line in changed} <= traces
    # the ERP's chart lacks exactly the new clinics' cost centers
    erp = (faulted / "erp_master" / "CostCenter.jsonl").read_text().splitlines()
    ours = (faulted / "master" / "CostCenter.jsonl").read_text().splitlines()
    missing = {json.loads(line)["cost_center_id"] for line in set(ours) - set(erp)}
    assert missing and all(cc.endswith("-NEWCL") for cc in missing)


def test_the_silent_erp_is_deterministic_and_about_its_fraction() -> None:
    ids = [f"APPT-A-S01-250303-{n:06d}" for n in range(4000)]
    chosen = [pid for pid in ids if is_silent(pid, 0.05, "7")]
    assert chosen == [pid for pid in ids if is_silent(pid, 0.05, "7")]
    assert 0.035 * len(ids) < len(chosen) < 0.065 * len(ids)
    assert not any(is_silent(pid, 0.0, "7") for pid in ids)
    assert chosen != [pid for pid in ids if is_silent(pid, 0.05, "8")]


def test_reconcile_refuses_what_is_not_a_replay_or_a_ledger(tmp_path: Path) -> None:
    assert main(["reconcile", str(tmp_path), "--db", str(tmp_path / "erp.sqlite")]) == 2
    (tmp_path / "commands.jsonl").write_text("")
    (tmp_path / "processes.jsonl").write_text("")
    assert main(["reconcile", str(tmp_path), "--db", str(tmp_path / "none.sqlite")]) == 2
    assert not (tmp_path / "none.sqlite").exists()  # no empty ledger created on the way
