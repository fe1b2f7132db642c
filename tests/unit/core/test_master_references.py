"""Master data with teeth (issue 17 item 5): every reference an event carries is checked.

A case naming a surgeon Riverside's master data has never heard of used to book its supplies,
labour and room at once. Now it waits, like a booking without its preference card: nothing is
posted, a work item names the missing Provider at the deadline, and when the surgeon's record
arrives the case books exactly what it would have booked had the record been there in time.
A deleted (tombstoned) record is unknown from then on; a crosswalk entry turns a source's payer
code (an 835's N1*PR) into the master payer id.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
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
from samples import MESSAGES

from s2c.streams.cli import main
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
    assert arrivals("Provider", surgeon)[0] == ("Provider", "DR-ABARA")
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


SHIPPED = MESSAGES / "replay" / "master-with-teeth.jsonl"


def replayed(events: Path, out: Path) -> dict[str, list[dict[str, Any]]]:
    assert main(["replay", str(events), "--out", str(out), "--quiet"]) == 0
    return {
        name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        for name in ("commands", "exceptions", "dead_letters")
    }


def by_process(commands: list[dict[str, Any]], process_id: str) -> list[dict[str, Any]]:
    return [c for c in commands if c["record"]["header"]["process_id"] == process_id]


def test_replay_of_the_shipped_stream_parks_releases_retires_and_maps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped stream, master records in it: Dr. Abara's case waits for her record (which
    comes three lines later), Dr. Okafor is deleted before a second case of his, which never
    books and becomes a work item a week on, and Lakeshore's 835 payer id 734100 pays the
    first case through the crosswalk."""
    monkeypatch.setenv("S2C_ID_KEY", IDS.secret.decode())
    out = replayed(SHIPPED, tmp_path / "out")
    assert out["dead_letters"] == []
    abara = by_process(out["commands"], "CASE-C-2001")
    assert [c["schema"] for c in abara] == [
        "ReserveSupplies",
        "PlanLabor",
        "ReserveRoom",
        "AccrueExpectedRevenue",
    ]
    assert by_process(out["commands"], "CASE-C-3001") == []  # Okafor was retired before it
    [item] = [e["record"] for e in out["exceptions"]]
    assert (item["process_id"], item["kind"]) == ("CASE-C-3001", "UNKNOWN_MASTER_DATA")
    assert "Provider DR-OKAFOR" in item["reason"]
    paid = [
        c["record"]
        for c in by_process(out["commands"], "CASE-C-1001")
        if c["schema"] == "PostJournal" and c["record"]["journal_kind"] == "PAYMENT"
    ]
    assert [p["amount"] for p in paid] == ["4200.00"]
    # Dr. Abara's record standing before her case: the very same commands, ids and all
    lines = SHIPPED.read_text().splitlines(keepends=True)
    record = next(i for i, line in enumerate(lines) if '"DR-ABARA","npi"' in line)
    booking = next(i for i, line in enumerate(lines) if '"surgeon_id":"DR-ABARA"' in line)
    in_time = lines[:booking] + [lines[record]] + lines[booking:record] + lines[record + 1 :]
    (tmp_path / "in_time.jsonl").write_text("".join(in_time))
    known = replayed(tmp_path / "in_time.jsonl", tmp_path / "known")
    assert by_process(known["commands"], "CASE-C-2001") == abara


def test_a_delete_without_an_id_is_a_dead_letter(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("S2C_ID_KEY", IDS.secret.decode())
    lines = SHIPPED.read_text().splitlines(keepends=True)
    stream = tmp_path / "stream.jsonl"
    stream.write_text("".join([*lines[:3], '{"schema": "Provider", "delete": null}\n', *lines[3:]]))
    out = replayed(stream, tmp_path / "out")
    [letter] = out["dead_letters"]
    assert (letter["line"], letter["stage"], letter["reason"]) == (
        4,
        "master",
        "unusable-master-record",
    )


def test_verify_refuses_a_master_delete_in_the_stream(tmp_path: Path) -> None:
    """Live, a tombstone on the master topic has no order against the events, as a record."""
    from s2c.streams.verify.workload import given

    lines = SHIPPED.read_text().splitlines(keepends=True)
    events = [line for line in lines if '"event"' in line]
    stream = tmp_path / "events.jsonl"
    stream.write_text("".join([events[0], '{"schema": "Provider", "delete": "DR-OKAFOR"}\n']))
    master = tmp_path / "master"
    master.mkdir()
    with pytest.raises(SystemExit, match="line 2 is a master record"):
        given(stream, master)


def test_the_workers_replica_retires_the_record_a_tombstone_names() -> None:
    """The replica of `s2c.master` (no Kafka needed to apply what it read)."""
    from s2c.streams.masterdata import MasterReplica

    replica = MasterReplica(None, "s2c.master", None, lambda record, key: None)  # type: ignore[arg-type]
    replica.store.put(master_record("Provider", NEW_SURGEON))
    assert replica.retire(b"Provider:DR-ABARA")
    assert replica.store.provider("DR-ABARA") is None
    assert not replica.retire(b"Provider:DR-ABARA")  # already gone
    assert not replica.retire(b"Surgeon:DR-ABARA") and not replica.retire(None)


def test_a_claim_from_an_unknown_billing_npi_waits_for_that_provider() -> None:
    """The billing provider (837 NM1*85, a FHIR Claim's provider identifier) is a reference too:
    a claim from an NPI master data does not know books nothing until a provider with that NPI
    arrives, then books what a known one would have."""
    master, feed = master_data(), Feed()
    pipeline, outputs = Pipeline(master, IDS), []
    events = knee_case_through_claim(feed)
    for event in events[:-1]:
        outputs += pipeline.feed(event)
    billed = replace(events[-1], billing_npi="1679576722")  # Dr. Abara's, not on file yet
    out = pipeline.feed(billed)
    assert not [o for o in out if isinstance(o, PostJournal)]
    assert [o for o in out if isinstance(o, AwaitMasterData)] == [
        AwaitMasterData("CASE-C-1001", "Provider.npi", "1679576722", billed.event_id)
    ]
    assert ("billing_npi", "Provider.npi") in REFERENCES["ClaimSubmitted"]
    released = pipeline.take_master("Provider", master_record("Provider", NEW_SURGEON))
    assert pipeline.processes["CASE-C-1001"].parked == {}
    known, known_feed = Pipeline(master_data(), IDS), Feed()
    *before, claim = knee_case_through_claim(known_feed)
    for event in before:
        known.feed(event)
    in_time = known.feed(replace(claim, billing_npi="1234567893"))  # Dr. Okafor's, on file
    assert released and released == in_time  # the claim's lag observation, as if in time


def test_a_retired_providers_npi_no_longer_bills() -> None:
    master = master_data()
    okafor = master.provider("DR-OKAFOR")
    assert okafor is not None and master.provider_by_npi(okafor.npi) is okafor
    assert master.delete("Provider", "DR-OKAFOR")
    assert master.provider_by_npi(okafor.npi) is None
