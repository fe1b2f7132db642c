"""Integration tier: the real local stack (Kafka, s2c registry, Prometheus) and real workers.

The `stack` fixture starts whatever of the stack is not running (deploy/local/stack start) and,
at the end of the session, stops only what it started, so a developer's running stack is reused.
Each test gets its own topic prefix and Faust app id, so tests never see each other's data.
Helpers that tests import (`from stackkit import ...`) live in stackkit.py beside this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stackkit import SERVICES, STACK, PipelineEnv, new_pipeline_env  # noqa: E402

from s2c.streams.settings import Settings  # noqa: E402


def _running(service: str) -> bool:
    return subprocess.run([str(STACK), "status", service], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    before = {service: _running(service) for service in SERVICES}
    subprocess.run([str(STACK), "start"], check=True)
    yield Settings.from_env()
    started = [service for service in SERVICES if not before[service]]
    if started and not os.environ.get("S2C_KEEP_STACK"):
        subprocess.run([str(STACK), "stop", *started], check=False)


@pytest.fixture
def pipeline_env(stack: Settings, tmp_path: Path) -> Iterator[PipelineEnv]:
    pipeline = new_pipeline_env(tmp_path)
    yield pipeline
    for worker in pipeline.workers:
        worker.stop()
