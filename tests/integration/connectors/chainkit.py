"""The stack chain tests' delivery and bookkeeping: which shipped messages go in, in what order,
and how the commands that come out are read back and summed as a ledger.

Importable as `chainkit` by the tests beside it (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from samples import MESSAGES
from stackkit import IDS, PipelineEnv, WorkerProcess, read_topic, wait_for

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.masterdata import publish_master
from s2c.streams.settings import Settings
from s2c.streams.topics import declare
from s2c.tables.codec import to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.master import DictMasterData, master_record
from s2c.tables.outputs import Command
from s2c.tables.replay import Pipeline

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "core"))
from core_world import (  # noqa: E402
    MASTER_RECORDS,
    REGIONAL_GENERAL_RECORDS,
    RIVERSIDE_GENERAL_RECORDS,
    regional_general,
)

VISIT, CASE_A, CASE_B, CASE_C = (
    "APPT-ORC-88120",
    "CASE-ORC-91207",
    "CASE-ORC-91318",
    "CASE-ORC-91402",
)
PREAUTH_A = "fhir/ClaimResponse-preauthorization-approved-knee-arthroscopy.json"
PREAUTH_B = "fhir/ClaimResponse-preauthorization-approved-knee-arthroscopy-or5.json"
# (format, files, accounts) in the order the systems send them: each `s2c ingest` delivers its
# files, then the chain waits until the worker has linked `accounts` to their bookings. A
# booking is made days or weeks before its patient registers; delivered in the same instant
# they may be applied the other way round (see the xfail'd test in test_chains_on_stack.py).
DELIVERIES: list[tuple[str, list[str], list[str]]] = [
    ("hl7", ["hl7v2/SIU-S12-booking.hl7"], ["A26004417"]),
    (
        "hl7",
        [
            "hl7v2/ADT-A04-registration.hl7",
            "hl7v2/ADT-A03-discharge.hl7",
            "hl7v2/DFT-P03-surgery-charges.hl7",
        ],
        [],
    ),
    ("x12", ["x12/837i-regional-general-cholecystectomy.837"], []),
    ("fhir", [PREAUTH_A], []),  # before the booking of its case
    (
        "hl7",
        [
            "hl7v2/SIU-S12-or-case-knee-arthroscopy.hl7",
            "hl7v2/SIU-S12-or-case-knee-arthroscopy-or5.hl7",
            "hl7v2/SIU-S12-or-case-knee-arthroscopy-unauthorized.hl7",
        ],
        ["ACCT-7001"],
    ),
    ("fhir", [PREAUTH_B, "fhir/Procedure-or-case-completed-knee-arthroscopy.json"], []),
    (
        "hl7",
        ["hl7v2/ADT-A04-or-case-registration.hl7", "hl7v2/DFT-P03-or-case-charges.hl7"],
        [],
    ),
    (
        "x12",
        [
            "x12/835-lone-star-cholecystectomy-paid.835",
            "x12/837i-riverside-knee-arthroscopy.837",
            "x12/835-aetna-knee-arthroscopy-denied.835",
            "x12/835-aetna-knee-arthroscopy-denial-reversed-and-repaid.835",
        ],
        [],
    ),
]
FHIR_VISIT, FHIR_ACCOUNT = "APPT-appt-7301", "ACCT-3460"
# Riverside General's colonoscopy from FHIR alone, after every chain above in business time (it
# is booked 18 May 2026, after the last 835): the booking; the encounter, in progress then
# finished, and its charges, once its account is linked; the claim and the ClaimResponse that
# names it by logical id (`Claim/c-7301`), in one run, as the rule for such answers needs.
FHIR_VISIT_DELIVERIES: list[tuple[str, list[str], list[str]]] = [
    ("fhir", ["fhir/Appointment-booked-colonoscopy-appt-7301.json"], []),
    (
        "fhir",
        [
            "fhir/Encounter-colonoscopy-appt-7301-in-progress.json",
            "fhir/Encounter-colonoscopy-appt-7301-finished.json",
            "fhir/ChargeItem-billable-colonoscopy-appt-7301.json",
            "fhir/ChargeItem-billable-colonoscopy-duplicate-appt-7301.json",
            "fhir/ChargeItem-billable-pathology-appt-7301.json",
            "fhir/ChargeItem-entered-in-error-colonoscopy-duplicate-appt-7301.json",
        ],
        [FHIR_ACCOUNT],
    ),
    (
        "fhir",
        [
            "fhir/Claim-professional-colonoscopy-appt-7301.json",
            "fhir/ClaimResponse-paid-colonoscopy-appt-7301.json",
        ],
        [],
    ),
]
PUBLISHED = re.compile(r"(\d+) event\(s\) published, (\d+) unit\(s\) dead-lettered")


@dataclass
class Chains:
    """What the stack made of the deliveries, read back from its topics."""

    pipeline: PipelineEnv
    events: list[Event]  # as read back from the events topic, in the order they were produced
    commands: dict[str, dict[str, Any]]  # command id -> record, from the commands topic
    breaches: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    replay: dict[str, dict[str, Any]]  # command id -> record, `s2c replay`'s engine

    def of(self, process_id: str) -> list[dict[str, Any]]:
        return [c for c in self.commands.values() if c["header"]["process_id"] == process_id]

    def instance(self, process_id: str) -> dict[str, Any]:
        """The worker's view of one instance (GET /process/{id}/)."""
        port = self.pipeline.workers[0].env["S2C_WORKER_WEB_PORT"]
        url = f"http://127.0.0.1:{port}/process/{process_id}/"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)


def codec_for(settings: Settings) -> AvroCodec:
    return AvroCodec(registry_client(settings.registry_url), load_catalog().resolved_json)


def publish_world(settings: Settings, codec: AvroCodec) -> None:
    """Riverside and Lakeside (core_world), Regional General and Riverside General, as the
    master topic holds them."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for records in (MASTER_RECORDS, REGIONAL_GENERAL_RECORDS, RIVERSIDE_GENERAL_RECORDS):
        for name, named in records.items():
            rows[name] += [to_native(master_record(name, row)) for row in named]
    publish_master(settings, codec, declare(settings).master_data.name, rows)


def ingest(env: dict[str, str], fmt: str, files: list[str]) -> int:
    """`s2c ingest` as an operator runs it; the number of events it says it published."""
    run = subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "ingest", fmt]
        + [str(MESSAGES / name) for name in files]
        + ["--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    found = PUBLISHED.search(run.stderr)
    assert found and found.group(2) == "0", run.stderr
    return int(found.group(1))


def decoded(settings: Settings, codec: AvroCodec, topic: str, expected: int, **kw: Any) -> list:
    return [codec.decode(m.value()) for m in read_topic(settings, topic, expected, **kw)]


def chain_world() -> DictMasterData:
    """The master data `publish_world` publishes, as a store."""
    store = regional_general()
    for name, rows in RIVERSIDE_GENERAL_RECORDS.items():
        for row in rows:
            store.put(master_record(name, row))
    return store


def replayed(events: list[Event]) -> dict[str, dict[str, Any]]:
    """`s2c replay`'s engine over the events, on the same master data and id key as the worker."""
    pipeline = Pipeline(chain_world(), IDS)
    outputs = [o for e in events for o in pipeline.feed(e)]
    return {o.command_id: o.to_record() for o in outputs if isinstance(o, Command)}


def deliver(pipeline: PipelineEnv, worker: WorkerProcess) -> Chains:
    """Publishes the world's master data, delivers DELIVERIES and then FHIR_VISIT_DELIVERIES with
    `s2c ingest`, and reads back
    what the worker made of them once every deadline up to the last business time was decided."""
    settings, topics = pipeline.settings, declare(pipeline.settings)
    codec = codec_for(settings)
    publish_world(settings, codec)
    env = ingest_env(pipeline)
    published = 0
    for fmt, files, accounts in DELIVERIES + FHIR_VISIT_DELIVERIES:
        published += ingest(env, fmt, files)
        for account in accounts:
            worker.wait_ready()  # its web server answers once it is up
            wait_for(lambda: linked(worker, account), 30, f"account {account} linked")
    events = read_events(settings, codec, published)
    want = replayed(events)
    got: dict[str, dict[str, Any]] = {}
    for _, record in decoded(
        settings, codec, topics.commands.name, len(want), timeout=90, settle=2
    ):
        got.setdefault(record["header"]["command_id"], record)
    # Deadlines fire on each partition's watermark, which reaches the last business time
    # once every feed is idle: then every SLA of every instance has been decided.
    last = max(e.occurred_at for e in events)
    wait_for(lambda: caught_up(worker, last), 60, f"every watermark at {last}")
    breaches = [r for _, r in decoded(settings, codec, topics.sla_breaches.name, 1, settle=2)]
    exceptions = [r for _, r in decoded(settings, codec, topics.exceptions.name, 1, settle=1)]
    assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
    return Chains(pipeline, events, got, breaches, exceptions, want)


def ingest_env(pipeline: PipelineEnv) -> dict[str, str]:
    """The environment `s2c ingest` runs in: the pipeline's namespace, its own data dir."""
    return {
        **pipeline.env,
        "S2C_DATA_DIR": str(pipeline.tmp / "ingest"),
        "S2C_PATIENT_REF_KEY": "integration-test-key-not-a-secret",
    }


def read_events(settings: Settings, codec: AvroCodec, expected: int) -> list[Event]:
    """The events topic read back, in the order the events were produced."""
    raw = read_topic(settings, declare(settings).events.name, expected, timeout=60, settle=0.5)
    assert len(raw) == expected
    raw.sort(key=lambda m: (m.timestamp()[1], m.partition(), m.offset()))
    return [event_from_record(*_event(codec.decode(m.value()))) for m in raw]


def linked(worker: WorkerProcess, account_number: str) -> bool:
    """Whether the worker's LINK stage has linked the account (GET /process/by-account/)."""
    url = worker.metrics_url.replace(
        "/metrics", f"/process/by-account/{IDS.account_ref(account_number)}/"
    )
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def caught_up(worker: WorkerProcess, at: datetime) -> bool:
    """Whether every link and process partition's watermark (GET /health/) has reached `at`."""
    with urllib.request.urlopen(worker.metrics_url.replace("/metrics", "/health/")) as answer:
        marks = [w["watermark"] for w in json.load(answer)["watermarks"].values()]
    return bool(marks) and all(m and datetime.fromisoformat(m) >= at for m in marks)


def _event(item: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name, record = item
    return name.rsplit(".", 1)[-1], record


def ledger(commands: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Debits less credits per GL account over every journal line; accounts at zero left out."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for command in commands:
        for line in command.get("lines", ()):
            if "gl_account" in line:
                balance[line["gl_account"]] += line["debit"] - line["credit"]
    return {account: amount for account, amount in balance.items() if amount}


def by_kind(commands: list[dict[str, Any]]) -> dict[str, Decimal]:
    """PostJournal amounts summed per journal kind. A journal's amount is never negative; one
    that debits what the kind's first journal credited (an 835 reversal's negated CAS, which
    swaps the sides) counts negative."""
    total: dict[str, Decimal] = defaultdict(Decimal)
    debited: dict[str, str] = {}
    for command in commands:
        if command["header"]["command_type"] == "PostJournal":
            kind, debit = command["journal_kind"], command["lines"][0]["gl_account"]
            sign = 1 if debited.setdefault(kind, debit) == debit else -1
            total[kind] += sign * command["amount"]
    return dict(total)


def balanced(commands: list[dict[str, Any]]) -> bool:
    return all(
        sum(ln["debit"] for ln in c["lines"]) == sum(ln["credit"] for ln in c["lines"])
        for c in commands
        if c.get("lines") and "gl_account" in c["lines"][0]
    )
