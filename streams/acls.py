"""`s2c acls`: what each role of the secured stack may do on Kafka, and granting it.

The secured local stack (`S2C_SECURE=1 deploy/local/stack start`) has one SCRAM user per role;
`super.users` is only `admin`, and `allow.everyone.if.no.acl.found=false`, so a role can do
exactly what `role_acls` lists:

- worker: read, write and create the namespace's topics (`<prefix>.*`) and Faust's own ones
  (`<app id>-*`: changelogs, the assignor's topic), its consumer group `<app id>`, the master
  data replica's group, idempotent writes;
- ingest: write (and describe) the events topic and the dead-letter topic, and describe the
  worker's group (to warn when no worker reads the events), nothing else;
- erp-reader: the ERP (`s2c erp-sink` or another ERP's adapter): read the ERP commands topic and
  the master data (its chart of accounts and cost centers), with consumer groups named
  `erp-reader*`, and write its acknowledgements to the ERP acks topic (idempotent writes);
- registry: its schemas topic (compacted, created at its first start), its reader groups and
  its transactional id, all named `s2c-registry-*`; write (and create) the audit trail
  (`_s2c_audit`), which records each registry change.

A namespace is a topic prefix and a Faust app id: the stack grants the default one
(`S2C_TOPIC_PREFIX`, `S2C_APP_ID`), `s2c demo` and the integration tests grant their own as admin.
Creating a binding that exists changes nothing, so granting again is harmless.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from s2c.streams.settings import Settings

READ_WRITE = ("READ", "WRITE", "DESCRIBE", "CREATE", "DESCRIBE_CONFIGS")
MASTER_REPLICA_GROUP = "s2c-master-replica"  # streams/masterdata.py's consumer
REGISTRY_NAMES = "s2c-registry-"  # streams/registry/kafkalog.py's groups and transactional id
ERP_READER_GROUPS = "erp-reader"


@dataclass(frozen=True)
class Grant:
    """One allowed operation of one role on a resource (a name, or every name with a prefix)."""

    role: str
    resource: str  # TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID
    name: str
    operation: str
    prefixed: bool = False


def namespace_acls(topic_prefix: str, app_id: str) -> list[Grant]:
    """What the pipeline's roles may do on one namespace's topics and groups."""
    grants = [Grant("worker", "TOPIC", f"{topic_prefix}.", op, True) for op in READ_WRITE]
    grants += [Grant("worker", "TOPIC", f"{app_id}-", op, True) for op in READ_WRITE]
    grants += [Grant("worker", "GROUP", app_id, op) for op in ("READ", "DESCRIBE")]
    grants += [Grant("worker", "GROUP", MASTER_REPLICA_GROUP, op) for op in ("READ", "DESCRIBE")]
    for topic in (f"{topic_prefix}.events", f"{topic_prefix}.dlq"):
        grants += [Grant("ingest", "TOPIC", topic, op) for op in ("WRITE", "DESCRIBE")]
    # `s2c ingest` warns when no worker reads the events: it may see the worker's group.
    grants += [Grant("ingest", "GROUP", app_id, "DESCRIBE")]
    grants += [
        Grant("erp-reader", "TOPIC", f"{topic_prefix}.{topic}", op)
        for topic in ("erp.commands", "master")
        for op in ("READ", "DESCRIBE")
    ]
    grants += [
        Grant("erp-reader", "TOPIC", f"{topic_prefix}.erp.acks", op) for op in ("WRITE", "DESCRIBE")
    ]
    return grants


def base_acls(registry_topic: str, audit_topic: str = "_s2c_audit") -> list[Grant]:
    """What does not depend on a namespace: the registry's log and the audit trail it appends
    to (created at its first start; read back by `s2c audit list` as admin), idempotent
    producers."""
    grants = [Grant("registry", "TOPIC", registry_topic, op) for op in READ_WRITE]
    grants += [
        Grant("registry", "TOPIC", audit_topic, op) for op in ("WRITE", "DESCRIBE", "CREATE")
    ]
    grants += [Grant("registry", "GROUP", REGISTRY_NAMES, "READ", True)]
    grants += [
        Grant("registry", "TRANSACTIONAL_ID", REGISTRY_NAMES, op, True)
        for op in ("WRITE", "DESCRIBE")
    ]
    grants += [
        Grant("erp-reader", "GROUP", ERP_READER_GROUPS, op, True) for op in ("READ", "DESCRIBE")
    ]
    grants += [
        Grant(role, "CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE")
        for role in ("worker", "ingest", "registry", "erp-reader")
    ]
    return grants


def bindings(grants: list[Grant]) -> list[Any]:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return [
        AclBinding(
            # librdkafka names Kafka's CLUSTER resource BROKER (the same code, 4)
            ResourceType["BROKER" if g.resource == "CLUSTER" else g.resource],
            g.name,
            ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
            f"User:{g.role}",
            "*",
            AclOperation[g.operation],
            AclPermissionType.ALLOW,
        )
        for g in grants
    ]


def grant(admin: Settings, grants: list[Grant], timeout: float = 30.0) -> int:
    """Creates the bindings with the admin's credentials and waits until the broker's authorizer
    has them (CreateAcls answers before that: a client right after was refused once in three);
    returns how many were asked for."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    # log_level 4: not librdkafka's notice that the client's last describe was left unserved
    client = AdminClient({**admin.confluent_config(), "log_level": 4})
    wanted = bindings(grants)
    futures = client.create_acls(wanted, request_timeout=timeout)
    for future in futures.values():
        future.result(timeout)  # raises KafkaException when the broker refused
    every = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deadline = time.monotonic() + timeout
    while not set(wanted) <= set(client.describe_acls(every).result(timeout)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker did not show the granted ACLs within {timeout} s")
        time.sleep(0.1)
    return len(futures)


def grant_namespace(settings: Settings) -> int:
    """As admin, the roles' permissions on `settings`' topic prefix and app id (a no-op on a
    stack that is not S2C_SECURE)."""
    if not settings.secure:
        return 0
    return grant(settings.for_role("admin"), namespace_acls(settings.topic_prefix, settings.app_id))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["grant", "list"])
    parser.add_argument("--prefix", help="topic prefix (default: S2C_TOPIC_PREFIX)")
    parser.add_argument("--app-id", help="Faust app id (default: S2C_APP_ID)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prefix = args.prefix or settings.topic_prefix
    app_id = args.app_id or settings.app_id
    grants = base_acls(settings.registry_topic, settings.audit_topic) + namespace_acls(
        prefix, app_id
    )
    if args.action == "list":
        for g in grants:
            kind = "prefix" if g.prefixed else "name"
            print(f"{g.role:<11} {g.operation:<16} {g.resource.lower()} {kind} {g.name}")
        return 0
    count = grant(settings.for_role("admin") if settings.secure else settings, grants)
    print(f"s2c acls: {count} bindings granted for topics {prefix}.*, app id {app_id}")
    return 0
