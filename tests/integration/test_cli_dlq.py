"""`s2c dlq` on the real stack: a prefix without a dead-letter topic is an error naming the topic
and the prefix, not "0 dead letters"; a prefix whose topic exists and is empty still says 0."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from stackkit import PipelineEnv

from s2c.streams.settings import Settings
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration


def dlq(prefix: str, action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "dlq", action],
        env={**os.environ, "S2C_TOPIC_PREFIX": prefix},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("action", ["list", "replay"])
def test_a_prefix_without_a_dlq_topic_is_an_error_naming_it(stack: Settings, action: str) -> None:
    prefix = f"typo{uuid.uuid4().hex[:8]}"
    run = dlq(prefix, action)
    assert run.returncode == 2
    assert (
        f"dead-letter topic {prefix}.dlq does not exist (S2C_TOPIC_PREFIX={prefix})" in run.stderr
    )
    assert "dead letter(s)" not in run.stdout


def test_an_existing_empty_dlq_topic_lists_zero(pipeline_env: PipelineEnv) -> None:
    settings = pipeline_env.settings
    run = dlq(settings.topic_prefix, "list")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0 dead letter(s)"
    assert declare(settings).dlq.name not in run.stderr
