"""`s2c verify` end to end on the real stack: a small synthetic day through two workers, two of
them killed with kill -9 on the way and restarted, judged against `s2c replay` of the same day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_small_day_under_kill_9s_equals_its_replay(stack, tmp_path: Path) -> None:
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
            "--kills",
            "2",
            "--fault-window",
            "8",
            "--fault-seed",
            "11",
            "--timeout",
            "150",  # its own wait for the drain: a run that does not drain stops its workers
            "--json",
            str(figures_path),
        ],
        capture_output=True,
        text=True,
        timeout=360,  # beyond the drain wait: killed here, the run would leave its workers running
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "verdict: EQUAL" in done.stdout
    figures = json.loads(figures_path.read_text())
    assert figures["equal"] is True and figures["failures"] == 0
    assert figures["run"]["kills"] == 2
    commands = figures["commands"]
    assert commands["compared"] > 100 and commands["live"] == commands["compared"]
    assert commands["lost"] == commands["extra"] == commands["double_postings"] == 0
    assert all(row["live"] == row["replay"] for row in figures["ledger"].values())
    assert "removed" in done.stdout  # the run's topics are gone
