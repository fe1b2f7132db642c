"""`s2c replay` as a person sees it: a progress bar on a terminal (none when piped or with
--quiet), and at the end the demo's summary, whose totals are those of the files it wrote."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from s2c.streams.cli import main


@pytest.fixture(scope="module")
def small_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic three-hospital day of about 60 episodes, for s2c replay."""
    day = tmp_path_factory.mktemp("day")
    assert main(["generate", "--out", str(day), "--episodes", "60", "--seed", "7"]) == 0
    return day


def replay_args(day: Path, out: Path, *extra: str) -> list[str]:
    return [
        "replay",
        str(day / "events.jsonl"),
        "--master-data",
        str(day / "master"),
        "--out",
        str(out),
        *extra,
    ]


def records(path: Path) -> list[dict]:
    return [json.loads(line)["record"] for line in path.read_text().splitlines()]


def test_the_summary_reports_what_the_output_files_hold(
    small_day: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(replay_args(small_day, out)) == 0
    summary = capsys.readouterr().out
    commands = records(out / "commands.jsonl")
    events = (small_day / "events.jsonl").read_text().count("\n")
    debit = sum(
        Decimal(line["debit"]) for c in commands for line in c.get("lines") or () if "debit" in line
    )
    journals = Counter()
    for c in commands:
        if c["header"]["command_type"] == "PostJournal":
            journals[c["journal_kind"]] += Decimal(c["amount"])

    assert f"events in:    {events:>8}" in summary
    assert f"commands out: {len(commands):>8}" in summary
    assert f"ledger check: debits {debit:,.2f} = credits {debit:,.2f}  balanced" in summary
    for kind, amount in journals.items():
        assert f"  {kind:24} {amount:>14,.2f}" in summary
    for sla, n in Counter(b["sla"] for b in records(out / "sla_breaches.jsonl")).items():
        assert f"  {sla:34} {n:>7}" in summary
    assert str(out) in summary


def _replay_on_a_terminal(args: list[str]) -> str:
    """Runs `s2c` with stderr on a pseudo-terminal; returns what the terminal showed."""
    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    done = subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", *args],
        stderr=stderr,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    os.close(stderr)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the other end is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    assert done.returncode == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace")


def test_a_terminal_shows_progress_up_to_every_event(small_day: Path, tmp_path: Path) -> None:
    events = (small_day / "events.jsonl").read_text().count("\n")
    shown = _replay_on_a_terminal(replay_args(small_day, tmp_path / "out"))
    assert "replay: 100%" in shown and f"{events}/{events}" in shown


def test_quiet_or_piped_shows_no_progress(small_day: Path, tmp_path: Path) -> None:
    assert "replay:" not in _replay_on_a_terminal(replay_args(small_day, tmp_path / "q", "--quiet"))
    piped = subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", *replay_args(small_day, tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == ""
    assert "ledger check:" in piped.stdout
