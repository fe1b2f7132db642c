"""The one place that declares s2c's Kafka topics.

Agents, CLIs, adapters and tests import names from here; no topic-name string appears elsewhere.
Values are Avro in the Confluent wire format (magic byte, schema id, body) with subjects named by
record (RecordNameStrategy), because one topic carries many record types and the same record travels
on several topics. Partition counts of topics that feed the same table must be equal
(co-partitioning); `s2c worker` refuses to start otherwise (`copartitioning_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass

from s2c.streams.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    values: str
    compacted: bool = False
    internal: bool = False
    copartition_group: str | None = None


@dataclass(frozen=True)
class Topics:
    events: TopicSpec
    link: TopicSpec
    process: TopicSpec
    commands: TopicSpec
    erp_acks: TopicSpec
    sla_breaches: TopicSpec
    exceptions: TopicSpec
    dlq: TopicSpec
    master_data: TopicSpec

    def all(self) -> list[TopicSpec]:
        return [getattr(self, name) for name in self.__dataclass_fields__]


def declare(settings: Settings) -> Topics:
    p = settings.topic_prefix
    return Topics(
        events=TopicSpec(
            f"{p}.events",
            "business key (appointment/case/account id)",
            "s2c.events.* canonical events",
            copartition_group=None,
        ),
        link=TopicSpec(
            f"{p}.link",
            "account_number",
            "s2c.events.* needing an account link",
            internal=True,
            copartition_group="link",
        ),
        process=TopicSpec(
            f"{p}.process",
            "process_id",
            "s2c.events.* placed on their process",
            internal=True,
            copartition_group="process",
        ),
        commands=TopicSpec(
            f"{p}.erp.commands", "process_id", "s2c.commands.* ERP posting commands"
        ),
        # Written by whichever ERP consumes the commands (`s2c erp-sink`, or another ERP's
        # adapter), one acknowledgement per command id; the workers read it with the commands,
        # co-partitioned with the process stage (streams/topology/erp.py).
        erp_acks=TopicSpec(
            f"{p}.erp.acks", "process_id", "s2c.erp.CommandAck ERP acknowledgements"
        ),
        sla_breaches=TopicSpec(f"{p}.sla.breaches", "process_id", "s2c.ops.SlaBreached"),
        exceptions=TopicSpec(
            f"{p}.exceptions", "process_id or event id", "s2c.ops.WorkQueueException"
        ),
        dlq=TopicSpec(
            f"{p}.dlq", "original key", "the original bytes, context in Kafka Connect style headers"
        ),
        master_data=TopicSpec(
            f"{p}.master", "<RecordName>:<id>", "s2c.master.* master data", compacted=True
        ),
    )


def audit(settings: Settings) -> TopicSpec:
    """The audit trail (`s2c.streams.audit`): one topic for the whole cluster, not one per prefix,
    because the registry it mostly records serves every namespace. One partition, so its records
    keep one order; never compacted or expired (retention.ms=-1): it is append-only."""
    return TopicSpec(
        settings.audit_topic,
        "the action's target (subject, or dlq topic)",
        "s2c audit records, versioned JSON (not Avro: the registry's own writes are audited)",
        internal=True,
    )


AUDIT_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1"}
TOPICS = declare(Settings.from_env())
