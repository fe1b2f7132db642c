"""The audit trail of `s2c dlq replay` on the real stack: the replay and its record (who, the
reason filter, how many) are committed together, and `s2c audit list` shows them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from stackkit import PipelineEnv, read_topic

from s2c.streams.deadletter import DeadLetter
from s2c.streams.topics import declare

pytestmark = pytest.mark.integration


@pytest.fixture
def audit_topic(pipeline_env: PipelineEnv) -> Iterator[str]:
    from confluent_kafka.admin import AdminClient

    topic = f"_s2c_audit_test_{uuid.uuid4().hex[:12]}"
    yield topic
    admin = AdminClient(pipeline_env.settings.confluent_config())
    if topic in admin.list_topics(timeout=30).topics:  # not when the test failed before the replay
        admin.delete_topics([topic])[topic].result(30)


def s2c(pipeline: PipelineEnv, audit_topic: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", *argv],
        env={
            **os.environ,
            "S2C_TOPIC_PREFIX": pipeline.settings.topic_prefix,
            "S2C_AUDIT_TOPIC": audit_topic,
            "S2C_ACTOR": "night-shift-lead",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_dlq_replay_is_on_the_audit_trail(pipeline_env: PipelineEnv, audit_topic: str) -> None:
    settings = pipeline_env.settings
    topics = declare(settings)
    letter = DeadLetter(
        reason="undecodable",
        stage="ingest",
        source_topic=topics.events.name,
        source_partition=2,
        source_offset=17,
        exception_class="DecodeError",
        exception_message="schema id 4711 unknown to the registry",
        key=b"APT-4001",
        value=b"\x00\x00\x00\x12\x67scheduled at Riverside",
    )
    producer = Producer(settings.confluent_config())
    producer.produce(topics.dlq.name, key=letter.key, value=letter.value, headers=letter.headers())
    assert producer.flush(30) == 0

    replayed = s2c(pipeline_env, audit_topic, "dlq", "replay", "--reason", "undecodable")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 dead letter(s)" in replayed.stdout
    assert "audited as night-shift-lead" in replayed.stdout
    [back] = read_topic(settings, topics.events.name, 1)
    assert back.value() == letter.value

    listed = s2c(pipeline_env, audit_topic, "audit", "list", "--action", "dlq")
    assert listed.returncode == 0, listed.stderr
    [line] = [x for x in listed.stdout.splitlines() if "dlq.replay" in x]
    assert f"  night-shift-lead  dlq.replay  {topics.dlq.name}  " in line
    assert '"count": 1' in line and '"reason": "undecodable"' in line
    assert "1 audit record(s)" in listed.stdout
