"""The audit trail: who changed the schema registry or replayed dead letters, what, on what, when.

One append-only topic for the cluster (`topics.audit`, default `_s2c_audit`, 1 partition, kept
forever). Records are JSON with a `version` (1), not Avro: the registry's own writes are audited,
and a trail that needs the registry to be read would be lost with it. Readers skip fields they do
not know, so later versions only add fields.

Writers: the registry, in the same Kafka transaction as the change it records (both or neither);
`s2c dlq replay`, in the same transaction as the records it sends back. An audit record that
cannot be written therefore means the action did not happen: never an unrecorded change.

The actor is the authenticated registry user (`anonymous` on an open registry); for a command,
S2C_ACTOR or `<OS user>@<host>`.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from s2c.streams.settings import Settings
from s2c.streams.topics import AUDIT_TOPIC_CONFIG, audit

VERSION = 1
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class AuditRecord:
    actor: str
    action: str  # registry.register, registry.delete-subject, ..., dlq.replay
    target: str  # a subject, `(global)` for the registry's global settings, a DLQ topic
    at: str  # ISO 8601, UTC
    via: str  # registry (an HTTP request) or cli (an s2c command)
    details: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "AuditRecord":
        raw = json.loads(data)
        known = {name: raw[name] for name in cls.__dataclass_fields__ if name in raw}
        return cls(**known)

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.at)

    def line(self) -> str:
        details = json.dumps(self.details, sort_keys=True) if self.details else ""
        return f"{self.at}  {self.actor}  {self.action}  {self.target}  {details}".rstrip()


def now(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="seconds")


def cli_actor(settings: Settings) -> str:
    return settings.actor or f"{getpass.getuser()}@{socket.gethostname()}"


class AuditUnavailable(RuntimeError):
    """The audit topic could not be written: the action it would record was not done."""


def ensure_topic(settings: Settings, timeout: float = 30.0) -> None:
    """Create the audit topic when it is missing (1 partition, delete policy, kept forever)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.confluent_config())
    name = audit(settings).name
    if name in admin.list_topics(timeout=timeout).topics:
        return
    spec = NewTopic(name, 1, settings.replication_factor, config=AUDIT_TOPIC_CONFIG)
    try:
        admin.create_topics([spec])[name].result(timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise AuditUnavailable(f"cannot create the audit topic {name}: {exc}") from exc


_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, at: datetime) -> datetime:
    """`30m`, `12h`, `7d` before `at`, or an ISO date / date-time (UTC unless it says)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return at - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches(record: AuditRecord, since: datetime | None, action: str | None) -> bool:
    if since is not None and record.when < since:
        return False
    return action is None or record.action == action or record.action.startswith(f"{action}.")


def read(settings: Settings, timeout: float = 30.0) -> list[AuditRecord]:
    """Every audit record now on the topic (up to its current end), oldest first; [] when the
    topic does not exist yet (nothing was ever audited)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    name = audit(settings).name
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"s2c-audit-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        meta = consumer.list_topics(name, timeout=timeout).topics[name]
        if meta.error is not None or not meta.partitions:
            return []
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=timeout)[1]
            for p in meta.partitions
        }
        consumer.assign([TopicPartition(name, p, 0) for p in meta.partitions])
        found: list[AuditRecord] = []
        # Done with a partition at its end-of-partition event: with transactions the last
        # offset is a commit marker that read_committed never hands over as a record.
        pending = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            error, value = msg.error(), msg.value()
            if error is None:
                if value is not None:
                    found.append(AuditRecord.from_bytes(value))
            elif (
                error.code() == KafkaError._PARTITION_EOF
                and (msg.offset() or 0) >= ends[msg.partition() or 0]
            ):
                pending.discard(msg.partition() or 0)
        if pending:
            raise AuditUnavailable(f"could not read {name} to its end within {timeout:.0f} s")
    finally:
        consumer.close()
    return sorted(found, key=lambda r: r.when)
