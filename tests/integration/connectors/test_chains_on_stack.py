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
  And Riverside General's colonoscopy (appointment appt-7301, account ACCT-3460) from FHIR
  alone: Appointment booked, Encounter in progress and finished, ChargeItems (one duplicate
  entered-in-error), Claim and a ClaimResponse naming it by logical id in the same run, paid
  with a contractual adjustment and a deductible: A/R nets to zero.

The feeds are delivered in the order their systems would send them (one `s2c ingest` per
format and batch), so stream time moves as in production and no SLA breaches by accident; a
registration only once the worker has linked its booking's account, as the feeds would; the
test at the end delivers registrations right behind their bookings, in a backlog.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chainkit import (
    CASE_A,
    CASE_B,
    CASE_C,
    FHIR_VISIT,
    IDS,
    VISIT,
    Chains,
    balanced,
    by_kind,
    codec_for,
    decoded,
    deliver,
    ingest,
    ingest_env,
    ledger,
    publish_world,
    read_events,
    regional_general,
    replayed,
)
from samples import MESSAGES
from stackkit import PipelineEnv, new_pipeline_env

from s2c.streams.settings import Settings
from s2c.streams.topics import declare
from s2c.tables.events import Event
from s2c.tables.replay import Pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chains(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chains]:
    """Every chain delivered to one worker, started once for the module."""
    pipeline = new_pipeline_env(tmp_path_factory.mktemp("chains"))
    try:
        yield deliver(pipeline, pipeline.worker().start())
    finally:
        for process in pipeline.workers:
            process.stop()


def test_the_worker_gives_exactly_what_replay_gives_for_the_ingested_events(chains: Chains) -> None:
    assert chains.commands.keys() == chains.replay.keys(), chains.pipeline.workers[0].log_tail()
    for command_id, record in chains.replay.items():
        assert chains.commands[command_id] == record
    assert {c["header"]["process_id"] for c in chains.commands.values()} == {
        VISIT,
        CASE_A,
        CASE_B,
        CASE_C,
        FHIR_VISIT,
    }  # no walk-in instance beside the scheduled visits or the cases
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
    # the CO-50 denial raised a DENIAL item; the payer taking it back (CLP02 22) closed it
    raised, notice = sorted(
        (x for x in chains.exceptions if x["process_id"] == CASE_A),
        key=lambda x: x["resolves_exception_id"] is not None,
    )
    assert (raised["kind"], raised["amount"]) == ("DENIAL", Decimal("6800.00"))
    assert raised["resolves_exception_id"] is None
    assert (notice["kind"], notice["resolves_exception_id"]) == ("DENIAL", raised["exception_id"])


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


def test_fhir_visit_booked_seen_charged_claimed_and_paid(chains: Chains) -> None:
    visit = chains.of(FHIR_VISIT)
    assert by_kind(visit) == {
        # ChargeItem priceOverride: 1,250.00 (45378) + 320.00 (88305 x 2) + the duplicate
        # 1,250.00, which its entered-in-error version takes back
        "CHARGE": Decimal("2820.00"),
        "CHARGE_REVERSAL": Decimal("1250.00"),
        "PAYMENT": Decimal("1060.00"),  # ClaimResponse.payment.amount
        # adjudications with reason 45 (CO): 250.00 + 60.00
        "CONTRACTUAL_ADJUSTMENT": Decimal("310.00"),
        "PATIENT_RESPONSIBILITY": Decimal("200.00"),  # category deductible, reason 1 (PR)
    }
    assert ledger(visit) == {
        # Riverside General's patient A/R (1200-RVG) nets to zero:
        # 1,570.00 charged = 1,060.00 + 310.00 + 200.00; no accrual, as a FHIR Appointment
        # names no payer
        "4000": Decimal("-1570.00"),
        "1010": Decimal("1060.00"),
        "4800": Decimal("310.00"),
        "1210": Decimal("200.00"),
    }
    instance = chains.instance(FHIR_VISIT)
    assert (instance["stage"], instance["money"]["ar_balance"]) == ("CLOSED", "0.00")
    assert instance["parked"] == [], instance
    assert not [x for x in chains.exceptions if x["process_id"] == FHIR_VISIT]
    assert not [b for b in chains.breaches if b["process_id"] == FHIR_VISIT]


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


def test_registrations_delivered_right_after_their_bookings_join_them(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    """A registration (keyed by its account) and its booking (keyed by its appointment) sit on
    different events partitions, and the account's may reach the LINK stage first. Applied as
    they came, 6 of these 12 registrations opened a walk-in and their bookings' links were
    refused (INVALID_TRANSITION), on main before the stages waited for an event's own time
    (2b985b4). Now the booking's registration copy, earlier in business time, is applied first,
    as replay applies it."""
    settings, topics = pipeline_env.settings, declare(pipeline_env.settings)
    codec = codec_for(settings)
    publish_world(settings, codec)
    booking = (MESSAGES / "hl7v2/SIU-S12-booking.hl7").read_bytes()
    registration = (MESSAGES / "hl7v2/ADT-A04-registration.hl7").read_bytes()
    feed = tmp_path / "visits.hl7"  # each booking, then its registration
    feed.write_bytes(
        b"".join(_visit_copy(m, k) for k in range(VISITS) for m in (booking, registration))
    )
    env = ingest_env(pipeline_env)
    # delivered while the worker is down: a backlog, as after a restart or an outage
    assert ingest(env, "hl7", [str(feed)]) == 2 * VISITS
    worker = pipeline_env.worker().start()
    replay = Pipeline(regional_general(), IDS)
    for event in read_events(settings, codec, 2 * VISITS):
        replay.feed(event)
    assert all(p.startswith("APPT-") for p in replay.processes)  # replay joins every one

    accruals = decoded(settings, codec, topics.commands.name, VISITS, timeout=90, settle=3)
    assert len(accruals) == VISITS, worker.log_tail()
    refused = [
        r["reason"]
        for _, r in decoded(settings, codec, topics.exceptions.name, 0, timeout=5, settle=2)
        if r["kind"] == "INVALID_TRANSITION"
    ]
    assert refused == []
