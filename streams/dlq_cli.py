"""`s2c dlq list|replay`: inspect dead letters, and put them back on their source topic after a fix.

Replay re-produces the original key and bytes to the topic named in the dead letter's headers,
once per source record: letters naming the same source topic, partition and offset (a record
dead-lettered again after a restart, or a master record every worker refused) are sent back once.
Replaying is safe to repeat: the pipeline drops events whose id it has already applied.
Each replay is recorded in the audit trail (`s2c audit list --action dlq`: who, the reason
filter, how many) in the same Kafka transaction as the records it sends back, so a replay whose
record cannot be written does not happen (exit status 1, nothing sent).
Exit status 2 when the prefix has no dead-letter topic (a mistyped S2C_TOPIC_PREFIX, or topics
never created), so "0 dead letters" always means a topic that exists and is empty.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid

log = logging.getLogger(__name__)


class NoDeadLetterTopic(LookupError):
    """The prefix's dead-letter topic does not exist on the cluster."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("--reason", help="only dead letters with this reason")
    parser.add_argument("--limit", type=int, default=0, help="list at most this many")


def read_dead_letters(settings, reason: str | None, idle_seconds: float = 2.0) -> list:
    """All dead letters now on the topic (up to its current end), oldest first."""
    from confluent_kafka import Consumer, TopicPartition

    from s2c.streams.deadletter import DeadLetter
    from s2c.streams.topics import declare

    topic = declare(settings).dlq.name
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"s2c-dlq-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    if metadata.error is not None or not metadata.partitions:
        consumer.close()
        raise NoDeadLetterTopic(topic)
    partitions = metadata.partitions
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    letters, done = [], {p for p, end in ends.items() if end == 0}
    deadline = time.monotonic() + 60
    while len(done) < len(ends) and time.monotonic() < deadline:
        msg = consumer.poll(idle_seconds)
        if msg is None or msg.error():
            continue
        if msg.offset() + 1 >= ends[msg.partition()]:
            done.add(msg.partition())
        letter = DeadLetter.from_message(msg.key(), msg.value(), msg.headers())
        if reason is None or letter.reason == reason:
            letters.append((msg.partition(), msg.offset(), letter))
    consumer.close()
    return letters


def once_per_source(letters: list) -> list:
    """The first letter of each source record (topic, partition, offset), in order. Letters
    without source coordinates (a connector's file input) are all kept."""
    seen, kept = set(), []
    for partition, offset, letter in letters:
        source = (letter.source_topic, letter.source_partition, letter.source_offset)
        if letter.source_offset >= 0 and source in seen:
            continue
        seen.add(source)
        kept.append((partition, offset, letter))
    return kept


def run(args: argparse.Namespace) -> int:
    from s2c.streams.settings import Settings

    settings = Settings.from_env().role_unless_given("admin")
    try:
        letters = read_dead_letters(settings, args.reason)
    except NoDeadLetterTopic as missing:
        log.error(
            "dead-letter topic %s does not exist (S2C_TOPIC_PREFIX=%s): check the prefix, "
            "or create the topics with `s2c topics create`",
            missing,
            settings.topic_prefix,
        )
        return 2
    if args.action == "list":
        shown = letters[: args.limit] if args.limit else letters
        for partition, offset, letter in shown:
            print(
                f"dlq[{partition}]@{offset} reason={letter.reason} stage={letter.stage} "
                f"from={letter.source_topic}[{letter.source_partition}]@{letter.source_offset} "
                f"{letter.exception_class}: {letter.exception_message[:160]}"
                + (
                    f" [record not kept: {letter.value_size} bytes, sha256 {letter.value_sha256}]"
                    if letter.omitted
                    else ""
                )
            )
        print(
            f"{len(letters)} dead letter(s){' with reason ' + args.reason if args.reason else ''}"
        )
        return 0
    whole = [entry for entry in letters if not entry[2].omitted]
    if len(whole) < len(letters):  # a reference cannot be sent back: the bytes are not there
        log.warning(
            "%d letter(s) carry a reference (size, sha256) instead of a record too large for "
            "the DLQ: not replayed; re-send those records from their producer",
            len(letters) - len(whole),
        )
    return replay(settings, once_per_source(whole), args.reason)


def replay(settings, letters: list, reason: str | None) -> int:  # type: ignore[no-untyped-def]
    """Send `letters` back and append the audit record, all in one transaction."""
    from confluent_kafka import KafkaException, Producer

    from s2c.streams.audit import AuditRecord, AuditUnavailable, cli_actor, ensure_topic, now
    from s2c.streams.deadletter import REPLAYED_FROM
    from s2c.streams.topics import declare

    dlq_topic = declare(settings).dlq.name
    record = AuditRecord(
        cli_actor(settings),
        "dlq.replay",
        dlq_topic,
        now(),
        "cli",
        {"reason": reason, "count": len(letters)},
    )
    producer = Producer(
        {**settings.confluent_config(), "transactional.id": f"s2c-dlq-replay-{uuid.uuid4()}"}
    )
    try:
        ensure_topic(settings)
        producer.init_transactions(30)
        producer.begin_transaction()
        for partition, offset, letter in letters:
            producer.produce(
                letter.source_topic,
                key=letter.key,
                value=letter.value,
                headers=[(REPLAYED_FROM, f"dlq[{partition}]@{offset}".encode())],
            )
        producer.produce(settings.audit_topic, key=dlq_topic.encode(), value=record.to_bytes())
        producer.commit_transaction(30)
    except (KafkaException, AuditUnavailable) as exc:
        log.error(
            "replay not done: the records and their audit record (%s) could not be committed "
            "together: %s",
            settings.audit_topic,
            exc,
        )
        return 1
    print(
        f"replayed {len(letters)} dead letter(s) to their source topics (audited as {record.actor})"
    )
    return 0
