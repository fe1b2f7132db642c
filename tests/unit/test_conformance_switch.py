"""The public-sample conformance run is collected only when its corpus exists, says so in one
line either way, and cannot be skipped quietly under CI (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collect(samples: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["S2C_SAMPLES_DIR"] = str(samples)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_without_the_corpus_the_run_is_left_out_and_said_so(tmp_path: Path) -> None:
    missing = tmp_path / "shared" / "fixtures"
    run = _collect(missing, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests/conformance/" not in run.stdout
    assert "tests/unit/connectors/test_x12.py" in run.stdout  # the shipped messages still run
    line = f"public-sample conformance run: not run, no corpus at {missing}"
    assert line in run.stdout, run.stdout[-2000:]


def test_with_the_corpus_its_tests_are_collected(tmp_path: Path) -> None:
    corpus = tmp_path / "fixtures"
    (corpus / "x12").mkdir(parents=True)
    run = _collect(corpus, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests/conformance/test_public_x12.py" in run.stdout
    assert f"public-sample conformance run: corpus at {corpus}" in run.stdout


def test_under_ci_a_missing_corpus_stops_the_run(tmp_path: Path) -> None:
    run = _collect(tmp_path / "nowhere", ci=True)
    assert run.returncode == 4, run.stdout + run.stderr  # pytest's usage error
    assert "CI runs the public-sample conformance run" in run.stderr
