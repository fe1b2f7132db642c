"""Issue 19's "done when", live: every fault the generator injects is reported exactly by the
running pipeline, and a clean day reports nothing.

A small generated multi-site day with `--finance-faults 1 --deviation-rate 0.15` (a visit of each
reconciliation kind broken on purpose, deviations of every kind from the reference path) goes
through a real `s2c worker` (ack wait `WAIT_SECONDS`) and the real `s2c erp-sink` configured as
the generator's truth says: its ERP chart (`erp_master/`, without the new clinics' cost
centers), its closed month, its silent fraction and seed (a silent ERP that never answers some
instances). Then:

(a) `s2c reconcile --live <worker> --db <ledger>` reports exactly the injected finance faults
    (process id and kind) and ERP_UNACKNOWLEDGED exactly for the silent instances, and equals
    `s2c reconcile` over the replay of the same day and the same ledger;
(b) without --db (the acks as the worker received them) it reports the same, once the ack wait
    has passed for the silent instances' commands;
(c) the deviations the worker reports (each instance's `deviations` in `GET /process/<id>/`, and
    `s2c_path_deviations_total` by kind) are the generator's truth by instance, kind and the
    event blamed.

A clean day (no faults, no deviations, every period open, the whole chart, no silent instance)
through another namespace reports zero mismatches both ways and zero deviations.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from stackkit import PipelineEnv, wait_for
from test_topology import codec_for

from s2c.streams.erp.rules import is_silent
from s2c.streams.verify.workload import given, publish
from s2c.tables.conformance import KINDS
from s2c.tables.reconcile import MismatchKind

pytestmark = pytest.mark.integration
S2C = [sys.executable, "-m", "s2c.streams.cli"]
WAIT_SECONDS = 8
OPEN = ["--open-periods", "2024-01..2026-12"]
# 3 sites, ~1,560 events: every finance kind, every deviation kind, 4 silent instances
FAULTY = ["--sites", "3", "--episodes", "180", "--seed", "2"]
FAULTS = ["--finance-faults", "1", "--deviation-rate", "0.15"]
# the generator's own deviations off (denied authorizations that operate, rejected claims)
CLEAN = ["--sites", "2", "--episodes", "120", "--seed", "2"]
CLEAN += ["--auth-denied-rate", "0", "--claim-rejection-rate", "0"]
DEVIATIONS = re.compile(r's2c_path_deviations_total\{[^}]*kind="([A-Z_]+)"[^}]*\} (\S+)')


def s2c(env: PipelineEnv, *args: str | Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [*S2C, *map(str, args)], env=env.env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class Day:
    """A generated day, its replay (with the workers' id key: the same process and command
    ids), published to the namespace; a worker and the reference ERP on it."""

    def __init__(self, env: PipelineEnv, *flags: str) -> None:
        self.env, self.root = env, env.tmp
        self.gen, self.replay = self.root / "day", self.root / "replay"
        s2c(env, "generate", "--out", self.gen, *flags)
        s2c(env, "replay", self.gen / "events.jsonl", "--master-data", self.gen / "master",
            "--out", self.replay, "--quiet")  # fmt: skip
        self.commands: dict[str, str] = {}  # command id -> process id
        for line in jsonl(self.replay / "commands.jsonl"):
            header = line["record"]["header"]
            self.commands[header["command_id"]] = header["process_id"]
        self.processes = [state["process_id"] for state in jsonl(self.replay / "processes.jsonl")]
        self.db, self.log = self.root / "erp.sqlite", self.root / "erp-sink.log"
        self.sink: subprocess.Popen | None = None

    def run(self, *sink_args: str) -> Any:
        """Publish the day, start the sink (configured by `sink_args`) and the worker."""
        publish(self.env.settings, given(self.gen / "events.jsonl", self.gen / "master"),
                codec_for(self.env))  # fmt: skip
        self.sink = subprocess.Popen(
            [*S2C, "erp-sink", "--db", str(self.db), *sink_args],
            env=self.env.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: self.sink.poll() is None and " -> ledger -> " in self.log.read_text(),
            60,
            f"the sink to start:\n{self.log.read_text()[-2000:]}",
        )
        self.worker = self.env.worker(S2C_ERP_ACK_WAIT=str(WAIT_SECONDS)).start().wait_ready()
        self.url = self.worker.metrics_url.removesuffix("/metrics")
        return self.worker

    def stop_sink(self) -> None:
        if self.sink is None:
            return
        if self.sink.poll() is None:
            self.sink.send_signal(signal.SIGTERM)
        try:
            code = self.sink.wait(30)
        except subprocess.TimeoutExpired:
            self.sink.kill()
            self.sink.wait(10)
            raise
        assert code == 0, self.log.read_text()[-3000:]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as answer:
            return json.load(answer)

    def settled(self, silent: set[str]) -> dict[str, Any] | None:
        """The worker's reconciliation facts once it sent every command replay sends, heard
        the ERP's answer to each command of an instance that is not silent, and reported every
        command of a silent one unsynchronized."""
        body = self.get("/reconciliation/")
        sent, answered, late = set(), set(), set()
        for row in body["instances"]:
            sent |= {c[0] for c in row["facts"]["commands"]}
            answered |= {s[0] for s in row["facts"]["statuses"]}
            late |= set(row["unsynchronized"])
        quiet = {cid for cid, pid in self.commands.items() if pid in silent}
        done = sent == set(self.commands) and answered == sent - quiet and late == quiet
        return body if done else None

    def reconcile(self, name: str, *args: str) -> dict[str, Any]:
        out = self.root / name
        s2c(self.env, "reconcile", *args, "--out", out)
        return json.loads((out / "reconciliation.json").read_text())

    def live_deviations(self) -> Counter[tuple[str, str, str, str]]:
        """(trace, kind, blamed event, process id) of every deviation in the instance queries
        of every process replay knows; the trace is in the event's id (EV-<trace>.<n>)."""
        found: Counter[tuple[str, str, str, str]] = Counter()
        for pid in self.processes:
            state = self.get(f"/process/{urllib.parse.quote(pid, safe='')}/")
            for d in state["deviations"]:
                trace = "TR-" + d["event_id"][3:].rsplit(".", 1)[0]
                found[trace, d["kind"], d["event_id"], pid] += 1
        return found

    def deviation_counter(self) -> Counter[str]:
        with urllib.request.urlopen(self.worker.metrics_url, timeout=10) as answer:
            text = answer.read().decode()
        found: Counter[str] = Counter()
        for kind, value in DEVIATIONS.findall(text):
            found[kind] += int(float(value))
        return +found


def by_trace(found: Counter[tuple[str, str, str, str]]) -> Counter[tuple[str, str, str]]:
    """Without the process id, which the truth cannot know for a walk-in."""
    return Counter({(trace, kind, event): n for (trace, kind, event, _), n in found.items()})


def pairs(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["process_id"], m["kind"]) for m in report["mismatches"]}


def unsaid(mismatch: dict[str, Any]) -> dict[str, Any]:
    """A mismatch without the reason of ERP_UNACKNOWLEDGED, whose wording live and offline
    differ on purpose (`tables.reconcile.unacknowledged_only_if_late`)."""
    if mismatch["kind"] != "ERP_UNACKNOWLEDGED":
        return mismatch
    return {k: v for k, v in mismatch.items() if k != "reason"}


def test_every_injected_fault_is_reported_live_exactly(pipeline_env: PipelineEnv) -> None:
    day = Day(pipeline_env, *FAULTY, *FAULTS)
    truth = json.loads((day.gen / "finance_faults.json").read_text())
    injected = {(f["process_id"], f["kind"]) for f in truth["faults"]}
    assert {k for _, k in injected} == {k.value for k in MismatchKind} - {"ERP_UNACKNOWLEDGED"}
    fraction, seed = truth["silent_fraction"], truth["silent_seed"]
    silent = {pid for pid in set(day.commands.values()) if is_silent(pid, fraction, seed)}
    assert silent, "the silent ERP withholds no instance of this day: nothing to test"
    expected = injected | {(pid, "ERP_UNACKNOWLEDGED") for pid in silent}
    deviations = jsonl(day.gen / "deviations.jsonl")
    assert {t["kind"] for t in deviations if t["injected"]} == set(KINDS)

    try:
        day.run(
            *OPEN,
            "--master-data", str(day.gen / truth["erp_master"]),
            "--close-periods", ",".join(truth["closed_periods"]),
            "--silent-fraction", str(fraction),
            "--silent-seed", seed,
        )  # fmt: skip
        wait_for(
            lambda: day.settled(silent),
            90,
            f"every command sent, answered or unsynchronized:\n{day.worker.log_tail()}",
        )
    finally:
        day.stop_sink()

    # (a) the ledger's answers: exactly the injected faults and the silent instances, as the
    # offline reconciliation of the same day's replay and the same ledger says.
    with_ledger = day.reconcile("live-db", "--live", day.url, "--db", str(day.db))
    assert pairs(with_ledger) == expected
    assert sum(with_ledger["counts"].values()) == len(expected)
    offline = day.reconcile("offline", str(day.replay), "--db", str(day.db))
    assert with_ledger == offline
    sites = {(f["process_id"], f["kind"]): f["site_id"] for f in truth["faults"]}
    for m in with_ledger["mismatches"]:
        if (m["process_id"], m["kind"]) in sites:
            assert m["site_id"] == sites[m["process_id"], m["kind"]]

    # (b) the acks as the worker received them, the silent commands past the ack wait.
    from_acks = day.reconcile("live-acks", "--live", day.url)
    assert pairs(from_acks) == expected
    # the same commands, sites and money; only the unacknowledged reason says "past the wait"
    assert [unsaid(m) for m in from_acks["mismatches"]] == [
        unsaid(m) for m in with_ledger["mismatches"]
    ]
    assert {k: from_acks[k] for k in ("as_of", "counts", "by_site")} == {
        k: with_ledger[k] for k in ("as_of", "counts", "by_site")
    }

    # (c) the deviations the worker reports: the generator's truth, by instance, kind and the
    # event blamed (a walk-in's instance by its trace: the truth cannot know its process id).
    want = Counter((t["trace"], t["kind"], t["event_id"]) for t in deviations)

    def the_truth() -> Counter[tuple[str, str, str, str]] | None:
        found = day.live_deviations()
        return found if by_trace(found) == want else None

    try:
        live = wait_for(the_truth, 30, "the live deviations to be the truth")
    except AssertionError:
        assert by_trace(day.live_deviations()) == want  # says what differs
        raise
    named = {t["trace"]: t["process_id"] for t in deviations}
    assert {(pid, kind) for trace, kind, _, pid in live if named[trace]} == {
        (t["process_id"], t["kind"]) for t in deviations if t["process_id"]
    }
    assert day.deviation_counter() == Counter(t["kind"] for t in deviations)
    assert day.worker.proc is not None and day.worker.proc.poll() is None, day.worker.log_tail()


def test_a_clean_day_reports_nothing_live(pipeline_env: PipelineEnv) -> None:
    day = Day(pipeline_env, *CLEAN)
    assert not (day.gen / "deviations.jsonl").exists()
    assert all(not s["deviations"] for s in jsonl(day.replay / "processes.jsonl"))
    assert len(day.commands) > 300
    try:
        day.run(*OPEN, "--master-data", str(day.gen / "master"))
        wait_for(
            lambda: day.settled(set()), 90, f"every command answered:\n{day.worker.log_tail()}"
        )
    finally:
        day.stop_sink()
    for name, args in (("live-db", ("--db", str(day.db))), ("live-acks", ())):
        report = day.reconcile(name, "--live", day.url, *args)
        assert report["mismatches"] == [] and set(report["counts"].values()) == {0}, name
    assert day.live_deviations() == Counter()
    assert day.deviation_counter() == Counter()
    assert day.worker.proc is not None and day.worker.proc.poll() is None, day.worker.log_tail()
