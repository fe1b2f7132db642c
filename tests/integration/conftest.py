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
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stackkit import SERVICES, STACK, PipelineEnv  # noqa: E402

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
    from s2c.streams.admin import create_topics
    from s2c.streams.topics import declare

    suffix = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update({"S2C_TOPIC_PREFIX": f"t{suffix}", "S2C_APP_ID": f"s2c-test-{suffix}"})
    settings = replace(Settings.from_env(), topic_prefix=f"t{suffix}", app_id=f"s2c-test-{suffix}")
    create_topics(settings, declare(settings).all())
    pipeline = PipelineEnv(settings=settings, env=env, tmp=tmp_path)
    yield pipeline
    for worker in pipeline.workers:
        worker.stop()
