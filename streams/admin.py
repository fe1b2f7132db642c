"""Topic administration with confluent-kafka's AdminClient: create what the pipeline declares.

Faust does not create an agent's source topic, and a worker started before its topic exists never
consumes it, so topics are created here before any worker starts.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from s2c.streams.settings import Settings
from s2c.streams.topics import TopicSpec

log = logging.getLogger(__name__)


def create_topics(settings: Settings, specs: list[TopicSpec], timeout: float = 30.0) -> list[str]:
    """Creates the missing topics; returns the names it created. Existing ones are left alone,
    also when the metadata read first was stale (a broker that just started, or another process
    creating the same topic at the same time): the broker's TOPIC_ALREADY_EXISTS is not an error."""
    admin = AdminClient(settings.confluent_config())
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(
            spec.name,
            num_partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            config={"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in specs
        if spec.name not in existing
    ]
    if not wanted:
        return []
    futures = admin.create_topics(wanted, operation_timeout=timeout)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)  # raises KafkaException with the broker's reason
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            continue
        created.append(name)
        log.info("created topic %s (%d partitions)", name, settings.partitions)
    return created


def partition_counts(settings: Settings, names: list[str], timeout: float = 30.0) -> dict[str, int]:
    admin = AdminClient(settings.confluent_config())
    metadata = admin.list_topics(timeout=timeout).topics
    return {name: len(metadata[name].partitions) for name in names if name in metadata}
