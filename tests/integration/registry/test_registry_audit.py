"""No registry change without its audit record: the record travels in the change's own Kafka
transaction, so when the audit topic refuses it the change is not made and the client is told.
(The broker's refusal leaves that transaction open until Kafka times it out, so the answer, a
500, comes after the registry's 30 s log timeout: slow, but never an unrecorded change.)"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from s2c.streams.settings import Settings

if TYPE_CHECKING:
    from tests.integration.registry.conftest import SecuredRegistry

pytestmark = pytest.mark.integration
CLAIM = json.dumps(
    {
        "type": "record",
        "name": "ClaimSubmitted",
        "namespace": "s2c.events",
        "fields": [{"name": "claim_id", "type": "string"}],
    }
)


def test_a_change_whose_audit_record_is_refused_is_not_made(
    kafka: Settings, secured_registry_factory
) -> None:
    # An audit topic whose broker refuses every record of a realistic size.
    audit_topic = f"_s2c_audit_test_{uuid.uuid4().hex[:12]}"
    admin = AdminClient(kafka.confluent_config())
    tiny = NewTopic(audit_topic, 1, 1, config={"max.message.bytes": "64"})
    admin.create_topics([tiny])[audit_topic].result(30)
    registry: SecuredRegistry = secured_registry_factory(audit_topic)
    subject = "s2c.events.ClaimSubmitted"

    refused = httpx.post(
        f"{registry.url}/subjects/{subject}/versions",
        json={"schema": CLAIM},
        auth=registry.writer,
        timeout=120,
    )
    assert refused.status_code == 500, refused.text
    assert refused.json()["error_code"] in (50001, 50002)
    subjects = httpx.get(f"{registry.url}/subjects", auth=registry.reader).json()
    assert subject not in subjects
    assert f"the audit record could not be written to {audit_topic}" in (
        registry.running.log_path.read_text()
    )
