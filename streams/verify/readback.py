"""After a verify run: every output record read back from its topic, and the run's namespace
(topics, changelogs, consumer groups) removed."""

from __future__ import annotations

import logging
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.topics import declare
from s2c.streams.verify.live import NotJudged, ends_of, partitions_of
from s2c.streams.verify.poisoncheck import Letter

log = logging.getLogger(__name__)


def read_outputs(
    settings: Settings, codec: Any
) -> tuple[dict[str, list[dict[str, Any]]], list[Letter]]:
    """Every record of the output topics, decoded (commands, exceptions, breaches), and the
    dead letters' reasons and source coordinates; read up to the ends the topics have now."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from s2c.streams.deadletter import DeadLetter

    topics = declare(settings)
    family = {
        topics.commands.name: "commands",
        topics.exceptions.name: "exceptions",
        topics.sla_breaches.name: "breaches",
        topics.dlq.name: "dlq",
    }
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"{settings.app_id}-verify-reader",
            "enable.auto.commit": False,
        }
    )
    wanted = partitions_of(AdminClient(settings.confluent_config()), list(family))
    ends = {key: high for key, (_low, high) in ends_of(consumer, wanted).items()}
    consumer.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in wanted])
    remaining = {key for key, high in ends.items() if high > 0}
    out: dict[str, list[dict[str, Any]]] = {"commands": [], "exceptions": [], "breaches": []}
    letters: list[Letter] = []
    try:
        while remaining:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error():
                    raise NotJudged(f"s2c verify: reading {msg.topic()} failed: {msg.error()}")
                key = (msg.topic(), msg.partition())
                if msg.offset() >= ends[key]:
                    continue
                kind = family[msg.topic()]
                if kind == "dlq":
                    letter = DeadLetter.from_message(msg.key(), b"", msg.headers())
                    letters.append(
                        Letter(
                            letter.reason,
                            letter.source_topic,
                            letter.source_partition,
                            letter.source_offset,
                        )
                    )
                else:
                    out[kind].append(codec.decode(msg.value())[1])
                if msg.offset() + 1 >= ends[key]:
                    remaining.discard(key)
    finally:
        consumer.close()
    return out, letters


def remove_namespace(settings: Settings) -> list[str]:
    """Deletes the run's topics (`<prefix>.*`, the changelogs `<app id>-*`) and its consumer
    groups; returns the topics deleted."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(settings.confluent_config())
    names = [
        name
        for name in admin.list_topics(timeout=30).topics
        if name.startswith((f"{settings.topic_prefix}.", f"{settings.app_id}-"))
    ]
    if names:
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.result(60)
    groups = [
        g.group_id
        for g in admin.list_consumer_groups(request_timeout=30).result(30).valid
        if g.group_id.startswith(settings.app_id)
    ]
    if groups:
        for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
            try:
                future.result(30)
            except KafkaException as exc:  # a group still shutting down expires on its own
                log.debug("consumer group not deleted: %s", exc)
    return names
