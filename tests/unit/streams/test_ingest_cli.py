"""`s2c ingest` as a person runs it: a path that does not exist is exit 2 with a message naming it
(for every file format, before any broker is contacted), and a dry run says it published nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from samples import message

from s2c.streams.cli import main, parse

ORTHO_BOOKING = message("hl7v2/SIU-S12-ortho-clinic.hl7")  # synthetic; the MRN is made up


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Nothing listens here: a test that reached Kafka would fail instead of passing quietly.
    monkeypatch.setenv("S2C_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.setenv("S2C_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("S2C_PATIENT_REF_KEY", "unit-test-key-not-a-secret")


@pytest.mark.parametrize("fmt", ["hl7", "x12", "fhir"])
def test_a_missing_path_is_exit_2_naming_it(
    fmt: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    present = tmp_path / "inbox"
    present.mkdir()
    missing = tmp_path / "remits-march"
    with caplog.at_level(logging.ERROR):
        assert main(["ingest", fmt, str(present), str(missing)]) == 2
    assert [r.getMessage() for r in caplog.records] == [f"no such file or directory: {missing}"]


def test_no_path_at_all_is_exit_2(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert main(["ingest", "x12"]) == 2
    assert "needs one or more files or directories" in caplog.text


def test_a_dry_run_says_what_it_mapped_and_that_it_published_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    booking = tmp_path / "booking.hl7"
    booking.write_bytes(ORTHO_BOOKING)
    with caplog.at_level(logging.INFO):
        assert main(["ingest", "hl7", str(booking), "--dry-run"]) == 0
    summary = caplog.records[-1].getMessage()
    assert summary.startswith("dry run, nothing published:")
    assert "1 event(s) mapped" in summary and "published," not in summary


def test_options_may_come_before_the_files() -> None:
    """`s2c ingest hl7 --no-progress --dry-run a b`: argparse left the files after the options
    over ('unrecognized arguments'); they are taken as files. An unknown option still fails."""
    args = parse(["ingest", "hl7", "--no-progress", "--dry-run", "mon.hl7", "tue.hl7"])
    assert args.paths == [Path("mon.hl7"), Path("tue.hl7")]
    assert args.no_progress and args.dry_run
    assert parse(["ingest", "hl7", "mon.hl7", "--dry-run"]).paths == [Path("mon.hl7")]
    with pytest.raises(SystemExit) as refused:
        parse(["ingest", "hl7", "--dry-run", "--no-such-option", "mon.hl7"])
    assert refused.value.code == 2
