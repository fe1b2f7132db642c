"""`s2c erp-sink` on the real stack: each command id posted once through kill -9 of the sink.

A small synthetic health system is replayed (`s2c replay`, no Kafka) into its ERP commands; the
commands go onto the test's commands topic as the workers would send them (Avro, keyed by process
id), some of them twice as a redelivering pipeline would. The sink runs as a subprocess, is killed
with SIGKILL while it posts, and is started again (reading its chart from the master data topic
this time, where the first run read the master data folder). The ledger must then hold every command id once,
its journal totals must be the applied commands' totals to the cent, and the acks topic must hold
an ack for every command id, any copies identical.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from stackkit import PipelineEnv, read_topic, wait_for

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client_for
from s2c.streams.masterdata import publish_master as publish_master_records
from s2c.streams.topics import declare
from s2c.tables.codec import decode, to_native
from s2c.tables.master import master_record, master_rows
from s2c.tables.outputs import COMMAND_TYPES, Command

pytestmark = pytest.mark.integration
S2C = [sys.executable, "-m", "s2c.streams.cli"]
JOURNALS = {"PostJournal", "AccrueExpectedRevenue", "ReverseRevenueAccrual", "RecognizeCost"}


def replayed_commands(tmp: Path) -> tuple[list[Command], Path]:
    """The commands of six synthetic days at one hospital, and its master data folder."""
    gen, out = tmp / "gen", tmp / "out"
    subprocess.run(
        [*S2C, "generate", "--out", str(gen), "--sites", "1", "--days", "6", "--scale", "0.1"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*S2C, "replay", str(gen / "events.jsonl"), "--master-data", str(gen / "master")]
        + ["--out", str(out), "--quiet"],
        check=True,
        capture_output=True,
    )
    commands = []
    for line in (out / "commands.jsonl").read_text().splitlines():
        row = json.loads(line)
        commands.append(decode(COMMAND_TYPES[row["schema"]], row["record"]))
    return commands, gen / "master"


def publish(pipeline_env: PipelineEnv, codec: AvroCodec, commands: list[Command]) -> None:
    from confluent_kafka import Producer

    topic = declare(pipeline_env.settings).commands.name
    producer = Producer({**pipeline_env.settings.confluent_config(), "enable.idempotence": True})
    for command in commands:
        value = codec.encode(f"s2c.commands.{command.schema}", command.to_record())
        producer.produce(topic, value, command.header.process_id.encode())
        producer.poll(0)
    assert producer.flush(30) == 0


def publish_master(pipeline_env: PipelineEnv, codec: AvroCodec, master: Path) -> None:
    """The master data folder onto the master data topic, as the pipeline keys it."""
    records: dict[str, list[dict]] = defaultdict(list)
    for _, _, line, name in master_rows(master):
        records[name].append(to_native(master_record(name, json.loads(line))))
    topic = declare(pipeline_env.settings).master_data.name
    assert publish_master_records(pipeline_env.settings, codec, topic, records) > 0


def answered(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM erp_commands").fetchone()[0]
        except sqlite3.OperationalError:  # the sink has not created its tables yet
            return 0


def start_sink(
    pipeline_env: PipelineEnv, db: Path, master: Path | None, log: Path
) -> subprocess.Popen:
    """The sink, its chart from the master folder, or from the master data topic (None)."""
    return subprocess.Popen(
        [*S2C, "erp-sink", "--db", str(db)]
        + (["--master-data", str(master)] if master else [])
        + ["--open-periods", "2025-03..2025-05", "--close-periods", "2025-02"]
        # The group is the prefix's own (erp-reader-<prefix>), so is the static member id.
        + ["--instance-id", f"erp-sink-{pipeline_env.settings.topic_prefix}"],
        env=pipeline_env.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_each_command_is_posted_once_through_kill_9_of_the_sink(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    commands, master = replayed_commands(tmp_path)
    ids = {c.command_id for c in commands}
    assert len(ids) == len(commands) > 1000
    codec = AvroCodec(
        registry_client_for(pipeline_env.settings), lambda n: load_catalog().resolved_json(n)
    )
    # A redelivering pipeline: the first 200 commands come twice.
    publish(pipeline_env, codec, commands + commands[:200])
    db, log = tmp_path / "erp.sqlite", tmp_path / "erp-sink.log"

    first = start_sink(pipeline_env, db, master, log)
    try:
        at_kill = wait_for(lambda: answered(db) >= 100 and answered(db), 45, "the sink to post")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert at_kill < len(ids), "the sink finished before the kill: no kill mid-stream tested"

    # Restarted, it reads its chart from the master data topic instead: the same answers.
    publish_master(pipeline_env, codec, master)
    second = start_sink(pipeline_env, db, None, log)
    try:
        wait_for(lambda: answered(db) == len(ids), 45, "the restarted sink to answer every command")
        acks = read_topic(
            pipeline_env.settings,
            declare(pipeline_env.settings).erp_acks.name,
            expected=len(ids),
            timeout=30,
            settle=2,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-3000:]

    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT command_id, status, reason FROM erp_commands").fetchall()
        posted = dict(
            connection.execute(
                "SELECT d.command_id, SUM(l.debit_cents) FROM gl_journal_lines l "
                "JOIN erp_documents d USING (document_number) GROUP BY d.command_id"
            ).fetchall()
        )
        debits, credits = connection.execute(
            "SELECT SUM(debit_cents), SUM(credit_cents) FROM gl_journal_lines"
        ).fetchone()
    # Each command id exactly once in the ledger (and the UNIQUE constraint says it can't be
    # otherwise), answered as the rules say: February is closed, a $0 journal posts nothing, and
    # a reversal of a refused command is refused.
    assert sorted(r[0] for r in rows) == sorted(ids)
    status = {cid: s for cid, s, _ in rows}
    refused: set[str] = set()
    for c in commands:
        journal = c.schema in JOURNALS
        closed = journal and c.header.effective_date.month == 2
        zero = journal and not any(line.debit or line.credit for line in c.lines)
        if closed or zero or c.header.reverses_command_id in refused:
            refused.add(c.command_id)
    assert refused and {cid for cid, s in status.items() if s == "REJECTED"} == refused
    assert all(
        r[2].startswith(("CLOSED_PERIOD", "ZERO_AMOUNT_JOURNAL", "UNKNOWN_REVERSED_DOCUMENT"))
        for r in rows
        if r[2]
    )
    # The ledger's money is the applied journals' money, to the cent.
    applied_journals = [c for c in commands if c.schema in JOURNALS and c.command_id not in refused]
    want = {c.command_id: sum(line.debit for line in c.lines) for c in applied_journals}
    assert {cid: Decimal(v) / 100 for cid, v in posted.items()} == want
    assert Decimal(debits) / 100 == Decimal(credits) / 100 == sum(want.values())
    # One ack per command id on the acks topic; a copy (the restart re-acks what it finds
    # answered but not committed) carries exactly the same content.
    by_id: dict[str, list[dict]] = defaultdict(list)
    for msg in acks:
        name, ack = codec.decode(msg.value())
        assert name == "s2c.erp.CommandAck" and msg.key() == ack["process_id"].encode()
        by_id[ack["command_id"]].append(ack)
    assert set(by_id) == ids
    for cid, copies in by_id.items():
        assert all(copy == copies[0] for copy in copies), cid
        assert copies[0]["status"] == status[cid]
    resent = sum(len(copies) - 1 for copies in by_id.values())
    print(f"erp sink: {len(ids)} commands, {at_kill} answered at the kill, {resent} acks resent")
