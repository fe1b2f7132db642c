"""Chains from raw messages to the ERP ledger on the real stack, one per format (issue 17).

The messages s2c ships under tests/messages/ go through the real `s2c ingest` CLI into the events
topic, one worker (started once for the module) correlates them, and the commands it publishes
are read back and checked as a ledger: balances per GL account and totals per journal kind, in
exact decimals, against figures worked out by hand from the message amounts, and against
`s2c replay`'s engine run over the same events read back from the topic.

- HL7 v2: Regional General's scheduled cholecystectomy visit (account A26004417) booked (SIU
  S12), registered (ADT A04), discharged (ADT A03), charged (DFT P03), claimed (837I) and paid by
  Lone Star (835 with contractual reductions and a deductible): A/R nets to zero.
- X12: Riverside's knee arthroscopy (case ORC-91207, account ACCT-7001) booked on the OR feed,
  completed (FHIR Procedure), registered and charged, claimed (837I), denied by Aetna (835 CO-50),
  the denial reversed (835 CLP02 22) and the claim paid (same 835): the ledger is the final
  adjudication's, the denial reserve and A/R net to zero.
- FHIR: a preauthorization ClaimResponse that arrives before its case's booking (ORC-91207) and
  one that arrives after (ORC-91318): neither case breaches AUTH_MISSING_48H_BEFORE_SURGERY; a
  third case with no authorization (ORC-91402) does, which shows the deadline was reached.

The feeds are delivered in the order their systems would send them (one `s2c ingest` per
format and batch), so stream time moves as in production and no SLA breaches by accident.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from samples import MESSAGES
from stackkit import IDS, PipelineEnv, WorkerProcess, new_pipeline_env, read_topic, wait_for

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.masterdata import publish_master
from s2c.streams.settings import Settings
from s2c.streams.topics import declare
from s2c.tables.codec import to_native
from s2c.tables.events import Event, event_from_record
from s2c.tables.master import master_record
from s2c.tables.outputs import Command
from s2c.tables.replay import Pipeline

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "core"))
from core_world import MASTER_RECORDS, REGIONAL_GENERAL_RECORDS, regional_general  # noqa: E402

pytestmark = pytest.mark.integration

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
# they may be applied the other way round (see the xfail'd test at the end).
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
    """Riverside and Lakeside (core_world) and Regional General, as the master topic holds them."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for records in (MASTER_RECORDS, REGIONAL_GENERAL_RECORDS):
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


def replayed(events: list[Event]) -> dict[str, dict[str, Any]]:
    """`s2c replay`'s engine over the events, on the same master data and id key as the worker."""
    pipeline = Pipeline(regional_general(), IDS)
    outputs = [o for e in events for o in pipeline.feed(e)]
    return {o.command_id: o.to_record() for o in outputs if isinstance(o, Command)}


@pytest.fixture(scope="module")
def chains(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chains]:
    pipeline = new_pipeline_env(tmp_path_factory.mktemp("chains"))
    settings, topics = pipeline.settings, declare(pipeline.settings)
    codec = codec_for(settings)
    publish_world(settings, codec)
    worker = pipeline.worker().start()
    env = {
        **pipeline.env,
        "S2C_DATA_DIR": str(pipeline.tmp / "ingest"),
        "S2C_PATIENT_REF_KEY": "integration-test-key-not-a-secret",
    }
    try:
        published = 0
        for fmt, files, accounts in DELIVERIES:
            published += ingest(env, fmt, files)
            for account in accounts:
                worker.wait_ready()  # its web server answers once it is up
                wait_for(lambda: linked(worker, account), 30, f"account {account} linked")
        raw = read_topic(settings, topics.events.name, published, timeout=60, settle=0.5)
        assert len(raw) == published
        raw.sort(key=lambda m: (m.timestamp()[1], m.partition(), m.offset()))
        events = [event_from_record(*_event(codec.decode(m.value()))) for m in raw]
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
        yield Chains(pipeline, events, got, breaches, exceptions, want)
    finally:
        for process in pipeline.workers:
            process.stop()


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


def test_the_worker_gives_exactly_what_replay_gives_for_the_ingested_events(chains: Chains) -> None:
    assert chains.commands.keys() == chains.replay.keys(), chains.pipeline.workers[0].log_tail()
    for command_id, record in chains.replay.items():
        assert chains.commands[command_id] == record
    assert {c["header"]["process_id"] for c in chains.commands.values()} == {
        VISIT,
        CASE_A,
        CASE_B,
        CASE_C,
    }  # no walk-in instance beside the scheduled visit or the case
    assert balanced(list(chains.commands.values()))


def test_hl7_visit_registered_discharged_charged_and_paid(chains: Chains) -> None:
    visit = chains.of(VISIT)
    assert by_kind(visit) == {
        # DFT P03 FT1-11: 4,850.00 + 760.00 (8 x 95.00) + 410.00 + 268.50 (2 x 134.25)
        "CHARGE": Decimal("6288.50"),
        "PAYMENT": Decimal("4900.00"),  # 835 CLP04
        # 835 CAS CO-45 on the four SVCs: 550.00 + 160.00 + 110.00 + 68.50
        "CONTRACTUAL_ADJUSTMENT": Decimal("888.50"),
        "PATIENT_RESPONSIBILITY": Decimal("500.00"),  # 835 CAS PR-1, the deductible
    }
    assert ledger(visit) == {
        # patient A/R (1200) nets to zero: 6,288.50 charged = 4,900.00 + 888.50 + 500.00
        "4000": Decimal("-6288.50"),  # gross patient revenue
        "1010": Decimal("4900.00"),  # cash clearing
        "4800": Decimal("888.50"),  # contractual allowance
        "1210": Decimal("500.00"),  # patient responsibility
        # the accrual at booking: Lone Star's rates for AIS-3 47562 (7,100.00) + 74300 (380.00)
        "1290": Decimal("7480.00"),
        "4990": Decimal("-7480.00"),
    }
    instance = chains.instance(VISIT)
    assert (instance["stage"], instance["money"]["ar_balance"]) == ("CLOSED", "0.00")
    assert not [x for x in chains.exceptions if x["process_id"] == VISIT]
    assert not [b for b in chains.breaches if b["process_id"] == VISIT]


def _final_adjudication_only(events: list[Event]) -> list[Event]:
    """The chain without Aetna's denial and its reversal: as if the claim had been paid at once."""
    denial = "AETNA-COMM:AET2604100071"  # CLP07 of the denial, repeated by its reversal
    ids = ("remittance_id", "adjustment_id", "denial_id", "reversal_id", "reverses_remittance_id")
    return [
        e
        for e in events
        if not any(str(getattr(e, name, "") or "").startswith(denial) for name in ids)
    ]


def test_x12_case_claimed_denied_reversed_and_repaid_leaves_the_final_adjudication(
    chains: Chains,
) -> None:
    case = chains.of(CASE_A)
    kinds = by_kind(case)
    assert kinds == {
        # DFT P03 FT1-11: 5,900.00 + 700.00 (7 x 100.00) + 200.00 (2 x 100.00)
        "CHARGE": Decimal("6800.00"),
        "DENIAL": Decimal("0.00"),  # CO-50 6,800.00 denied, then reversed (CLP02 22)
        "PAYMENT": Decimal("3900.00"),  # the re-adjudication's CLP04
        # CAS CO-45 of the re-adjudication: 1,700.00 + 700.00 + 200.00 (two lines paid 0)
        "CONTRACTUAL_ADJUSTMENT": Decimal("2600.00"),
        "PATIENT_RESPONSIBILITY": Decimal("300.00"),  # CAS PR-3, the copay
    }
    denials = [c["amount"] for c in case if c.get("journal_kind") == "DENIAL"]
    assert denials == [Decimal("6800.00"), Decimal("6800.00")]  # posted, then taken back
    paid_at_once = _final_adjudication_only(chains.events)
    assert len(chains.events) - len(paid_at_once) == 2  # the CO-50 denial and its reversal
    final = replayed(paid_at_once)
    assert ledger(case) == ledger(
        [c for c in final.values() if c["header"]["process_id"] == CASE_A]
    )
    assert ledger(case) == {
        # patient A/R (1200-RIV) and Riverside's CO denial reserve (4851-RIV-CO) net to zero
        "4000": Decimal("-6800.00"),
        "1010": Decimal("3900.00"),
        "4800": Decimal("2600.00"),
        "1210": Decimal("300.00"),
        # the accrual at booking: Aetna's 2026 rate for 29881; the supplies the Procedure used,
        # 2 shaver blades x 185.00 + 3 saline x 12.50 at the card's unit cost
        "1290": Decimal("4200.00"),
        "4990": Decimal("-4200.00"),
        "6100": Decimal("407.50"),
        "1400": Decimal("-407.50"),
    }
    instance = chains.instance(CASE_A)
    assert (instance["stage"], instance["money"]["ar_balance"]) == ("CLOSED", "0.00")
    (work_item,) = [x for x in chains.exceptions if x["process_id"] == CASE_A]
    assert (work_item["kind"], work_item["amount"]) == ("DENIAL", Decimal("6800.00"))


BOOKED = ["ReserveSupplies", "PlanLabor", "ReserveRoom", "AccrueExpectedRevenue"]


def test_fhir_preauthorization_before_or_after_the_booking_meets_the_deadline(
    chains: Chains,
) -> None:
    (breach,) = chains.breaches  # only the case nobody authorized, 48 h before its start
    assert (breach["process_id"], breach["sla"]) == (CASE_C, "AUTH_MISSING_48H_BEFORE_SURGERY")
    assert breach["deadline"] == datetime(2026, 3, 28, 12, 30, tzinfo=UTC)  # 30 March 07:30 CDT
    # ClaimResponse.created of each preauthorization, in UTC
    for case_id, created in ((CASE_A, "2026-03-03T19:20"), (CASE_B, "2026-03-11T15:05")):
        instance = chains.instance(case_id)
        authorized = [t["at"] for t in instance["timeline"] if t["milestone"] == "authorized"]
        assert [at[:16] for at in authorized] == [created], instance
        assert instance["parked"] == [], instance  # the early one did not wait anywhere
        booked = [c["header"]["command_type"] for c in chains.of(case_id)][: len(BOOKED)]
        assert booked == BOOKED, case_id
    # the case authorized after its booking has the commands of a booked case and nothing more
    assert [c["header"]["command_type"] for c in chains.of(CASE_B)] == BOOKED
    assert chains.instance(CASE_B)["stage"] == "AUTHORIZED"
    assert not [x for x in chains.exceptions if x["process_id"] in (CASE_B, CASE_C)]


VISITS = 12  # scheduled visits in the backlog, each booked then registered


def _visit_copy(raw: bytes, k: int) -> bytes:
    """The shipped message for the k-th of `VISITS` visits: its own appointment, account,
    visit and control ids, everything else as shipped."""
    text = raw.decode()
    for shipped, own in (
        ("ORC-88120", f"ORC-88{k:03d}"),
        ("A26004417", f"A26004{k:03d}"),
        ("V7710234", f"V7710{k:03d}"),
        ("ORS260126-0007", f"ORS260126-{k:04d}"),
        ("ADT260212-1042", f"ADT260212-{k:04d}"),
    ):
        text = text.replace(shipped, own)
    return text.encode()


@pytest.mark.xfail(
    strict=True,
    reason="live-stack race: an ADT A04 delivered right after its SIU S12 can reach the LINK "
    "stage before the booking's registration copy (they are keyed by account and by "
    "appointment, so they sit on different events partitions), opens a walk-in ENC- instance "
    "and the booking's link is refused as INVALID_TRANSITION; replay of the same events in "
    "topic order joins every registration to its scheduled visit",
)
def test_registrations_delivered_right_after_their_bookings_join_them(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    settings, topics = pipeline_env.settings, declare(pipeline_env.settings)
    codec = codec_for(settings)
    publish_world(settings, codec)
    booking = (MESSAGES / "hl7v2/SIU-S12-booking.hl7").read_bytes()
    registration = (MESSAGES / "hl7v2/ADT-A04-registration.hl7").read_bytes()
    feed = tmp_path / "visits.hl7"  # each booking, then its registration
    feed.write_bytes(
        b"".join(_visit_copy(m, k) for k in range(VISITS) for m in (booking, registration))
    )
    env = {
        **pipeline_env.env,
        "S2C_DATA_DIR": str(tmp_path / "ingest"),
        "S2C_PATIENT_REF_KEY": "integration-test-key-not-a-secret",
    }
    # delivered while the worker is down: a backlog, as after a restart or an outage
    assert ingest(env, "hl7", [str(feed)]) == 2 * VISITS
    worker = pipeline_env.worker().start()
    raw = read_topic(settings, topics.events.name, 2 * VISITS)
    raw.sort(key=lambda m: (m.timestamp()[1], m.partition(), m.offset()))
    replay = Pipeline(regional_general(), IDS)
    for m in raw:
        replay.feed(event_from_record(*_event(codec.decode(m.value()))))
    assert all(p.startswith("APPT-") for p in replay.processes)  # replay joins every one

    accruals = decoded(settings, codec, topics.commands.name, VISITS, timeout=90, settle=3)
    assert len(accruals) == VISITS, worker.log_tail()
    refused = [
        r["reason"]
        for _, r in decoded(settings, codec, topics.exceptions.name, 0, timeout=5, settle=2)
        if r["kind"] == "INVALID_TRANSITION"
    ]
    # observed: 6 of the 12 registrations open a walk-in and their bookings are refused
    assert refused == []
