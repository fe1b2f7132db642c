"""A scheduled visit from raw FHIR resources through the core to the ledger (issue 17).

Riverside General's colonoscopy of appointment appt-7301, as its systems send it
(tests/messages/fhir/*-appt-7301.json): the Appointment booked (no account: FHIR Appointment
has none), the Encounter in progress and finished (it names the appointment and carries the
account ACCT-3460, which links the account to the booked instance), three ChargeItems (the
colonoscopy, two pathology specimens, and a duplicate of the colonoscopy then marked
entered-in-error), the Claim (identifier typed v2-0203 AN: ACCT-3460) and Blue Bonnet's
ClaimResponse, which names its Claim only as `Claim/c-7301`, so it must come in the same
ingest run as the claim (`Ingestor.fhir_claims`).

The ClaimResponse pays 1,060.00 of the 1,570.00 charged, with 310.00 contractual (CARC 45) and a
200.00 deductible (patient share): patient A/R nets to zero and the instance is CLOSED.
The files go through the `Ingestor` as `s2c ingest fhir` reads them, then through
`tables.replay.Pipeline` on tests/unit/core/core_world.py's Riverside General records.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry
from samples import MESSAGES, PRODUCED_AT

from s2c.streams.connectors.ingest import Ingestor
from s2c.streams.connectors.metrics import ConnectorMetrics
from s2c.streams.connectors.publish import MemoryPublisher
from s2c.tables.events import Event, event_from_record
from s2c.tables.outputs import Command, PostJournal, SlaBreached, WorkQueueException
from s2c.tables.replay import Pipeline
from s2c.tables.sla import derive_stage
from s2c.tables.vocabulary import ProcessStage

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from core_world import IDS, riverside_general  # noqa: E402

VISIT = "APPT-appt-7301"
# (files of one `s2c ingest fhir` run), in the order the systems send them
RUNS = (
    ("Appointment-booked-colonoscopy-appt-7301.json",),
    (
        "Encounter-colonoscopy-appt-7301-in-progress.json",
        "Encounter-colonoscopy-appt-7301-finished.json",
        "ChargeItem-billable-colonoscopy-appt-7301.json",
        "ChargeItem-billable-colonoscopy-duplicate-appt-7301.json",
        "ChargeItem-billable-pathology-appt-7301.json",
        "ChargeItem-entered-in-error-colonoscopy-duplicate-appt-7301.json",
    ),
    (
        "Claim-professional-colonoscopy-appt-7301.json",
        "ClaimResponse-paid-colonoscopy-appt-7301.json",
    ),
)


def ingested(refs) -> list[Event]:
    """Each run through its own `Ingestor`, as separate `s2c ingest fhir` calls would."""
    events: list[Event] = []
    for files in RUNS:
        publisher = MemoryPublisher()
        ingestor = Ingestor(
            publisher, ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
        )
        for name in files:
            path = MESSAGES / "fhir" / name
            assert all(o.error is None for o in ingestor.fhir_file(path.read_bytes(), name))
        assert publisher.dead_letters == []
        events += [
            event_from_record(r["envelope"]["event_type"], r) for _, _, r in publisher.events
        ]
    return events


def ledger(journals: list[PostJournal]) -> dict[str, Decimal]:
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for journal in journals:
        for line in journal.lines:
            balance[line.gl_account] += line.debit - line.credit
    return {account: amount for account, amount in balance.items() if amount}


def test_booked_seen_charged_claimed_and_paid_from_fhir_closes_at_zero(refs) -> None:
    events = ingested(refs)
    pipeline = Pipeline(riverside_general(), IDS)
    outputs = [o for e in events for o in pipeline.feed(e)]
    # every deadline the chain set, decided: two months after its last event
    outputs += pipeline.advance(max(e.occurred_at for e in events) + timedelta(days=60))

    assert list(pipeline.processes) == [VISIT]  # the encounter joined the booking, no walk-in
    visit = pipeline.processes[VISIT]
    assert visit.encounter_id == "enc-7301" and visit.discharged_at is not None
    assert (derive_stage(visit), visit.ar_balance) == (ProcessStage.CLOSED, Decimal("0.00"))

    journals = [o for o in outputs if isinstance(o, PostJournal)]
    assert {c.header.process_id for c in outputs if isinstance(c, Command)} == {VISIT}
    assert [(j.journal_kind.value, j.amount) for j in journals] == [
        ("CHARGE", Decimal("1250.00")),  # 45378, CHG-7301-01
        ("CHARGE", Decimal("1250.00")),  # the duplicate, CHG-7301-03
        ("CHARGE", Decimal("320.00")),  # 88305 x 2
        ("CHARGE_REVERSAL", Decimal("1250.00")),  # the duplicate, entered-in-error
        ("PAYMENT", Decimal("1060.00")),
        ("CONTRACTUAL_ADJUSTMENT", Decimal("250.00")),  # CO-45 on 45378
        ("PATIENT_RESPONSIBILITY", Decimal("200.00")),  # PR-1, the deductible
        ("CONTRACTUAL_ADJUSTMENT", Decimal("60.00")),  # CO-45 on 88305
    ]
    duplicate, reversal = journals[1], journals[3]
    assert reversal.header.reverses_command_id == duplicate.command_id
    # the endoscopy and pathology departments' cost centers (performingOrganization)
    assert [j.header.cost_center_id for j in journals[:3]] == [
        "CC-RVG-ENDO",
        "CC-RVG-ENDO",
        "CC-RVG-PATH",
    ]
    assert {ln.gl_account for ln in journals[0].lines} == {"1200-RVG", "4000"}  # site's A/R
    assert ledger(journals) == {
        # Riverside General's patient A/R (1200-RVG) nets to zero:
        # 1,570.00 charged = 1,060.00 paid + 310.00 contractual + 200.00 deductible
        "4000": Decimal("-1570.00"),  # gross patient revenue
        "1010": Decimal("1060.00"),  # cash clearing
        "4800": Decimal("310.00"),  # contractual allowance
        "1210": Decimal("200.00"),  # patient responsibility
    }
    assert not [o for o in outputs if isinstance(o, WorkQueueException | SlaBreached)]


def test_an_answer_in_another_run_than_its_claim_waits_unlinked(refs) -> None:
    """The ClaimResponse names its Claim by logical id only: delivered in a run of its own it
    cannot say its account, lands on an account named after the reference and never reaches
    the visit, whose A/R stays open (the rule is one run; see the connectors' README)."""
    runs = RUNS[:2] + (RUNS[2][:1], RUNS[2][1:])
    events: list[Event] = []
    for files in runs:
        publisher = MemoryPublisher()
        ingestor = Ingestor(
            publisher, ConnectorMetrics(CollectorRegistry()), refs, lambda: PRODUCED_AT
        )
        for name in files:
            list(ingestor.fhir_file((MESSAGES / "fhir" / name).read_bytes(), name))
        events += [
            event_from_record(r["envelope"]["event_type"], r) for _, _, r in publisher.events
        ]
    pipeline = Pipeline(riverside_general(), IDS)
    for e in events:
        pipeline.feed(e)
    visit = pipeline.processes[VISIT]
    assert visit.ar_balance == Decimal("1570.00") and visit.paid == 0
    assert IDS.account_ref("c-7301") in pipeline.links  # parked under the claim's logical id
