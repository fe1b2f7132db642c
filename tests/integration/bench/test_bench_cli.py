"""`s2c bench` on the real stack, tiny: every figure of issue 8 is measured and reported, and the
results go to the file named by `--out`, never to the repository's BENCHMARKS.md.

A benchmark is not a test: nothing here judges a figure, only that each one was measured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from s2c.streams.settings import REPO_ROOT

pytestmark = pytest.mark.integration

FIGURES = (
    "R, raw consume+decode",
    "one worker, sustained (b)",
    "b / R",
    "plain Faust peer",
    "gain: one worker / peer",
    "changelog records restored",
    "restore, recovery phase (log)",
    "restart to serving a new event",
    "latency event->command p50",
    "latency event->command p95",
    "latency event->command p99",
    "two workers, sustained",
    "two / one worker",
    "40-hospital day, 3M events (one worker, projected)",
    "peak memory, one worker",
    "peak memory, two workers, each",
    "peak memory, peer",
    "peak memory, restarted worker",
    "s2c replay (pure core)",
    "replay / R",
)


def test_tiny_bench_reports_every_figure_to_the_out_file(stack, tmp_path):
    real = REPO_ROOT / "BENCHMARKS.md"
    real_before = real.read_bytes() if real.exists() else None
    out = tmp_path / "BENCHMARKS.md"
    env = dict(os.environ, S2C_DATA_DIR=str(tmp_path / "data"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "s2c.streams.cli",
            "bench",
            "--events",
            "300",
            "--latency-seconds",
            "3",
            "--run-timeout",
            "120",
            "--out",
            str(out),
        ],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    report = out.read_text()
    assert report.startswith("# s2c benchmarks")  # a new file gets the explaining header
    rows = {
        line.split(" | ")[0].lstrip("| "): line
        for line in report.splitlines()
        if line.startswith("| ")
    }
    for figure in FIGURES:
        assert figure in rows, f"{figure} missing from the report"
        assert "n/a" not in rows[figure], rows[figure]
        assert figure in run.stdout  # the printed table has it too
    assert "commit `" in report and "CPUs (" in report
    assert (real.read_bytes() if real.exists() else None) == real_before
