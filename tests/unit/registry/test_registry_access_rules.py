"""Basic auth on the registry's HTTP layer, and the audit record each change carries (in memory,
no Kafka): who may read, who may write, and who the trail names."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from s2c.streams.audit import AuditRecord
from s2c.streams.registry import users
from s2c.streams.registry.api import CONTENT_TYPE, create_app
from s2c.streams.registry.auth import UsersFile, credentials
from s2c.streams.registry.service import Registry

CLAIM = json.dumps(
    {
        "type": "record",
        "name": "ClaimSubmitted",
        "namespace": "s2c.events",
        "fields": [{"name": "claim_id", "type": "string"}],
    }
)
SUBJECT = "s2c.events.ClaimSubmitted"
BILLING_OPS = ("billing-ops", "remit-2291")  # role write
ERP_READER = ("erp-reader", "st-olaf")  # role read


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UsersFile:
    monkeypatch.setattr(users, "ITERATIONS", 1000)
    path = tmp_path / "registry-users"
    users.add_user(path, *BILLING_OPS[:1], "write", BILLING_OPS[1])
    users.add_user(path, *ERP_READER[:1], "read", ERP_READER[1])
    return UsersFile(path)


def exchange(
    registry: Registry, users_file: UsersFile | None, *calls: tuple[Any, ...]
) -> list[tuple[int, Any, dict[str, str]]]:
    """(method, path, body, who) calls; who is (user, password), None, or a raw header."""

    async def go() -> list[tuple[int, Any, dict[str, str]]]:
        app = create_app(registry, users_file=users_file)
        async with TestClient(TestServer(app)) as http:
            answers = []
            for method, path, body, who in calls:
                headers = {"Content-Type": CONTENT_TYPE}
                if isinstance(who, tuple):
                    headers["Authorization"] = basic(*who)
                elif isinstance(who, str):
                    headers["Authorization"] = who
                response = await http.request(
                    method,
                    path,
                    data=None if body is None else json.dumps(body),
                    headers=headers,
                )
                answers.append(
                    (response.status, await response.json(content_type=None), response.headers)
                )
            return answers

    return asyncio.run(go())


def trail(registry: Registry) -> list[AuditRecord]:
    return [AuditRecord.from_bytes(value) for value in registry.log.audit]  # type: ignore[attr-defined]


def test_no_or_wrong_credentials_get_401_with_a_basic_challenge(users_file: UsersFile) -> None:
    answers = exchange(
        Registry.in_memory(),
        users_file,
        ("GET", "/subjects", None, None),
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": CLAIM}, None),
        ("GET", "/subjects", None, ("billing-ops", "wrong")),
        ("GET", "/subjects", None, ("nobody", "remit-2291")),
        ("GET", "/subjects", None, "Bearer abc"),
        ("GET", "/subjects", None, "Basic !!!not-base64"),
    )
    for status, body, headers in answers:
        assert status == 401
        assert body["error_code"] == 40101
        assert headers["WWW-Authenticate"].startswith("Basic")


def test_read_may_read_and_look_up_but_not_change(users_file: UsersFile) -> None:
    registry = Registry.in_memory()
    answers = exchange(
        registry,
        users_file,
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": CLAIM}, BILLING_OPS),
        ("GET", "/subjects", None, ERP_READER),
        ("POST", f"/subjects/{SUBJECT}", {"schema": CLAIM}, ERP_READER),
        (
            "POST",
            f"/compatibility/subjects/{SUBJECT}/versions/latest",
            {"schema": CLAIM},
            ERP_READER,
        ),
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": CLAIM}, ERP_READER),
        ("PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}, ERP_READER),
        ("PUT", "/mode", {"mode": "READONLY"}, ERP_READER),
        ("DELETE", f"/subjects/{SUBJECT}", None, ERP_READER),
        ("DELETE", "/config", None, ERP_READER),
    )
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 403, 403, 403, 403, 403]
    assert answers[1][1] == [SUBJECT]
    assert answers[4][1]["error_code"] == 40301
    assert registry.state.subject_names(False) == [SUBJECT]


def test_write_may_change_and_each_change_names_its_user(users_file: UsersFile) -> None:
    registry = Registry.in_memory()
    answers = exchange(
        registry,
        users_file,
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": CLAIM}, BILLING_OPS),
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": CLAIM}, BILLING_OPS),  # no change
        ("PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}, BILLING_OPS),
        ("PUT", "/mode", {"mode": "READONLY"}, BILLING_OPS),
        ("PUT", "/mode", {"mode": "READWRITE"}, BILLING_OPS),
        ("DELETE", f"/subjects/{SUBJECT}", None, BILLING_OPS),
    )
    assert [status for status, _, _ in answers] == [200] * 6
    assert [(r.actor, r.action, r.target, r.details) for r in trail(registry)] == [
        ("billing-ops", "registry.register", SUBJECT, {"id": 1}),
        ("billing-ops", "registry.compatibility", SUBJECT, {"compatibility": "NONE"}),
        ("billing-ops", "registry.mode", "(global)", {"mode": "READONLY"}),
        ("billing-ops", "registry.mode", "(global)", {"mode": "READWRITE"}),
        ("billing-ops", "registry.delete-subject", SUBJECT, {"versions": [1], "permanent": False}),
    ]
    assert all(r.via == "registry" and r.version == 1 for r in trail(registry))


def test_a_refused_write_leaves_no_audit_record(users_file: UsersFile) -> None:
    registry = Registry.in_memory()
    exchange(
        registry,
        users_file,
        ("PUT", "/config", {"compatibility": "SIDEWAYS"}, BILLING_OPS),  # 422
        ("DELETE", f"/subjects/{SUBJECT}", None, BILLING_OPS),  # 404
        ("PUT", "/config", {"compatibility": "NONE"}, ERP_READER),  # 403
    )
    assert trail(registry) == []


def test_health_and_metrics_stay_open(users_file: UsersFile) -> None:
    answers = exchange(
        Registry.in_memory(),
        users_file,
        ("GET", "/", None, None),
    )
    assert answers[0][0] == 200


def test_without_a_users_file_the_registry_is_open_and_audits_anonymous() -> None:
    registry = Registry.in_memory()
    answers = exchange(registry, None, ("PUT", "/config", {"compatibility": "FULL"}, None))
    assert answers[0][0] == 200
    assert [(r.actor, r.action, r.target) for r in trail(registry)] == [
        ("anonymous", "registry.compatibility", "(global)")
    ]


def test_a_new_user_counts_without_a_restart(users_file: UsersFile) -> None:
    users.add_user(users_file.path, "ingest", "read", "hl7-feed")
    answers = exchange(
        Registry.in_memory(), users_file, ("GET", "/subjects", None, ("ingest", "hl7-feed"))
    )
    assert answers[0][0] == 200


def test_an_unreadable_users_file_refuses_everyone(users_file: UsersFile) -> None:
    users_file.path.write_text("billing-ops:root:whatever\n")
    answers = exchange(Registry.in_memory(), users_file, ("GET", "/subjects", None, BILLING_OPS))
    assert answers[0][0] == 401


def test_credentials_split_at_the_first_colon() -> None:
    assert credentials(basic("erp-reader", "a:b")) == ("erp-reader", "a:b")
    assert credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None
