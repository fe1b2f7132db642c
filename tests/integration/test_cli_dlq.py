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


def test_replay_skips_letters_that_carry_a_reference_instead_of_the_record(
    pipeline_env: PipelineEnv,
) -> None:
    """A record too large for the DLQ left only its size and sha256 there: replay cannot send it
    back, says so, and sends back the others."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    from s2c.streams.deadletter import DeadLetter

    settings = pipeline_env.settings
    topics = declare(settings)
    small = b"MSH|^~\\&|EPIC|RIVERSIDE|||202603020800||SIU^S12|8812|P|2.5.1\r"
    letters = [
        DeadLetter(
            "undecodable", "ingest", topics.events.name, 1, 17, "DecodeError", "m", b"8812", v
        )
        for v in (small, b"MSH|" + b"X" * 3_000_000)
    ]
    letters = [letter.fitted(settings.dlq_max_bytes) for letter in letters]
    assert [letter.omitted for letter in letters] == [False, True]
    producer = Producer(settings.confluent_config())
    for letter in letters:
        producer.produce(topics.dlq.name, letter.value, letter.key, headers=letter.headers())
    assert producer.flush(30) == 0

    run = dlq(settings.topic_prefix, "replay")
    assert run.returncode == 0, run.stderr
    assert "1 letter(s) carry a reference" in run.stderr

    consumer = Consumer(
        {**settings.confluent_config(), "group.id": f"check-{uuid.uuid4().hex[:6]}"}
    )
    consumer.assign([TopicPartition(topics.events.name, p, 0) for p in range(settings.partitions)])
    back = []
    for _ in range(20):
        message = consumer.poll(1.0)
        if message is not None and not message.error():
            back.append(message.value())
    consumer.close()
    assert back == [small]
