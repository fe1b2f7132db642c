"""Who reads a topic: the consumer groups subscribed to it now or holding committed offsets on it.

`s2c ingest` asks before publishing, so a person who ingests into a prefix no worker reads (a
typo in S2C_TOPIC_PREFIX, workers started with another one) is told so instead of finding an
empty pipeline later. The check is advisory and bounded: a few admin requests with a short
timeout; if the cluster does not answer in time the answer is "unknown", never a failure.
"""

from __future__ import annotations

import logging
import time

from s2c.streams.settings import Settings

log = logging.getLogger(__name__)
# Committed offsets take one request per group; past this many, only the first are asked.
MAX_GROUPS = 200


def groups_reading(settings: Settings, topic: str, timeout: float = 5.0) -> set[str] | None:
    """Groups with a member assigned a partition of `topic`, or with a committed offset on it.
    None when the cluster could not be asked (the caller then says nothing)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    admin = AdminClient(settings.confluent_config())
    try:
        listed = admin.list_consumer_groups(request_timeout=timeout).result(timeout)
        group_ids = sorted(group.group_id for group in listed.valid)
        if not group_ids:
            return set()
        described = admin.describe_consumer_groups(group_ids, request_timeout=timeout)
        readers = set()
        for group_id, future in described.items():
            members = future.result(max(deadline - time.monotonic(), 0.1)).members
            if any(
                tp.topic == topic
                for member in members
                if member.assignment
                for tp in member.assignment.topic_partitions
            ):
                readers.add(group_id)
        if readers:
            return readers
        # Stopped groups have no members but resume from their committed offsets: they count.
        offsets = {
            group_id: next(
                iter(
                    admin.list_consumer_group_offsets(
                        [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout
                    ).values()
                )
            )
            for group_id in group_ids[:MAX_GROUPS]
        }
        for group_id, future in offsets.items():
            committed = future.result(max(deadline - time.monotonic(), 0.1)).topic_partitions
            if any(tp.topic == topic and tp.offset >= 0 for tp in committed or ()):
                readers.add(group_id)
        return readers
    except (KafkaException, TimeoutError) as exc:
        log.debug("could not ask which consumer groups read %s: %s", topic, exc)
        return None
