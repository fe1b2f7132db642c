"""A scheduled visit from raw HL7 v2 through the core: booked (SIU S12), registered (ADT A04),
discharged (ADT A03) and charged (DFT P03, four FT1s), all on account A26004417.

The ADT messages name no appointment (ADT carries no SCH segment), only the account (PID-18) and
the visit (PV1-19). Before the identity rule (`routing.is_walk_in`, `link.link_transition`) the
registration opened a separate walk-in instance, the account link refused it with an
`INVALID_TRANSITION`, and the booking's instance never saw its encounter or its charges.

A registration that comes first waits an hour of stream time (`link.WALK_IN_WAIT`) for a
booking of its account before it opens a walk-in; a booking delayed behind it within that
hour takes it in.

The chain runs through `tables.replay.Pipeline`, which the live stages share the link rule with,
on the small health system of tests/unit/core/core_world.py plus the Regional General Hospital
(RGH) records these messages name: every one, as the core checks every reference an event
carries."""

from __future__ import annotations

import itertools
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from samples import PRODUCED_AT, message

from s2c.streams.connectors import hl7v2
from s2c.tables.events import event_from_record
from s2c.tables.outputs import Command, WorkQueueException
from s2c.tables.replay import Pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from core_world import IDS, regional_general  # noqa: E402

CHAIN = (
    "SIU-S12-booking",
    "ADT-A04-registration",
    "ADT-A03-discharge",
    "DFT-P03-surgery-charges",
)
CHARGED = Decimal("4850.00") + 8 * Decimal("95.00") + Decimal("410.00") + Decimal("268.50")


def events_of(name: str, refs) -> list:
    records = hl7v2.map_text(message(f"hl7v2/{name}.hl7"), refs, PRODUCED_AT)
    return [event_from_record(r["envelope"]["event_type"], r) for r in records]


def run(order: tuple[str, ...], refs) -> tuple[Pipeline, list]:
    pipeline = Pipeline(regional_general(), IDS)
    outputs = [o for name in order for e in events_of(name, refs) for o in pipeline.feed(e)]
    return pipeline, outputs


def test_registration_discharge_and_charges_join_the_scheduled_visit(refs) -> None:
    pipeline, outputs = run(CHAIN, refs)
    assert list(pipeline.processes) == ["APPT-ORC-88120"]  # no walk-in instance beside it
    visit = pipeline.processes["APPT-ORC-88120"]
    assert visit.encounter_id == "V7710234" and visit.discharged_at is not None
    commands = [o for o in outputs if isinstance(o, Command)]
    assert {c.header.process_id for c in commands} == {"APPT-ORC-88120"}
    assert [c.schema for c in commands] == ["AccrueExpectedRevenue"] + ["PostJournal"] * 4
    assert sum(c.amount for c in commands[1:]) == CHARGED
    items = [o for o in outputs if isinstance(o, WorkQueueException)]
    assert items == []  # neither INVALID_TRANSITION nor UNLINKED_EVENT
    assert pipeline.links[IDS.account_ref("A26004417")].parked == {}


@pytest.mark.parametrize(
    "order",
    [
        o
        for o in itertools.permutations(CHAIN)
        if o.index("SIU-S12-booking") < o.index("ADT-A04-registration")
    ],
    ids=lambda o: ">".join(n.split("-")[1] for n in o),
)
def test_the_same_visit_in_any_order_the_booking_leads_the_registration(order, refs) -> None:
    """Discharge and charges may come before the registration or the booking: they wait (at the
    link for the account, in the instance for its encounter) and the ledger ends the same."""
    pipeline, outputs = run(order, refs)
    assert list(pipeline.processes) == ["APPT-ORC-88120"]
    journals = [o for o in outputs if isinstance(o, Command) and o.schema == "PostJournal"]
    assert len(journals) == 4 and sum(c.amount for c in journals) == CHARGED
    assert not [o for o in outputs if isinstance(o, WorkQueueException)]


def test_a_registration_on_an_account_nobody_scheduled_is_still_a_walk_in(refs) -> None:
    pipeline, _ = run(("ADT-A04-registration", "ADT-A03-discharge"), refs)
    assert list(pipeline.processes) == [IDS.encounter_process_id("A26004417")]


@pytest.mark.parametrize(
    "order",
    [
        ("ADT-A04-registration", "SIU-S12-booking", "ADT-A03-discharge", "DFT-P03-surgery-charges"),
        ("ADT-A04-registration", "SIU-S12-booking", "DFT-P03-surgery-charges", "ADT-A03-discharge"),
    ],
    ids=lambda o: ">".join(n.split("-")[1] for n in o),
)
def test_a_booking_that_comes_just_behind_its_registration_takes_it_in(order, refs) -> None:
    """The booking message is delayed behind the registration (it arrives after it, though it
    was booked weeks earlier). The registration waits `WALK_IN_WAIT` of stream time for a booking
    of its account; the booking comes within it, so the registration joins the scheduled visit
    and the discharge and charges follow, as when the booking leads."""
    pipeline, outputs = run(order, refs)
    assert list(pipeline.processes) == ["APPT-ORC-88120"]
    assert pipeline.processes["APPT-ORC-88120"].encounter_id == "V7710234"
    journals = [o for o in outputs if isinstance(o, Command) and o.schema == "PostJournal"]
    assert len(journals) == 4 and sum(c.amount for c in journals) == CHARGED
    assert not [o for o in outputs if isinstance(o, WorkQueueException)]


def test_a_booking_that_comes_after_the_registrations_wait_is_reported(refs) -> None:
    """The discharge, seven hours after the registration, comes before the delayed booking: the
    registration's wait has passed, so it opened a walk-in, and the booking that then claims the
    account is reported for a person to merge (`INVALID_TRANSITION`), never re-pointed."""
    order = ("ADT-A04-registration", "ADT-A03-discharge", "SIU-S12-booking")
    pipeline, outputs = run(order, refs)
    walk_in = IDS.encounter_process_id("A26004417")
    assert set(pipeline.processes) == {walk_in, "APPT-ORC-88120"}
    items = [o for o in outputs if isinstance(o, WorkQueueException)]
    assert [i.kind.value for i in items] == ["INVALID_TRANSITION"]
    assert walk_in in items[0].reason
