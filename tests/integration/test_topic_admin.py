"""Topic creation on the real broker: idempotent when several processes create the same topics."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka.admin import AdminClient

from s2c.streams.admin import create_topics, partition_counts
from s2c.streams.topics import TopicSpec

pytestmark = pytest.mark.integration


def test_racing_creators_both_succeed_and_the_topic_is_made_once(stack) -> None:
    names = [f"t{uuid.uuid4().hex[:8]}.race.{i}" for i in range(6)]
    specs = [TopicSpec(name, key="string", values="bytes") for name in names]
    # Ten creators at once: each reads metadata first, sees no topic, and asks for all six; the
    # broker makes each topic once and answers the others TOPIC_ALREADY_EXISTS.
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: create_topics(stack, specs), range(10)))
    try:
        created = sorted(name for result in results for name in result)
        assert created == sorted(names)  # each topic reported created by exactly one creator
        assert partition_counts(stack, names) == {name: stack.partitions for name in names}
        assert create_topics(stack, specs) == []  # and a later call finds them all
    finally:
        AdminClient(stack.confluent_config()).delete_topics(names)
