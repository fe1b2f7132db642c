"""`s2c replay` takes the stream a worker takes: master records among the events, where they stand;
unreadable lines, of the events or of master data, set aside with their reasons while the run goes
on; and an output folder that never mixes two runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from core_world import (
    DAY,
    IDS,
    MASTER_RECORDS,
    SURGERY_DAY,
    Feed,
    knee_case_through_claim,
    payment,
    to_jsonl,
)

from s2c.streams.cli import main
from s2c.tables.codec import dumps

AETNA_RATES = ("R-AET-29881-2025", "R-AET-29881-2026")


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2C_ID_KEY", IDS.secret.decode())


def master_folder(path: Path, without: tuple[str, ...] = ()) -> Path:
    path.mkdir()
    for name, rows in MASTER_RECORDS.items():
        kept = [r for r in rows if next(iter(r.values())) not in without]
        (path / f"{name}.jsonl").write_text("".join(dumps(r) + "\n" for r in kept))
    return path


def master_lines(name: str, ids: tuple[str, ...] | None = None) -> list[str]:
    """Master records as stream lines, as they stand on the master topic."""
    rows = [r for r in MASTER_RECORDS[name] if ids is None or next(iter(r.values())) in ids]
    return [dumps({"schema": name, "record": r}) + "\n" for r in rows]


def knee_case_lines() -> list[str]:
    """Riverside's knee arthroscopy for Aetna, booked to paid, as event lines."""
    feed = Feed()
    events = knee_case_through_claim(feed) + [payment(feed, SURGERY_DAY + 20 * DAY, "3700.00")]
    return to_jsonl(events).splitlines(keepends=True)


def replay(tmp_path: Path, name: str, lines: list[str], master: Path | None) -> dict[str, Any]:
    events = tmp_path / f"{name}.jsonl"
    events.write_text("".join(lines))
    out = tmp_path / f"out-{name}"
    argv = ["replay", str(events), "--out", str(out), "--quiet"]
    assert main(argv + (["--master-data", str(master)] if master else [])) == 0
    return {
        part: [json.loads(line) for line in (out / f"{part}.jsonl").read_text().splitlines()]
        for part in ("commands", "exceptions", "dead_letters")
    }


def test_a_contract_rate_that_arrives_after_the_booking_releases_it_at_once(tmp_path) -> None:
    """Aetna's rates reach master data after the case is booked: the booking waits for the
    rate in force on the surgery day, then books exactly what it would have with the rates
    known (same commands, same ids), and nobody is told of missing master data. (A record
    takes effect when it arrives: had the 2025 rate come first, the booking would have taken
    it, as a worker would.)"""
    lines = knee_case_lines()
    known = replay(tmp_path, "known", lines, master_folder(tmp_path / "all"))
    late = master_folder(tmp_path / "no-rates", without=AETNA_RATES)
    arriving = replay(
        tmp_path,
        "arriving",
        [lines[0], *master_lines("ContractRate", AETNA_RATES[1:]), *lines[1:]],
        late,
    )
    assert arriving["commands"] == known["commands"]
    assert any(c["schema"] == "AccrueExpectedRevenue" for c in arriving["commands"])
    assert arriving["exceptions"] == known["exceptions"] == []
    # without the records in the stream the booking is still waiting at the end
    missing = replay(tmp_path, "missing", lines, late)
    assert not any(c["schema"] == "AccrueExpectedRevenue" for c in missing["commands"])


def test_a_contract_rate_that_arrives_after_the_deadline_resolves_the_work_item(tmp_path) -> None:
    """The rates come ten days late: the booking is reported as waiting for them at its
    deadline, and their arrival books it and resolves that work item."""
    lines = knee_case_lines()
    payment_line = lines[-1]  # twenty days after surgery: well past the booking's deadline
    rates = master_lines("ContractRate", AETNA_RATES)
    out = replay(
        tmp_path,
        "late",
        [*lines[:-1], payment_line, *rates],
        master_folder(tmp_path / "no-rates", without=AETNA_RATES),
    )
    kinds = [(e["record"]["kind"], e["record"]["resolves_exception_id"]) for e in out["exceptions"]]
    reported = [e["record"]["exception_id"] for e in out["exceptions"]][0]
    assert kinds[0] == ("UNKNOWN_MASTER_DATA", None)
    assert ("UNKNOWN_MASTER_DATA", reported) in kinds
    assert out["commands"][-1]["schema"] == "AccrueExpectedRevenue"  # booked on arrival


def test_all_master_data_may_come_in_the_stream(tmp_path) -> None:
    """No master-data folder: every record at the head of the stream, as a worker reading a
    fresh master topic takes them, gives what the folder gives."""
    lines = knee_case_lines()
    known = replay(tmp_path, "folder", lines, master_folder(tmp_path / "all"))
    head = [line for name in MASTER_RECORDS for line in master_lines(name)]
    assert replay(tmp_path, "stream", [*head, *lines], None) == known


def test_unreadable_master_records_are_set_aside_and_the_run_goes_on(tmp_path) -> None:
    """A payer line that is not JSON in the folder, a contract rate without its amount in the
    stream, and a payer sent as an event: each is a dead letter with its reason, file and line;
    everything else is replayed."""
    lines = knee_case_lines()
    folder = master_folder(tmp_path / "master")
    with (folder / "Payer.jsonl").open("a") as payers:
        payers.write("{'payer_id': 'CIGNA'\n")
    broken_rate = dict(MASTER_RECORDS["ContractRate"][0], rate_id="R-BROKEN")
    del broken_rate["expected_amount"]
    payer_as_event = {"schema": "Payer", "event": MASTER_RECORDS["Payer"][0]}
    mixed = [lines[0], dumps({"schema": "ContractRate", "record": broken_rate}) + "\n"]
    mixed += [dumps(payer_as_event) + "\n", *lines[1:]]
    out = replay(tmp_path, "mixed", mixed, folder)
    assert (
        out["commands"]
        == replay(tmp_path, "clean", lines, master_folder(tmp_path / "m"))["commands"]
    )
    letters = [
        (d.get("file"), d["line"], d["stage"], d["reason"], d["message"])
        for d in out["dead_letters"]
    ]
    assert letters == [
        (
            "Payer.jsonl",
            len(MASTER_RECORDS["Payer"]) + 1,
            "master",
            "unusable-master-record",
            letters[0][4],
        ),
        (
            None,
            2,
            "master",
            "unusable-master-record",
            "ContractRate: missing field 'expected_amount'",
        ),
        (None, 3, "ingest", "invalid-event", "unknown event schema 'Payer'"),
    ]


def test_an_output_folder_holding_anything_else_is_refused(tmp_path, capsys) -> None:
    """A folder with someone's notes in it is refused before anything is written."""
    events = tmp_path / "events.jsonl"
    events.write_text("".join(knee_case_lines()))
    master = master_folder(tmp_path / "master")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("month-end figures\n")
    argv = ["replay", str(events), "--master-data", str(master), "--out", str(out)]
    assert main(argv) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # the master folder itself is no place for outputs either
    assert main([*argv[:-1], str(master)]) == 2


def test_a_previous_replays_folder_is_overwritten_whole(tmp_path) -> None:
    """Replaying into the folder of an earlier run leaves exactly what a fresh folder gets:
    nothing of the earlier run survives, not even its dead letters."""
    lines = knee_case_lines()
    master = master_folder(tmp_path / "master")
    events = tmp_path / "events.jsonl"
    events.write_text("not json\n" + "".join(lines))
    argv = ["replay", str(events), "--master-data", str(master), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "reused")]) == 0
    events.write_text("".join(lines[:3]))
    assert main([*argv, "--out", str(tmp_path / "reused")]) == 0
    assert main([*argv, "--out", str(tmp_path / "fresh")]) == 0
    reused = {p.name: p.read_bytes() for p in (tmp_path / "reused").iterdir()}
    assert reused == {p.name: p.read_bytes() for p in (tmp_path / "fresh").iterdir()}
    assert reused["dead_letters.jsonl"] == b""


def test_verify_refuses_master_records_in_the_stream(tmp_path) -> None:
    """`s2c verify` publishes master data before the events: a record in the stream could not
    reach the workers at its place, so verify says so instead of judging."""
    from s2c.streams.verify.workload import given

    master = master_folder(tmp_path / "master")
    events = tmp_path / "events.jsonl"
    lines = knee_case_lines()
    events.write_text("".join(lines))
    assert given(events, master).events == events
    events.write_text("".join([lines[0], *master_lines("Payer"), *lines[1:]]))
    with pytest.raises(SystemExit, match="line 2 is a master record"):
        given(events, master)
