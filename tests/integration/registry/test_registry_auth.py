"""s2c's registry with users (S2C_REGISTRY_AUTH_FILE) on the real broker, started like the stack
starts it: anonymous and wrong callers get 401, a `read` user reads and looks up but changes
nothing (403), a `write` user registers, sets compatibility and mode and deletes, and each change
is on the audit trail under its user's name (`s2c audit list`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from s2c.streams.settings import REPO_ROOT

if TYPE_CHECKING:
    from tests.integration.registry.conftest import SecuredRegistry

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


@pytest.fixture(scope="module")
def secured(secured_registry_factory) -> SecuredRegistry:  # type: ignore[no-untyped-def]
    return secured_registry_factory()


def surgery(*extra: dict[str, object]) -> str:
    return json.dumps(
        {
            "type": "record",
            "name": "SurgeryScheduled",
            "namespace": "s2c.events",
            "fields": [{"name": "case_id", "type": "string"}, *extra],
        }
    )


PAYER = {"name": "payer", "type": ["null", "string"], "default": None}


def subject() -> str:
    return f"s2c.events.SurgeryScheduled-{uuid.uuid4().hex[:8]}"


def register(reg: SecuredRegistry, who: tuple[str, str] | None, name: str, schema: str):
    return httpx.post(
        f"{reg.url}/subjects/{name}/versions",
        json={"schema": schema},
        headers=JSON,
        auth=who,
    )


def test_anonymous_and_wrong_passwords_are_refused(secured: SecuredRegistry) -> None:
    anonymous = register(secured, None, subject(), surgery())
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert anonymous.json()["error_code"] == 40101
    assert httpx.get(f"{secured.url}/subjects").status_code == 401
    wrong = (secured.writer[0], "not-the-password")
    assert httpx.get(f"{secured.url}/subjects", auth=wrong).status_code == 401
    assert register(secured, wrong, subject(), surgery()).status_code == 401
    assert httpx.get(f"{secured.url}/").status_code == 200  # health stays open


def test_a_reader_reads_and_looks_up_but_changes_nothing(secured: SecuredRegistry) -> None:
    name = subject()
    assert register(secured, secured.writer, name, surgery()).status_code == 200
    reader, url = secured.reader, secured.url
    assert httpx.get(f"{url}/subjects/{name}/versions", auth=reader).json() == [1]
    looked_up = httpx.post(
        f"{url}/subjects/{name}", json={"schema": surgery()}, headers=JSON, auth=reader
    )
    assert looked_up.status_code == 200 and looked_up.json()["version"] == 1
    refused = [
        register(secured, reader, name, surgery(PAYER)),
        httpx.put(f"{url}/config/{name}", json={"compatibility": "NONE"}, auth=reader),
        httpx.put(f"{url}/config", json={"compatibility": "NONE"}, auth=reader),
        httpx.put(f"{url}/mode/{name}", json={"mode": "READONLY"}, auth=reader),
        httpx.put(f"{url}/mode", json={"mode": "READONLY"}, auth=reader),
        httpx.delete(f"{url}/subjects/{name}", auth=reader),
        httpx.delete(f"{url}/subjects/{name}/versions/1", auth=reader),
    ]
    assert [(r.status_code, r.json()["error_code"]) for r in refused] == [(403, 40301)] * 7
    assert httpx.get(f"{url}/subjects/{name}/versions", auth=reader).json() == [1]
    assert httpx.get(f"{url}/mode/{name}", params={"defaultToGlobal": "true"}, auth=reader).json()[
        "mode"
    ] == ("READWRITE")


def test_a_writer_sets_compatibility_and_mode_and_deletes(secured: SecuredRegistry) -> None:
    name, writer, url = subject(), secured.writer, secured.url
    assert register(secured, writer, name, surgery()).status_code == 200
    none = httpx.put(f"{url}/config/{name}", json={"compatibility": "NONE"}, auth=writer)
    assert none.json() == {"compatibility": "NONE"}
    assert (
        httpx.put(f"{url}/mode/{name}", json={"mode": "READONLY"}, auth=writer).status_code == 200
    )
    frozen = register(secured, writer, name, surgery(PAYER))
    assert (frozen.status_code, frozen.json()["error_code"]) == (422, 42205)
    assert httpx.delete(f"{url}/mode/{name}", auth=writer).status_code == 200
    assert register(secured, writer, name, surgery(PAYER)).json()["id"] > 0
    assert httpx.delete(f"{url}/subjects/{name}", auth=writer).json() == [1, 2]


def test_confluents_client_sends_basic_auth_user_info(secured: SecuredRegistry) -> None:
    name = subject()
    writer = SchemaRegistryClient(
        {"url": secured.url, "basic.auth.user.info": ":".join(secured.writer), "max.retries": 0}
    )
    reader = SchemaRegistryClient(
        {"url": secured.url, "basic.auth.user.info": ":".join(secured.reader), "max.retries": 0}
    )
    schema_id = writer.register_schema(name, Schema(surgery(), "AVRO"))
    assert json.loads(reader.get_schema(schema_id).schema_str)["name"] == "SurgeryScheduled"
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema(name, Schema(surgery(PAYER), "AVRO"))
    assert refused.value.http_status_code == 403
    with pytest.raises(SchemaRegistryError) as anonymous:
        SchemaRegistryClient({"url": secured.url, "max.retries": 0}).get_subjects()
    assert anonymous.value.http_status_code == 401


def audit_list(audit_topic: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s2c.streams.cli", "audit", "list", *flags],
        env={**os.environ, "S2C_AUDIT_TOPIC": audit_topic},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def test_audit_list_shows_who_changed_compatibility(secured: SecuredRegistry) -> None:
    name, url = subject(), secured.url
    assert register(secured, secured.writer, name, surgery()).status_code == 200
    assert httpx.put(
        f"{url}/config/{name}", json={"compatibility": "NONE"}, auth=secured.writer
    ).is_success
    assert (
        httpx.put(
            f"{url}/config/{name}", json={"compatibility": "FULL"}, auth=secured.reader
        ).status_code
        == 403
    )

    listed = audit_list(secured.audit_topic, "--action", "registry.compatibility", "--since", "1h")
    assert listed.returncode == 0, listed.stderr
    mine = [line for line in listed.stdout.splitlines() if name in line]
    assert len(mine) == 1, listed.stdout
    assert f"  billing-ops  registry.compatibility  {name}  " in mine[0]
    assert '{"compatibility": "NONE"}' in mine[0]

    everything = audit_list(secured.audit_topic, "--action", "registry").stdout
    assert f"billing-ops  registry.register  {name}" in everything
    assert "erp-reader" not in everything  # refused requests change nothing, record nothing


def test_only_an_open_registry_warns_that_it_is_unauthenticated(registry, secured) -> None:  # type: ignore[no-untyped-def]
    open_log = registry.log_path.read_text()
    assert open_log.count("schema registry is unauthenticated") == 1
    assert "unauthenticated" not in secured.running.log_path.read_text()
