"""Topic administration with confluent-kafka's AdminClient: create what the pipeline declares.

Faust does not create an agent's source topic, and a worker started before its topic exists never
consumes it, so topics are created here before any worker starts.
"""

from __future__ import annotations

import logging
import time

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


def access_problem(settings: Settings, timeout: float = 15.0) -> str | None:
    """Why Kafka turns these credentials away (SASL authentication, a TLS handshake), or None
    when it answers or gives no verdict within `timeout` (the caller's own waits handle a broker
    that is not up yet). librdkafka would otherwise retry a refusal forever, a line each time."""
    errors: list[KafkaError] = []
    probe = AdminClient({**settings.confluent_config(), "error_cb": errors.append, "log_level": 0})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe.list_topics(timeout=1.0)
            return None
        except KafkaException:
            probe.poll(0)  # serves error_cb
        codes = {error.code() for error in errors}
        where = f"Kafka at {settings.kafka_bootstrap} ({settings.kafka_security_protocol})"
        if KafkaError._AUTHENTICATION in codes:
            return (
                f"{where} refused user {settings.kafka_username!r} ({settings.sasl_mechanism}): "
                "wrong S2C_KAFKA_USERNAME or S2C_KAFKA_PASSWORD"
            )
        if KafkaError._SSL in codes:
            return (
                f"{where}: the TLS handshake failed; does S2C_KAFKA_CA_FILE "
                f"({settings.kafka_ca_file or 'unset: the system CAs'}) name the broker's CA?"
            )
    return None
