"""`s2c verify --poison` end to end on the real stack: a small synthetic day with bad records of
all 13 kinds mixed in (5 MB record included), through two workers, one of them killed with
kill -9 on the way. Every bad record must reach the dead-letter topic with its reason (a resent
event id: be dropped), and the good events' outputs must equal replay of the good events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from s2c.streams.synth.poison import EXPECTED, KINDS

pytestmark = pytest.mark.integration


def test_a_poisoned_day_under_a_kill_9_dead_letters_every_bad_record_with_its_reason(
    stack, tmp_path: Path
) -> None:
    figures_path = tmp_path / "verify.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "s2c.streams.cli",
            "verify",
            "--sites",
            "1",
            "--scale",
            "0.1",
            "--workers",
            "2",
            "--poison",
            "0.05",  # ~21 bad records of 431 events: every kind comes in the first 13
            "--kills",
            "1",
            "--fault-window",
            "6",
            "--fault-seed",
            "3",
            "--timeout",
            "150",  # its own wait for the drain: a run that does not drain stops its workers
            "--json",
            str(figures_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,  # beyond the drain wait: killed here, the run would leave its workers running
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "verdict: EQUAL" in done.stdout and "poison by kind" in done.stdout
    figures = json.loads(figures_path.read_text())
    assert figures["run"]["kills"] == 1
    poison = figures["poison"]
    assert poison["failures"] == 0 and poison["good_dead_lettered"] == {}
    for kind in KINDS:
        row = poison["by_kind"][kind]
        assert row["published"] >= 1, kind
        assert row["as_expected"] == row["published"], (kind, row)
        assert row["missing"] == 0 and row["other_reason"] == {}, (kind, row)
        assert row["expected"] == EXPECTED[kind]
    assert figures["commands"]["lost"] == figures["commands"]["extra"] == 0
    assert all(row["live"] == row["replay"] for row in figures["ledger"].values())
