"""`s2c demo` ends with the report of its live run: the outputs it read back from the topics and
the workers' final states from their tables' changelogs are written as a replay-format folder,
which holds what `s2c replay` of the same day writes, and the report drawn from it counts them.

A small day (two hospitals, 3% of a day's volume) through one real worker on the local stack,
about half a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from s2c.streams.cli import main
from s2c.streams.report_figures import read_figures
from s2c.streams.settings import REPO_ROOT, Settings
from s2c.streams.verify.readback import remove_namespace

pytestmark = pytest.mark.integration
DAY = ["--sites", "2", "--scale", "0.03", "--seed", "7"]


def states(path: Path) -> dict[str, dict]:
    """Final states by key; `applied` (the ids an instance has taken, in arrival order) as a
    set, since two partitions' arrival order is the one thing live does not fix."""
    out = {}
    for line in path.read_text().splitlines():
        state = json.loads(line)
        state["applied"] = sorted(state.get("applied") or ())
        out[state.get("process_id") or state["account_ref"]] = state
    return out


def test_the_demo_writes_the_report_of_its_live_run(stack: Settings, tmp_path: Path) -> None:
    demo = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/s2c"), "demo", *DAY, "--quiet-seconds", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    report = Path(re.search(r"report of this run: (\S+)", demo.stdout).group(1))
    live = Path(re.search(r"in replay's format: (\S+)\)", demo.stdout).group(1))
    prefix = re.search(r"topics (demo\d+)\.\*", demo.stdout).group(1)
    try:
        day, replayed = tmp_path / "day", tmp_path / "replayed"
        assert main(["generate", "--out", str(day), *DAY]) == 0
        replay = ["replay", str(day / "events.jsonl"), "--master-data", str(day / "master")]
        assert main([*replay, "--out", str(replayed), "--quiet"]) == 0

        assert states(live / "processes.jsonl") == states(replayed / "processes.jsonl")
        assert states(live / "links.jsonl") == states(replayed / "links.jsonl")
        got, want = read_figures(live), read_figures(replayed)
        assert got.volumes and got.volumes == want.volumes and got.money == want.money
        assert got.commands == want.commands and got.breaches == want.breaches
        assert got.exceptions == want.exceptions

        page = report.read_text(encoding="utf-8")
        drawn = {
            (row, segment): int(value)
            for row, segment, value in re.findall(
                r'data-chart="volumes" data-row="([^"]+)" data-segment="([^"]+)" '
                r'data-value="(\d+)"',
                page,
            )
        }
        assert drawn == {
            (s, line): n for s, lines in got.volumes.items() for line, n in lines.items()
        }
        # no observations live: the durations are the final milestones', as replay's would be
        assert "derived from the instances&#x27; final milestones in processes.jsonl" in page
        (replayed / "metrics.jsonl").unlink()
        assert got.durations and got.durations == read_figures(replayed).durations

        # The reference ERP answered every command; a clean day reconciles to nothing, and the
        # report draws the (empty) reconciliation from the run's file, not "not given".
        sent = len((live / "commands.jsonl").read_text().splitlines())
        applied = re.search(
            r"ERP \(s2c erp-sink, ledger (\S+)\): (\d+) applied, (\d+) rejected", demo.stdout
        )
        assert applied and (int(applied.group(2)), int(applied.group(3))) == (sent, 0), demo.stdout
        assert re.search(r"reconciliation as of \S+: 0 mismatch\(es\): none", demo.stdout)
        reconciled = json.loads((report.parent / "reconciliation.json").read_text())
        assert reconciled["mismatches"] == [] and sent > 0
        assert "No reconciliation.json was given" not in page
    finally:
        stamp = prefix.removeprefix("demo")
        remove_namespace(replace(stack, topic_prefix=prefix, app_id=f"s2c-demo-{stamp}"))
