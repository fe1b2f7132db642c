"""The ERP acknowledgement loop on the real stack: a worker, the real `s2c erp-sink`, its ledger.

Two knee arthroscopies at Riverside for Aetna Commercial (cases C-3000 and C-3001) go through one
`s2c worker` with a 15-second ack wait (`S2C_ERP_ACK_WAIT`). The reference ERP has March 2026 open
and April closed, so it applies the bookings and the March journals and refuses the April payment
journals (CLOSED_PERIOD).

1. The sink runs while C-3000 is processed: each command the ledger rejected becomes exactly one
   ERP_REJECTED item (by command id), nothing is unsynchronized, and the instance query shows
   the ledger's statuses.
2. The sink is stopped while C-3001 is processed: each of its commands, and only those, becomes
   ERP_UNSYNCHRONIZED; the instance query lists them pending. The worker is killed (kill -9) and
   restarted: the facts are still there and no item is raised twice. The sink comes back: each
   item is resolved by a notice, and the ones the ledger refuses become ERP_REJECTED.
3. Finance opens April and the ERP retries the rejected commands (their rows cleared, the commands
   read again by a sink of another group): each ERP_REJECTED item whose command the ledger now
   applied is resolved, and the instance queries end with every command as the ledger has it.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "core"))  # the core tests' small world

from core_world import Feed, master_data, paid_knee_case  # noqa: E402
from stackkit import IDS, PipelineEnv, read_topic, wait_for  # noqa: E402
from test_topology import codec_for, publish  # noqa: E402

from s2c.streams.topics import declare  # noqa: E402
from s2c.tables.master import DictMasterData  # noqa: E402
from s2c.tables.outputs import Command  # noqa: E402
from s2c.tables.reconcile import Facts, mismatches  # noqa: E402
from s2c.tables.replay import Pipeline  # noqa: E402

pytestmark = pytest.mark.integration
S2C = [sys.executable, "-m", "s2c.streams.cli"]
WAIT_SECONDS = 15
COMMAND_ID = re.compile(r"command (\S+) \(")
GAUGE = re.compile(r's2c_reconciliation_mismatches\{kind="([A-Z_]+)",site="([^"]*)"\} (\S+)')


def commands_of(events: list, master: DictMasterData) -> dict[str, str]:
    """command id -> command type, as the core makes them (the worker must send these)."""
    pipeline = Pipeline(master, IDS)
    out = [o for e in events for o in pipeline.feed(e)]
    return {o.command_id: o.schema for o in out if isinstance(o, Command)}


def start_sink(env: PipelineEnv, db: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*S2C, "erp-sink", "--db", str(db), *args],
        env=env.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def started(sink: subprocess.Popen, log: Path) -> None:
    """Until the sink has subscribed (then it answers within a second or two)."""
    wait_for(
        lambda: (
            sink.poll() is None
            and "erp sink: " in log.read_text()
            and " -> ledger -> " in log.read_text()
        ),
        60,
        "the sink to start",
    )


def stop(sink: subprocess.Popen, log: Path) -> None:
    sink.send_signal(signal.SIGTERM)
    assert sink.wait(30) == 0, log.read_text()[-3000:]


def ledger(db: Path) -> dict[str, str]:
    """command id -> APPLIED or REJECTED, as the ERP's database holds it."""
    if not db.exists():
        return {}
    with sqlite3.connect(db, timeout=30) as connection:
        try:
            return dict(connection.execute("SELECT command_id, status FROM erp_commands"))
        except sqlite3.OperationalError:  # the sink has not created its tables yet
            return {}


class WorkQueue:
    """The work items on the exceptions topic, read again from the start on each look."""

    def __init__(self, env: PipelineEnv) -> None:
        self.env, self.codec = env, codec_for(env)
        self.topic = declare(env.settings).exceptions.name

    def items(self, at_least: int = 0) -> list[dict]:
        messages = read_topic(self.env.settings, self.topic, at_least, timeout=20, settle=1)
        return [self.codec.decode(m.value())[1] for m in messages]

    def raised(self, kind: str, items: list[dict]) -> dict[str, dict]:
        """The first-raised items of `kind`, by command id (copies of one id are one item)."""
        found = {}
        for item in items:
            if item["kind"] == kind and item["resolves_exception_id"] is None:
                found.setdefault(COMMAND_ID.search(item["reason"]).group(1), item)
        return found

    def resolved(self, items: list[dict]) -> set[str]:
        return {i["resolves_exception_id"] for i in items if i["resolves_exception_id"]}


def instance(worker, process_id: str) -> dict:
    url = worker.metrics_url.replace("/metrics", f"/process/{process_id}/")
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)


def erp_view_matches(worker, process_id: str, want: dict[str, str]) -> dict | None:
    """The instance query's ERP view, once its counts are the ledger's for `want`'s commands."""
    view = instance(worker, process_id)["erp"]
    counts = {"APPLIED": 0, "REJECTED": 0, "PENDING": 0}
    for status in want.values():
        counts[status] += 1
    return view if view["counts"] == counts else None


def test_rejected_and_unacknowledged_commands_become_work_items_until_the_erp_answers(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    feed = Feed("erp")
    first, second = paid_knee_case(feed, 0, "3100.00"), paid_knee_case(feed, 1, "3100.00")
    master = master_data()
    want_first, want_second = commands_of(first, master), commands_of(second, master)
    assert any(t == "PostJournal" for t in want_first.values())
    db, log = tmp_path / "erp.sqlite", tmp_path / "erp-sink.log"
    queue = WorkQueue(pipeline_env)
    worker = pipeline_env.worker(S2C_ERP_ACK_WAIT=str(WAIT_SECONDS)).start().wait_ready()
    # The chart comes from the master data topic, so the master data goes first.
    publish(pipeline_env, [])
    periods = ["--open-periods", "2026-03", "--close-periods", "2026-04"]
    sink = start_sink(pipeline_env, db, log, *periods)
    started(sink, log)

    # 1. The sink answers C-3000 as it goes: its rejections, and only those, are work items.
    try:
        publish(pipeline_env, first, master=False)
        wait_for(
            lambda: set(ledger(db)) == set(want_first), 90, f"the ledger:\n{worker.log_tail()}"
        )
        answered = ledger(db)
        rejected_first = {cid for cid, status in answered.items() if status == "REJECTED"}
        assert rejected_first and rejected_first != set(want_first)
        assert all(want_first[cid] == "PostJournal" for cid in rejected_first)
        wait_for(lambda: erp_view_matches(worker, "CASE-C-3000", answered), 30, "C-3000's ERP view")
        items = queue.items(len(rejected_first))
        assert set(queue.raised("ERP_REJECTED", items)) == rejected_first
        assert queue.raised("ERP_UNSYNCHRONIZED", items) == {}
        for item in queue.raised("ERP_REJECTED", items).values():
            assert (item["process_id"], item["site_id"]) == ("CASE-C-3000", "RIVERSIDE")
            assert "CLOSED_PERIOD" in item["reason"] and item["amount"] is not None
    finally:
        stop(sink, log)

    # 2. No ERP answers C-3001: each of its commands is unsynchronized after the wait.
    publish(pipeline_env, second, master=False)

    def unsynchronized() -> dict[str, dict] | None:
        found = queue.raised("ERP_UNSYNCHRONIZED", queue.items())
        return found if set(found) == set(want_second) else None

    late = wait_for(unsynchronized, 90, f"C-3001's commands unsynchronized:\n{worker.log_tail()}")
    view = instance(worker, "CASE-C-3001")["erp"]
    assert view["counts"] == {"APPLIED": 0, "REJECTED": 0, "PENDING": len(want_second)}
    assert {p["command_id"] for p in view["pending"] if p["unsynchronized"]} == set(want_second)
    assert ledger(db).keys() == set(want_first)  # the ERP really heard nothing

    # kill -9 of the worker, restarted on its data: the facts come back from its tables and
    # changelogs; nothing is reported unsynchronized a second time.
    time.sleep(2)  # the batch that raised them checkpointed
    worker.kill()
    worker.start().wait_ready()
    view = instance(worker, "CASE-C-3001")["erp"]
    assert {p["command_id"] for p in view["pending"] if p["unsynchronized"]} == set(want_second)
    time.sleep(3)  # a few rounds of the ack-wait check
    copies = Counter(i["exception_id"] for i in queue.items())
    assert all(copies[i["exception_id"]] == 1 for i in late.values()), copies

    # The sink comes back: every unsynchronized item is resolved; refused ones become rejected.
    sink = start_sink(pipeline_env, db, log, *periods)
    try:
        wait_for(
            lambda: set(ledger(db)) == set(want_first) | set(want_second), 60, "the ledger again"
        )
        answered = ledger(db)
        wait_for(
            lambda: erp_view_matches(
                worker, "CASE-C-3001", {cid: answered[cid] for cid in want_second}
            ),
            30,
            "C-3001's ERP view",
        )
    finally:
        stop(sink, log)
    rejected_second = {cid for cid in want_second if answered[cid] == "REJECTED"}
    assert rejected_second
    items = queue.items()
    assert {i["exception_id"] for i in late.values()} <= queue.resolved(items)
    assert set(queue.raised("ERP_REJECTED", items)) == rejected_first | rejected_second
    assert set(queue.raised("ERP_UNSYNCHRONIZED", items)) == set(want_second)

    # 3. Finance opens April; the ERP retries what it refused (its answers cleared, the commands
    # read again by a sink of another group). Applied now, their items are resolved.
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM erp_commands WHERE status = 'REJECTED'")
    retry_group = f"erp-reader-retry-{pipeline_env.settings.topic_prefix}"
    sink = start_sink(
        pipeline_env, db, log, "--open-periods", "2026-03..2026-04", "--group", retry_group
    )
    try:
        wait_for(
            lambda: set(ledger(db)) == set(want_first) | set(want_second), 60, "the ERP's retry"
        )
        final = ledger(db)
        for process_id, want in (("CASE-C-3000", want_first), ("CASE-C-3001", want_second)):
            mine = {cid: final[cid] for cid in want}
            view = wait_for(lambda: erp_view_matches(worker, process_id, mine), 30, process_id)
            assert {r["command_id"] for r in view["rejected"]} == {
                cid for cid, status in mine.items() if status == "REJECTED"
            }
            assert view["pending"] == []
    finally:
        stop(sink, log)
    retried = {cid for cid in rejected_first | rejected_second if final[cid] == "APPLIED"}
    assert retried, "the retry applied none of the refused journals"
    items = queue.items()
    rejected_items = queue.raised("ERP_REJECTED", items)
    resolved = queue.resolved(items)
    assert {cid for cid, i in rejected_items.items() if i["exception_id"] in resolved} == retried

    # Live reconciliation: `s2c reconcile --live` over the worker's tables and the ledger says
    # what the core's function says over replay's commands and states and the same ledger; the
    # worker's gauge counts the same per kind and site (every command is answered by now).
    want = offline_mismatches(first + second, master, db)
    assert want, "the ledger still refuses some journals: something to reconcile"
    out = tmp_path / "live-report"
    url = worker.metrics_url.removesuffix("/metrics")
    subprocess.run(
        [*S2C, "reconcile", "--live", url, "--db", str(db), "--out", str(out)],
        env=pipeline_env.env,
        check=True,
        timeout=60,
    )
    report = json.loads((out / "reconciliation.json").read_text())
    assert {
        (m["kind"], m["process_id"], tuple(m["command_ids"])) for m in report["mismatches"]
    } == want
    tally = Counter((kind, "RIVERSIDE") for kind, _, _ in want)
    wait_for(lambda: gauge_of(worker) == tally, 30, "the reconciliation gauge")
    assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()


def offline_mismatches(events: list, master: DictMasterData, db: Path) -> set[tuple]:
    """(kind, process id, command ids) as `s2c reconcile` finds them over replay's outputs."""
    pipeline = Pipeline(master, IDS)
    commands = [o for e in events for o in pipeline.feed(e) if isinstance(o, Command)]
    with sqlite3.connect(db, timeout=30) as connection:
        answers = {
            cid: (status, reason)
            for cid, status, reason in connection.execute(
                "SELECT command_id, status, reason FROM erp_commands"
            )
        }
    facts: dict[str, Facts] = {}
    for command in commands:
        found = facts.setdefault(command.header.process_id, Facts(command.header.process_id))
        found.add_command(command.to_record())
        if command.command_id in answers:
            found.set_status(command.command_id, *answers[command.command_id])
    for process_id, found in facts.items():
        found.note_process(pipeline.processes[process_id])
    as_of = max(c.header.issued_at for c in commands)
    return {
        (m.kind.value, m.process_id, m.command_ids)
        for found in facts.values()
        for m in mismatches(found, as_of)
    }


def gauge_of(worker) -> Counter:
    with urllib.request.urlopen(worker.metrics_url, timeout=5) as answer:
        text = answer.read().decode()
    found: Counter = Counter()
    for kind, site, value in GAUGE.findall(text):
        if float(value):
            found[kind, site] = int(float(value))
    return found
