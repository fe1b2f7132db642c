"""A person acknowledges and resolves a work item through the worker's API, and it lasts.

Riverside's knee arthroscopy (case C-1001) has its claim rejected by the clearinghouse: the
process agent keeps a CLAIM_REJECTED item, open. Maria Hernandez, a billing lead with her own
token in the users file, acknowledges it, then resolves it with a reason. Without a token, with
the shared token or with an unknown one she is refused (401); the read-only routes keep taking
the shared token. The action goes to the process agent as a control record; the agent writes
the item in its table (changelog), so a worker rebuilt from the changelog alone still shows who
resolved it and why. Repeating a call changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentkit import World
from core_world import DAY, SURGERY_DAY, Feed, knee_case_through_claim
from test_worker_http import BEARER, TOKEN, served

from s2c.streams.settings import SecretStr
from s2c.streams.topology.context import CONTROL_HEADER
from s2c.streams.topology.workitems import WORK_ITEM_CONTROL, open_by_age

CASE_KEY = b"CASE-C-1001"
MARIA_TOKEN = "maria-hernandez-token-not-a-secret"
MARIA = {"Authorization": f"Bearer {MARIA_TOKEN}"}


def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-users"
    digest = hashlib.sha256(MARIA_TOKEN.encode()).hexdigest()
    path.write_text(f"mhernandez:{digest}\n")
    return path


def world(tmp_path: Path, name: str) -> World:
    return World(tmp_path / name, api_token=SecretStr(TOKEN), api_users_file=users_file(tmp_path))


async def rejected_claim(w: World) -> None:
    feed = Feed("actions")
    events = [
        *knee_case_through_claim(feed),
        feed(
            "ClaimRejected",
            SURGERY_DAY + 3 * DAY,
            claim_id="CLM-1",
            account_number="ACCT-7001",
            status_category="A7",
            status_code="21",
            reason="Missing or invalid information",
        ),
    ]
    async with w.agent("s2c-process").test_context() as process:
        for event in events:
            await w.put(process, CASE_KEY, w.encode(event), partition=1)
        await w.announce(process, "process", 1, events[-1].occurred_at)


async def apply_actions(w: World) -> int:
    """Hand the control records the API published to the process agent; how many there were."""
    sent = [
        s
        for s in w.sent_to(w.t.topics.process)
        if s.headers.get(CONTROL_HEADER) == WORK_ITEM_CONTROL
    ]
    async with w.agent("s2c-process").test_context() as process:
        for record in sent:
            await w.put(
                process,
                record.key,
                record.value,
                partition=1,
                headers=[(CONTROL_HEADER, WORK_ITEM_CONTROL)],
            )
    return len(sent)


def tally(w: World) -> dict[str, int]:
    return json.loads(w.t.tables["stage_counts"].get(b"1") or b"{}")


async def test_a_named_user_acknowledges_then_resolves_and_it_survives_a_restart(
    tmp_path: Path,
) -> None:
    w = world(tmp_path, "first")
    await rejected_claim(w)
    (item,) = json.loads(w.t.tables["process_exceptions"][CASE_KEY])
    assert item["kind"] == "CLAIM_REJECTED" and item["state"] == "open"
    item_id = item["exception_id"]
    (gauge,) = open_by_age(tally(w), datetime.now(UTC)).items()
    assert gauge[0][:3] == ("CLAIM_REJECTED", "open", "RIVERSIDE") and gauge[1] == 1

    async with served(w) as client:
        url = f"/exceptions/{item_id}"
        body = {"key": "CASE-C-1001", "reason": "corrected NPI, resubmitting"}
        for headers in ({}, BEARER, {"Authorization": "Bearer not-maria"}):
            refused = await client.post(f"{url}/acknowledge", json=body, headers=headers)
            assert refused.status == 401, headers
        no_reason = await client.post(f"{url}/resolve", json={"key": "CASE-C-1001"}, headers=MARIA)
        assert no_reason.status == 400
        elsewhere = {"key": "CASE-C-1002", "reason": "x"}
        assert (await client.post(f"{url}/resolve", json=elsewhere, headers=MARIA)).status == 404

        acked = await client.post(f"{url}/acknowledge", json=body, headers=MARIA)
        assert acked.status == 202
        assert (await acked.json())["item"]["acknowledged"]["by"] == "mhernandez"
        assert await apply_actions(w) == 1
        assert (await client.post(f"{url}/acknowledge", json=body, headers=MARIA)).status == 200

        resolve = {"key": "CASE-C-1001", "reason": "277CA accepted after resubmission"}
        assert (await client.post(f"{url}/resolve", json=resolve, headers=MARIA)).status == 202
        assert await apply_actions(w) == 2  # the acknowledgement again (a redelivery), then this
        again = await client.post(f"{url}/resolve", json=resolve, headers=MARIA)
        assert again.status == 200 and not (await again.json())["changed"]

        # the shared token still reads, and so does Maria's
        for headers in (BEARER, MARIA):
            page = await client.get("/exceptions/?state=resolved", headers=headers)
            assert page.status == 200 and (await page.json())["count"] == 1
        assert (await (await client.get("/exceptions/?state=open", headers=BEARER)).json())[
            "count"
        ] == 0

    assert not any(k.startswith("WORK|") for k in tally(w))  # the resolved item left the gauge

    # A worker rebuilt from the changelog alone (a restart on an empty disk).
    changelog = w.t.tables["process_exceptions"].changelog_topic.get_topic_name()
    restarted = world(tmp_path, "restarted")
    for record in w.producer.sent:
        if record.topic == changelog:
            restarted.t.tables["process_exceptions"].data[record.key] = record.value
    async with served(restarted) as client:
        page = await (await client.get("/exceptions/?state=resolved", headers=MARIA)).json()
    (kept,) = page["exceptions"]
    assert kept["exception_id"] == item_id and kept["key"] == "CASE-C-1001"
    assert kept["acknowledged"]["reason"] == "corrected NPI, resubmitting"
    assert (kept["resolved"]["by"], kept["resolved"]["reason"]) == (
        "mhernandez",
        "277CA accepted after resubmission",
    )


async def test_without_a_users_file_nobody_may_act(tmp_path: Path) -> None:
    w = World(tmp_path, api_token=SecretStr(TOKEN))
    async with served(w) as client:
        body: dict[str, Any] = {"key": "CASE-C-1001", "reason": "done"}
        answer = await client.post("/exceptions/any-id/resolve", json=body, headers=BEARER)
        assert answer.status == 403
        assert (await client.post("/exceptions/any-id/close", json=body)).status == 404
