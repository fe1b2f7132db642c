"""Master data with teeth (issue 17 item 5): every reference an event carries is checked.

A case naming a surgeon Riverside's master data has never heard of used to book its supplies,
labour and room at once. Now it waits, like a booking without its preference card: nothing is
posted, a work item names the missing Provider at the deadline, and when the surgeon's record
arrives the case books exactly what it would have booked had the record been there in time.
A deleted (tombstoned) record is unknown from then on; a crosswalk entry turns a source's payer
code (an 835's N1*PR) into the master payer id.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from core_world import (
    DAY,
    IDS,
    MASTER_RECORDS,
    SURGERY_DAY,
    T0,
    Feed,
    charge,
    knee_case_scheduled,
    knee_case_through_claim,
    master_data,
    payment,
)

from s2c.tables.core import (
    PROCESS_PARK_TTL,
    on_deadline,
    retry_parked,
    transition,
    waiting_for_master,
)
from s2c.tables.events import Event
from s2c.tables.master import arrivals, master_record
from s2c.tables.outputs import AwaitMasterData, Command, PostJournal, WorkQueueException
from s2c.tables.references import REFERENCES
from s2c.tables.replay import Pipeline
from s2c.tables.vocabulary import ExceptionKind

NEW_SURGEON = {
    "provider_id": "DR-ABARA",
    "npi": "1679576722",
    "display_name": "Dr. Abara",
    "specialty": "Orthopaedic surgery",
    "site_id": "RIVERSIDE",
    "cost_center_id": "CC-RIV-OR",
}


def abara_case(feed: Feed) -> Event:
    """The knee arthroscopy, booked for a surgeon who joined Riverside this week."""
    return replace(knee_case_scheduled(feed), surgeon_id="DR-ABARA")


def commands(out: list[Any]) -> list[Command]:
    return [o for o in out if isinstance(o, Command)]


def work_items(out: list[Any]) -> list[WorkQueueException]:
    return [o for o in out if isinstance(o, WorkQueueException)]


def test_an_unknown_surgeon_books_nothing_and_becomes_a_work_item_at_the_deadline() -> None:
    master, booking = master_data(), abara_case(Feed())
    state, out = transition(None, booking, master, T0)
    assert out == [AwaitMasterData("CASE-C-1001", "Provider", "DR-ABARA", booking.event_id)]
    assert state.open_items == {} and waiting_for_master(state) == {("Provider", "DR-ABARA")}
    state, out = on_deadline(state, master, T0 + PROCESS_PARK_TTL - timedelta(minutes=1))
    assert out == []
    state, out = on_deadline(state, master, T0 + PROCESS_PARK_TTL)
    assert commands(out) == []
    [item] = work_items(out)
    assert item.kind == ExceptionKind.UNKNOWN_MASTER_DATA
    assert item.reason.startswith("CaseScheduled waited for Provider DR-ABARA until")
    assert "ACCT-7001" not in item.reason and "pt-9f3a" not in item.reason  # no patient in it
    assert waiting_for_master(state) == {("Provider", "DR-ABARA")}  # still parked, reported


@pytest.mark.parametrize("late", [timedelta(hours=3), PROCESS_PARK_TTL + timedelta(days=1)])
def test_a_late_surgeon_record_books_what_a_known_one_would_have(late: timedelta) -> None:
    """In time or after the work item, the same commands with the same ids; after the work
    item, a second one resolves it."""
    known = master_data()
    known.put(master_record("Provider", NEW_SURGEON))
    _, in_time = transition(None, abara_case(Feed()), known, T0)
    assert [c.schema for c in commands(in_time)] == [
        "ReserveSupplies",
        "PlanLabor",
        "ReserveRoom",
        "AccrueExpectedRevenue",
    ]
    master = master_data()
    state, _ = transition(None, abara_case(Feed()), master, T0)
    state, reported = on_deadline(state, master, T0 + late)
    surgeon = master_record("Provider", NEW_SURGEON)
    master.put(surgeon)
    assert arrivals("Provider", surgeon) == [("Provider", "DR-ABARA")]
    state, out = retry_parked(state, master, T0 + late)
    assert commands(out) == commands(in_time)
    assert state.parked == {} and state.open_items.keys() == {
        c.command_id for c in commands(in_time)
    }
    if work_items(reported):
        [resolved] = work_items(out)
        assert resolved.resolves_exception_id == work_items(reported)[0].exception_id
    else:
        assert work_items(out) == []


CASE_REFERENCES = [
    ("site_id", "NORTHGATE", "Location"),
    ("or_room_id", "RIV-OR-9", "Location"),
    ("surgeon_id", "DR-ABARA", "Provider"),
    ("service_line_id", "SPINE", "ServiceLine"),
    ("payer_id", "CIGNA", "Payer"),
]


@pytest.mark.parametrize(("field", "unknown", "record"), CASE_REFERENCES)
def test_every_reference_of_a_booking_is_checked(field: str, unknown: str, record: str) -> None:
    event = replace(knee_case_scheduled(Feed()), **{field: unknown})
    state, out = transition(None, event, master_data(), T0)
    assert out == [AwaitMasterData("CASE-C-1001", record, unknown, event.event_id)]
    assert state.open_items == {}
    assert (field, record) in REFERENCES["CaseScheduled"]


def test_a_room_whose_cost_center_is_unknown_waits_for_the_cost_center() -> None:
    master = master_data(without=("CC-RIV-OR",))
    booking = knee_case_scheduled(Feed())
    state, out = transition(None, booking, master, T0)
    assert out == [AwaitMasterData("CASE-C-1001", "CostCenter", "CC-RIV-OR", booking.event_id)]


def test_a_charge_to_an_unknown_department_posts_no_journal() -> None:
    feed = Feed()
    pipeline, outputs = Pipeline(master_data(), IDS), []
    for event in knee_case_through_claim(feed)[:4]:  # booked, authorized, arrived, discharged
        outputs += pipeline.feed(event)
    stray = replace(charge(feed, SURGERY_DAY + 40), department_id="RIV-CATH-LAB")
    out = pipeline.feed(stray)
    assert not [o for o in out if isinstance(o, PostJournal)]
    assert [o for o in out if isinstance(o, AwaitMasterData)] == [
        AwaitMasterData("CASE-C-1001", "Location", "RIV-CATH-LAB", stray.event_id)
    ]


def test_a_tombstoned_surgeon_is_unknown_to_later_bookings_only() -> None:
    master, feed = master_data(), Feed()
    first, out = transition(None, knee_case_scheduled(feed), master, T0)
    assert len(commands(out)) == 4
    assert master.delete("Provider", "DR-OKAFOR")
    later = knee_case_scheduled(feed, 1, case_id="C-1002")
    state, out = transition(None, later, master, T0 + timedelta(hours=1))
    assert out == [AwaitMasterData("CASE-C-1002", "Provider", "DR-OKAFOR", later.event_id)]
    assert len(first.open_items) == 4  # what was booked before the delete stays booked
    assert not master.delete("Provider", "DR-OKAFOR")  # already gone


def lakeshore_payment(feed: Feed) -> Event:
    """A payment as the 835 connector maps Lakeshore Mutual's: its N1*PR*XV payer id, from the
    interchange's sender (`x12:<ISA06>`)."""
    paid = payment(feed, SURGERY_DAY + 20 * DAY, "4200.00")
    envelope = replace(paid.envelope, source_system="x12:LAKESHOREMUTUAL")
    return replace(paid, envelope=envelope, payer_id="734100")


def billed_pipeline(feed: Feed, master: Any) -> Pipeline:
    pipeline = Pipeline(master, IDS)
    for event in knee_case_through_claim(feed):
        pipeline.feed(event)
    return pipeline


def test_a_crosswalk_maps_an_835_payer_id_to_the_master_payer() -> None:
    feed = Feed()
    pipeline = billed_pipeline(feed, master_data())
    out = pipeline.feed(lakeshore_payment(feed))
    [journal] = [o for o in out if isinstance(o, PostJournal)]
    assert journal.amount == 4200
    assert not [o for o in out if isinstance(o, AwaitMasterData)]


def test_an_835_payer_id_without_a_crosswalk_waits_until_one_arrives() -> None:
    feed = Feed()
    master = master_data(without=("PAYER|x12:LAKESHOREMUTUAL|734100",))
    pipeline = billed_pipeline(feed, master)
    paid = lakeshore_payment(feed)
    out = pipeline.feed(paid)
    assert not [o for o in out if isinstance(o, PostJournal)]
    assert [o for o in out if isinstance(o, AwaitMasterData)] == [
        AwaitMasterData("CASE-C-1001", "Payer", "734100", paid.event_id)
    ]
    entry = master_record("Crosswalk", MASTER_RECORDS["Crosswalk"][0])
    assert arrivals("Crosswalk", entry) == [("Payer", "734100")]
    out = pipeline.take_master("Crosswalk", entry)
    [journal] = [o for o in out if isinstance(o, PostJournal)]
    assert journal.amount == 4200 and pipeline.processes["CASE-C-1001"].parked == {}


def test_a_crosswalk_entry_for_another_source_does_not_apply() -> None:
    master = master_data()
    other = dict(MASTER_RECORDS["Crosswalk"][0], source_system="x12:OTHERCLEARINGHOUSE")
    master.put(master_record("Crosswalk", dict(other, crosswalk_id="PAYER|x12:OTHER|734100")))
    master.delete("Crosswalk", "PAYER|x12:LAKESHOREMUTUAL|734100")
    feed = Feed()
    pipeline = billed_pipeline(feed, master)
    out = pipeline.feed(lakeshore_payment(feed))
    assert [o.record for o in out if isinstance(o, AwaitMasterData)] == ["Payer"]
    anywhere = dict(other, crosswalk_id="PAYER|*|734100", source_system="*")
    out = pipeline.take_master("Crosswalk", master_record("Crosswalk", anywhere))
    assert [o.schema for o in out if isinstance(o, PostJournal)] == ["PostJournal"]
