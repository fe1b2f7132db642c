"""The HTTP layer over an in-memory log: routes, media types and Confluent error bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from s2c.streams.registry.api import CONTENT_TYPE, create_app
from s2c.streams.registry.service import Registry

CLAIM = json.dumps(
    {
        "type": "record",
        "name": "ClaimSubmitted",
        "namespace": "s2c.events",
        "fields": [{"name": "claim_id", "type": "string"}],
    }
)


def exchange(*calls: tuple[str, str, Any]) -> list[tuple[int, str, Any]]:
    async def go() -> list[tuple[int, str, Any]]:
        async with TestClient(TestServer(create_app(Registry.in_memory()))) as http:
            answers = []
            for method, path, body in calls:
                response = await http.request(
                    method,
                    path,
                    data=None if body is None else json.dumps(body),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                answers.append(
                    (
                        response.status,
                        response.headers["Content-Type"],
                        await response.json(content_type=None),
                    )
                )
            return answers

    return asyncio.run(go())


def test_register_then_read_back_every_way() -> None:
    answers = exchange(
        ("POST", "/subjects/ClaimSubmitted/versions", {"schema": CLAIM}),
        ("GET", "/subjects/ClaimSubmitted/versions/latest", None),
        ("GET", "/subjects/ClaimSubmitted/versions/1/schema", None),
        ("GET", "/schemas/ids/1/versions", None),
        ("POST", "/subjects/ClaimSubmitted", {"schema": CLAIM}),
        ("GET", "/subjects", None),
    )
    assert all(status == 200 and media == CONTENT_TYPE for status, media, _ in answers)
    assert answers[0][2] == {"id": 1}
    assert answers[1][2]["version"] == 1 and json.loads(answers[1][2]["schema"]) == answers[2][2]
    assert answers[3][2] == [{"subject": "ClaimSubmitted", "version": 1}]
    assert answers[4][2]["id"] == 1
    assert answers[5][2] == ["ClaimSubmitted"]


def test_errors_have_confluent_bodies() -> None:
    answers = exchange(
        ("GET", "/subjects/Nobody/versions", None),
        ("GET", "/schemas/ids/9", None),
        ("PUT", "/config", {"compatibility": "SOMETIMES"}),
        ("PUT", "/mode", {"mode": "WRITEONLY"}),
        ("GET", "/no/such/route", None),
    )
    assert [(status, body["error_code"]) for status, _, body in answers] == [
        (404, 40401),
        (404, 40403),
        (422, 42203),
        (422, 42204),
        (404, 404),
    ]
    assert answers[0][2]["message"] == "Subject 'Nobody' not found."


def test_config_and_mode_answer_in_confluent_shapes() -> None:
    answers = exchange(
        ("PUT", "/config", {"compatibility": "BACKWARD_TRANSITIVE"}),
        ("GET", "/config", None),
        ("PUT", "/config/ClaimSubmitted", {"compatibility": "NONE"}),
        ("DELETE", "/config/ClaimSubmitted", None),
        ("GET", "/config/ClaimSubmitted?defaultToGlobal=true", None),
        ("PUT", "/mode", {"mode": "READONLY"}),
        ("POST", "/subjects/ClaimSubmitted/versions", {"schema": CLAIM}),
    )
    assert [body for _, _, body in answers[:5]] == [
        {"compatibility": "BACKWARD_TRANSITIVE"},
        {"compatibilityLevel": "BACKWARD_TRANSITIVE"},
        {"compatibility": "NONE"},
        {"compatibilityLevel": "NONE"},
        {"compatibilityLevel": "BACKWARD_TRANSITIVE"},
    ]
    assert answers[5][2] == {"mode": "READONLY"}
    assert (answers[6][0], answers[6][2]["error_code"]) == (422, 42205)


def test_import_mode_over_http_takes_the_id_and_version_in_the_body() -> None:
    answers = exchange(
        ("POST", "/subjects/ClaimSubmitted/versions", {"schema": CLAIM}),
        ("POST", "/subjects/ClaimSubmitted/versions", {"schema": CLAIM, "id": 1042}),
        ("PUT", "/mode/ClaimSubmitted", {"mode": "IMPORT"}),
        ("PUT", "/mode/ClaimSubmitted?force=true", {"mode": "IMPORT"}),
        ("POST", "/subjects/ClaimSubmitted/versions", {"schema": CLAIM}),
        ("PUT", "/mode/mdm.ClaimSubmitted", {"mode": "IMPORT"}),
        (
            "POST",
            "/subjects/mdm.ClaimSubmitted/versions",
            {"schema": CLAIM, "id": 1042, "version": 4},
        ),
        ("GET", "/schemas/ids/1042", None),
        ("GET", "/subjects/mdm.ClaimSubmitted/versions/latest", None),
        ("DELETE", "/mode/mdm.ClaimSubmitted", None),
        ("POST", "/subjects/Remit/versions", {"schema": CLAIM}),
    )
    assert answers[0][2] == {"id": 1}
    for refused in (answers[1], answers[2]):  # an id outside IMPORT; IMPORT over a live version
        assert (refused[0], refused[2]["error_code"]) == (422, 42205)
    assert [body for _, _, body in answers[3:7]] == [
        {"mode": "IMPORT"},
        {"id": 1},
        {"mode": "IMPORT"},
        {"id": 1042},
    ]
    assert json.loads(answers[7][2]["schema"])["name"] == "ClaimSubmitted"
    assert {k: answers[8][2][k] for k in ("id", "version")} == {"id": 1042, "version": 4}
    assert answers[9][2] == {"mode": "IMPORT"}  # Confluent answers with the mode it removed
    assert answers[10][2] == {"id": 1}  # a schema known under two ids: the lowest
