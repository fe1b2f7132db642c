"""`s2c replay`: the core over JSON Lines files, no Kafka; same input, same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from core_world import (
    DAY,
    IDS,
    MASTER_RECORDS,
    SURGERY_DAY,
    Feed,
    adjustment,
    charge,
    encounter_completed,
    encounter_started,
    knee_case_scheduled,
    knee_case_through_claim,
    payment,
    to_jsonl,
)

from s2c.streams.cli import main
from s2c.tables.codec import dumps

OUTPUTS = ("commands", "exceptions", "sla_breaches", "metrics", "processes", "links")


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' key of the account pseudonyms, as a deployment sets it."""
    monkeypatch.setenv("S2C_ID_KEY", IDS.secret.decode())


@pytest.fixture
def master_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "master"
    folder.mkdir()
    for name, rows in MASTER_RECORDS.items():
        (folder / f"{name}.jsonl").write_text("".join(dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    feed = Feed()
    later = SURGERY_DAY + 20 * DAY
    events = knee_case_through_claim(feed) + [
        payment(feed, later, "4200.00"),
        adjustment(feed, later, "2600.00"),
        encounter_started(
            feed,
            hours=later,
            account="ACCT-ED-7",
            case_id=None,
            department="RIV-ED",
            encounter_id="ENC-ED-7",
        ),
        encounter_completed(feed, hours=later + 6, account="ACCT-ED-7", encounter_id="ENC-ED-7"),
        payment(
            feed,
            later + 7,
            "75.00",
            remittance_id="ERA-GHOST",
            claim_id=None,
            account="ACCT-UNKNOWN",
        ),
        feed(
            "ClaimAcknowledged",
            later + 12 * DAY,
            claim_id="CLM-1",
            account_number="ACCT-7001",
            status_category="A1",
            payer_claim_control_number="PCN-1",
        ),  # moves stream time on
    ]
    path = tmp_path / "events.jsonl"
    path.write_text(to_jsonl(events))
    return path


def _replay(events: Path, master: Path, out: Path) -> dict[str, bytes]:
    assert main(["replay", str(events), "--master-data", str(master), "--out", str(out)]) == 0
    return {name: (out / f"{name}.jsonl").read_bytes() for name in OUTPUTS}


def test_same_input_gives_byte_identical_output(events_file, master_dir, tmp_path) -> None:
    first = _replay(events_file, master_dir, tmp_path / "run1")
    second = _replay(events_file, master_dir, tmp_path / "run2")
    assert first == second
    assert first["commands"].count(b"\n") == 4 + 1 + 2  # booking, charge, payment + adjustment


def test_replay_writes_commands_exceptions_and_final_states(
    events_file, master_dir, tmp_path
) -> None:
    out = _replay(events_file, master_dir, tmp_path / "out")
    commands = [json.loads(line) for line in out["commands"].splitlines()]
    assert commands[0]["schema"] == "ReserveSupplies"
    assert commands[0]["record"]["header"]["process_id"] == "CASE-C-1001"
    journal = commands[-1]["record"]
    assert (journal["journal_kind"], journal["amount"]) == ("CONTRACTUAL_ADJUSTMENT", "2600.00")
    exceptions = [json.loads(line)["record"] for line in out["exceptions"].splitlines()]
    assert [(e["kind"], e["amount"]) for e in exceptions] == [("UNLINKED_EVENT", "75.00")]
    breaches = [json.loads(line)["record"]["sla"] for line in out["sla_breaches"].splitlines()]
    assert breaches == ["CHARGE_LAG_3D", "CLAIM_NOT_SUBMITTED_7D"]  # the walk-in, never charged
    states = [json.loads(line) for line in out["processes"].splitlines()]
    assert [(s["process_id"], s["stage"]) for s in states] == [
        ("CASE-C-1001", "CLOSED"),
        (IDS.encounter_process_id("ACCT-ED-7"), "DISCHARGED"),
    ]


def test_bad_lines_are_dead_letters_and_the_replay_goes_on(
    events_file, master_dir, tmp_path
) -> None:
    """Garbage, a record that is not an event, an event dated 2999, an empty case id and a
    negative charge, mixed into the file: each is a dead letter with its reason and line, and
    every output is what the good events alone give."""
    good = events_file.read_text().splitlines(keepends=True)
    feed = Feed("poison")
    far_future = knee_case_scheduled(feed, case_id="C-2999")
    far_future = json.loads(to_jsonl([far_future]))
    far_future["event"]["envelope"]["occurred_at"] = "2999-01-01T00:00:00.000Z"
    no_key = json.loads(to_jsonl([knee_case_scheduled(feed, case_id="")]))
    credit = json.loads(to_jsonl([charge(feed, 30, charge_id="CHG-NEG", amount="-6800.00")]))
    bad = [
        '{"schema": "CaseScheduled", "event": {"case_id": "C-1"}}\n',  # no envelope
        "\x00\x00\x00\x00\x07junk\n",
        json.dumps(far_future) + "\n",
        json.dumps(no_key) + "\n",
        json.dumps(credit) + "\n",
    ]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(good[:2] + bad[:3] + good[2:5] + bad[3:] + good[5:]))

    clean = _replay(events_file, master_dir, tmp_path / "clean")
    poisoned = _replay(mixed, master_dir, tmp_path / "mixed")
    assert poisoned == clean
    letters = [
        json.loads(line)
        for line in (tmp_path / "mixed" / "dead_letters.jsonl").read_text().splitlines()
    ]
    assert [(d["line"], d["reason"]) for d in letters] == [
        (3, "invalid-event"),
        (4, "undecodable"),
        (5, "implausible-time"),
        (9, "bad-business-key"),
        (10, "bad-amount"),
    ]
    assert [d["original"] + "\n" for d in letters] == bad
    assert letters[2]["message"] == "business time is more than 366 days ahead of stream time"
    assert letters[3]["message"] == "CaseScheduled.case_id is empty"
    assert letters[4]["message"] == "ChargePosted.amount is negative"
    assert (tmp_path / "clean" / "dead_letters.jsonl").read_text() == ""


def test_the_clock_flag_judges_business_time_against_a_given_wall_clock(
    events_file, master_dir, tmp_path
) -> None:
    argv = ["replay", str(events_file), "--master-data", str(master_dir)]
    assert main([*argv, "--out", str(tmp_path / "then"), "--clock", "2026-04-01T00:00:00Z"]) == 0
    assert (tmp_path / "then" / "dead_letters.jsonl").read_text() == ""
    # Judged by a clock two months before the file's first event, every event is ahead of it.
    assert main([*argv, "--out", str(tmp_path / "early"), "--clock", "2026-01-01T00:00:00Z"]) == 0
    letters = (tmp_path / "early" / "dead_letters.jsonl").read_text().splitlines()
    assert letters and all(json.loads(d)["reason"] == "implausible-time" for d in letters)
    assert json.loads(letters[0])["message"].endswith("ahead of the clock")


def test_the_console_script_runs_it(events_file, master_dir, tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "s2c.streams.cli",
            "replay",
            str(events_file),
            "--master-data",
            str(master_dir),
            "--out",
            str(tmp_path / "cli"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli" / "processes.jsonl").read_text().count("\n") == 2


def test_the_allowed_lateness_is_the_workers_setting_unless_given(
    events_file, master_dir, tmp_path, monkeypatch
) -> None:
    def breaches(out: Path, *flags: str) -> int:
        argv = ["replay", str(events_file), "--master-data", str(master_dir), "--out", str(out)]
        assert main([*argv, *flags]) == 0
        return (out / "sla_breaches.jsonl").read_bytes().count(b"\n")

    on_time = breaches(tmp_path / "none")
    assert on_time > 0
    # Twenty days of grace: no deadline in this short file is passed by stream time less it.
    assert breaches(tmp_path / "flag", "--deadline-grace-hours", "480") == 0
    monkeypatch.setenv("S2C_DEADLINE_GRACE_HOURS", "480")
    assert breaches(tmp_path / "env") == 0
    assert breaches(tmp_path / "zero", "--deadline-grace-hours", "0") == on_time
    argv = ["replay", str(events_file), "--master-data", str(master_dir), "--out", str(tmp_path)]
    assert main([*argv, "--deadline-grace-hours", "-1"]) == 2
