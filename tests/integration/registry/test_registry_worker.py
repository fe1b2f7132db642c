"""A worker on a registry it may not write to: it looks every schema up instead of registering,
and processes events; a schema the registry does not have stops it with the subject named,
instead of leaving it at "loading master data" for ever."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx
import pytest
from stackkit import PipelineEnv, read_topic, wait_for
from test_topology import MASTER_RECORDS, master_record, to_native
from test_walking_skeleton import appointment

from s2c.streams.catalog import load_catalog
from s2c.streams.codec import AvroCodec, registry_client
from s2c.streams.masterdata import publish_master
from s2c.streams.settings import SecretStr, Settings
from s2c.streams.topics import declare

if TYPE_CHECKING:
    from tests.integration.registry.conftest import SecuredRegistry

pytestmark = pytest.mark.integration


def codec(registry: SecuredRegistry, who: tuple[str, str], register: bool = True) -> AvroCodec:
    return AvroCodec(
        registry_client(registry.url, registry.user_info(who)),
        load_catalog().resolved_json,
        register=register,
    )


def register_catalogue(registry: SecuredRegistry, leave_out: str | None = None) -> None:
    """What `s2c schemas register` does as a user with role write."""
    writer = codec(registry, registry.writer)
    for name in load_catalog().names():
        if name != leave_out:
            writer.prepare(name)


def on_registry(pipeline: PipelineEnv, registry: SecuredRegistry) -> Settings:
    return replace(
        pipeline.settings,
        registry_url=registry.url,
        registry_user_info=SecretStr(registry.user_info(registry.reader)),
    )


def test_a_worker_on_a_read_only_registry_looks_schemas_up_and_works(
    pipeline_env: PipelineEnv, secured_registry_factory
) -> None:
    registry = secured_registry_factory()
    register_catalogue(registry)
    frozen = httpx.put(f"{registry.url}/mode", json={"mode": "READONLY"}, auth=registry.writer)
    assert frozen.json() == {"mode": "READONLY"}

    # The worker runs as the read user and tries to register first (S2C_REGISTER_SCHEMAS unset).
    worker = pipeline_env.worker(
        S2C_REGISTRY_URL=registry.url,
        S2C_REGISTRY_USER_INFO=registry.user_info(registry.reader),
    ).start()
    settings = on_registry(pipeline_env, registry)
    reader = codec(registry, registry.reader, register=False)
    topics = declare(settings)
    master = {
        name: [to_native(master_record(name, row)) for row in rows]
        for name, rows in MASTER_RECORDS.items()
    }
    publish_master(settings, reader, topics.master_data.name, master)
    worker.wait_ready()

    from confluent_kafka import Producer

    producer = Producer(settings.confluent_config())
    event = appointment("APT-3001", f"evt-{uuid.uuid4()}")
    producer.produce(
        topics.events.name,
        key=b"APT-3001",
        value=reader.encode("s2c.events.AppointmentScheduled", event),
    )
    assert producer.flush(30) == 0

    commands = [
        reader.decode(m.value())[1]
        for m in read_topic(settings, topics.commands.name, 1, timeout=90)
    ]
    assert [c["header"]["process_id"] for c in commands] == ["APPT-APT-3001"], worker.log_tail()
    assert worker.proc.poll() is None
    log = worker.log_path.read_text()
    assert "refuses registrations (403" in log
    assert "schema missing" not in log


def test_a_schema_missing_from_the_registry_stops_the_worker_naming_it(
    pipeline_env: PipelineEnv, secured_registry_factory
) -> None:
    registry = secured_registry_factory()
    register_catalogue(registry, leave_out="s2c.ops.SlaBreached")
    worker = pipeline_env.worker(
        S2C_REGISTRY_URL=registry.url,
        S2C_REGISTRY_USER_INFO=registry.user_info(registry.reader),
        S2C_REGISTER_SCHEMAS="0",
    ).start()
    wait_for(lambda: worker.proc.poll() is not None, 120, "the worker to stop")
    log = worker.log_path.read_text()
    assert worker.proc.returncode != 0, worker.log_tail()
    assert "schema missing: subject s2c.ops.SlaBreached:" in log, worker.log_tail()
    assert "s2c schemas register" in log
    assert "refuses registrations" not in log  # told not to register: it never tried
