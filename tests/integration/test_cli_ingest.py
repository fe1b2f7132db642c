"""`s2c ingest` on the real stack warns when nothing reads the events topic, and still publishes;
once a worker group has committed offsets on the topic the warning goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from samples import message
from stackkit import PipelineEnv, read_topic

from s2c.streams.topics import declare

pytestmark = pytest.mark.integration

ORTHO_BOOKING = message("hl7v2/SIU-S12-ortho-clinic.hl7")  # synthetic; the MRN is made up


def ingest(env: dict[str, str], path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "ingest", "hl7", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def unread_warnings(run: subprocess.CompletedProcess) -> list[str]:
    return [
        line
        for line in run.stderr.splitlines()
        if " WARNING " in line and "no consumer group" in line
    ]


def test_ingest_warns_when_no_group_reads_the_events_topic(
    pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    settings = pipeline_env.settings
    env = {
        **os.environ,
        "S2C_TOPIC_PREFIX": settings.topic_prefix,
        "S2C_APP_ID": settings.app_id,
        "S2C_DATA_DIR": str(tmp_path / "data"),
        "S2C_PATIENT_REF_KEY": "integration-test-key-not-a-secret",
    }
    booking = tmp_path / "booking.hl7"
    booking.write_bytes(ORTHO_BOOKING)
    events = declare(settings).events.name

    first = ingest(env, booking)
    assert first.returncode == 0, first.stderr
    (warning,) = unread_warnings(first)
    assert events in warning and f"S2C_TOPIC_PREFIX={settings.topic_prefix}" in warning
    assert len(read_topic(settings, events, 1)) == 1  # the warning did not stop the ingest

    # A stopped worker group that has committed offsets resumes from them: it reads the topic.
    group = Consumer(
        {**settings.confluent_config(), "group.id": settings.app_id, "enable.auto.commit": False}
    )
    group.commit(offsets=[TopicPartition(events, 0, 0)], asynchronous=False)
    group.close()
    second = ingest(env, booking)
    assert second.returncode == 0, second.stderr
    assert unread_warnings(second) == []
